"""MATLAB-compatible bicubic resize, the one that makes the LR references of every IRN table.

MATLAB's `imresize(img, scale, 'bicubic')` differs from `F.interpolate(mode="bicubic")`:
- the cubic kernel has a = -0.5 (Keys), not PyTorch's a = -0.75;
- when downscaling it antialiases: the kernel is stretched by 1/scale (width 4/scale) and
  its height scaled by `scale`;
- borders are handled by symmetric reflection that repeats the edge pixel
  (..., x1, x0 | x0, x1, ...), applied to the kernel's input indices;
- the output size is ceil(scale * size).

This is the same algorithm as the official IRN release's `imresize` / `imresize_np`
(codes/data/util.py). It is written here as one dense (out x in) weight matrix per axis,
applied with a matrix multiply: vectorised, differentiable, any device and dtype.
"""

import functools
import math

import torch

__all__ = ["imresize", "resize_weights", "cubic"]


def cubic(x: torch.Tensor) -> torch.Tensor:
    """Keys' cubic convolution kernel with a = -0.5 (MATLAB's `cubic`)."""
    ax = x.abs()
    ax2, ax3 = ax**2, ax**3
    inner = (1.5 * ax3 - 2.5 * ax2 + 1) * (ax <= 1)
    outer = (-0.5 * ax3 + 2.5 * ax2 - 4 * ax + 2) * ((ax > 1) & (ax <= 2))
    return inner + outer


@functools.lru_cache(maxsize=64)
def resize_weights(in_length: int, out_length: int, scale: float) -> torch.Tensor:
    """The (out_length x in_length) float64 matrix M with out = M @ in along one axis.

    Follows MATLAB's `contributions()` line by line (1-based coordinates). Cached: do not
    modify the returned tensor in place.
    """
    kernel_width = 4.0
    antialias = scale < 1
    if antialias:
        kernel_width /= scale
    x = torch.arange(1, out_length + 1, dtype=torch.float64)
    # Input coordinate of each output pixel: 0.5 in output space maps to 0.5 in input
    # space, and 0.5 + scale maps to 1.5.
    u = x / scale + 0.5 * (1 - 1 / scale)
    left = torch.floor(u - kernel_width / 2)
    taps = math.ceil(kernel_width) + 2  # MATLAB's P: one spare tap each side (weight 0)
    idx = left[:, None] + torch.arange(taps, dtype=torch.float64)[None, :]
    dist = u[:, None] - idx
    w = scale * cubic(dist * scale) if antialias else cubic(dist)
    w = w / w.sum(dim=1, keepdim=True)
    # Out-of-range indices reflect symmetrically with the edge repeated, exactly MATLAB's
    # aux = [1:in, in:-1:1]; idx = aux(mod(idx-1, 2*in) + 1). Works for any overhang.
    aux = torch.cat([torch.arange(in_length), torch.arange(in_length - 1, -1, -1)])
    src = aux[torch.remainder(idx.long() - 1, 2 * in_length)]
    # Several taps can land on the same source pixel near a border: accumulate them.
    m = torch.zeros(out_length, in_length, dtype=torch.float64)
    m.scatter_add_(1, src, w)
    return m


def _output_size(size: int, scale: float) -> int:
    return math.ceil(size * scale)  # MATLAB: ceil(scale .* size), same double arithmetic


def imresize(x: torch.Tensor, scale: float) -> torch.Tensor:
    """Resize like MATLAB `imresize(x, scale, 'bicubic')` (antialiased when scale < 1).

    x: N x C x H x W or C x H x W floating tensor (any device, dtype), typically RGB in
    [0, 1]. scale: e.g. 1/4, 0.5, 2, 4, applied to both H and W. Returns
    ceil(H*scale) x ceil(W*scale), same dtype and device. Differentiable.

    The result is NOT clamped (MATLAB does not clamp double images either): the cubic
    kernel's negative lobes can overshoot [0, 1] slightly near edges. Quantise/clamp
    afterwards (e.g. `irn.metrics.quantize_uint8`) to mimic a uint8 MATLAB result.
    """
    if not x.is_floating_point():
        raise TypeError(f"imresize needs a floating tensor, got {x.dtype}")
    if x.dim() not in (3, 4):
        raise ValueError(f"imresize expects C x H x W or N x C x H x W, got shape {tuple(x.shape)}")
    scale = float(scale)
    if not scale > 0 or not math.isfinite(scale):
        raise ValueError(f"scale must be a positive number, got {scale}")
    h, w = x.shape[-2:]
    out_h, out_w = _output_size(h, scale), _output_size(w, scale)
    if out_h < 1 or out_w < 1:
        raise ValueError(f"scale {scale} gives an empty output for a {h} x {w} image")
    mh = resize_weights(h, out_h, scale).to(device=x.device, dtype=x.dtype)
    mw = resize_weights(w, out_w, scale).to(device=x.device, dtype=x.dtype)
    # The two axes are separable linear maps, so the order does not matter (MATLAB does
    # the axis with the smaller scale first; equal scales here).
    return mh @ x @ mw.T
