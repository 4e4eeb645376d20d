"""Video rescaling through a real codec: the rate-distortion of the model's LR against a
bicubic LR and against coding the HR directly.

Per clip (F x H x W x 3 uint8, H and W divisible by the scale s) and per CRF, three pipelines:
- "model": every frame through model.downscale (the 8-bit LR) -> the codec -> model.upscale
  with z = 0 -> uint8;
- "bicubic": irn.imresize.imresize by 1/s (MATLAB bicubic, antialiased) rounded to uint8 ->
  the codec -> imresize by s -> uint8;
- "hr": the HR clip through the codec at CRF + HR_CRF_STEP * log2(s) (6 per halving of the
  side, as +6 CRF about halves an x264 stream: the HR has s^2 times the pixels), clamped to
  the codec's range, so the HR's rates span the LR pipelines' rates; the point keeps both
  its grid `crf` and the `codec_crf` it was coded at.
Rate: bpp = coded bits / (F x H x W), the HR's pixels for every pipeline (irn.video.io
encode_decode: packets + codec headers, no container). Quality: y_psnr (BT.601 Y,
irn.metrics.psnr_y per frame, mean over frames, s px border crop) and flicker (below).
"""
from __future__ import annotations

import math

import numpy as np
import torch

from irn.imresize import imresize
from irn.metrics import psnr_y, rgb_to_y
from irn.data.sources import frames_to_tensor, tensor_to_frames
from irn.video.io import CODECS, encode_decode

PIPELINES = ("model", "bicubic", "hr")
HR_CRF_STEP = 6
FRAME_BATCH = 4


def _device(model) -> torch.device:
    return next(iter(model.parameters()), torch.empty(0)).device


def _check_pair(out: np.ndarray, ref: np.ndarray) -> None:
    if out.shape != ref.shape or out.ndim != 4 or out.shape[-1] != 3:
        raise ValueError(f"clips must both be F x H x W x 3, got {out.shape} and {ref.shape}")


def y_psnr_frames(out: np.ndarray, ref: np.ndarray, crop: int) -> float:
    """Y-PSNR (dB) of each frame (irn.metrics.psnr_y: uint8, BT.601 Y, `crop` px border),
    the mean over frames (inf only if every frame is exact)."""
    _check_pair(out, ref)
    total = 0.0
    for i in range(0, len(out), 16):
        a, b = frames_to_tensor(out[i:i + 16]), frames_to_tensor(ref[i:i + 16])
        total += psnr_y(a, b, crop) * len(a)
    return total / len(out)


def _y255(frames: np.ndarray) -> torch.Tensor:
    """BT.601 Y in 8-bit levels, float64: F x H x W."""
    x = torch.from_numpy(np.ascontiguousarray(frames)).permute(0, 3, 1, 2).double() / 255
    return rgb_to_y(x)[:, 0] * 255


def flicker(out: np.ndarray, ref: np.ndarray, crop: int = 0) -> float:
    """Temporal error in 8-bit Y levels: mean over t >= 1 and the interior (`crop` px off each
    border) of |(Y_out[t] - Y_out[t-1]) - (Y_ref[t] - Y_ref[t-1])|.

    The ground truth's own frame-to-frame change is the reference, so real motion costs
    nothing and no optical flow is needed: only change the output adds or loses counts
    (per-frame noise, flicker, frames that drift independently). A per-frame-constant error
    scores 0 here however large it is (y_psnr sees that). 0 for the ground truth itself."""
    _check_pair(out, ref)
    if len(out) < 2:
        raise ValueError("flicker needs at least 2 frames")
    h, w = out.shape[1:3]
    if crop < 0 or 2 * crop >= min(h, w):
        raise ValueError(f"crop {crop} leaves nothing of a {h} x {w} frame")
    yo, yr = _y255(out), _y255(ref)
    d = (yo[1:] - yo[:-1]) - (yr[1:] - yr[:-1])
    return float(d[:, crop:h - crop, crop:w - crop].abs().mean())


def hr_crf(crf: int, scale: int, codec: str = "libx264") -> int:
    """The CRF the HR is coded at for grid CRF `crf` (module docstring), in the codec's range."""
    lo, hi = CODECS[codec][1]
    return int(min(hi, max(lo, crf + round(HR_CRF_STEP * math.log2(scale)))))


def _batched(fn, frames: np.ndarray) -> np.ndarray:
    """`fn` (F x 3 x H x W float -> float) over FRAME_BATCH frames at a time, uint8 in and out."""
    return np.concatenate([tensor_to_frames(fn(frames_to_tensor(frames[i:i + FRAME_BATCH])))
                           for i in range(0, len(frames), FRAME_BATCH)])


@torch.inference_mode()
def _model_down(model, clip: np.ndarray) -> np.ndarray:
    dev = _device(model)
    return _batched(lambda x: model.downscale(x.to(dev)), clip)


