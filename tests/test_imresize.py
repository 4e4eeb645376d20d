"""irn.imresize against values derived independently of its implementation."""

import math

import pytest
import torch
import torch.nn.functional as F

from irn.imresize import imresize


def _keys(t: float) -> float:
    """Keys' cubic (a = -0.5), written out again here for the naive reference."""
    t = abs(t)
    if t <= 1:
        return 1.5 * t**3 - 2.5 * t**2 + 1
    if t <= 2:
        return -0.5 * t**3 + 2.5 * t**2 - 4 * t + 2
    return 0.0


def _naive_resize_1d(row: list[float], scale: float) -> list[float]:
    """MATLAB imresize along one axis, one output pixel at a time (0-based coordinates).

    Output pixel i sits at input coordinate c = (i + 0.5) / scale - 0.5. Every input pixel j
    within the kernel's reach contributes k(c - j); a j outside [0, n) is read from its
    mirror image with the edge pixel repeated (-1 -> 0, -2 -> 1, n -> n-1, ...).
    """
    n = len(row)
    stretch = 1 / scale if scale < 1 else 1.0  # antialiasing widens the kernel
    out = []
    for i in range(math.ceil(n * scale)):
        c = (i + 0.5) / scale - 0.5
        total, norm = 0.0, 0.0
        for j in range(math.floor(c - 2 * stretch) - 1, math.ceil(c + 2 * stretch) + 2):
            wgt = _keys((c - j) / stretch)
            m = j % (2 * n)
            src = m if m < n else 2 * n - 1 - m
            total += wgt * row[src]
            norm += wgt
        out.append(total / norm)
    return out


def _naive_resize_2d(img: torch.Tensor, scale: float) -> torch.Tensor:
    rows = [_naive_resize_1d(r, scale) for r in img.tolist()]
    cols = [_naive_resize_1d(list(c), scale) for c in zip(*rows)]
    return torch.tensor(cols, dtype=torch.float64).T


def test_hand_computed_upscale_1d():
    # scale 2, x = [1, 2, 4, 8]. Output pixel 0 sits at 1-based input coordinate 0.75:
    # distances to pixels -1, 0, 1, 2 are 1.75, 0.75, -0.25, -1.25, with weights
    # k(1.75) = -0.0234375, k(0.75) = 0.2265625, k(0.25) = 0.8671875, k(1.25) = -0.0703125
    # (sum exactly 1). Pixels -1 and 0 mirror to pixels 2 and 1, so
    # out0 = 1.09375 * x1 - 0.09375 * x2 = 0.90625.
    # Output pixel 3 sits at 2.25: weights -0.0703125, 0.8671875, 0.2265625, -0.0234375 on
    # pixels 1..4: out3 = -0.0703125 + 1.734375 + 0.90625 - 0.1875 = 2.3828125.
    x = torch.tensor([1.0, 2.0, 4.0, 8.0], dtype=torch.float64).view(1, 1, 1, 4)
    y = imresize(x, 2)
    assert y.shape == (1, 1, 2, 8)
    assert y[0, 0, 0, 0].item() == pytest.approx(0.90625, abs=1e-12)
    assert y[0, 0, 0, 3].item() == pytest.approx(2.3828125, abs=1e-12)
    # Upscaling a 1-pixel-high image along H just copies it (all taps mirror onto row 0).
    assert torch.allclose(y[0, 0, 0], y[0, 0, 1])


def test_hand_computed_downscale_1d_impulse():
    # scale 1/2, length 8 -> 4. Output 0 sits at 1-based input coordinate 1.5; the kernel
    # is 0.5 * k(d / 2) over |d| < 4, i.e. on pixels -2..5 (d = 3.5 .. -3.5):
    # 0.5 * [k(1.75), k(1.25), k(.75), k(.25), k(.25), k(.75), k(1.25), k(1.75)]
    # = [-0.01171875, -0.03515625, 0.11328125, 0.43359375, 0.43359375, 0.11328125,
    #    -0.03515625, -0.01171875], sum 1. Pixels -2, -1, 0 mirror onto 3, 2, 1.
    # An impulse at pixel 3 (1-based) therefore gets 0.11328125 + (-0.01171875) (mirror).
    x = torch.zeros(1, 1, 1, 8, dtype=torch.float64)
    x[..., 2] = 1.0  # pixel 3, 1-based
    y = imresize(x, 0.5)
    assert y.shape == (1, 1, 1, 4)
    # Output 1 (at 3.5): d to pixel 3 = 0.5 -> 0.43359375.  Output 2 (at 5.5): d = 2.5 -> -0.03515625.
    expected = torch.tensor([0.11328125 - 0.01171875, 0.43359375, -0.03515625, 0.0]).double()
    assert torch.allclose(y[0, 0, 0], expected, atol=1e-12)
    assert y.min() < 0  # negative lobe: no clamping


