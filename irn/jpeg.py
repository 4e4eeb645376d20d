"""JPEG on the LR: a real codec for evaluation, and two trainable stand-ins.

Tensors are N x 3 x H x W RGB in [0, 1] on any device. Three ways through JPEG:

- ``jpeg_real``: real libjpeg (simplejpeg, else Pillow) on CPU, one image at a time; no gradient.
  This is what evaluation uses (``jpeg{QF}_psnr_y``), as SAIN tests with real JPEG.
- ``jpeg_ste``: the real codec forward, identity gradient backward (straight-through).
- ``jpeg_diff``: kornia's differentiable JPEG (Reich et al. 2024, after Shin & Song 2017):
  RGB->YCbCr, 4:2:0 chroma, 8x8 DCT, libjpeg's quality-scaled standard tables, with
  rounding and floors replaced by ``r + (x - r)**3`` polynomials.

A quality is an int in 1..100 or a (low, high) range; a range is drawn once per call (so once
per batch, one quality for all its images), uniformly over the integers low..high inclusive,
from ``generator`` if given, else from torch's global CPU RNG (``torch.manual_seed`` seeds it).
The draw is on CPU so it never syncs with a GPU.
"""
from __future__ import annotations

import io

import numpy as np
import torch
from kornia.enhance import jpeg_codec_differentiable
from PIL import Image

try:  # libjpeg-turbo through simplejpeg; Pillow (also libjpeg) is the fallback.
    import simplejpeg
except ImportError:  # pragma: no cover - simplejpeg is a pinned dependency
    simplejpeg = None

Quality = int | tuple[int, int]
SUBSAMPLINGS = ("444", "422", "420")
_PIL_SUBSAMPLING = {"444": 0, "422": 1, "420": 2}  # Pillow's codes for 4:4:4, 4:2:2, 4:2:0


# ---------------------------------------------------------------- quality handling
def _check_int_quality(q) -> int:
    if isinstance(q, bool) or not isinstance(q, (int, np.integer)):
        raise ValueError(f"JPEG quality must be an integer in 1..100, got {q!r}")
    if not 1 <= q <= 100:
        raise ValueError(f"JPEG quality must be in 1..100, got {q}")
    return int(q)


def parse_quality(value) -> Quality:
    """75, "75" -> 75; "50-90", (50, 90), [50, 90] -> (50, 90). Raises ValueError otherwise."""
    if isinstance(value, str):
        text = value.strip()
        parts = text.split("-")
        try:
            nums = [int(p) for p in parts]
        except ValueError:
            raise ValueError(f"JPEG quality must look like 75 or 50-90, got {value!r}") from None
        if len(nums) == 1:
            return _check_int_quality(nums[0])
        if len(nums) != 2:
            raise ValueError(f"JPEG quality must look like 75 or 50-90, got {value!r}")
        value = tuple(nums)
    if isinstance(value, (tuple, list)):
        if len(value) != 2:
            raise ValueError(f"a JPEG quality range needs (low, high), got {value!r}")
        low, high = (_check_int_quality(v) for v in value)
        if low > high:
            raise ValueError(f"a JPEG quality range needs low <= high, got {low}-{high}")
        return (low, high)
    return _check_int_quality(value)


def draw_quality(quality, generator: torch.Generator | None = None) -> int:
    """The quality to use for one batch: the int itself, or a uniform draw from low..high."""
    quality = parse_quality(quality)
    if isinstance(quality, int):
        return quality
    low, high = quality
    return int(torch.randint(low, high + 1, (1,), generator=generator).item())


# ---------------------------------------------------------------- real codec (bytes)
def _backend(backend: str | None) -> str:
    if backend is None:
        return "simplejpeg" if simplejpeg is not None else "pillow"
    if backend not in ("simplejpeg", "pillow"):
        raise ValueError(f"unknown JPEG backend {backend!r}; valid: simplejpeg, pillow")
    if backend == "simplejpeg" and simplejpeg is None:
        raise ValueError("simplejpeg is not installed; use backend='pillow'")
    return backend


def encode_jpeg(img_uint8_hwc: np.ndarray, quality: int, subsampling: str = "420",
                backend: str | None = None) -> bytes:
    """H x W x 3 uint8 RGB -> baseline JFIF bytes from libjpeg, standard tables at `quality`.

    4:2:0 chroma by default, as cameras, browsers and Pillow's default do. The accurate integer
    DCT is used (simplejpeg's fastdct=False), matching Pillow and libjpeg's own default.
    """
    quality = _check_int_quality(quality)
    if subsampling not in SUBSAMPLINGS:
        raise ValueError(f"unknown chroma subsampling {subsampling!r}; valid: {', '.join(SUBSAMPLINGS)}")
    img = np.ascontiguousarray(img_uint8_hwc)
    if img.dtype != np.uint8 or img.ndim != 3 or img.shape[2] != 3:
        raise ValueError(f"encode_jpeg needs an H x W x 3 uint8 array, got {img.dtype} {img.shape}")
    if _backend(backend) == "simplejpeg":
        return simplejpeg.encode_jpeg(img, quality=quality, colorspace="RGB",
                                      colorsubsampling=subsampling, fastdct=False)
    buf = io.BytesIO()
    Image.fromarray(img, "RGB").save(buf, "JPEG", quality=quality,
                                     subsampling=_PIL_SUBSAMPLING[subsampling])
    return buf.getvalue()


