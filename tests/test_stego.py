"""task=stego (irn/stego.py): an exactly invertible hiding network, its objective, metrics
and report section; and guide_target=other for ordinary rescaling."""
import math

import pandas as pd
import pytest
import torch

from irn.checkpoint import load_model
from irn.config import ConfigError, from_dict
from irn.couplings import COUPLINGS
from irn.evaluate import evaluate_images
from irn.metric_registry import evaluation_metrics, metric_spec
from irn.imresize import imresize
from irn.metrics import psnr_y
from irn.model import build_model
from irn.objective import Objective
from irn.official import CheckpointError
from irn.stego import (StegoNetwork, build_stego_model, capacity_bits_per_pixel, fit,
                       next_image_targets)
from irn.train import Trainer

TINY = {"blocks": 1, "gc": 8}
RESCALING_ONLY = {"psnr_y", "gain_db", "ssim_y", "lr_psnr_y", "sr_psnr_y", "bicubic_psnr_y",
                  "psnr_y_zero", "jpeg50_psnr_y"}


def _perturbed(model):
    """Blocks start as the identity (zero-initialised last convs): move them off it."""
    with torch.no_grad():
        for p in model.parameters():
            if p.requires_grad:
                p.add_(0.05 * torch.randn_like(p))
    model.constrain()
    return model


@pytest.mark.parametrize("coupling", list(COUPLINGS))
def test_the_network_is_exactly_invertible(coupling):
    torch.manual_seed(0)
    model = _perturbed(build_stego_model(scale=2, coupling=coupling, blocks=2, gc=8))
    cover, secret = torch.rand(2, 3, 32, 32), torch.rand(2, 3, 16, 16)
    with torch.no_grad():
        (stego, z), _ = model(cover, secret)
        (cover_back, secret_back), _ = model(stego, z, rev=True)
    # iresnet reverses by fixed-point iteration (irn/MODEL.md: round trip within 1e-3)
    atol = 1e-3 if coupling == "iresnet" else 1e-5
    assert (stego - cover).abs().max() > 1e-2  # it does hide something
    assert torch.allclose(cover_back, cover, atol=atol)
    assert torch.allclose(secret_back, secret, atol=atol)


