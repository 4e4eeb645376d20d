"""irn.dequantization: the flow inverts with the right log-det, the noise has the documented
range and gradient, q trains with the model and is checkpointed, bad values are one line."""
import math

import pytest
import torch

from irn.config import ConfigError, from_dict
from irn.dequantization import DequantizationFlow, uniform_noise
from irn.metric_registry import METRICS
from irn.objective import Objective
from irn.quantization import quantize
from irn.train import Trainer

TINY = dict(blocks=1, gc=8, jpeg_eval="")


def random_flow(dtype=torch.float32) -> DequantizationFlow:
    """A flow whose couplings are not the identity (their last convs start at zero)."""
    torch.manual_seed(0)
    flow = DequantizationFlow().to(dtype)
    with torch.no_grad():
        for p in flow.parameters():
            p.add_(0.05 * torch.randn_like(p))
    return flow


def lr_q(*shape, dtype=torch.float32):
    return quantize(torch.rand(*shape, dtype=dtype))


def test_flow_forward_then_inverse_returns_its_input():
    flow = random_flow()
    x_q, eps = lr_q(2, 3, 8, 8), torch.randn(2, 3, 8, 8)
    u, log_det = flow(eps, x_q)
    assert ((u > 0) & (u < 1)).all()
    back, log_det_back = flow(u, x_q, rev=True)
    torch.testing.assert_close(back, eps, atol=1e-5, rtol=0)
    torch.testing.assert_close(log_det_back, -log_det, atol=1e-4, rtol=1e-6)


def test_log_det_matches_the_numerical_jacobian():
    flow = random_flow(torch.float64)
    x_q, eps = lr_q(1, 3, 2, 2, dtype=torch.float64), torch.randn(1, 3, 2, 2, dtype=torch.float64)
    jac = torch.autograd.functional.jacobian(
        lambda e: flow(e.view(1, 3, 2, 2), x_q)[0].flatten(), eps.flatten())
    _, log_det = flow(eps, x_q)
    assert float(log_det.detach()) == pytest.approx(float(torch.linalg.slogdet(jac)[1]), abs=1e-8)


def test_q_starts_close_to_uniform_and_log_q_is_the_change_of_variables():
    flow = DequantizationFlow()  # zero-initialised couplings: u = sigmoid(1.702 eps)
    x_q = lr_q(1, 3, 64, 64)
    with torch.no_grad():
        torch.manual_seed(1)
        u, log_q = flow.sample(x_q)
        torch.manual_seed(1)
        eps = torch.randn(1, 3, 64, 64)
        _, log_det = flow(eps, x_q)
    normal = (-0.5 * (eps.square() + math.log(2 * math.pi))).sum()
    assert float(log_q[0]) == pytest.approx(float(normal - log_det[0]), rel=1e-5)
    # KL(q || uniform) = E[log q] >= 0, about 0.010 nats (0.014 bits) per element at start
    bpd = float(flow.bits_per_dim(x_q)[0])
    assert 0.005 < bpd < 0.03 and abs(float(u.mean()) - 0.5) < 0.02


def test_uniform_noise_is_one_level_and_keeps_the_straight_through_gradient():
    obj = Objective(from_dict({**TINY, "quantization": "uniform"}))
    lr = torch.rand(2, 3, 8, 8, requires_grad=True)
    q = quantize(lr)
    seen, terms = obj.dequantize(q, torch.Generator().manual_seed(0))
    assert terms == {} and (seen - q).abs().max() <= 0.5 / 255 and (seen != q).all()
    seen.sum().backward()
    assert torch.equal(lr.grad, torch.ones_like(lr))
    noise = uniform_noise(torch.zeros(10_000))
    assert abs(float(noise.mean())) < 2e-4 and float(noise.abs().max()) <= 0.5 / 255


