"""irn.temporal: the warp conventions, the transform-invariance term (zero for the identity,
absent and free at lambda 0, deterministic and resumable), and flicker only when asked."""
import math

import pytest
import torch

from irn.config import ConfigError, from_dict
from irn.metric_registry import evaluation_metrics
from irn.model import build_model
from irn.objective import Objective
from irn.temporal import (TemporalLoss, affine_theta, flicker, gt_flicker, identity_theta,
                          invert_theta, training_margin, warp)
from irn.train import Trainer

TINY = dict(blocks=1, gc=8, jpeg_eval="")


def test_one_theta_is_the_same_motion_at_both_scales():
    hr = torch.rand(1, 3, 16, 24)
    theta = affine_theta(16, 24, 2.0, -2.0)  # 2 HR px right and up = 1 LR px at x2
    torch.testing.assert_close(warp(hr, theta)[..., :-2, 2:], hr[..., 2:, :-2])
    lr = torch.nn.functional.avg_pool2d(hr, 2)
    torch.testing.assert_close(warp(lr, theta)[..., :-1, 1:], lr[..., 1:, :-1])
    smooth = torch.nn.functional.interpolate(torch.rand(1, 3, 4, 6), size=(32, 48),
                                             mode="bicubic", align_corners=False)
    moved = affine_theta(32, 48, 0.4, -0.7, math.radians(1), 1.02)
    back = warp(warp(smooth, moved, "bicubic"), invert_theta(moved), "bicubic")
    assert float((back - smooth)[..., 6:-6, 6:-6].abs().max()) < 0.02
    torch.testing.assert_close(warp(hr, identity_theta()), hr)


def test_the_term_is_zero_for_the_identity_transform():
    cfg = from_dict({**TINY, "lambda_temporal": 1.0}, budget="smoke")
    torch.manual_seed(0)
    model = build_model(scale=2, blocks=1, gc=8)
    with torch.no_grad():  # a model that is not the Haar transform
        for p in model.parameters():
            p.add_(0.02 * torch.randn_like(p))
    term = TemporalLoss(cfg)
    hr = torch.rand(2, 3, 32, 32)
    with torch.no_grad():
        lr = model(hr)[0][:, :3]
        still = float(term(model, identity_theta(), lr, term.move(model, hr, identity_theta())))
        moved = affine_theta(32, 32, 0.7, 0.3, math.radians(0.5), 1.01)
        shaken = float(term(model, moved, lr, term.move(model, hr, moved)))
    assert still == pytest.approx(0, abs=1e-3) and shaken > 100 * max(still, 1e-3)


def count_calls(model) -> list:
    calls = []
    model.register_forward_pre_hook(lambda m, args: calls.append(1))
    return calls


@pytest.mark.parametrize("extra, passes", [
    ({}, 2),                                          # off: forward + reverse
    ({"lambda_temporal": 0.5}, 4),                    # + T forward + T reverse
    ({"lambda_temporal": 0.5, "quantization": "uniform"}, 5),  # + a clean reverse
])
def test_the_term_costs_one_forward_and_one_reverse_and_nothing_at_zero(extra, passes):
    cfg = from_dict({**TINY, **extra}, budget="smoke")
    model = build_model(scale=2, blocks=1, gc=8)
    calls = count_calls(model)
    _, terms = Objective(cfg)(model, torch.rand(2, 3, 32, 32), torch.rand(2, 3, 16, 16),
                              motion_generator=torch.Generator().manual_seed(0))
    assert len(calls) == passes and ("temporal" in terms) == bool(extra)
    assert Objective(cfg).temporal is None or cfg.lambda_temporal > 0


