"""Training: the official objective, exact resume, NaN errors, and the report shape."""
import math

import pytest
import torch

from irn.config import from_dict
from irn.data import val_images
from irn.objective import NonFiniteLossError, Objective
from irn.train import Trainer, lr_factor

TINY = dict(blocks=1, gc=8, batch_size=2, patch_size=16, steps=6, eval_every=3,
            val_max_size=32, jpeg_eval="", lr=1e-3)


@pytest.fixture(scope="module")
def val_set():
    return val_images("embedded", 2, max_size=32)


def per_step_losses(trainer, n):
    batches = trainer.batches()
    return [trainer.train_step(*next(batches))["total"] for _ in range(n)]


def test_objective_is_the_official_loss():
    cfg = from_dict({**TINY, "z_train": "zero"})
    torch.manual_seed(0)
    trainer = Trainer(cfg)
    model, obj = trainer.model, Objective(cfg)
    with torch.no_grad():
        for p in model.parameters():
            if p.requires_grad:
                p.add_(torch.randn_like(p) * 0.02)
    hr = torch.rand(2, 3, 16, 16)
    lr_ref = torch.rand(2, 3, 8, 8)
    total, terms = obj(model, hr, lr_ref)
    out, _ = model(hr)
    lr, z = out[:, :3], out[:, 3:]
    guide = 4 * ((lr - lr_ref) ** 2).sum() / 2  # scale^2 * sum / batch
    distr = (z ** 2).sum() / 2
    lr_q = (lr.clamp(0, 1) * 255).round() / 255
    rec = model(torch.cat([lr_q, torch.zeros_like(z)], 1), rev=True)[0][:, :3]
    recon = torch.sqrt((rec - hr) ** 2 + 1e-6).sum() / 2
    assert torch.allclose(terms["guide"], guide, rtol=1e-5)
    assert torch.allclose(terms["distr"], distr, rtol=1e-5)
    assert torch.allclose(terms["recon"], recon, rtol=1e-5)
    assert torch.allclose(total, guide + distr + recon, rtol=1e-5)


def test_zero_weights_drop_terms():
    cfg = from_dict({**TINY, "lambda_distr": 0, "lambda_guide": 0})
    total, terms = Objective(cfg)(Trainer(cfg).model, torch.rand(1, 3, 8, 8),
                                              torch.rand(1, 3, 4, 4))
    assert set(terms) == {"recon"}


@pytest.mark.parametrize("extra", [{"z_train": "gaussian"},
                                   {"z_train": "gaussian", "jpeg_train": "ste",
                                    "jpeg_quality": "40-90", "coupling": "affine"}])
def test_resume_gives_the_same_loss_curve(extra, tmp_path, val_set):
    cfg = from_dict({**TINY, **extra})
    straight = per_step_losses(Trainer(cfg, val_set=val_set), 6)
    first = Trainer(cfg, val_set=val_set)
    head = per_step_losses(first, 3)
    first.save(tmp_path / "ckpt.pt")
    # scramble global RNGs as a fresh process would have them
    torch.manual_seed(1234)
    resumed = Trainer.restore(tmp_path / "ckpt.pt", val_set=val_set)
    assert resumed.step == 3
    tail = per_step_losses(resumed, 3)
    assert head + tail == straight  # bit-identical, not just close


