"""The published evaluation convention (official IRN `test.py` / BasicSR), on torch tensors.

For every image pair: round both to uint8, crop `crop` pixels off every border, then
- PSNR with peak 255 on [0, 255] values (Y of BT.601 YCbCr, or all three RGB channels),
- SSIM on Y in [0, 255]: 11x11 Gaussian window (sigma 1.5), C1 = (0.01*255)^2,
  C2 = (0.03*255)^2, 'valid' filtering, mean of the SSIM map (BasicSR `calculate_ssim`).
Each metric is computed per image and averaged over the batch. Y is not re-rounded (the
official code computes it in float64 from the uint8 RGB).

Identical images give PSNR = inf (MSE 0), as the official `calculate_psnr` does; a batch
containing such a pair averages to inf. No cap is applied.
"""

import torch
import torch.nn.functional as F

__all__ = ["quantize_uint8", "rgb_to_y", "psnr_y", "psnr_rgb", "ssim_y", "psnr"]

_Y_WEIGHTS = (65.481, 128.553, 24.966)  # BT.601, R, G, B in [0,1] -> Y in [16, 235]


def quantize_uint8(x: torch.Tensor) -> torch.Tensor:
    """Clamp to [0,1] and round to the nearest of 256 levels; returns floats k/255 (same dtype).

    torch.round rounds half to even, like NumPy's `(img * 255.0).round()` in the official
    `tensor2img`. Not differentiable usefully (zero gradient almost everywhere).
    """
    return torch.round(x.clamp(0, 1) * 255) / 255


def rgb_to_y(x: torch.Tensor) -> torch.Tensor:
    """BT.601 luma of RGB in [0,1]: Y = (65.481 R + 128.553 G + 24.966 B)/255 + 16/255.

    x: N x 3 x H x W (or 3 x H x W). Returns N x 1 x H x W (or 1 x H x W) in [0,1] scale
    (16/255 .. 235/255 for inputs in [0,1]). Differentiable.
    """
    if x.shape[-3] != 3:
        raise ValueError(f"rgb_to_y expects 3 channels in dim -3, got shape {tuple(x.shape)}")
    w = torch.tensor(_Y_WEIGHTS, dtype=x.dtype, device=x.device).view(3, 1, 1)
    return (x * w).sum(dim=-3, keepdim=True) / 255 + 16 / 255


def _levels(a: torch.Tensor, b: torch.Tensor, crop: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Validate, round both to uint8 levels, crop; float64 N x 3 x h x w in [0, 255]."""
    if a.shape != b.shape:
        raise ValueError(f"shape mismatch: {tuple(a.shape)} vs {tuple(b.shape)}")
    if a.dim() == 3:
        a, b = a[None], b[None]
    if a.dim() != 4 or a.shape[1] != 3:
        raise ValueError(f"expected N x 3 x H x W RGB, got shape {tuple(a.shape)}")
    crop = int(crop)
    h, w = a.shape[-2:]
    if crop < 0 or 2 * crop >= min(h, w):
        raise ValueError(f"crop {crop} leaves nothing of a {h} x {w} image")

    def levels(x: torch.Tensor) -> torch.Tensor:
        # Like tensor2img: float32, clamp, *255, round; then float64 for the statistics.
        x = x.detach().float().clamp(0, 1)
        x = torch.round(x * 255).double()
        return x[..., crop : h - crop, crop : w - crop]

    return levels(a), levels(b)


def _y255(levels: torch.Tensor) -> torch.Tensor:
    """Y in [0, 255] scale from RGB uint8 levels (as float)."""
    return rgb_to_y(levels / 255) * 255


def _psnr_per_image(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    mse = ((x - y) ** 2).flatten(1).mean(dim=1)
    return 10 * torch.log10(255.0**2 / mse)  # mse == 0 -> +inf


def psnr_y(a: torch.Tensor, b: torch.Tensor, crop: int) -> float:
    """PSNR (dB) on BT.601 Y, peak 255, after uint8 rounding and cropping; batch mean."""
    x, y = _levels(a, b, crop)
    return _psnr_per_image(_y255(x), _y255(y)).mean().item()


def psnr_y_masked(a: torch.Tensor, b: torch.Tensor, keep: torch.Tensor) -> float:
    """psnr_y over the pixels where `keep` (1 x 1 x H x W bool) is True; batch mean."""
    x, y = _levels(a, b, 0)
    err = (_y255(x) - _y255(y)) ** 2 * keep
    mse = err.flatten(1).sum(dim=1) / keep.flatten(1).sum(dim=1).clamp(min=1)
    return (10 * torch.log10(255.0**2 / mse)).mean().item()


def psnr_rgb(a: torch.Tensor, b: torch.Tensor, crop: int) -> float:
    """PSNR (dB) over all three RGB channels, peak 255, after uint8 rounding and cropping."""
    x, y = _levels(a, b, crop)
    return _psnr_per_image(x, y).mean().item()


def psnr(a: torch.Tensor, b: torch.Tensor, crop: int, channel: str = "y") -> float:
    """`psnr_y` (channel="y") or `psnr_rgb` (channel="rgb")."""
    if channel not in ("y", "rgb"):
        raise ValueError(f"channel must be 'y' or 'rgb', got {channel!r}")
    return psnr_y(a, b, crop) if channel == "y" else psnr_rgb(a, b, crop)


def _gaussian_window(size: int = 11, sigma: float = 1.5) -> torch.Tensor:
    # cv2.getGaussianKernel(11, 1.5): exp(-(i - 5)^2 / (2 sigma^2)), normalised to sum 1.
    i = torch.arange(size, dtype=torch.float64) - (size - 1) / 2
    g = torch.exp(-(i**2) / (2 * sigma**2))
    return g / g.sum()


def _ssim_per_image(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """BasicSR `ssim` on N x 1 x H x W float64 in [0, 255]; one value per image."""
    c1, c2 = (0.01 * 255) ** 2, (0.03 * 255) ** 2
    g = _gaussian_window().to(x.device)
    if min(x.shape[-2:]) < g.numel():
        size = tuple(x.shape[-2:])
        raise ValueError(f"SSIM needs at least 11 x 11 pixels after cropping, got {size}")
    # Filter x, y, x^2, y^2, xy in one batch; the 2-D Gaussian is separable, and 'valid'
    # filtering equals cv2.filter2D followed by the official [5:-5, 5:-5] crop.
    stack = torch.cat([x, y, x * x, y * y, x * y], dim=1)
    f = F.conv2d(stack, g.view(1, 1, -1, 1).expand(5, 1, -1, 1), groups=5)
    f = F.conv2d(f, g.view(1, 1, 1, -1).expand(5, 1, 1, -1), groups=5)
    mu1, mu2, e11, e22, e12 = f.unbind(dim=1)
    s11, s22, s12 = e11 - mu1**2, e22 - mu2**2, e12 - mu1 * mu2
    ssim_map = ((2 * mu1 * mu2 + c1) * (2 * s12 + c2)) / ((mu1**2 + mu2**2 + c1) * (s11 + s22 + c2))
    return ssim_map.flatten(1).mean(dim=1)


def ssim_y(a: torch.Tensor, b: torch.Tensor, crop: int) -> float:
    """SSIM on BT.601 Y in [0, 255] after uint8 rounding and cropping; batch mean."""
    x, y = _levels(a, b, crop)
    return _ssim_per_image(_y255(x), _y255(y)).mean().item()

