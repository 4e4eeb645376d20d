"""Tests for irn.losses: the registry, the spec parser, and each loss's defining values."""
import math

import pytest
import torch
from kornia.color import rgb_to_ycbcr, ycbcr_to_rgb
from scipy.special import k1

from irn.losses import LOSSES, build_loss, loss_names, parse_spec
from irn.losses.barron import AdaptiveBarronLoss, BarronLoss, barron_rho, log_partition
from irn.losses.structural import MSSSIMLoss

PERCEPTUAL = ("lpips", "dists")
# torchvision vgg16().features conv layers: index -> (out, in) channels. Written out here, not
# taken from irn, so that the test checks the layout against torchvision's, independently.
TORCHVISION_VGG16_CONVS = {0: (64, 3), 2: (64, 64), 5: (128, 64), 7: (128, 128), 10: (256, 128),
                           12: (256, 256), 14: (256, 256), 17: (512, 256), 19: (512, 512),
                           21: (512, 512), 24: (512, 512), 26: (512, 512), 28: (512, 512)}


@pytest.fixture(scope="module")
def vgg_file(tmp_path_factory):
    """A torchvision-format vgg16 state dict with random (He-scaled) weights."""
    g = torch.Generator().manual_seed(0)
    state = {}
    for i, (c_out, c_in) in TORCHVISION_VGG16_CONVS.items():
        state[f"features.{i}.weight"] = torch.randn(c_out, c_in, 3, 3, generator=g) * (2 / (9 * c_in)) ** 0.5
        state[f"features.{i}.bias"] = torch.zeros(c_out)
    state["classifier.6.bias"] = torch.zeros(1000)  # a real file also has the classifier: ignored
    path = tmp_path_factory.mktemp("vgg") / "vgg16-397923af.pth"
    torch.save(state, path)
    return str(path)


def _images(n=2, size=32, noise=0.05, seed=0):
    g = torch.Generator().manual_seed(seed)
    target = torch.rand(n, 3, size, size, generator=g)
    pred = (target + noise * torch.randn(target.shape, generator=g)).clamp(0, 1)
    return pred, target


def _close(actual, expected, rtol=1e-7, atol=1e-12):
    # plain allclose: torch.testing.assert_close imports sympy on first use (seconds)
    assert torch.allclose(actual, expected, rtol=rtol, atol=atol), (actual - expected).abs().max()


def _options(name, vgg_file):
    return {"weights": vgg_file} if name in PERCEPTUAL else {}


def _size(name):
    return 24 if name in PERCEPTUAL else 32  # VGG16 is the slow part: keep its inputs small


# ---- every registered loss ---------------------------------------------------------------
def test_names_match_registry():
    assert loss_names() == sorted(LOSSES)
    for name in ("l1", "l2", "charbonnier", "huber", "smooth_l1", "barron", "barron_adaptive",
                 "ssim", "ms_ssim", "gmsd", "ycbcr", "lpips", "dists"):
        assert name in LOSSES


@pytest.mark.parametrize("name", sorted(LOSSES))
def test_finite_value_and_gradient(name, vgg_file):
    pred, target = _images(size=_size(name))
    pred.requires_grad_(True)
    loss = build_loss(name, **_options(name, vgg_file))
    value = loss(pred, target)
    assert value.dim() == 0 and torch.isfinite(value)
    value.backward()
    assert pred.grad is not None and torch.isfinite(pred.grad).all()
    assert pred.grad.abs().sum() > 0
    assert loss.terms == [(1.0, name)]


@pytest.mark.parametrize("name", ["l1", "l2", "ssim", "ms_ssim", "gmsd", "lpips", "dists"])
def test_identical_images_give_zero(name, vgg_file):
    _, target = _images(size=_size(name))
    value = build_loss(name, **_options(name, vgg_file))(target, target)
    assert abs(float(value)) < 1e-5


# ---- pixel losses: hand-computed values --------------------------------------------------
D = torch.tensor([0.0, 0.005, -0.02, 0.5]).view(1, 1, 2, 2)  # pred - target
ZERO = torch.zeros_like(D)


