"""Evaluation under the published convention, and the one metric vocabulary (`METRICS`).

Per validation image: downscale (quantised LR), upscale with z ~ N(0, T^2) draws or z = 0,
round to uint8, Y-channel PSNR/SSIM with `scale` pixels cropped, plus RGB PSNR. In the same
table: the bicubic-down/bicubic-up baseline, the gain over it, how far the LR strays from
the bicubic LR, super-resolution (upscaling a plain bicubic LR), and real-JPEG robustness at
each QF. `evaluate_images` keeps one row per image; `evaluate` averages them.

`METRICS` is the registry every consumer reads (the sweep's objective check, the CLI tables,
MLflow, the statistics, the dashboards): name -> MetricSpec (direction, unit, baseline,
format, meaning, and how one image's value is computed). Adding a metric is one entry here.
"""
import math
import re
from dataclasses import dataclass
from functools import cached_property
from typing import Callable

import numpy as np
import torch

from irn.config import Config
from irn.data.sources import tensor_to_rgb8
from irn.imresize import imresize
from irn.jpeg import jpeg_real
from irn.metrics import psnr_rgb, psnr_y, psnr_y_masked, ssim_y
from irn.quantization import quantize
from irn.stamp import stamp_bits_per_hr_pixel, stamp_mask
from irn.stego import next_image_targets
from irn.stego_eval import stego_metrics, stego_rows
from irn.temporal import bicubic_flicker, gt_flicker, model_flicker


def jpeg_qualities(cfg: Config) -> list[int]:
    return [int(q) for q in (s.strip() for s in cfg.jpeg_eval.split(",")) if q]


def _upscale_draws(model, lr, cfg: Config, seed: int, draws: int | None = None):
    """[(reconstruction)] for each z draw: one for z = 0, `draws` (default eval_z_draws) for
    gaussian; the first draw is the same whatever `draws` is."""
    if cfg.z_eval == "zero":
        return [model.upscale(lr, mode="zero")]
    gen = torch.Generator(lr.device).manual_seed(seed)
    return [model.upscale(lr, mode="gaussian", temperature=cfg.temperature, generator=gen)
            for _ in range(cfg.eval_z_draws if draws is None else draws)]


class ImageViews:
    """The images one evaluation compares, each computed on first use: the model's LR, its
    reconstructions, the bicubic pipeline, SR from the bicubic LR, and the JPEG variants."""

    def __init__(self, model, hr, lr_ref, cfg: Config, seed: int, guide_ref=None):
        self.model, self.hr, self.lr_ref, self.cfg, self.seed = model, hr, lr_ref, cfg, seed
        self.guide_ref = lr_ref if guide_ref is None else guide_ref  # what lr_psnr_y measures
        self.s = cfg.scale
        self._jpeg: dict[int, torch.Tensor] = {}

    @cached_property
    def lr(self):
        return self.model.downscale(self.hr)

    @cached_property
    def recs(self):
        return _upscale_draws(self.model, self.lr, self.cfg, self.seed)

    @cached_property
    def rec_psnrs(self) -> list[float]:
        return [psnr_y(r, self.hr, self.s) for r in self.recs]

    @cached_property
    def lr_bicubic(self):
        return quantize(self.lr_ref)

    @cached_property
    def bicubic(self):
        return imresize(self.lr_bicubic, self.s)

    @cached_property
    def bicubic_psnr(self) -> float:
        return psnr_y(self.bicubic, self.hr, self.s)

    @cached_property
    def sr_recs(self):
        return _upscale_draws(self.model, self.lr_bicubic, self.cfg, self.seed)

    def jpeg_rec(self, q: int):
        """The reconstruction from the model's LR stored as a real JPEG (one z draw)."""
        if q not in self._jpeg:
            lr = jpeg_real(self.lr, q)
            self._jpeg[q] = _upscale_draws(self.model, lr, self.cfg, self.seed, draws=1)[0]
        return self._jpeg[q]

    def bicubic_jpeg(self, q: int):
        return imresize(jpeg_real(self.lr_bicubic, q), self.s)

    def per_hr_pixel(self, bits: int) -> float:
        return bits / (self.hr.shape[-2] * self.hr.shape[-1])


def _always(cfg: Config) -> bool:
    return True


