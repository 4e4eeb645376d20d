"""Evaluation: the published convention, baselines and JPEG rows, on real photos."""
import numpy as np
import pytest
import torch
import torch.nn.functional as F

from irn.config import from_dict
from irn.crops import visual_crops
from irn.data import val_images
from irn.evaluate import evaluate
from irn.imresize import imresize
from irn.metrics import psnr_y, quantize_uint8
from irn.model import build_model


@pytest.fixture(scope="module")
def val_set():
    return val_images("embedded", 2, max_size=48)


def test_untrained_model_metrics_equal_hand_computed(val_set):
    # Every block starts as the identity, so the untrained model is the Haar transform:
    # LR = quantised 2x2 mean; with z = 0 the upscale repeats each LR pixel 2x2.
    cfg = from_dict({"z_eval": "zero", "jpeg_eval": "30,90"})
    model = build_model(scale=2, blocks=1, gc=8).eval()
    got = evaluate(model, val_set, cfg)
    want_psnr, want_bicubic, want_lr = [], [], []
    for hr, lr_ref in val_set:
        lr = quantize_uint8(F.avg_pool2d(hr, 2))
        want_psnr.append(psnr_y(F.interpolate(lr, scale_factor=2, mode="nearest"), hr, 2))
        want_bicubic.append(psnr_y(imresize(quantize_uint8(lr_ref), 2), hr, 2))
        want_lr.append(psnr_y(lr, lr_ref, 0))  # every pixel, as the official test.py
    assert got["psnr_y"] == pytest.approx(sum(want_psnr) / len(want_psnr), abs=1e-6)
    assert got["bicubic_psnr_y"] == pytest.approx(sum(want_bicubic) / 2, abs=1e-6)
    assert got["lr_psnr_y"] == pytest.approx(sum(want_lr) / 2, abs=1e-6)
    assert got["psnr_y_std"] == 0.0 and "psnr_y_zero" not in got
    # the JPEG table has the model and the bicubic row at each QF, and JPEG hurts
    for q in (30, 90):
        for key in (f"jpeg{q}_psnr_y", f"jpeg{q}_ssim_y", f"bicubic_jpeg{q}_psnr_y",
                    f"bicubic_jpeg{q}_ssim_y"):
            assert key in got
    assert got["jpeg30_psnr_y"] < got["jpeg90_psnr_y"] <= got["psnr_y"] + 0.5
    assert got["bicubic_jpeg30_psnr_y"] < got["bicubic_psnr_y"]


def test_gaussian_draws_report_spread_and_zero(val_set):
    cfg = from_dict({"z_eval": "gaussian", "eval_z_draws": 3, "jpeg_eval": ""})
    torch.manual_seed(0)
    model = build_model(scale=2, blocks=1, gc=8).eval()
    got = evaluate(model, val_set, cfg)
    assert got["psnr_y_std"] > 0 and got["psnr_y_zero"] > got["psnr_y"]
    assert evaluate(model, val_set, cfg) == got  # draws are seeded: reproducible


def test_visual_crops_cover_every_image_with_the_bicubic_baseline(val_set):
    cfg = from_dict({"z_eval": "zero"})
    crops = visual_crops(build_model(scale=2, blocks=1, gc=8).eval(), val_set, cfg, size=32)
    assert len(crops) == min(len(getattr(val_set, "whole", val_set)), 4)
    for kinds in crops.values():
        assert set(kinds) == {"gt", "lr", "lr_bicubic", "bicubic_up", "recon"}
        for img in kinds.values():
            assert img.dtype.name == "uint8" and img.shape == (32, 32, 3)
        # the baseline is a real bicubic down/up: close to the ground truth, not equal to it
        err = np.abs(kinds["bicubic_up"].astype(int) - kinds["gt"].astype(int)).mean()
        assert 0 < err < 40


def test_registry_describes_every_metric_an_evaluation_computes(val_set):
    from irn.evaluate import evaluate_images
    from irn.metric_registry import METRICS, evaluation_metrics, metric_spec
    cfg = from_dict({"z_eval": "gaussian", "eval_z_draws": 2, "jpeg_eval": "50"})
    rows = evaluate_images(build_model(scale=2, blocks=1, gc=8).eval(), val_set, cfg)
    names = [m.name for m in evaluation_metrics(cfg)]
    assert set(rows[0]) == {"image", *names}
    for name in names:
        spec = metric_spec(name)
        assert spec.mode in ("max", "min") and spec.doc and spec.per_image
        assert spec.baseline is None or metric_spec(spec.baseline) is not None
    assert metric_spec("jpeg50_psnr_y").baseline == "bicubic_jpeg50_psnr_y"
    assert metric_spec("loss/total").mode == "min" and not metric_spec("loss/total").per_image
    assert metric_spec("psnr") is None and metric_spec("jpeg500_psnr_y") is None
    assert METRICS["gain_db"].unit == "dB" and METRICS["ssim_y"].format(0.91234) == "0.9123"
    for r in rows:  # the gain is the model's Y-PSNR minus bicubic's, image by image
        assert r["gain_db"] == pytest.approx(r["psnr_y"] - r["bicubic_psnr_y"], abs=1e-9)
    assert "psnr_y_zero" not in evaluation_metrics(cfg.replace(z_eval="zero"))


def test_tiled_validation_rows_are_named_and_average_to_the_mean():
    from irn.evaluate import evaluate_images
    tiles = val_images("embedded", 2, max_size=64, tile=32)
    assert tiles.names == ["astronaut@0,0", "astronaut@0,1", "astronaut@1,0", "astronaut@1,1",
                           "chelsea@0,0", "chelsea@0,1", "chelsea@1,0", "chelsea@1,1"]
    assert all(hr.shape[-2:] == (32, 32) and lr.shape[-2:] == (16, 16) for hr, lr in tiles)
    assert [hr.shape[-1] for hr, _ in tiles.whole] == [64, 64]  # untiled, for visual crops
    # tile (0, 1) is the top-right quarter of the 64-px centre crop
    whole = val_images("embedded", 2, max_size=64)
    assert torch.equal(tiles[1][0], whole[0][0][..., :32, 32:])
    cfg = from_dict({"z_eval": "zero", "jpeg_eval": ""})
    model = build_model(scale=2, blocks=1, gc=8).eval()
    rows = evaluate_images(model, tiles, cfg)
    assert [r["image"] for r in rows] == tiles.names
    assert evaluate(model, tiles, cfg)["psnr_y"] == pytest.approx(
        sum(r["psnr_y"] for r in rows) / 8)
    with pytest.raises(Exception, match="not divisible by scale"):
        val_images("embedded", 4, max_size=64, tile=30)
