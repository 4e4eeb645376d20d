"""irn.metrics against hand-computed values and independent SSIM implementations."""

import math

import numpy as np
import pytest
import torch
from scipy.signal import correlate2d
from skimage import data
from skimage.metrics import structural_similarity

from irn import metrics
from irn.metrics import psnr, psnr_rgb, psnr_y, quantize_uint8, rgb_to_y, ssim_y


def _levels(*vals):
    return torch.tensor(vals, dtype=torch.float64) / 255


def _astronaut_pair(size=48, noise=8.0, seed=0):
    """A real photo crop in [0,1] and a noisy copy, both N x 3 x H x W float32."""
    img = data.astronaut()[100 : 100 + size, 180 : 180 + size].astype(np.float64)
    rng = np.random.default_rng(seed)
    noisy = np.clip(img + rng.normal(0, noise, img.shape), 0, 255)
    to_t = lambda a: torch.from_numpy(a / 255).permute(2, 0, 1)[None].float()  # noqa: E731
    return to_t(img), to_t(noisy)


def _y_numpy(x: torch.Tensor) -> np.ndarray:
    """Y in [0,255] of the uint8-rounded image, written out again in NumPy (first image)."""
    rgb = np.round(np.clip(x[0].numpy().astype(np.float32), 0, 1) * 255).astype(np.float64)
    return (65.481 * rgb[0] + 128.553 * rgb[1] + 24.966 * rgb[2]) / 255 + 16


def test_quantize_uint8():
    x = torch.tensor([-0.2, 0.0, 0.3 / 255, 0.7 / 255, 100.49 / 255, 1.0, 1.7])
    expected = torch.tensor([0.0, 0.0, 0.0, 1.0, 100.0, 255.0, 255.0]) / 255
    assert torch.allclose(quantize_uint8(x), expected, atol=1e-7)
    assert quantize_uint8(x.double()).dtype == torch.float64


def test_y_of_white_black_red():
    rgb = torch.tensor([[1.0, 1.0, 1.0], [0.0, 0.0, 0.0], [1.0, 0.0, 0.0]], dtype=torch.float64)
    y = rgb_to_y(rgb.T.reshape(1, 3, 1, 3))  # three pixels in a row
    assert y.shape == (1, 1, 1, 3)
    # white: (65.481 + 128.553 + 24.966) = 219 -> (219 + 16)/255; black: 16/255; red: (65.481 + 16)/255
    expected = torch.tensor([235.0, 16.0, 81.481], dtype=torch.float64) / 255
    assert torch.allclose(y.flatten(), expected, atol=1e-12)
    assert rgb_to_y(torch.zeros(3, 4, 5)).shape == (1, 4, 5)


def test_known_mse_gives_known_psnr():
    # RGB: every channel of every pixel differs by 10 levels -> MSE 100 -> 10 log10(255^2 / 100).
    a = _levels(100).expand(1, 3, 8, 8)
    b = _levels(110).expand(1, 3, 8, 8)
    assert psnr_rgb(a, b, crop=0) == pytest.approx(10 * math.log10(255**2 / 100), abs=1e-9)
    # Y: a grey step of 10 levels moves Y by 10 * 219 / 255 -> PSNR = 20 log10(255 / (2190/255)).
    assert psnr_y(a, b, crop=0) == pytest.approx(20 * math.log10(255 / (2190 / 255)), abs=1e-9)
    # Only half the pixels differ (by 20 levels, red only): RGB MSE = 400 * (1/2) * (1/3).
    b2 = a.clone()
    b2[:, 0, :4] = 120 / 255
    assert psnr_rgb(a, b2, crop=0) == pytest.approx(10 * math.log10(255**2 / (400 / 6)), abs=1e-9)
    assert psnr(a, b2, 0, channel="rgb") == psnr_rgb(a, b2, 0)
    assert psnr(a, b2, 0) == psnr_y(a, b2, 0)
    # Y step of 20 * 65.481/255 on half the pixels.
    mse_y = (20 * 65.481 / 255) ** 2 / 2
    assert psnr_y(a, b2, crop=0) == pytest.approx(10 * math.log10(255**2 / mse_y), abs=1e-9)


def test_batch_is_mean_of_per_image_psnr():
    a = _levels(100).expand(2, 3, 8, 8)
    b = torch.stack([_levels(110).expand(3, 8, 8), _levels(130).expand(3, 8, 8)])
    expected = (10 * math.log10(255**2 / 100) + 10 * math.log10(255**2 / 900)) / 2
    assert psnr_rgb(a, b, crop=0) == pytest.approx(expected, abs=1e-9)
    pooled = 10 * math.log10(255**2 / 500)  # what averaging the MSE first would give
    assert abs(psnr_rgb(a, b, crop=0) - pooled) > 0.5