@dataclass(frozen=True)
class MetricSpec:
    name: str
    mode: str                      # "max" or "min": which direction is better
    unit: str                      # "dB", "" (a ratio or index), "s"
    doc: str                       # one line: what the number means
    fmt: str = ".2f"
    baseline: str | None = None    # the metric a reader compares it with
    compute: Callable | None = None  # ImageViews -> float: a per-image evaluation metric
    when: Callable[[Config], bool] = _always  # evaluated under this config?
    constant: bool = False  # the same at every evaluation (no model in it): logged once

    @property
    def per_image(self) -> bool:
        return self.compute is not None

    def better(self, a: float, b: float) -> bool:
        return a > b if self.mode == "max" else a < b

    def format(self, value) -> str:
        if value is None or (isinstance(value, float) and not math.isfinite(value)):
            return "-"
        return f"{value:{self.fmt}}"

    def describe(self) -> str:
        return f"{self.doc} [{self.unit}]" if self.unit else self.doc


def _stamped(cfg: Config) -> bool:
    return cfg.stamp != "none"


def _lr_psnr_stamp(v, inside: bool) -> float:
    """The LR against its guide target on the stamp's pixels (inside) or on the rest, where
    the rest also leaves out the 1-px border lr_psnr_y crops."""
    h, w = v.lr.shape[-2:]
    mask = stamp_mask(h, w, v.cfg.stamp, v.cfg.stamp_width, v.lr.device)
    if inside:
        return psnr_y_masked(v.lr, v.guide_ref, mask)
    keep = ~mask
    keep[..., :1, :] = keep[..., -1:, :] = keep[..., :, :1] = keep[..., :, -1:] = False
    return psnr_y_masked(v.lr, v.guide_ref, keep)


def _gaussian(cfg: Config) -> bool:
    return cfg.z_eval == "gaussian"


def _temporal(cfg: Config) -> bool:
    return cfg.temporal_eval


def _variational(cfg: Config) -> bool:
    return cfg.quantization == "variational"