def test_pixel_known_values():
    assert build_loss("l1")(D, ZERO).item() == pytest.approx((0.005 + 0.02 + 0.5) / 4)
    assert build_loss("l2")(D, ZERO).item() == pytest.approx((0.005 ** 2 + 0.02 ** 2 + 0.25) / 4)
    charb = sum(math.sqrt(d * d + 1e-6) for d in (0.0, 0.005, 0.02, 0.5)) / 4
    assert build_loss("charbonnier")(D, ZERO).item() == pytest.approx(charb, rel=1e-6)
    # huber, delta=0.01: 0.5 d^2 below delta, delta (|d| - delta/2) above
    huber = (0 + 0.5 * 0.005 ** 2 + 0.01 * (0.02 - 0.005) + 0.01 * (0.5 - 0.005)) / 4
    assert build_loss("huber")(D, ZERO).item() == pytest.approx(huber, rel=1e-5)
    assert build_loss("smooth_l1")(D, ZERO).item() == pytest.approx(huber / 0.01, rel=1e-5)
    assert build_loss("huber", delta=1.0)(D, ZERO).item() == pytest.approx(
        0.5 * build_loss("l2")(D, ZERO).item(), rel=1e-6)


def test_charbonnier_is_official_irn_reconstruction_loss_over_elements():
    pred, target = _images(n=3)
    d = pred - target
    official = torch.sum(torch.sqrt(d * d + 1e-6)) / pred.shape[0]  # IRN ReconstructionLoss
    ours = build_loss("charbonnier")(pred, target) * pred[0].numel()
    assert ours.item() == pytest.approx(official.item(), rel=1e-5)


# ---- Barron -------------------------------------------------------------------------------
X = torch.linspace(-3, 3, 13, dtype=torch.float64)


@pytest.mark.parametrize("as_tensor", [False, True])
def test_barron_special_cases(as_tensor):
    c = 0.5
    z = (X / c) ** 2
    cases = {2.0: 0.5 * z, 0.0: torch.log(0.5 * z + 1), 1.0: torch.sqrt(z + 1) - 1}
    for alpha, expected in cases.items():
        a = torch.tensor(alpha, dtype=torch.float64) if as_tensor else alpha
        _close(barron_rho(X, a, c), expected)
    # the general form is continuous at the special points
    near_two = torch.tensor(2 - 1e-6, dtype=torch.float64) if as_tensor else 2 - 1e-6
    _close(barron_rho(X, near_two, c), 0.5 * z, rtol=1e-4, atol=1e-6)
    if not as_tensor:
        _close(barron_rho(X, -math.inf, c), 1 - torch.exp(-0.5 * z))


def test_barron_alpha1_is_scaled_charbonnier():
    pred, target = _images()
    c = 0.01
    charbonnier = build_loss("charbonnier", eps=c * c)(pred, target)
    barron = BarronLoss(alpha=1.0, scale=c)(pred, target)
    assert (c * (barron + 1)).item() == pytest.approx(charbonnier.item(), rel=1e-5)


def test_log_partition_closed_forms_and_gradient():
    alphas = torch.tensor([0.0, 1.0, 2.0], dtype=torch.float64)
    expected = [math.log(math.pi * math.sqrt(2)),   # Cauchy: int 1 / (1 + x^2/2)
                math.log(2 * math.e * k1(1.0)),     # int exp(1 - sqrt(1 + x^2)) = 2 e K1(1)
                0.5 * math.log(2 * math.pi)]        # Gaussian
    _close(log_partition(alphas), torch.tensor(expected, dtype=torch.float64), rtol=0, atol=1e-8)
    a = torch.tensor(0.7321, dtype=torch.float64, requires_grad=True)
    log_partition(a).backward()
    h = 1e-4
    fd = (log_partition(a.detach() + h) - log_partition(a.detach() - h)) / (2 * h)
    assert a.grad.item() == pytest.approx(fd.item(), rel=1e-5)