@pytest.mark.parametrize("scale", [2, 4])
def test_shapes_and_capacity(scale):
    model = build_stego_model(scale=scale, **TINY)
    cover, secret = torch.rand(1, 3, 32, 48), torch.rand(1, 3, 32 // scale, 48 // scale)
    (stego, z), _ = model(cover, secret, jac=False)
    assert stego.shape == cover.shape and z.shape == secret.shape
    assert model.reveal(model.hide(cover, secret), mode="zero").shape == secret.shape
    # 3 x H/s x W/s values of 8 bits in H x W cover pixels
    assert capacity_bits_per_pixel(scale) == pytest.approx(3 * 8 * (16 / scale ** 2) / 16)
    with pytest.raises(ValueError, match="secret"):
        model(cover, torch.rand(1, 3, 5, 5))
    with pytest.raises(ValueError, match="multiscale"):
        build_stego_model(scale=4, multiscale_depth=1, **TINY)


def test_untrained_network_passes_the_cover_and_keeps_the_secret_in_z():
    model = build_stego_model(**TINY)  # identity blocks: stego = cover, z = secret
    cover, secret = torch.rand(1, 3, 32, 32), torch.rand(1, 3, 16, 16)
    (stego, z), _ = model(cover, secret, jac=False)
    assert torch.allclose(stego, cover, atol=1e-6) and torch.allclose(z, secret, atol=1e-6)


def test_secrets_are_the_next_images():
    lrs = [torch.full((1, 3, 4, 4), float(i)) for i in range(3)]
    targets = next_image_targets([(None, lr) for lr in lrs])
    assert [float(t.mean()) for t in targets] == [1.0, 2.0, 0.0]
    one = torch.arange(16.0).reshape(1, 1, 4, 4).repeat(1, 3, 1, 1)
    assert torch.equal(next_image_targets([(None, one)])[0], one.flip(-1, -2))
    small = torch.arange(4.0).reshape(1, 1, 2, 2)
    assert fit(small, 3, 5).shape[-2:] == (3, 5) and float(fit(small, 3, 5)[0, 0, 2, 2]) == 0


def test_smoke_training_gives_the_stego_metrics_only(tmp_path):
    cfg = from_dict({"task": "stego", **TINY}, budget="smoke")
    trainer = Trainer(cfg)
    assert isinstance(trainer.model, StegoNetwork)
    report = next(trainer.run())
    for term in ("loss/guide", "loss/recon", "loss/distr", "loss/total"):
        assert math.isfinite(report[term]), term
    for name in ("secret_psnr_y", "stego_ssim_y", "secret_psnr_y_zero",
                 "secret_floor_psnr_y", "jpeg50_secret_psnr_y"):
        assert math.isfinite(report[name]) and metric_spec(name) is not None, name
    assert report["stego_capacity_bpp"] == pytest.approx(6.0)
    assert not RESCALING_ONLY & set(report)
    # after 2 steps the stego may still round to the cover exactly: inf dB, as psnr_y gives
    assert 0 < report["stego_ssim_y"] <= 1 and report["stego_psnr_y"] > 30
    trainer.save(tmp_path / "stego.pt")
    with pytest.raises(CheckpointError, match="task=stego"):
        load_model(tmp_path / "stego.pt")
    model = load_model(tmp_path / "stego.pt", task="stego")
    cover, secret = torch.rand(1, 3, 32, 32), torch.rand(1, 3, 16, 16)
    assert torch.equal(model.hide(cover, secret), trainer.model.hide(cover, secret))
    resumed = Trainer.restore(tmp_path / "stego.pt")
    assert resumed.step == 2 and torch.equal(resumed.model.hide(cover, secret),
                                             model.hide(cover, secret))


def test_rescaling_evaluation_has_no_stego_metrics():
    names = {m.name for m in evaluation_metrics(from_dict(TINY, budget="smoke"))}
    assert "psnr_y" in names and not {"secret_psnr_y", "stego_psnr_y"} & names


def test_guide_target_other_guides_towards_the_next_image():
    torch.manual_seed(0)
    cfg = from_dict({"guide_target": "other", **TINY}, budget="smoke")
    plain = from_dict(TINY, budget="smoke")
    model = build_model(**cfg.arch())
    hr = torch.rand(2, 3, 32, 32)
    lr_ref = imresize(hr, 0.5).clamp(0, 1)
    with torch.no_grad():
        _, _, other = Objective(cfg).forward_terms(model, hr, lr_ref)
        _, _, rolled = Objective(plain).forward_terms(model, hr, lr_ref.roll(-1, 0))
        _, _, bicubic = Objective(plain).forward_terms(model, hr, lr_ref)
    assert float(other["guide"]) == pytest.approx(float(rolled["guide"]))
    assert float(other["guide"]) > 10 * float(bicubic["guide"])
    val = [(hr[i:i + 1], lr_ref[i:i + 1]) for i in range(2)]
    rows = evaluate_images(model.eval(), val, cfg.replace(jpeg_eval=""))
    for i, row in enumerate(rows):
        lr = model.downscale(hr[i:i + 1])
        assert row["lr_psnr_y"] == pytest.approx(psnr_y(lr, lr_ref[1 - i:2 - i], 0))


@pytest.mark.parametrize("values, match", [
    ({"task": "stego", "batch_size": 1}, "batch_size >= 2"),
    ({"guide_target": "other", "batch_size": 1}, "batch_size >= 2"),
    ({"task": "steganography"}, "task must be one of"),
    ({"guide_target": "self"}, "guide_target must be one of"),
    ({"task": "stego", "guide_target": "other"}, "guide_target"),
    ({"task": "stego", "stamp": "border"}, "stamp"),
])
def test_bad_input_is_one_config_error(values, match):
    with pytest.raises(ConfigError, match=match) as err:
        from_dict({**TINY, **values}, budget="smoke")
    assert "\n" not in str(err.value)


def _group(label, secret, stego, verdict="indistinguishable", best=False):
    return {"label": label, "config": {"coupling": label},
            "secret_psnr_y": {"mean": secret, "ci95": [secret - 1, secret + 1]},
            "stego_psnr_y": {"mean": stego, "ci95": [stego - 0.5, stego + 0.5]},
            "vs_best": {"self": True} if best else {"verdict": verdict}}


def test_report_section_plots_revealing_against_concealing():
    from dashboards.stego import stego_tradeoff
    summary = {"groups": [_group("enhanced", 30.0, 40.0, best=True),
                          _group("additive", 25.0, 42.0, "worse")]}
    rows = pd.DataFrame([{"label": "enhanced", "seed": 0, "image": "a", "jpeg50_secret_psnr_y":
                          20.0, "secret_floor_psnr_y": 15.0},
                         {"label": "additive", "seed": 0, "image": "a", "jpeg50_secret_psnr_y":
                          18.0, "secret_floor_psnr_y": 15.0}])
    section = stego_tradeoff(summary, rows)
    assert not section.note
    trace = section.figure.data[0]
    assert list(trace.x) == [40.0, 42.0] and list(trace.y) == [30.0, 25.0]
    assert "additive: secret 25.00 dB [24.00, 26.00] (after JPEG 50: 18.00 dB)" in section.blurb
    # stego_psnr_y missing from the summary: from the per-image rows instead
    bare = {"groups": [{**_group("enhanced", 30.0, 0, best=True), "stego_psnr_y": None}]}
    rows = pd.DataFrame([{"label": "enhanced", "seed": s, "image": i, "stego_psnr_y": 40.0 + s}
                         for s in (0, 1) for i in ("a", "b")])
    assert list(stego_tradeoff(bare, rows).figure.data[0].x) == [40.5]
    assert stego_tradeoff({"groups": [{"label": "x", "gain_db": {"mean": 1}}]}, rows).note


def test_group_statistics_and_table_of_a_stego_sweep():
    from bench.sweep import group_table
    from irn.stats.compare import compare_groups
    trials = [{"group": g, "label": g, "config": {"coupling": g}, "replicate": 0, "seed": 0,
               "status": "FINISHED", "per_image": [
                   {"image": f"t{i}", "secret_psnr_y": 30.0 + d + 0.1 * i,
                    "stego_psnr_y": 40.0 - d + 0.2 * i, "stego_ssim_y": 0.99} for i in range(4)]}
              for g, d in (("enhanced", 1.0), ("additive", 0.0))]
    comp = compare_groups(trials, "secret_psnr_y", "max")
    best = comp["groups"][0]
    assert comp["best"] == "enhanced" and "gain_db" not in best
    assert {"secret_psnr_y", "stego_psnr_y", "stego_ssim_y"} <= set(best)
    header, _ = group_table.rows({"groups": comp["groups"], "mode": "max", "comparison": comp})
    assert "stego_psnr_y (dB)" in header and not {"psnr_y (dB)", "gain_db (dB)"} & set(header)
    one = compare_groups(trials[:1], "secret_psnr_y", "max")
    assert one["sentence"].startswith("one group (enhanced): secret_psnr_y 31.15")