def _fixed_metrics() -> list[MetricSpec]:
    dB = "dB"
    return [
        MetricSpec("psnr_y", "max", dB, "Y-PSNR of the reconstruction (mean over z draws)",
                   baseline="bicubic_psnr_y", compute=lambda v: float(np.mean(v.rec_psnrs))),
        MetricSpec("gain_db", "max", dB, "Y-PSNR gain over bicubic down + bicubic up "
                   "(psnr_y - bicubic_psnr_y)",
                   compute=lambda v: float(np.mean(v.rec_psnrs)) - v.bicubic_psnr),
        MetricSpec("ssim_y", "max", "", "Y-SSIM of the reconstruction (mean over z draws)",
                   fmt=".4f", baseline="bicubic_ssim_y",
                   compute=lambda v: float(np.mean([ssim_y(r, v.hr, v.s) for r in v.recs]))),
        MetricSpec("psnr_rgb", "max", dB, "RGB PSNR of the reconstruction",
                   compute=lambda v: float(np.mean([psnr_rgb(r, v.hr, v.s) for r in v.recs]))),
        MetricSpec("psnr_y_std", "min", dB, "spread of psnr_y over z draws (0 with z = 0; "
                   "not an error bar)", fmt=".3f", compute=lambda v: float(np.std(v.rec_psnrs))),
        MetricSpec("psnr_y_zero", "max", dB, "Y-PSNR with z = 0 (beside the gaussian draws)",
                   baseline="psnr_y", when=_gaussian,
                   compute=lambda v: psnr_y(v.model.upscale(v.lr, mode="zero"), v.hr, v.s)),
        MetricSpec("lr_psnr_y", "max", dB, "Y-PSNR of the model's LR against its guide target, "
                   "the bicubic LR (guide_target=other: the next image's; 1 px crop)",
                   compute=lambda v: psnr_y(v.lr, v.guide_ref, 1)),
        MetricSpec("lr_psnr_y_unstamped", "max", dB, "lr_psnr_y without the stamp's pixels "
                   "(irn/stamp.py)", compute=lambda v: _lr_psnr_stamp(v, inside=False),
                   when=_stamped),
        MetricSpec("lr_psnr_y_stamp", "max", dB, "Y-PSNR of the LR's stamp pixels alone "
                   "against the bicubic LR's", compute=lambda v: _lr_psnr_stamp(v, inside=True),
                   when=_stamped),
        MetricSpec("stamp_bpp", "max", "bpp", "the stamp's information bound: stamped LR "
                   "pixels x 3 channels x 8 bits per HR pixel",
                   compute=lambda v: stamp_bits_per_hr_pixel(
                       v.lr.shape[-2], v.lr.shape[-1], v.s, v.cfg.stamp, v.cfg.stamp_width),
                   when=_stamped, constant=True),
        MetricSpec("bicubic_psnr_y", "max", dB, "Y-PSNR of bicubic down + bicubic up",
                   compute=lambda v: v.bicubic_psnr, constant=True),
        MetricSpec("bicubic_ssim_y", "max", "", "Y-SSIM of bicubic down + bicubic up",
                   fmt=".4f", compute=lambda v: ssim_y(v.bicubic, v.hr, v.s), constant=True),
        MetricSpec("sr_psnr_y", "max", dB, "Y-PSNR of super-resolution from a plain bicubic LR",
                   baseline="bicubic_psnr_y",
                   compute=lambda v: float(np.mean([psnr_y(r, v.hr, v.s) for r in v.sr_recs]))),
        MetricSpec("flicker", "min", "levels", "temporal instability: mean |Y difference| of "
                   "consecutive aligned frames of synthetic camera motion, each downscaled, "
                   "uint8 and upscaled with z = 0 (irn/temporal.py; 8-bit levels)",
                   fmt=".3f", baseline="bicubic_flicker", when=_temporal,
                   compute=lambda v: model_flicker(v.model, v.hr, v.s)),
        MetricSpec("bicubic_flicker", "min", "levels", "flicker of bicubic down, uint8, "
                   "bicubic up on the same motion", fmt=".3f", baseline="gt_flicker",
                   when=_temporal, constant=True, compute=lambda v: bicubic_flicker(v.hr, v.s)),
        MetricSpec("gt_flicker", "min", "levels", "flicker of the ground-truth frames through "
                   "the same warp-back: what the interpolation leaves (blur goes below it)",
                   fmt=".3f", when=_temporal, constant=True, compute=lambda v: gt_flicker(v.hr, v.s)),
        # computed by irn.train.Trainer (the objective holds q), hence no `compute`
        MetricSpec("dequant_bpd", "min", "bits", "KL(q || uniform) of the variational "
                   "dequantizer per LR element, on the validation LR, one draw "
                   "(irn/dequantization.py; 0 = uniform dequantization)", fmt=".4f",
                   when=_variational),
    ]


def jpeg_metrics(q: int) -> list[MetricSpec]:
    """The JPEG rows at quality q: the model's LR and the bicubic LR through real libjpeg."""
    return [
        MetricSpec(f"jpeg{q}_psnr_y", "max", "dB", f"Y-PSNR from the LR stored as JPEG QF {q}",
                   baseline=f"bicubic_jpeg{q}_psnr_y",
                   compute=lambda v: psnr_y(v.jpeg_rec(q), v.hr, v.s)),
        MetricSpec(f"jpeg{q}_ssim_y", "max", "", f"Y-SSIM from the LR stored as JPEG QF {q}",
                   fmt=".4f", baseline=f"bicubic_jpeg{q}_ssim_y",
                   compute=lambda v: ssim_y(v.jpeg_rec(q), v.hr, v.s)),
        MetricSpec(f"bicubic_jpeg{q}_psnr_y", "max", "dB", f"Y-PSNR of the bicubic LR through "
                   f"JPEG QF {q}, bicubic up", constant=True,
                   compute=lambda v: psnr_y(v.bicubic_jpeg(q), v.hr, v.s)),
        MetricSpec(f"bicubic_jpeg{q}_ssim_y", "max", "", f"Y-SSIM of the bicubic LR through "
                   f"JPEG QF {q}, bicubic up", fmt=".4f", constant=True,
                   compute=lambda v: ssim_y(v.bicubic_jpeg(q), v.hr, v.s)),
    ]


