"""The model library: round trips, log-dets, parameter counts, Haar, checkpoints, errors."""
import math

import pytest
import torch

import irn
from irn.couplings import COUPLINGS
from irn.haar import HaarDownsampling
from irn.model import build_model, count_parameters
from irn.official import CheckpointError, load_official, to_official
from tests import official_irn_reference as ref

DEPTHS = [(2, 0), (4, 0), (4, 1), (8, 0), (8, 1), (8, 2)]


def perturbed(model, std=0.02, seed=1):
    """Non-trivial weights: every block starts as the identity, so perturb all of them."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in model.parameters():
            if p.requires_grad:
                p.add_(torch.randn(p.shape, generator=g) * std)
    model.constrain()
    return model


@pytest.mark.parametrize("coupling", list(COUPLINGS))
@pytest.mark.parametrize("scale,depth", DEPTHS)
def test_round_trip_every_coupling_scale_depth(coupling, scale, depth):
    torch.manual_seed(0)
    model = perturbed(build_model(scale=scale, coupling=coupling, blocks=2, gc=8,
                                  multiscale_depth=depth)).eval()
    x = torch.rand(2, 3, 16, 24)
    x_before = x.clone()
    out, log_det = model(x)
    assert out.shape == (2, 3 * scale ** 2, 16 // scale, 24 // scale)
    assert torch.equal(x, x_before), "forward mutated its input"
    # z taken from the forward pass: the map is exactly invertible
    out_before = out.detach().clone()
    x_rec, log_det_rev = model(out.detach(), rev=True)
    assert torch.equal(out.detach(), out_before), "reverse mutated its input"
    tol = 1e-3 if coupling == "iresnet" else 1e-5
    assert (x_rec - x).abs().max().item() < tol
    assert torch.allclose(log_det, -log_det_rev, rtol=1e-5, atol=1e-3)
    # the forward actually did something beyond the Haar transform
    assert (out[:, :3] - torch.nn.functional.avg_pool2d(x, scale)).abs().max() > 1e-4


def test_input_never_gets_requires_grad():
    model = build_model(scale=2, coupling="iresnet", blocks=1, gc=8)
    x = torch.rand(1, 3, 8, 8)
    model(x)
    assert not x.requires_grad


@pytest.mark.parametrize("scale,params", [(2, 1_667_952), (4, 4_355_136), (8, 11_119_248)])
def test_parameter_counts_match_official(scale, params):
    assert count_parameters(build_model(scale=scale)) == params


def test_multiscale_reduces_parameters():
    plain = count_parameters(build_model(scale=4))
    split = count_parameters(build_model(scale=4, multiscale_depth=1, split_ratio=0.5))
    assert split < plain


def test_haar_low_band_is_2x2_mean_and_inverse_exact():
    haar = HaarDownsampling([(3, 8, 8)])
    x = torch.rand(2, 3, 8, 8, dtype=torch.float64)
    haar = haar.double()
    (y,), log_det = haar([x])
    assert torch.allclose(y[:, :3], torch.nn.functional.avg_pool2d(x, 2))
    # vertical band of channel 0 at (0,0): (a - b + c - d)/4 over [[a,b],[c,d]]
    a, b, c, d = x[0, 0, 0, 0], x[0, 0, 0, 1], x[0, 0, 1, 0], x[0, 0, 1, 1]
    assert torch.isclose(y[0, 3, 0, 0], (a - b + c - d) / 4)
    assert torch.isclose(y[0, 6, 0, 0], (a + b - c - d) / 4)
    assert torch.isclose(y[0, 9, 0, 0], (a - b - c + d) / 4)
    (x_rec,), log_det_rev = haar([y], rev=True)
    assert torch.allclose(x_rec, x, atol=1e-12)
    assert log_det[0].item() == pytest.approx(3 * 8 * 8 / 4 * math.log(1 / 16))
    assert torch.allclose(log_det, -log_det_rev)


def test_haar_matches_official_transform():
    ours = HaarDownsampling([(3, 8, 8)])
    theirs = ref.HaarDownsampling(3)
    x = torch.rand(2, 3, 8, 8)
    (y,), _ = ours([x])
    assert torch.allclose(y, theirs(x), atol=1e-7)
    assert torch.allclose(ours([y], rev=True)[0][0], theirs(y, rev=True), atol=1e-6)


@pytest.mark.parametrize("scale", [2, 4])
def test_official_checkpoint_loads_and_reproduces_official_outputs(scale, tmp_path):
    torch.manual_seed(0)
    stages = int(math.log2(scale))
    official = ref.InvRescaleNet(block_num=[3] * stages, down_num=stages, gc=16)
    with torch.no_grad():
        for p in official.parameters():
            if p.requires_grad:
                p.normal_(0, 0.05)
    path = tmp_path / "official.pth"
    # as saved from a DataParallel wrapper
    torch.save({"module." + k: v for k, v in official.state_dict().items()}, path)
    model = load_official(str(path), scale).eval()
    x = torch.rand(2, 3, 32, 32)
    with torch.no_grad():
        out_theirs = official(x)
        out_ours, _ = model(x)
        assert torch.allclose(out_ours, out_theirs, atol=1e-5)
        z = torch.randn_like(out_theirs[:, 3:])
        lr = irn.quantize(out_theirs[:, :3])
        y = torch.cat([lr, z], 1)
        assert torch.allclose(model(y, rev=True)[0], official(y, rev=True), atol=1e-5)
        assert torch.allclose(model.upscale(lr, z=z), official(y, rev=True)[:, :3], atol=1e-5)
        assert torch.equal(model.downscale(x), irn.quantize(out_theirs[:, :3]))


def test_full_size_official_layout_round_trips():
    model = build_model(scale=2)
    loaded = load_official(to_official(model), 2)
    for a, b in zip(model.state_dict().values(), loaded.state_dict().values()):
        assert torch.equal(a, b)


def test_bad_checkpoints_are_refused_naming_the_key(tmp_path):
    sd = to_official(build_model(scale=2, blocks=2, gc=8))
    bad_shape = dict(sd)
    bad_shape["operations.1.G.conv2.weight"] = torch.zeros(3, 3, 3, 3)
    with pytest.raises(CheckpointError, match=r"shape mismatch for 'operations.1.G.conv2.weight'"):
        load_official(bad_shape, 2)
    missing = {k: v for k, v in sd.items() if k != "operations.2.H.conv5.bias"}
    with pytest.raises(CheckpointError, match=r"missing key 'operations.2.H.conv5.bias'"):
        load_official(missing, 2)
    with pytest.raises(CheckpointError, match="x2 .*not x4"):
        load_official(sd, 4)
    with pytest.raises(CheckpointError, match="unexpected key 'encoder.weight'"):
        load_official({**sd, "encoder.weight": torch.zeros(1)}, 2)
    garbage = tmp_path / "garbage.pth"
    garbage.write_bytes(b"not a checkpoint")
    with pytest.raises(CheckpointError, match="cannot read checkpoint"):
        load_official(str(garbage), 2)
    with pytest.raises(CheckpointError, match="not found"):
        load_official(str(tmp_path / "nope.pth"), 2)


def test_size_not_divisible_by_scale_is_a_clear_error():
    model = build_model(scale=4, blocks=1, gc=8)
    with pytest.raises(ValueError, match="not divisible by the scale 4"):
        model(torch.rand(1, 3, 18, 16))


@pytest.mark.parametrize("kwargs,match", [
    ({"coupling": "glowish"}, "unknown coupling 'glowish'"),
    ({"subnet": "mlp"}, "unknown subnet 'mlp'"),
    ({"scale": 3}, "scale must be one of"),
    ({"scale": 2, "multiscale_depth": 1}, "multiscale_depth must be 0..0"),
])
def test_bad_architecture_is_refused(kwargs, match):
    with pytest.raises(ValueError, match=match):
        build_model(**kwargs)


def test_downscale_is_quantised_and_upscale_modes():
    torch.manual_seed(0)
    model = perturbed(build_model(scale=2, blocks=2, gc=8)).eval()
    x = torch.rand(1, 3, 16, 16)
    with torch.no_grad():
        lr = model.downscale(x)
        assert torch.equal(lr, (lr * 255).round() / 255) and lr.min() >= 0 and lr.max() <= 1
        zero = model.upscale(lr, mode="zero")
        g1 = model.upscale(lr, mode="gaussian", generator=torch.Generator().manual_seed(0))
        g2 = model.upscale(lr, mode="gaussian", generator=torch.Generator().manual_seed(0))
        cold = model.upscale(lr, mode="gaussian", temperature=0.0)
    assert zero.shape == x.shape and torch.equal(g1, g2)
    assert torch.allclose(cold, zero)
    assert not torch.allclose(g1, zero)
    with pytest.raises(ValueError, match="unknown z mode"):
        model.upscale(lr, mode="uniform")


def test_quantize_straight_through_gradient():
    x = torch.tensor([-0.5, 0.3, 0.5001, 1.7], requires_grad=True)
    y = irn.quantize(x)
    assert torch.allclose(y, torch.tensor([0.0, round(0.3 * 255) / 255, 128 / 255, 1.0]))
    y.sum().backward()
    assert torch.equal(x.grad, torch.ones(4))


def test_training_gradient_reaches_every_subnet():
    torch.manual_seed(0)
    model = build_model(scale=2, blocks=2, gc=8)
    out, _ = model(torch.rand(2, 3, 8, 8))
    out.square().sum().backward()
    # conv5 is zero-initialised, so only it gets a non-zero gradient at the very start
    for name, p in model.named_parameters():
        if name.endswith("conv5.weight"):
            assert p.grad is not None and p.grad.abs().sum() > 0, name
