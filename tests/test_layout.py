"""Channels-last (irn/LAYOUT.md): a channels-last model computes what the NCHW model computes,
and keeps every convolution's input channels-last, in inference and in training."""
import collections
import copy

import pytest
import torch
from torch.utils._python_dispatch import TorchDispatchMode

from irn.config import from_dict
from irn.couplings import COUPLINGS
from irn.haar import HaarDownsampling
from irn.layout import is_channels_last, resolve_channels_last
from irn.model import build_model
from irn.subnets import SUBNETS, DenseBlock
from irn.train import Trainer
from tests.test_model import perturbed

CL = torch.channels_last


class ConvInputLayouts(TorchDispatchMode):
    """Counts the layouts of the activations every convolution (and its backward) receives:
    'CL' dense channels-last, 'slice' a channel slice of one (channel stride 1), 'NCHW'."""

    def __init__(self):
        super().__init__()
        self.seen = collections.Counter()

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        if func in (torch.ops.aten.convolution.default,
                    torch.ops.aten.convolution_backward.default):
            x = args[1] if func is torch.ops.aten.convolution_backward.default else args[0]
            if x.shape[1] > 1:  # one channel is both layouts at once
                dense = x.is_contiguous(memory_format=CL) and not x.is_contiguous()
                self.seen["CL" if dense else "slice" if is_channels_last(x) else "NCHW"] += 1
        return func(*args, **(kwargs or {}))


def _pair(model):
    return model, copy.deepcopy(model).to(memory_format=CL)


@pytest.mark.parametrize("rev", [False, True])
@pytest.mark.parametrize("n", [1, 2])
def test_haar_channels_last_matches_conv_path(rev, n):
    haar = HaarDownsampling([(3, 8, 8)])
    x = torch.rand(n, 12 if rev else 3, 8, 8)
    (ref,), ref_det = haar([x], rev=rev)
    (out,), det = haar([x.contiguous(memory_format=CL)], rev=rev)
    assert is_channels_last(out)
    assert torch.allclose(out, ref, atol=1e-6) and torch.equal(det, ref_det)


def test_haar_channels_last_is_exact_inverse():
    haar = HaarDownsampling([(3, 8, 8)]).double()
    x = torch.rand(2, 3, 8, 8, dtype=torch.float64).contiguous(memory_format=CL)
    (y,), _ = haar([x])
    (back,), _ = haar([y], rev=True)
    assert torch.allclose(back, x, atol=1e-12)


@pytest.mark.parametrize("coupling", list(COUPLINGS))
@pytest.mark.parametrize("scale,depth", [(2, 0), (4, 1)])
def test_channels_last_model_matches_nchw(coupling, scale, depth):
    torch.manual_seed(0)
    blocks = 1 if coupling == "iresnet" else 2
    nchw, cl = _pair(perturbed(build_model(scale=scale, coupling=coupling, blocks=blocks,
                                           multiscale_depth=depth)).eval())
    assert cl.channels_last() and not nchw.channels_last()
    x = torch.rand(2, 3, 16, 16)
    layouts = ConvInputLayouts()
    with torch.no_grad():
        ref, ref_det = nchw(x)
        out, det = cl(x.contiguous(memory_format=CL))
        with layouts:  # jac=False: i-ResNet's log-det estimator runs NCHW (irn/couplings.py)
            back, _ = cl(cl(x, jac=False)[0], rev=True, jac=False)
    assert torch.allclose(out, ref, atol=1e-5) and torch.allclose(det, ref_det, atol=1e-3)
    assert torch.allclose(back, x, atol=1e-4)
    assert is_channels_last(out) and is_channels_last(back)
    assert layouts.seen["NCHW"] == 0 and layouts.seen["CL"] > 0, layouts.seen


@pytest.mark.parametrize("subnet", list(SUBNETS))
def test_channels_last_subnets_match(subnet):
    torch.manual_seed(0)
    nchw, cl = _pair(perturbed(build_model(scale=2, subnet=subnet, blocks=1)).eval())
    x = torch.rand(1, 3, 16, 16)
    with torch.no_grad():
        lr = nchw.downscale(x)
        assert torch.allclose(cl.downscale(x), lr, atol=1e-6)
        # an NCHW input (here the LR, and the cat with the drawn z) runs channels-last too
        layouts = ConvInputLayouts()
        with layouts:
            up = cl.upscale(lr, mode="zero")
        assert torch.allclose(up, nchw.upscale(lr, mode="zero"), atol=1e-5)
    assert layouts.seen["NCHW"] == 0, layouts.seen


def test_channels_last_dense_block_gradients_match():
    # float64: in float32 a pre-activation within rounding of 0 can take the other side of
    # the LeakyReLU kink in one layout (seen: 2e-9), a legitimate 1e-2 gradient difference
    torch.manual_seed(0)
    block = DenseBlock(9, 3).double()
    torch.nn.init.normal_(block.conv5.weight, std=0.05)
    block_cl = copy.deepcopy(block).to(memory_format=CL)
    x = torch.rand(2, 12, 8, 8, dtype=torch.float64)[:, 3:]  # a coupling's channel slice
    x_cl = torch.rand(2, 12, 8, 8, dtype=torch.float64).contiguous(memory_format=CL)[:, 3:]
    x_cl.copy_(x)
    block(x).square().sum().backward()
    block_cl(x_cl).square().sum().backward()
    for p, q in zip(block.parameters(), block_cl.parameters()):
        assert torch.allclose(p.grad, q.grad, rtol=1e-10, atol=1e-12)