@pytest.mark.parametrize("alpha", [0.001, 0.0137, 0.5, 1.2345, 1.99, 1.999])
def test_log_partition_matches_direct_quadrature(alpha):
    from scipy.integrate import quad

    def density(x):
        return math.exp(-barron_rho(torch.tensor(x, dtype=torch.float64), alpha, 1.0).item())

    direct = math.log(2 * quad(density, 0, math.inf, epsabs=1e-13, epsrel=1e-12, limit=500)[0])
    value = log_partition(torch.tensor(alpha, dtype=torch.float64)).item()
    assert value == pytest.approx(direct, abs=1e-7)  # 1.999: log Z has an infinite slope at 2


def test_barron_adaptive_density_is_normalised():
    loss = AdaptiveBarronLoss(alpha_init=1.3, scale_init=0.7).double()
    x = torch.linspace(-400, 400, 800_001, dtype=torch.float64)
    with torch.no_grad():
        nll = barron_rho(x, loss.alpha, loss.scale) + torch.log(loss.scale) + log_partition(loss.alpha)
    mass = torch.trapezoid(torch.exp(-nll), x).item()
    assert mass == pytest.approx(1.0, abs=1e-5)
    assert loss.alpha.item() == pytest.approx(1.3) and loss.scale.item() == pytest.approx(0.7)


def test_barron_adaptive_learns_alpha_and_scale():
    loss = build_loss("barron_adaptive")
    params = list(loss.parameters())
    assert len(params) == 2 and all(p.requires_grad for p in params)
    module = loss.losses[0]
    alpha0, scale0 = module.alpha.item(), module.scale.item()
    pred, target = _images(noise=0.1)
    # sign-SGD = what Adam's steps amount to early on; torch.optim itself would import
    # torch._dynamo (seconds) in this otherwise optimiser-free test file
    for _ in range(3):
        loss.zero_grad()
        loss(pred, target).backward()
        with torch.no_grad():
            for p in params:
                p -= 0.05 * p.grad.sign()
    assert module.alpha.item() != pytest.approx(alpha0, abs=1e-3)
    assert module.scale.item() > scale0  # residuals of std ~0.1 pull the 0.01 scale up
    assert 0.0 < module.alpha.item() < 2.0


# ---- structural ---------------------------------------------------------------------------
def test_ms_ssim_scales_for_small_patches():
    m = MSSSIMLoss()
    assert m.scales_for(176) == (5, 11)
    assert m.scales_for(144) == (4, 11)  # the official IRN HR patch
    assert m.scales_for(64) == (3, 11)
    assert m.scales_for(16) == (1, 11)
    assert m.scales_for(8) == (1, 7)


def test_ms_ssim_matches_pytorch_msssim_at_full_size():
    import pytorch_msssim

    pred, target = _images(n=1, size=176, noise=0.1)
    expected = 1 - pytorch_msssim.ms_ssim(pred, target, data_range=1.0)
    assert build_loss("ms_ssim")(pred, target).item() == pytest.approx(expected.item(), rel=1e-5)
    ssim_expected = 1 - pytorch_msssim.ssim(pred, target, data_range=1.0)
    assert build_loss("ssim")(pred, target).item() == pytest.approx(ssim_expected.item(), rel=1e-5)


def test_ms_ssim_gradient_finite_for_unrelated_images():
    g = torch.Generator().manual_seed(1)
    pred = torch.rand(2, 3, 48, 48, generator=g, requires_grad=True)
    target = torch.rand(2, 3, 48, 48, generator=g)
    build_loss("ms_ssim")(pred, target).backward()
    assert torch.isfinite(pred.grad).all()


def test_structural_losses_run_in_float32_under_autocast():
    pred, target = _images()
    with torch.autocast("cpu", dtype=torch.bfloat16):
        for name in ("ssim", "ms_ssim", "gmsd"):
            value = build_loss(name)(pred.bfloat16(), target.bfloat16())
            assert value.dtype == torch.float32 and torch.isfinite(value)


