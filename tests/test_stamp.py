"""irn.stamp: the stamped LR pixels are free of the guide loss, and measured apart."""
import pytest
import torch

from irn.config import ConfigError, from_dict
from irn.metric_registry import evaluation_metrics
from irn.objective import Objective
from irn.stamp import free_stamp, stamp_bits_per_hr_pixel, stamp_mask
from irn.train import Trainer


def test_masks():
    border = stamp_mask(6, 8, "border", 1)[0, 0]
    assert int(border.sum()) == 2 * 8 + 2 * 4 and not border[1:-1, 1:-1].any()
    corners = stamp_mask(6, 8, "corners", 2)[0, 0]
    assert int(corners.sum()) == 16 and corners[0, 0] and corners[-1, -1] and not corners[2, 3]
    assert stamp_mask(6, 8, "none", 1) is None
    with pytest.raises(ValueError, match="unknown stamp"):
        stamp_mask(6, 8, "stripes", 1)


def test_information_bound_in_bits_per_hr_pixel():
    # x2, a 32 x 32 LR with a 1-px frame: 124 pixels x 24 bits over 64 x 64 HR pixels
    assert stamp_bits_per_hr_pixel(32, 32, 2, "border", 1) == pytest.approx(124 * 24 / 4096)
    assert stamp_bits_per_hr_pixel(32, 32, 2, "none", 1) == 0


def test_the_guide_loss_ignores_the_stamp_and_sends_it_no_gradient():
    lr_ref = torch.rand(2, 3, 8, 8)
    lr = (lr_ref + 0.1 * torch.randn_like(lr_ref)).requires_grad_()
    seen = free_stamp(lr, lr_ref, "border", 1)
    loss = (seen - lr_ref).square().sum()
    loss.backward()
    assert lr.grad[..., 0, :].abs().sum() == 0 and lr.grad[..., 1:-1, 1:-1].abs().min() > 0
    cfg = from_dict({"stamp": "border", "blocks": 1, "gc": 8}, budget="smoke")
    plain = from_dict({"blocks": 1, "gc": 8}, budget="smoke")
    inner = torch.zeros(1, 1, 8, 8, dtype=torch.bool)
    inner[..., 1:-1, 1:-1] = True
    off_border = torch.where(inner, lr_ref, lr.detach())  # differs from lr_ref only on the frame
    guide = Objective(cfg).guide
    assert float(guide(free_stamp(off_border, lr_ref, "border", 1), lr_ref)) == 0
    assert float(Objective(plain).guide(off_border, lr_ref)) > 0


def test_stamped_config_evaluates_the_stamp_apart():
    cfg = from_dict({"stamp": "corners", "stamp_width": 2, "blocks": 1, "gc": 8},
                    budget="smoke")
    assert {"lr_psnr_y_unstamped", "lr_psnr_y_stamp", "stamp_bpp"} <= {
        m.name for m in evaluation_metrics(cfg)}
    report = next(Trainer(cfg).run())
    # smoke: 32-px tiles at x2, a 16 x 16 LR, four 2 x 2 corners
    assert report["stamp_bpp"] == pytest.approx(16 * 24 / (32 * 32))
    assert report["lr_psnr_y_stamp"] > 0 and report["lr_psnr_y_unstamped"] > 0
    plain = from_dict({"blocks": 1, "gc": 8}, budget="smoke")
    assert "stamp_bpp" not in {m.name for m in evaluation_metrics(plain)}
    with pytest.raises(ConfigError, match="stamp"):
        from_dict({"stamp": "stripes"})


def test_report_section_plots_gain_against_capacity():
    import pandas as pd
    from dashboards.stamp import stamp_gains

    def group(label, stamp, delta, ci, verdict, ref=False):
        return {"label": label, "config": {"stamp": stamp}, "gain_db": {"mean": 1.0},
                "vs_reference": {"delta": delta, "ci95": ci, "verdict": verdict,
                                 **({"self": True} if ref else {})}}
    summary = {"comparison": {"reference": "none"},
               "groups": [group("none", "none", 0.0, [0.0, 0.0], "", ref=True),
                          group("border", "border", 0.2, [0.1, 0.3], "better")]}
    rows = pd.DataFrame([{"label": "border", "stamp_bpp": 0.7}, {"label": "none"}])
    section = stamp_gains(summary, rows)
    assert not section.note
    trace = section.figure.data[0]
    assert list(trace.x) == [0.0, 0.7] and list(trace.y) == [0.0, 0.2]
    assert "border: +0.200 dB [+0.100, +0.300], better" in section.blurb
    assert stamp_gains({"groups": [group("none", "none", 0, None, "", True)]}, rows).note