def test_channels_last_training_step_keeps_layout_and_loss():
    losses, layouts = {}, ConvInputLayouts()
    for channels_last in (False, True):
        cfg = from_dict({"scale": 4, "channels_last": channels_last, "steps": 1},
                        budget="smoke")
        trainer = Trainer(cfg)
        hr, lr = next(trainer.batches())
        hr, lr = trainer.to_device(hr), trainer.to_device(lr)
        if channels_last:
            with layouts:
                losses[channels_last] = trainer.train_step(hr, lr)
        else:
            losses[channels_last] = trainer.train_step(hr, lr)
    # forward and backward: every conv input channels-last (or a slice of one)
    assert layouts.seen["NCHW"] == 0 and layouts.seen["CL"] > 0, layouts.seen
    for term, value in losses[False].items():
        # equal up to float summation order; the 8-bit LR rounding can flip a pixel's bin
        assert losses[True][term] == pytest.approx(value, rel=1e-3), term


def test_dense_block_under_autocast_casts_its_input_once():
    torch.manual_seed(0)
    block = DenseBlock(9, 3).to(memory_format=CL)
    torch.nn.init.normal_(block.conv5.weight, std=0.05)
    x = torch.rand(1, 12, 8, 8).contiguous(memory_format=CL)[:, 3:]
    cats = []

    class Cats(TorchDispatchMode):
        def __torch_dispatch__(self, func, types, args=(), kwargs=None):
            out = func(*args, **(kwargs or {}))
            if func is torch.ops.aten.cat.default:
                cats.append(out.dtype)
            return out
    with torch.autocast("cpu", dtype=torch.bfloat16), Cats():
        out = block(x)
    assert cats == [torch.bfloat16] * 4  # not fp32 cats cast again by each conv
    assert torch.allclose(out.float(), block(x), atol=0.05)


@pytest.mark.parametrize("mode,device,expected", [
    ("true", "cpu", True), ("false", "cpu", False), ("auto", "cpu", True),
    ("auto", "cuda", False), ("true", "cuda", True)])
def test_channels_last_auto_resolves_per_device(mode, device, expected):
    channels_last, why = resolve_channels_last(mode, torch.device(device))
    assert channels_last is expected and why


def test_trainer_reports_the_layout_it_ran():
    for mode, name in (("auto", "channels_last"), ("false", "nchw")):
        trainer = Trainer(from_dict({"scale": 2, "channels_last": mode, "steps": 2,
                                     "eval_every": 2}, budget="smoke"))
        (report,) = list(trainer.run())
        assert report["layout"] == name
        assert trainer.model.channels_last() is (name == "channels_last")


def test_stego_network_keeps_channels_last():
    from irn.stego import build_stego_model
    torch.manual_seed(0)
    nchw, cl = _pair(perturbed(build_stego_model(scale=2, blocks=2)).eval())
    cover, secret = torch.rand(2, 3, 16, 16), torch.rand(2, 3, 8, 8)
    layouts = ConvInputLayouts()
    with torch.no_grad():
        ref = nchw.hide(cover, secret)
        with layouts:
            out = cl.hide(cover.contiguous(memory_format=CL), secret)
    assert torch.allclose(out, ref, atol=1e-5)
    assert layouts.seen["NCHW"] == 0 and layouts.seen["CL"] > 0, layouts.seen


def test_a_channels_last_checkpoint_loads_into_an_nchw_model(tmp_path):
    from irn.checkpoint import load_model, save_model
    torch.manual_seed(0)
    model = perturbed(build_model(scale=2, blocks=2)).to(memory_format=CL).eval()
    save_model(tmp_path / "m.pt", model, {"scale": 2, "blocks": 2})
    loaded = load_model(tmp_path / "m.pt").eval()
    assert not loaded.channels_last()
    x = torch.rand(1, 3, 16, 16)
    with torch.no_grad():
        assert torch.allclose(loaded.downscale(x), model.downscale(x), atol=1e-6)


def test_channels_last_iresnet_lipschitz_correction_matches_nchw():
    # FrEIA's correction `.view`s conv outputs flat: a channels-last model used to raise here
    # at its first optimiser step (found by search_spaces/coupling.py at the cpu budget)
    torch.manual_seed(0)
    nchw = COUPLINGS["iresnet"]([(12, 8, 8)], None)
    with torch.no_grad():
        for layer in nchw.layers:
            layer.weight *= 10  # far above the bound, so the correction must rescale
    cl = copy.deepcopy(nchw).to(memory_format=CL)
    before = [layer.weight.clone() for layer in nchw.layers]
    for block in (nchw, cl):
        torch.manual_seed(1)  # the power method's random start
        block.lipschitz_correction()
    for old, a, b in zip(before, nchw.layers, cl.layers):
        assert b.weight.is_contiguous(memory_format=CL)
        assert torch.allclose(a.weight, b.weight, rtol=1e-5, atol=1e-7)
        assert a.weight.norm() < 0.5 * old.norm()  # rescaled, and the rescale was kept


@pytest.mark.parametrize("coupling", list(COUPLINGS))
def test_channels_last_training_matches_nchw_for_every_coupling(coupling):
    # two steps, so the second sees the first's optimiser step and model.constrain()
    losses = {}
    for channels_last in (False, True):
        cfg = from_dict({"coupling": coupling, "blocks": 1, "channels_last": channels_last,
                         "steps": 2}, budget="smoke")
        trainer = Trainer(cfg)
        batches = trainer.batches()
        for _ in range(2):
            hr, lr = (trainer.to_device(t) for t in next(batches))
            losses[channels_last] = trainer.train_step(hr, lr)
    for term, value in losses[False].items():
        assert losses[True][term] == pytest.approx(value, rel=1e-3), term