def test_gmsd_grows_with_distortion():
    _, target = _images()
    gmsd = build_loss("gmsd")
    values = [gmsd(_images(noise=s)[0], target).item() for s in (0.01, 0.05, 0.2)]
    assert values[0] < values[1] < values[2]


# ---- ycbcr --------------------------------------------------------------------------------
def _shift_channel(target, channel, delta):
    ycc = rgb_to_ycbcr(target)
    ycc[:, channel] += delta
    return ycbcr_to_rgb(ycc)


def test_ycbcr_penalises_luma_more_than_equal_chroma_error():
    target = _images()[1] * 0.5 + 0.25  # keep the shifted images inside the gamut
    loss = build_loss("ycbcr", base="l1")
    luma = loss(_shift_channel(target, 0, 0.02), target).item()
    chroma = loss(_shift_channel(target, 1, 0.02), target).item()
    assert luma == pytest.approx(8 * chroma, rel=1e-3)  # y_weight / c_weight = 0.8 / 0.1
    assert luma == pytest.approx(0.8 * 0.02, rel=1e-3)


def test_ycbcr_420_ignores_chroma_detail_below_2x2():
    target = _images()[1] * 0.5 + 0.25
    checker = (torch.arange(32).view(1, -1) + torch.arange(32).view(-1, 1)) % 2 * 2 - 1.0
    ycc = rgb_to_ycbcr(target)
    ycc[:, 2] += 0.05 * checker  # zero mean in every 2x2 block
    pred = ycbcr_to_rgb(ycc)
    assert build_loss("ycbcr", base="l2", subsample420=True)(pred, target).item() < 1e-10
    assert build_loss("ycbcr", base="l2")(pred, target).item() > 1e-5


# ---- spec parsing and options -------------------------------------------------------------
def test_parse_spec():
    assert parse_spec("l2+0.1*dists") == [(1.0, "l2"), (0.1, "dists")]
    assert parse_spec(" 0.5 * l1 + 0.5*SSIM ") == [(0.5, "l1"), (0.5, "ssim")]
    assert parse_spec("1e-3*l2+2.*charbonnier") == [(1e-3, "l2"), (2.0, "charbonnier")]


@pytest.mark.parametrize("spec", ["0.5*l1+0.5*ssim", "charbonnier+0.2*ms_ssim", "l2+0.1*gmsd+2*l1"])
def test_weighted_sum_equals_sum_of_parts(spec):
    pred, target = _images()
    loss = build_loss(spec)
    expected = sum(w * build_loss(name)(pred, target) for w, name in parse_spec(spec))
    assert loss(pred, target).item() == pytest.approx(expected.item(), rel=1e-6)
    assert loss.terms == parse_spec(spec)
    assert set(loss.last) == {name for _, name in loss.terms}


def test_repeated_names_get_separate_log_keys():
    loss = build_loss("l1+0.5*l1")
    loss(*_images())
    assert loss.keys == ["l1", "l1#2"] and set(loss.last) == {"l1", "l1#2"}


def test_options_are_routed():
    loss = build_loss("huber+smooth_l1", delta=0.5, beta=0.2)
    assert loss.losses[0].delta == 0.5 and loss.losses[1].beta == 0.2
    assert build_loss("l1+huber", delta=0.5).losses[1].delta == 0.5  # l1 takes no delta
    assert build_loss("l2", weights="/nonexistent/vgg.pth").terms == [(1.0, "l2")]  # not for l2: ignored
    with pytest.raises(ValueError, match="detla"):
        build_loss("huber", detla=0.1)
    with pytest.raises(ValueError, match="'huber__beta' is not accepted by any loss"):
        build_loss("huber", huber__beta=0.1)  # no per-loss targeting: one name, every loss


def _one_line_error(exc_info) -> str:
    msg = str(exc_info.value)
    assert "\n" not in msg
    return msg