def test_run_reports_every_interval_with_metrics(val_set):
    cfg = from_dict({**TINY, "jpeg_eval": "50", "log_every": 2})
    reports = list(Trainer(cfg, val_set=val_set).run())
    assert [r["step"] for r in reports] == [3, 6]
    for key in ("loss/total", "loss/guide", "loss/recon", "loss/distr", "time/data",
                "time/compute", "data_fraction", "psnr_y", "ssim_y", "psnr_rgb",
                "bicubic_psnr_y", "lr_psnr_y", "sr_psnr_y", "jpeg50_psnr_y",
                "bicubic_jpeg50_psnr_y", "model/params", "schedule/lr"):
        assert key in reports[-1] and math.isfinite(reports[-1][key]), key
    assert 0 <= reports[-1]["data_fraction"] <= 1
    # the dense loss trace: every log_every steps and at each report, window means that
    # add up to the interval mean
    traces = [r["loss_trace"] for r in reports]
    assert [[p["step"] for p in t] for t in traces] == [[2, 3], [4, 6]]
    # the learning rate at every trace point (issue 31: warm-up + cosine drew as one line)
    assert [p["schedule/lr"] for t in traces for p in t] == [
        cfg.lr * lr_factor(cfg, s - 1) for s in (2, 3, 4, 6)]
    first = traces[0]
    assert (2 * first[0]["loss/total"] + first[1]["loss/total"]) / 3 == pytest.approx(
        reports[0]["loss/total"], rel=1e-9)


def test_nan_loss_names_step_and_term(val_set):
    trainer = Trainer(from_dict(TINY), val_set=val_set)
    per_step_losses(trainer, 1)
    with torch.no_grad():
        next(p for n, p in trainer.model.named_parameters() if n.endswith("F.conv5.weight")).fill_(
            float("nan"))
    with pytest.raises(NonFiniteLossError, match=r"non-finite loss at step 1: guide = nan"):
        per_step_losses(trainer, 1)


def test_schedules():
    cfg = from_dict({"steps": 100, "warmup": 10, "schedule": "cosine"})
    assert lr_factor(cfg, 0) == pytest.approx(0.1) and lr_factor(cfg, 9) == pytest.approx(1.0)
    assert lr_factor(cfg, 10) == pytest.approx(1.0) and lr_factor(cfg, 99) < 0.01
    official = from_dict({})
    assert [lr_factor(official, s) for s in (0, 99_999, 100_000, 250_000, 450_000)] == \
        [1, 1, 0.5, 0.25, 0.0625]


@pytest.mark.parametrize("z_eval", ["zero", "gaussian"])
def test_more_evaluation_points_do_not_change_training(val_set, z_eval):
    # a learning curve is only worth having if drawing it leaves the trained model as it was:
    # evaluations must not consume the training RNG (z draws use their own generator)
    def final(extra):
        cfg = from_dict({**TINY, "z_eval": z_eval, "z_train": "zero", **extra})
        reports = list(Trainer(cfg, val_set=val_set).run())
        return [r["step"] for r in reports], reports[-1]
    steps_two, two = final({"eval_every": 6})
    steps_six, six = final({"eval_points": 6})
    assert steps_two == [6] and steps_six == [1, 2, 3, 4, 5, 6]
    # (loss/total is the mean over the interval since the last evaluation: not comparable)
    assert six["psnr_y"] == two["psnr_y"] and six["lr_psnr_y"] == two["lr_psnr_y"]


def test_eval_points_keeps_the_number_of_points_at_any_length():
    assert from_dict({"steps": 120, "eval_points": 6}).eval_interval == 20
    assert from_dict({"steps": 960, "eval_points": 6}).eval_interval == 160
    assert from_dict({"steps": 100, "eval_points": 6}).eval_interval == 17  # 17, ..., 85, 100
    assert from_dict({"steps": 100, "eval_every": 30}).eval_interval == 30


@pytest.mark.parametrize("task", ["rescale", "stego"])
def test_every_term_the_objective_computes_is_in_the_registry(task):
    # the report's curves read irn/loss_terms.py: a term missing there would be drawn
    # without its weight divided out and on a shared axis
    from irn.loss_terms import LOSS_TERMS
    cfg = from_dict({**TINY, "task": task, "jpeg_train": "ste", "jpeg_clean_weight": 0.5,
                     "quantization": "variational" if task == "rescale" else "ste",
                     "lambda_temporal": 0.5 if task == "rescale" else 0.0})
    trainer = Trainer(cfg)
    terms = trainer.train_step(*next(trainer.batches()))
    computed = {k for k in terms if k != "total"}
    registered = {t.name for t in LOSS_TERMS}
    assert computed <= registered
    if task == "rescale":  # every rescale term switched on at once
        assert computed == registered