def storage_metrics(qualities=()) -> list[MetricSpec]:
    """Bits per LR pixel of the model's LR and of the bicubic LR, as PNG and as JPEG at each
    QF (irn.storage; bench.evaluate computes them, training does not)."""
    from irn.storage import jpeg_bits_per_pixel, png_bits_per_pixel
    out = []
    for fmt, q in [("png", None)] + [(f"jpeg{q}", q) for q in qualities]:
        size = png_bits_per_pixel if q is None else \
            (lambda x, q=q: jpeg_bits_per_pixel(x, q))
        what = "PNG" if q is None else f"JPEG QF {q}"
        out += [MetricSpec(f"lr_{fmt}_bpp", "min", "bpp", f"bits per LR pixel of the model's LR "
                           f"saved as {what}", baseline=f"bicubic_lr_{fmt}_bpp",
                           compute=lambda v, size=size: size(v.lr)),
                MetricSpec(f"bicubic_lr_{fmt}_bpp", "min", "bpp", f"bits per LR pixel of the "
                           f"bicubic LR saved as {what}", constant=True,
                           compute=lambda v, size=size: size(v.lr_bicubic))]
    return out


# Plain JPEG of the HR image at these QFs: the codec the compression study must beat, over
# a range of rates wide enough to meet the LR's (x2: 1/4 of the HR pixels to code). libjpeg's
# quality scaling (jcparam.c, baseline clamp) makes every quantiser 250-255 at QF 2 and 255 at
# QF 1, so QF 1 is no cheaper (measured: the same payload, 0.20 bits per pixel on a 64-px
# photo tile): plain JPEG has no lower rate.
HR_JPEG_QUALITIES = (2, 3, 5, 10, 15, 20, 30, 40, 50, 60, 70, 80, 90, 95)


def _storage(cfg: Config) -> bool:
    return cfg.storage_eval


def rate_metrics(qualities=(), hr_qualities=HR_JPEG_QUALITIES) -> list[MetricSpec]:
    """The compression study's rates, in payload bits (irn.storage: the coded data without
    its container) per HR pixel: the model's LR and the bicubic LR as PNG and at each LR QF,
    and plain JPEG of the HR at each of `hr_qualities` with its Y-PSNR. The distortions of
    the LR codecs are psnr_y (PNG is lossless), jpeg{q}_psnr_y and their bicubic rows."""
    from irn.storage import jpeg_bytes, jpeg_payload_bits, png_bytes, png_payload_bits

    def png_rate(x):
        return lambda v: v.per_hr_pixel(png_payload_bits(png_bytes(x(v))))

    def jpeg_rate(x, q):
        return lambda v: v.per_hr_pixel(jpeg_payload_bits(jpeg_bytes(x(v), q)))

    unit, doc = "bpp", "payload bits per HR pixel of the {} saved as {}"
    out = [MetricSpec("rate_png", "min", unit, doc.format("model's LR", "PNG"),
                      baseline="bicubic_rate_png", compute=png_rate(lambda v: v.lr),
                      when=_storage, fmt=".3f"),
           MetricSpec("bicubic_rate_png", "min", unit, doc.format("bicubic LR", "PNG"),
                      compute=png_rate(lambda v: v.lr_bicubic), when=_storage, fmt=".3f",
                      constant=True)]
    for q in qualities:
        out += [MetricSpec(f"rate_jpeg{q}", "min", unit, doc.format("model's LR", f"JPEG QF {q}"),
                           baseline=f"bicubic_rate_jpeg{q}", compute=jpeg_rate(lambda v: v.lr, q),
                           when=_storage, fmt=".3f"),
                MetricSpec(f"bicubic_rate_jpeg{q}", "min", unit,
                           doc.format("bicubic LR", f"JPEG QF {q}"), when=_storage, fmt=".3f",
                           compute=jpeg_rate(lambda v: v.lr_bicubic, q), constant=True)]
    for q in hr_qualities:
        out += [MetricSpec(f"hr_jpeg{q}_rate", "min", unit, doc.format("HR image", f"JPEG QF {q}"),
                           compute=jpeg_rate(lambda v: v.hr, q), when=_storage, fmt=".3f",
                           constant=True),
                MetricSpec(f"hr_jpeg{q}_psnr_y", "max", "dB", f"Y-PSNR of the HR image saved as "
                           f"JPEG QF {q} (plain JPEG, no rescaling)", when=_storage,
                           compute=lambda v, q=q: psnr_y(jpeg_real(v.hr, q), v.hr, v.s),
                           constant=True)]
    return out