@pytest.mark.parametrize(
    "shape,scale", [((9, 7), 0.5), ((13, 10), 0.25), ((5, 6), 2), ((4, 3), 4), ((10, 9), 1 / 3)]
)
def test_matches_naive_reference_2d(shape, scale):
    torch.manual_seed(0)
    img = torch.rand(shape, dtype=torch.float64)
    y = imresize(img[None], scale)[0]
    assert torch.allclose(y, _naive_resize_2d(img, scale), atol=1e-12)


@pytest.mark.parametrize("scale", [0.25, 0.5, 2, 4])
def test_constant_stays_constant(scale):
    x = torch.full((2, 3, 12, 10), 0.37)
    assert torch.allclose(imresize(x, scale), torch.full_like(imresize(x, scale), 0.37), atol=1e-6)


@pytest.mark.parametrize("scale", [0.5, 0.25, 1 / 3])
def test_linear_ramp_downscale_interior(scale):
    # Along W the image is f(j) = j (0-based pixel centres). A symmetric normalised kernel
    # reproduces a linear function, so away from the borders output i must be exactly the
    # input coordinate it sits on: (i + 0.5) / scale - 0.5.
    w = 48
    ramp = torch.arange(w, dtype=torch.float64).expand(1, 1, 6, w)
    y = imresize(ramp, scale)[0, 0, 0]
    i = torch.arange(y.numel(), dtype=torch.float64)
    expected = (i + 0.5) / scale - 0.5
    m = 3  # kernel reach is 2 output pixels
    assert torch.allclose(y[m:-m], expected[m:-m], atol=1e-9)
    assert not torch.allclose(y[:1], expected[:1], atol=1e-3)  # the mirrored border bends it


@pytest.mark.parametrize(
    "hw,scale,out",
    [
        ((7, 10), 0.25, (2, 3)),
        ((5, 5), 0.5, (3, 3)),
        ((7, 10), 2, (14, 20)),
        ((3, 5), 4, (12, 20)),
        ((10, 11), 1 / 3, (4, 4)),
    ],
)
def test_output_size_is_matlab_ceil(hw, scale, out):
    assert imresize(torch.rand(1, 3, *hw), scale).shape == (1, 3, *out)


def test_accepts_chw_and_keeps_dtype():
    x = torch.rand(3, 16, 16, dtype=torch.float64)
    y = imresize(x, 0.5)
    assert y.shape == (3, 8, 8) and y.dtype == torch.float64
    assert torch.allclose(y, imresize(x[None], 0.5)[0])
    assert imresize(x.float(), 0.5).dtype == torch.float32
    with pytest.raises(TypeError):
        imresize(torch.zeros(1, 3, 4, 4, dtype=torch.uint8), 0.5)


def test_differs_from_torch_bicubic_when_downscaling():
    # F.interpolate's plain bicubic uses a = -0.75 and no antialiasing: a different filter.
    torch.manual_seed(0)
    x = torch.rand(1, 3, 32, 32)
    ours = imresize(x, 0.25)
    theirs = F.interpolate(x, scale_factor=0.25, mode="bicubic", align_corners=False)
    assert (ours - theirs).abs().max() > 0.1


@pytest.mark.parametrize("scale", [0.5, 0.25, 2, 4])
def test_interior_matches_torch_antialiased_bicubic(scale):
    # Independent cross-check: torch's antialias=True bicubic is PIL's filter (a = -0.5,
    # kernel stretched by 1/scale). It differs from MATLAB only at the borders, where PIL
    # truncates and renormalises the kernel instead of mirroring the image.
    torch.manual_seed(1)
    x = torch.rand(1, 3, 32, 32, dtype=torch.float64)
    ours = imresize(x, scale)
    pil = F.interpolate(x, scale_factor=scale, mode="bicubic", antialias=True, align_corners=False)
    m = 3 if scale < 1 else int(3 * scale)
    assert torch.allclose(ours[..., m:-m, m:-m], pil[..., m:-m, m:-m], atol=1e-12)
    assert (ours - pil).abs().max() > 1e-3  # ... and the borders really differ


def test_round_trip_on_smooth_image():
    yy, xx = torch.meshgrid(torch.linspace(0, 1, 64), torch.linspace(0, 1, 64), indexing="ij")
    img = (0.5 + 0.4 * torch.sin(3 * xx) * torch.cos(2 * yy)).expand(1, 3, 64, 64)
    back = imresize(imresize(img, 0.25), 4)
    assert back.shape == img.shape
    assert (back - img).abs().mean() < 5e-3
    up_down = imresize(imresize(img, 2), 0.5)
    assert (up_down - img)[..., 4:-4, 4:-4].abs().max() < 2e-3


def test_differentiable():
    x = torch.rand(1, 1, 6, 5, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda t: imresize(t, 0.5), (x,))
    assert torch.autograd.gradcheck(lambda t: imresize(t, 2), (x,))