def test_unknown_name_raises_clear_message():
    with pytest.raises(ValueError) as exc:
        build_loss("l2+0.1*perceptual")
    msg = _one_line_error(exc)
    assert "'perceptual'" in msg and "charbonnier" in msg and "ms_ssim" in msg


@pytest.mark.parametrize("spec", ["", "l2+", "+l2", "0.1*", "l2 l1", "l2*0.1", "-0.1*l2", "0*l2",
                                  "l2++l1", "l2+0.1*"])
def test_malformed_spec_raises(spec):
    with pytest.raises(ValueError) as exc:
        build_loss(spec)
    msg = _one_line_error(exc)
    assert "loss" in msg and repr(spec) in msg


# ---- lpips / dists weights ----------------------------------------------------------------
@pytest.mark.parametrize("name", PERCEPTUAL)
def test_perceptual_without_weights_raises_clear_message(name, monkeypatch):
    monkeypatch.delenv("IRN_VGG16_WEIGHTS", raising=False)
    with pytest.raises(FileNotFoundError) as exc:
        build_loss(name)
    msg = _one_line_error(exc)
    assert "IRN_VGG16_WEIGHTS" in msg and "vgg16-397923af.pth" in msg and "weights=" in msg
    with pytest.raises(FileNotFoundError, match="not found"):
        build_loss(name, weights="/nonexistent/vgg16.pth")


@pytest.mark.parametrize("name", PERCEPTUAL)
def test_perceptual_from_env_and_frozen(name, vgg_file, monkeypatch):
    monkeypatch.setenv("IRN_VGG16_WEIGHTS", vgg_file)
    loss = build_loss(name)
    assert list(loss.parameters()) == [] and loss.state_dict() == {}  # VGG: frozen buffers
    vgg = loss.losses[0].vgg
    state = torch.load(vgg_file, weights_only=True)
    assert torch.equal(vgg.features[28].weight, state["features.28.weight"])
    assert not loss.losses[0].calibrated


def test_perceptual_rejects_a_wrong_file(vgg_file, tmp_path):
    state = torch.load(vgg_file, weights_only=True)
    state["features.2.weight"] = torch.zeros(32, 64, 3, 3)
    bad = tmp_path / "bad.pth"
    torch.save(state, bad)
    with pytest.raises(ValueError, match="not a torchvision vgg16"):
        build_loss("lpips", weights=str(bad))


def test_lpips_lin_weights_scale_the_layers(vgg_file, tmp_path):
    pred, target = _images(n=1, size=24)
    channels = (64, 128, 256, 512, 512)
    lin = tmp_path / "lpips_vgg.pth"
    torch.save({f"lin{k}.model.1.weight": torch.full((1, c, 1, 1), 0.5) for k, c in enumerate(channels)}, lin)
    uniform = build_loss("lpips", weights=vgg_file)(pred, target)
    calibrated = build_loss("lpips", weights=vgg_file, lin_weights=str(lin))
    assert calibrated.losses[0].calibrated
    assert calibrated(pred, target).item() == pytest.approx(0.5 * uniform.item(), rel=1e-5)


def test_dists_weights_file(vgg_file, tmp_path):
    pred, target = _images(n=1, size=24)
    n = 3 + 64 + 128 + 256 + 512 + 512
    ab = tmp_path / "dists.pt"
    torch.save({"alpha": torch.full((1, n, 1, 1), 0.3), "beta": torch.full((1, n, 1, 1), 0.3)}, ab)
    uniform = build_loss("dists", weights=vgg_file)(pred, target)
    # a constant file equals the uniform default (alpha/beta are normalised to sum to 1)
    loaded = build_loss("dists", weights=vgg_file, dists_weights=str(ab))
    assert loaded.losses[0].calibrated
    assert loaded(pred, target).item() == pytest.approx(uniform.item(), rel=1e-5)
    torch.save({"alpha": torch.ones(1, 5, 1, 1)}, ab)
    with pytest.raises(ValueError, match="alpha"):
        build_loss("dists", weights=vgg_file, dists_weights=str(ab))