def test_identical_images_give_inf_and_ssim_one():
    a, _ = _astronaut_pair()
    assert psnr_y(a, a, 2) == math.inf
    assert psnr_rgb(a, a, 2) == math.inf
    assert ssim_y(a, a, 2) == pytest.approx(1.0, abs=1e-12)


def test_uint8_rounding_is_applied():
    a, _ = _astronaut_pair()
    a = quantize_uint8(a.double())
    below = a + 0.4 / 255  # every value stays within half a level of the same uint8
    assert psnr_y(a, below, 0) == math.inf
    assert psnr_rgb(a, below, 0) == math.inf
    assert ssim_y(a, below, 0) == pytest.approx(1.0, abs=1e-12)
    above = (a + 0.6 / 255).clamp(max=1)  # now most values round up a level
    assert psnr_rgb(a, above, 0) < 60
    # Out-of-range values are clamped before rounding, like tensor2img.
    assert psnr_rgb(torch.ones(1, 3, 8, 8), torch.full((1, 3, 8, 8), 1.3), 0) == math.inf


def test_crop_is_honoured():
    a, _ = _astronaut_pair(size=40)
    b = a.clone()
    b[..., :3, :] = 0  # damage a 3-pixel border only (top rows, right columns)
    b[..., :, -3:] = 1
    assert psnr_y(a, b, crop=3) == math.inf
    assert psnr_rgb(a, b, crop=3) == math.inf
    assert ssim_y(a, b, crop=3) == pytest.approx(1.0, abs=1e-12)
    assert psnr_y(a, b, crop=2) < 30
    assert ssim_y(a, b, crop=2) < 0.999  # one damaged row and column of 36 -> ~0.9966


def _official_ssim(y1: np.ndarray, y2: np.ndarray) -> float:
    """BasicSR/IRN `ssim`, with cv2.filter2D(...)[5:-5, 5:-5] written as a 'valid' correlation."""
    c1, c2 = (0.01 * 255) ** 2, (0.03 * 255) ** 2
    g = np.exp(-((np.arange(11) - 5) ** 2) / (2 * 1.5**2))
    g /= g.sum()
    win = np.outer(g, g)
    f = lambda img: correlate2d(img, win, mode="valid")  # noqa: E731
    mu1, mu2 = f(y1), f(y2)
    s11, s22, s12 = f(y1 * y1) - mu1**2, f(y2 * y2) - mu2**2, f(y1 * y2) - mu1 * mu2
    m = ((2 * mu1 * mu2 + c1) * (2 * s12 + c2)) / ((mu1**2 + mu2**2 + c1) * (s11 + s22 + c2))
    return float(m.mean())


@pytest.mark.parametrize("noise", [3.0, 20.0])
def test_ssim_matches_official_formula_and_skimage(noise):
    a, b = _astronaut_pair(size=48, noise=noise)
    ours = ssim_y(a, b, crop=4)
    y1, y2 = _y_numpy(a)[4:-4, 4:-4], _y_numpy(b)[4:-4, 4:-4]
    assert ours == pytest.approx(_official_ssim(y1, y2), abs=1e-12)
    # skimage filters the whole image (reflect mode) then drops a 5-pixel rim before the
    # mean: the same numbers as 'valid'. Agreement found: about 1e-15.
    sk = structural_similarity(
        y1, y2, gaussian_weights=True, sigma=1.5, use_sample_covariance=False, data_range=255
    )
    assert ours == pytest.approx(sk, abs=1e-10)
    assert ours < 0.99


def test_ssim_batch_is_mean_of_per_image():
    a1, b1 = _astronaut_pair(noise=3.0, seed=1)
    a2, b2 = _astronaut_pair(noise=25.0, seed=2)
    s1, s2 = ssim_y(a1, b1, 0), ssim_y(a2, b2, 0)
    assert s1 > s2
    assert ssim_y(torch.cat([a1, a2]), torch.cat([b1, b2]), 0) == pytest.approx((s1 + s2) / 2, abs=1e-12)


def test_scores_are_floats_and_bad_input_raises():
    a, b = _astronaut_pair(size=16)
    assert all(isinstance(fn(a, b, 1), float) for fn in (psnr_y, ssim_y, psnr_rgb))
    assert psnr_y(a[0], b[0], 1) == psnr_y(a, b, 1)  # 3 x H x W accepted
    with pytest.raises(ValueError):
        psnr_y(a, b[..., :-1], 0)  # shape mismatch
    with pytest.raises(ValueError):
        psnr_y(a, b, 8)  # crop eats the whole 16 x 16 image
    with pytest.raises(ValueError):
        ssim_y(a, b, 3)  # 10 x 10 left: smaller than the 11 x 11 window
    with pytest.raises(ValueError):
        psnr(a, b, 0, channel="cb")
    with pytest.raises(ValueError):
        metrics.psnr_rgb(a[:, :1], b[:, :1], 0)  # not RGB
