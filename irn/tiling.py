"""Tiled inference: downscale and upscale images too large for one pass, in overlapping tiles.

The image is cut into cores of `tile` x `tile` HR pixels; each core runs with `overlap`
pixels of context on every side (clipped at the image border, where the full frame sees the
same zero padding), and only the core of each result is kept. Memory then grows with
(tile + 2 * overlap)^2, not with the image; only the input and output images are full size.
Coordinates are HR pixels and must be multiples of the scale, so every core maps to whole LR
pixels: downscale tiles HR space and stitches at LR resolution; upscale tiles the same grid
in LR space (tile / s, overlap / s).

How much overlap: the network is fully convolutional but not local. Every 3x3 conv widens
the receptive field by one pixel at its stage's resolution, and an enhanced coupling block
runs two subnets in series (F, then G and H side by side), so a stage of B blocks at 1/2^k
of the HR size reaches 2 * B * (3x3 convs per subnet) * 2^k HR pixels. IRN x4 (8 blocks,
dense subnets of five convs): 160 + 320 = 480 HR pixels each way (`exact_overlap`). With
that overlap a core sees exactly what it sees in the full frame (equal up to float summation
order). The influence of far pixels decays fast, so much smaller overlaps stay within
0.01 dB PSNR of full-frame inference: measured in tests/test_tiling.py and by
`python -m bench.throughput --tile N --overlap N --compare-full`.

z for upscaling: zeros per tile (z = 0), a given full-size z, or one full-size gaussian draw
sliced per tile, so tiled and full-frame upscaling agree for the same generator.
"""
import torch
import torch.nn as nn

from irn.couplings import EnhancedCoupling


def tile_grid(size: int, tile: int, overlap: int):
    """[(core_start, core_end, context_start, context_end)] covering range(size)."""
    return [(start, min(start + tile, size), max(0, start - overlap),
             min(size, start + tile + overlap)) for start in range(0, size, tile)]


def _tiles(h: int, w: int, tile: int, overlap: int):
    for y0, y1, cy0, cy1 in tile_grid(h, tile, overlap):
        for x0, x1, cx0, cx1 in tile_grid(w, tile, overlap):
            yield (y0, y1, x0, x1), (cy0, cy1, cx0, cx1)


def check_tiling(scale: int, tile: int, overlap: int) -> None:
    if not (isinstance(tile, int) and tile >= scale and tile % scale == 0):
        raise ValueError(f"tile must be a positive multiple of the scale {scale}, got {tile!r}")
    if not (isinstance(overlap, int) and overlap >= 0 and overlap % scale == 0):
        raise ValueError(f"overlap must be a multiple of the scale {scale} (>= 0), "
                         f"got {overlap!r}")


def tiled_downscale(model, hr: torch.Tensor, tile: int, overlap: int) -> torch.Tensor:
    """model.downscale(hr), computed in tiles (HR pixels); same shape and dtype."""
    s = model.scale
    check_tiling(s, tile, overlap)
    model._check_hr(hr)
    n, _, h, w = hr.shape
    lr = None
    for (y0, y1, x0, x1), (cy0, cy1, cx0, cx1) in _tiles(h, w, tile, overlap):
        part = model.downscale(hr[..., cy0:cy1, cx0:cx1])
        if lr is None:
            lr = part.new_empty(n, part.shape[1], h // s, w // s)
        lr[..., y0 // s:y1 // s, x0 // s:x1 // s] = \
            part[..., (y0 - cy0) // s:(y1 - cy0) // s, (x0 - cx0) // s:(x1 - cx0) // s]
    return lr


def tiled_upscale(model, lr: torch.Tensor, tile: int, overlap: int, z=None, mode="zero",
                  temperature=1.0, generator=None) -> torch.Tensor:
    """model.upscale(lr, z, mode), computed in tiles; `tile` and `overlap` in HR pixels."""
    s = model.scale
    check_tiling(s, tile, overlap)
    if mode not in ("zero", "gaussian"):
        raise ValueError(f"unknown z mode {mode!r}; valid: gaussian, zero")
    if z is None and mode == "gaussian":  # one full-frame draw: same z as model.upscale
        z = torch.randn(model.latent_shape(lr), generator=generator, dtype=lr.dtype,
                        device=lr.device) * temperature
    n, _, h, w = lr.shape
    hr = None
    for (y0, y1, x0, x1), (cy0, cy1, cx0, cx1) in _tiles(h, w, tile // s, overlap // s):
        z_part = None if z is None else z[..., cy0:cy1, cx0:cx1]
        part = model.upscale(lr[..., cy0:cy1, cx0:cx1], z=z_part, mode="zero")
        if hr is None:
            hr = part.new_empty(n, part.shape[1], h * s, w * s)
        hr[..., y0 * s:y1 * s, x0 * s:x1 * s] = \
            part[..., (y0 - cy0) * s:(y1 - cy0) * s, (x0 - cx0) * s:(x1 - cx0) * s]
    return hr


def exact_overlap(model) -> int | None:
    """HR pixels of context that make tiling exact (the receptive-field radius), for models
    built from enhanced couplings (IRN); None for other couplings (no bound derived)."""
    radius = 0
    for i, stage in enumerate(model.stages):
        for op in stage.module_list:
            if isinstance(op, EnhancedCoupling):
                convs = [m for m in op.F.modules()
                         if isinstance(m, nn.Conv2d) and m.kernel_size[0] > 1]
                radius += 2 * sum(m.kernel_size[0] // 2 for m in convs) * 2 ** (i + 1)
            elif any(p.requires_grad for p in op.parameters()):
                return None
    return radius