# Training-report metrics (not per image): objectives a sweep may also rank by.
_REPORT_PREFIXES = {"loss/": ("min", "", "training loss term, mean over the interval", ".4g"),
                    "time/": ("min", "s", "seconds (per step for data/compute)", ".3g")}
_REPORT_METRICS = [
    MetricSpec("data_fraction", "min", "", "share of step time spent waiting for data",
               fmt=".3f"),
    MetricSpec("schedule/lr", "min", "", "the learning rate the schedule gave the interval's "
               "last step", fmt=".3g"),
    MetricSpec("model/params", "min", "", "trainable parameters of the model", fmt=",.0f",
               constant=True),
]

METRICS: dict[str, MetricSpec] = {m.name: m for m in _fixed_metrics() + stego_metrics()
                                   + _REPORT_METRICS}


def metric_spec(name: str) -> MetricSpec | None:
    """The spec of any metric name a report may carry (jpeg{QF}_*, loss/*, time/* included);
    None for a name nothing produces."""
    if name in METRICS:
        return METRICS[name]
    qf = re.fullmatch(r"(?:bicubic_)?jpeg(\d+)_(?:psnr|ssim)_y", name)
    if qf and 1 <= int(qf.group(1)) <= 100:
        return next(m for m in jpeg_metrics(int(qf.group(1))) if m.name == name)
    secret = re.fullmatch(r"jpeg(\d+)_secret_psnr_y", name)
    if secret and 1 <= int(secret.group(1)) <= 100:
        return stego_metrics([int(secret.group(1))])[-1]
    stored = re.fullmatch(r"(?:bicubic_)?lr_(?:png|jpeg(\d+))_bpp", name)
    if stored and (stored.group(1) is None or 1 <= int(stored.group(1)) <= 100):
        qs = [int(stored.group(1))] if stored.group(1) else []
        return next(m for m in storage_metrics(qs) if m.name == name)
    rate = re.fullmatch(r"(?:bicubic_)?rate_(?:png|jpeg(\d+))|hr_jpeg(\d+)_(?:rate|psnr_y)", name)
    if rate and all(1 <= int(q) <= 100 for q in rate.groups() if q):
        lr_q, hr_q = rate.groups()
        specs = rate_metrics([int(lr_q)] if lr_q else [], [int(hr_q)] if hr_q else [])
        return next(m for m in specs if m.name == name)
    for prefix, (mode, unit, doc, fmt) in _REPORT_PREFIXES.items():
        if name.startswith(prefix) and re.fullmatch(r"\w+", name[len(prefix):]):
            return MetricSpec(name, mode, unit, doc, fmt=fmt)
    return None


def evaluation_metrics(cfg: Config) -> list[MetricSpec]:
    """The per-image metrics an evaluation under `cfg` computes, in table order; task=stego
    has its own (irn/stego_eval.py), the rescaling ones do not apply to it."""
    if cfg.task == "stego":
        return [m for m in stego_metrics(jpeg_qualities(cfg)) if m.when(cfg)]
    fixed = [m for m in METRICS.values() if m.per_image and m.when(cfg)]
    rates = rate_metrics(jpeg_qualities(cfg)) if cfg.storage_eval else []
    return fixed + [m for q in jpeg_qualities(cfg) for m in jpeg_metrics(q)] + rates


@torch.inference_mode()
def evaluate_image(model, hr, lr_ref, cfg: Config, seed: int = 0, guide_ref=None) -> dict:
    views = ImageViews(model, hr, lr_ref, cfg, seed, guide_ref)
    return {m.name: float(m.compute(views)) for m in evaluation_metrics(cfg)}


def image_names(val_set) -> list[str]:
    """The names of a validation set's images (val_images sets them; else image0, ...)."""
    names = getattr(val_set, "names", None)
    return list(names) if names else [f"image{i}" for i in range(len(val_set))]


def evaluate_images(model, val_set, cfg: Config, device="cpu") -> list[dict]:
    """One row per validation image: {"image": name, metric: value, ...}. Image i's z draws
    are seeded with i, so a row is reproducible on its own. guide_target=other: lr_psnr_y
    against the next image's bicubic LR; task=stego: irn.stego_eval's rows."""
    if cfg.task == "stego":
        return stego_rows(model, val_set, cfg, device)
    guides = next_image_targets(val_set) if cfg.guide_target == "other" else \
        [lr for _, lr in val_set]
    return [{"image": name, **evaluate_image(model, hr.to(device), lr.to(device), cfg, seed=i,
                                             guide_ref=guide.to(device))}
            for i, (name, (hr, lr), guide) in enumerate(zip(image_names(val_set), val_set,
                                                            guides))]