def test_training_is_deterministic_and_resumes_the_motion_draws(tmp_path):
    cfg = from_dict({**TINY, "lambda_temporal": 0.5, "patch_size": 16, "batch_size": 2,
                     "steps": 4}, budget="smoke")

    def losses(trainer, n):
        batches = trainer.batches()
        return [trainer.train_step(*next(batches))["temporal"] for _ in range(n)]
    straight = losses(Trainer(cfg), 4)
    first = Trainer(cfg)
    head = losses(first, 2)
    first.save(tmp_path / "ckpt.pt")
    torch.manual_seed(99)
    tail = losses(Trainer.restore(tmp_path / "ckpt.pt"), 2)
    assert head + tail == straight and len(set(straight)) == 4


def test_flicker_is_zero_for_a_still_picture_and_grows_with_frame_noise():
    flat = torch.full((1, 3, 48, 48), 0.4)
    assert gt_flicker(flat, 2) == pytest.approx(0, abs=1e-3)  # bicubic weights sum to 1
    hr = torch.nn.functional.interpolate(torch.rand(1, 3, 6, 6), size=(48, 48), mode="bicubic",
                                         align_corners=False).clamp(0, 1)
    gen = torch.Generator().manual_seed(0)
    noisy = flicker(lambda f: f + 0.02 * torch.randn(f.shape, generator=gen), hr, 2)
    assert flicker(lambda f: f, hr, 2) == gt_flicker(hr, 2) < noisy


def test_flicker_is_measured_only_when_switched_on_and_training_reports_it():
    cfg = from_dict({**TINY, "lambda_temporal": 0.5, "temporal_eval": True}, budget="smoke")
    flickers = {"flicker", "bicubic_flicker", "gt_flicker"}
    assert flickers <= {m.name for m in evaluation_metrics(cfg)}
    assert not flickers & {m.name for m in evaluation_metrics(cfg.replace(temporal_eval=False))}
    report = list(Trainer(cfg).run())[-1]
    assert math.isfinite(report["loss/temporal"]) and report["loss/temporal"] > 0
    assert all(math.isfinite(report[k]) and report[k] >= 0
               for k in ("flicker", "bicubic_flicker", "gt_flicker"))
    plain = list(Trainer(cfg.replace(lambda_temporal=0.0, temporal_eval=False)).run())[-1]
    assert "loss/temporal" not in plain and "flicker" not in plain


def test_bad_values_are_one_line():
    with pytest.raises(ConfigError, match="lambda_temporal must be a finite number >= 0"):
        from_dict({"lambda_temporal": -1})
    with pytest.raises(ConfigError, match="loss_temporal: unknown loss 'nope'"):
        from_dict({"loss_temporal": "nope"})
    with pytest.raises(ConfigError, match="leaves no interior for the temporal term"):
        from_dict({"lambda_temporal": 1, "scale": 8, "patch_size": 16})
    assert training_margin(48, 2) == 2  # the cpu budget: 24-px LR patches keep 20 x 20


def test_report_section_plots_flicker_against_psnr():
    import pandas as pd
    from dashboards.temporal import temporal_flicker

    def group(label, lam, psnr):
        return {"label": label, "config": {"lambda_temporal": lam}, "gain_db": {"mean": 0.5},
                "psnr_y": {"mean": psnr, "ci95": [psnr - 0.1, psnr + 0.1]}}
    summary = {"comparison": {"reference": "0.0"},
               "groups": [group("0.0", 0.0, 30.0), group("1.0", 1.0, 29.8)]}
    rows = pd.DataFrame([{"label": lab, "seed": s, "image": i, "flicker": f + 0.1 * s + 0.01 * i,
                          "bicubic_flicker": 0.6, "gt_flicker": 0.7}
                         for lab, f in (("0.0", 1.5), ("1.0", 1.0)) for s in (0, 1)
                         for i in range(3)])
    section = temporal_flicker(summary, rows)
    assert not section.note
    trace = section.figure.data[0]
    assert list(trace.y) == [30.0, 29.8]
    assert list(trace.x) == pytest.approx([1.5 + 0.05 + 0.01, 1.0 + 0.05 + 0.01])
    assert "1.0: flicker 1.060" in section.blurb and "-0.500" in section.blurb
    assert temporal_flicker(summary, rows.drop(columns="flicker")).note