@torch.inference_mode()
def _model_up(model, lr: np.ndarray) -> np.ndarray:
    dev = _device(model)
    return _batched(lambda x: model.upscale(x.to(dev), mode="zero"), lr)


def _bicubic(clip: np.ndarray, factor: float) -> np.ndarray:
    return _batched(lambda x: imresize(x, factor), clip)


def rd_points(hr_clip: np.ndarray, model, scale: int, crfs, codec: str = "libx264",
              preset: str | None = "medium") -> list[dict]:
    """One dict per (pipeline, crf): pipeline, crf (the grid's), codec_crf (coded at), bits,
    bpp, y_psnr, flicker. `model`: an irn model (irn.checkpoint.load_model) of `scale`, on
    any device (frames go to its parameters' device; the codec and metrics run on the CPU)."""
    hr_clip = np.asarray(hr_clip)
    if hr_clip.ndim != 4 or hr_clip.shape[-1] != 3 or hr_clip.dtype != np.uint8:
        raise ValueError(f"the clip must be F x H x W x 3 uint8, got {hr_clip.shape} "
                         f"{hr_clip.dtype}")
    f, h, w = hr_clip.shape[:3]
    if f < 2:
        raise ValueError("a clip needs at least 2 frames (flicker)")
    if h % scale or w % scale:
        raise ValueError(f"clip size {w}x{h} is not divisible by the scale {scale}")
    if getattr(model, "scale", scale) != scale:
        raise ValueError(f"the model is x{model.scale}, not x{scale}")
    if CODECS.get(codec, (None, None))[1] is None:
        raise ValueError(f"{codec} has no CRF: choose a lossy codec")
    pixels = f * h * w
    model_lr = _model_down(model, hr_clip)
    bicubic_lr = _bicubic(hr_clip, 1 / scale)
    points = []

    def point(pipeline, crf, coded_crf, out, bits):
        points.append({"pipeline": pipeline, "crf": int(crf), "codec_crf": int(coded_crf),
                       "bits": int(bits), "bpp": bits / pixels,
                       "y_psnr": y_psnr_frames(out, hr_clip, scale),
                       "flicker": flicker(out, hr_clip, scale)})

    for crf in crfs:
        lr, bits = encode_decode(model_lr, codec, crf, preset)
        point("model", crf, crf, _model_up(model, lr), bits)
        lr, bits = encode_decode(bicubic_lr, codec, crf, preset)
        point("bicubic", crf, crf, _bicubic(lr, scale), bits)
        coded = hr_crf(crf, scale, codec)
        out, bits = encode_decode(hr_clip, codec, coded, preset)
        point("hr", crf, coded, out, bits)
    return points


def bd_psnr(rate_a, psnr_a, rate_b, psnr_b) -> float | None:
    """Bjontegaard delta PSNR (VCEG-M33, G. Bjontegaard 2001): the mean vertical gap, in dB,
    between curve a and curve b over their common rate range; > 0 when a is better.

    Hand-written with numpy.polyfit / numpy.polyint: each curve's PSNR is fitted by a
    polynomial in log10(rate) (cubic, as VCEG-M33; of degree points - 1 below 4 points),
    each fit integrated over [max of the minima, min of the maxima] of the log rates, and
    the difference of the integrals divided by the interval's width. Non-finite points are
    dropped. None when a curve has fewer than 2 distinct rates or the ranges do not overlap."""
    curves = []
    for rate, psnr in ((rate_a, psnr_a), (rate_b, psnr_b)):
        r, p = np.asarray(rate, float), np.asarray(psnr, float)
        keep = np.isfinite(r) & np.isfinite(p) & (r > 0)
        r, p = np.log10(r[keep]), p[keep]
        if len(np.unique(r)) < 2:
            return None
        curves.append((r, p))
    lo = max(c[0].min() for c in curves)
    hi = min(c[0].max() for c in curves)
    if not hi > lo:
        return None
    means = []
    for r, p in curves:
        deg = min(3, len(np.unique(r)) - 1)
        antiderivative = np.polyint(np.polyfit(r, p, deg))
        means.append((np.polyval(antiderivative, hi) - np.polyval(antiderivative, lo)) / (hi - lo))
    return float(means[0] - means[1])


def clip_bd(points: list[dict]) -> dict:
    """{"model_vs_bicubic", "model_vs_hr"}: bd_psnr (bpp, y_psnr) of one clip's points."""
    def curve(name):
        pts = sorted((p for p in points if p["pipeline"] == name), key=lambda p: p["bpp"])
        return [p["bpp"] for p in pts], [p["y_psnr"] for p in pts]
    model = curve("model")
    return {f"model_vs_{other}": bd_psnr(*model, *curve(other)) for other in ("bicubic", "hr")}