def mean_metrics(rows: list[dict]) -> dict:
    """The mean of every metric over per-image rows (non-metric keys dropped)."""
    keys = [k for k in rows[0] if metric_spec(k) is not None]
    return {k: float(np.mean([r[k] for r in rows])) for k in keys}


def evaluate(model, val_set, cfg: Config, device="cpu") -> dict:
    """Mean of evaluate_image over the validation set."""
    return mean_metrics(evaluate_images(model, val_set, cfg, device))


CROP_KINDS = ("gt", "lr", "lr_bicubic", "bicubic_up", "recon")
MAX_CROP_IMAGES = 4  # visual crops of at most this many validation images (artifact size)


def crop_names(val_set) -> list[str]:
    """Names of the untiled validation images: tile names "NAME@r,c" lose their suffix; a
    name unsafe as a folder becomes imageN."""
    whole = getattr(val_set, "whole", None) or val_set
    names = list(dict.fromkeys(n.split("@")[0] for n in image_names(val_set)))
    if len(names) != len(whole):
        names = [f"image{i}" for i in range(len(whole))]
    return [n if re.fullmatch(r"[A-Za-z0-9_.-]{1,64}", n) and n.strip(".") else f"image{i}"
            for i, n in enumerate(names)]


@torch.inference_mode()
def visual_crops(model, val_set, cfg: Config, size: int = 128, device="cpu",
                 max_images: int = MAX_CROP_IMAGES) -> dict:
    """{image name: {kind: uint8 H x W x 3}}: a centre crop (`size` px, a multiple of the
    scale) of each untiled validation image (the first `max_images`), for galleries and
    MLflow artifacts. Kinds: gt, lr (the model's LR) and lr_bicubic (nearest-upsampled to HR
    size for side-by-side viewing), bicubic_up (bicubic down + bicubic up: the baseline the
    gain is measured against) and recon (the model's reconstruction, z as in evaluation).
    The model runs on the crop plus a margin of context, so its border does not show.
    task=stego: none (no LR, no reconstruction: {})."""
    if cfg.task == "stego":
        return {}
    whole = getattr(val_set, "whole", None) or val_set
    s = cfg.scale
    out = {}
    for name, (hr, lr_ref) in list(zip(crop_names(val_set), whole))[:max_images]:
        hr, lr_ref = hr.to(device), lr_ref.to(device)
        h, w = hr.shape[-2:]
        side = max(min(size, h, w) // s * s, s)
        t, l = (h - side) // 2 // s * s, (w - side) // 2 // s * s
        margin = 8 * s  # context around the crop, in HR pixels (a multiple of the scale)
        t0, l0 = max(t - margin, 0), max(l - margin, 0)
        t1, l1 = min(t + side + margin, h - h % s), min(l + side + margin, w - w % s)
        region = hr[..., t0:t1, l0:l1]
        region_lr = quantize(lr_ref[..., t0 // s:t1 // s, l0 // s:l1 // s])
        lr = model.downscale(region)
        views = {"gt": region, "lr": _nearest(lr, s), "lr_bicubic": _nearest(region_lr, s),
                 "bicubic_up": imresize(region_lr, s),
                 "recon": _upscale_draws(model, lr, cfg, 0, draws=1)[0]}
        top, left = t - t0, l - l0
        out[name] = {k: tensor_to_rgb8(v[..., top:top + side, left:left + side])
                     for k, v in views.items()}
    return out


def _nearest(x, s: int):
    return torch.nn.functional.interpolate(x, scale_factor=s, mode="nearest")


def save_crops(crops: dict, folder) -> list[str]:
    """Write visual_crops' images as folder/<image>/<kind>.png (PNG: lossless, so an error
    map drawn from them is the model's error); returns the paths written."""
    import os

    from PIL import Image
    paths = []
    for image, kinds in crops.items():
        os.makedirs(os.path.join(folder, image), exist_ok=True)
        for kind, img in kinds.items():
            paths.append(os.path.join(folder, image, f"{kind}.png"))
            Image.fromarray(img).save(paths[-1], optimize=True)
    return paths