def decode_jpeg(data: bytes, backend: str | None = None) -> np.ndarray:
    """JPEG bytes -> H x W x 3 uint8 RGB (accurate IDCT, smooth 'fancy' chroma upsampling)."""
    if _backend(backend) == "simplejpeg":
        return simplejpeg.decode_jpeg(data, colorspace="RGB", fastdct=False, fastupsample=False)
    with Image.open(io.BytesIO(data)) as im:
        return np.asarray(im.convert("RGB"))


# ---------------------------------------------------------------- tensor ops
def _check_batch(x: torch.Tensor) -> None:
    if not torch.is_tensor(x) or x.ndim != 4 or x.shape[1] != 3:
        shape = tuple(x.shape) if torch.is_tensor(x) else type(x).__name__
        raise ValueError(f"JPEG needs an N x 3 x H x W RGB tensor, got {shape}")


@torch.no_grad()
def jpeg_real(x: torch.Tensor, quality, subsampling: str = "420",
              generator: torch.Generator | None = None) -> torch.Tensor:
    """Real JPEG round trip of each image; the result is on x's device and dtype, 8-bit valued.

    The input is clamped to [0, 1] and rounded to uint8 first, as saving a PNG/JPEG would.
    Codec work runs on CPU (one device->host copy and one host->device copy per call).
    """
    _check_batch(x)
    q = draw_quality(quality, generator)
    u8 = (x.detach().float().clamp(0, 1) * 255).round().to(torch.uint8)
    u8 = u8.permute(0, 2, 3, 1).cpu().numpy()  # N x H x W x 3
    out = np.stack([decode_jpeg(encode_jpeg(im, q, subsampling)) for im in u8])
    out = torch.from_numpy(out).permute(0, 3, 1, 2)
    return out.to(device=x.device, dtype=x.dtype) / 255


class _JpegSTE(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, quality: int, subsampling: str):
        return jpeg_real(x, quality, subsampling)

    @staticmethod
    def backward(ctx, grad):
        # Straight-through: the codec counts as the identity for the gradient.
        return grad, None, None


def jpeg_ste(x: torch.Tensor, quality, subsampling: str = "420",
             generator: torch.Generator | None = None) -> torch.Tensor:
    """Real JPEG forward, identity gradient backward."""
    _check_batch(x)
    return _JpegSTE.apply(x, draw_quality(quality, generator), subsampling)


def jpeg_diff(x: torch.Tensor, quality, generator: torch.Generator | None = None) -> torch.Tensor:
    """Differentiable JPEG (kornia), 4:2:0, same dtype/device as x.

    What kornia 0.9 does, read from its source and checked here:
    - input and output are RGB in [0, 1]; the output is hard-clamped to [0, 1] (by its
      YCbCr->RGB), so saturated pixels pass no gradient;
    - any H, W works: it pads bottom/right by replication to a multiple of 16 (a 4:2:0 MCU)
      and crops back, as libjpeg does, so nothing is padded here;
    - quality is a float tensor of shape (1,) or (N,); a 0-D scalar is rejected. Ours is built
      on CPU because kornia range-checks it with `.item()`, which would otherwise sync a GPU;
    - fp16/bf16 inputs are computed in fp32; autocast is disabled inside;
    - it does not round its input or output to 8 bits, and its polynomial rounding is not exact
      rounding (off by up to 0.125 step) and passes a gradient 3*(x - round(x))**2, i.e. between
      0 and 0.75 of the identity per DCT coefficient, so gradients are weaker than with jpeg_ste.
    """
    _check_batch(x)
    q = torch.tensor([float(draw_quality(quality, generator))])
    return jpeg_codec_differentiable(x, q)


def jpeg_off(x: torch.Tensor, quality=None, generator: torch.Generator | None = None) -> torch.Tensor:
    """No JPEG: the identity."""
    return x


# The trainable choices of config key `jpeg_train` (jpeg_real is for evaluation).
JPEG_MODES = {"off": jpeg_off, "diff": jpeg_diff, "ste": jpeg_ste}


def apply_jpeg(x: torch.Tensor, mode: str, quality=75,
               generator: torch.Generator | None = None) -> torch.Tensor:
    """Run x through the JPEG mode `mode` (off / diff / ste) at `quality` (int, range or string)."""
    if mode not in JPEG_MODES:
        raise ValueError(f"unknown JPEG mode {mode!r}; valid: {', '.join(JPEG_MODES)}")
    quality = parse_quality(quality)  # validated even for "off", so a bad config fails early
    return JPEG_MODES[mode](x, quality, generator=generator)