def test_variational_term_is_the_kl_and_trains_the_flow():
    cfg = from_dict({**TINY, "quantization": "variational", "lambda_dequant": 2.0},
                    budget="smoke")
    trainer = Trainer(cfg)
    flow = trainer.objective.dequant
    assert {id(p) for p in flow.parameters()} <= {
        id(p) for g in trainer.optimizer.param_groups for p in g["params"]}
    hr, lr_ref = torch.rand(2, 3, 16, 16), torch.rand(2, 3, 8, 8)
    total, terms = trainer.objective(trainer.model, hr, lr_ref)
    # 2 x 0.010 nats x 192 LR elements at start
    assert 0 < float(terms["dequant"].detach()) < 2 * 0.03 * 192
    total.backward()
    # the couplings start at the identity (zero last convs): their last layers get gradient
    # first, the condition net once they have moved
    assert all(p.grad is not None for p in flow.parameters())
    assert any(float(p.grad.abs().sum()) > 0 for p in flow.flow.parameters())
    no_kl = Objective(cfg.replace(lambda_dequant=0.0))
    assert "dequant" not in no_kl(trainer.model, hr, lr_ref)[1]
    assert Objective(from_dict(TINY)).dequant is None


def test_smoke_runs_give_finite_losses_and_dequant_bpd_only_for_variational(tmp_path):
    for mode in ("uniform", "variational"):
        cfg = from_dict({**TINY, "quantization": mode}, budget="smoke")
        trainer = Trainer(cfg)
        report = list(trainer.run())[-1]
        losses = {k: v for k, v in report.items() if k.startswith("loss/")}
        assert all(math.isfinite(v) for v in losses.values())
        assert ("loss/dequant" in losses) == ("dequant_bpd" in report) == (mode == "variational")
    assert all(math.isfinite(r["dequant_bpd"]) for r in report["per_image"])
    assert METRICS["dequant_bpd"].when(cfg) and not METRICS["dequant_bpd"].when(
        cfg.replace(quantization="ste"))
    trainer.save(tmp_path / "ckpt.pt")  # q is in the checkpoint and comes back
    restored = Trainer.restore(tmp_path / "ckpt.pt")
    for k, v in trainer.objective.state_dict().items():
        assert torch.equal(restored.objective.state_dict()[k], v)
    assert any(k.startswith("dequant.") for k in trainer.objective.state_dict())


def test_unknown_quantization_is_one_line_naming_the_allowed_values(capsys):
    with pytest.raises(ConfigError, match=r"^quantization must be one of ste, uniform, "
                                          r"variational; got 'gauss'$"):
        from_dict({"quantization": "gauss"})
    with pytest.raises(ConfigError, match="lambda_dequant must be a finite number >= 0"):
        from_dict({"lambda_dequant": -1})
    from bench.sweep import train
    assert train.main(["--budget", "smoke", "--set", "quantization=gauss"]) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert lines == ["error: quantization must be one of ste, uniform, variational; "
                     "got 'gauss'"]


def test_report_section_shows_each_modes_gain_and_q():
    import pandas as pd

    from dashboards.dequant import dequant_gains

    def group(label, delta, ci, verdict, ref=False):
        return {"label": label, "config": {"quantization": label}, "gain_db": {"mean": 1.0},
                "vs_reference": {"delta": delta, "ci95": ci, "verdict": verdict,
                                 **({"self": True} if ref else {})}}
    summary = {"comparison": {"reference": "ste"},
               "groups": [group("ste", 0.0, [0.0, 0.0], "", ref=True),
                          group("uniform", -0.02, [-0.03, -0.002], "worse"),
                          group("variational", 0.01, [-0.04, 0.05], "indistinguishable")]}
    rows = pd.DataFrame([{"label": "variational", "dequant_bpd": 0.0136},
                         {"label": "ste"}, {"label": "uniform"}])
    section = dequant_gains(summary, rows)
    assert not section.note
    assert list(section.figure.data[0].y) == [0.0, -0.02, 0.01]
    assert "uniform: -0.020 dB [-0.030, -0.002], worse" in section.blurb
    assert "q 0.0136 bits per LR element" in section.blurb
    assert dequant_gains({"groups": [group("ste", 0, None, "", True)]}, rows).note
