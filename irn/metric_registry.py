"""The one metric vocabulary: `METRICS`, name -> MetricSpec (direction, unit, baseline,
format, meaning, and how one image's value is computed from irn.evaluate.ImageViews).

Every consumer reads it: the sweep's objective check, the CLI tables, MLflow, the
statistics, the dashboards. `metric_spec` also knows the families named by a parameter
(jpeg{QF}_*, rates, loss/*, time/*); `evaluation_metrics` is what one evaluation under a
config computes, in table order. Adding a metric is one entry here.
"""
import math
import re

import numpy as np

from irn.config import Config
from irn.jpeg import jpeg_real
from irn.metric_spec import MARGINS, MetricSpec, _always  # noqa: F401 (re-exported)
from irn.metrics import psnr_rgb, psnr_y, psnr_y_masked, ssim_y
from irn.quantization import quantize
from irn.stamp import stamp_bits_per_hr_pixel, stamp_mask
from irn.stego import capacity_bits_per_pixel
from irn.studies import STUDIES
from irn.video.study import FRAME_TASKS
from irn.video.study import metrics as frame_metrics


def jpeg_qualities(cfg: Config) -> list[int]:
    return [int(q) for q in (s.strip() for s in cfg.jpeg_eval.split(",")) if q]



def equivalence_margin(name: str, overrides: dict | None = None) -> float:
    """The margin of metric `name`: the override, else the registry's by its unit."""
    if overrides and name in overrides:
        return float(overrides[name])
    spec = metric_spec(name)
    return spec.margin if spec else 0.0


def margin_problem(name, value) -> str | None:
    """Why `value` cannot be the margin of metric `name` (None: it can)."""
    spec = metric_spec(name) if isinstance(name, str) else None
    if spec is None or not spec.per_image:
        return f"{name!r} is not a per-image evaluation metric (e.g. psnr_y, gain_db, ssim_y)"
    if isinstance(value, bool) or not isinstance(value, (int, float)) \
            or not math.isfinite(value) or value < 0:
        return (f"the margin of {name} must be a finite number >= 0 (in "
                f"{spec.unit or 'its unit'}); got {value!r}")
    return None


def _stamped(cfg: Config) -> bool:
    return cfg.stamp != "none"


def _lr_psnr_stamp(v, inside: bool) -> float:
    """The LR against its guide target on the stamp's pixels (inside) or on the rest."""
    h, w = v.lr.shape[-2:]
    mask = stamp_mask(h, w, v.cfg.stamp, v.cfg.stamp_width, v.lr.device)
    if inside:
        return psnr_y_masked(v.lr, v.guide_ref, mask)
    return psnr_y_masked(v.lr, v.guide_ref, ~mask)


def _gaussian(cfg: Config) -> bool:
    return cfg.z_eval == "gaussian"


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
        # No border crop: the official codes/test.py scores the LR against the bicubic LR on
        # every pixel (issue 36; a 1-px crop read +0.03 to +0.11 dB higher). Summaries stored
        # before 2026-12-07 carry the cropped value.
        MetricSpec("lr_psnr_y", "max", dB, "Y-PSNR of the model's LR against its guide target, "
                   "the bicubic LR (guide_target=other: the next image's), every pixel as the "
                   "official test.py", compute=lambda v: psnr_y(v.lr, v.guide_ref, 0)),
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
        *[m for study in STUDIES for m in study.metrics()],  # irn/studies.py
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


# task=stego's metrics (irn/stego_eval.py computes the views they read)
def _stego(cfg) -> bool:
    return cfg.task == "stego"


def _stego_gaussian(cfg) -> bool:
    return cfg.task == "stego" and cfg.z_eval == "gaussian"


def stego_metrics(qualities=()) -> list:
    """The per-image MetricSpecs of task=stego, then those of each JPEG QF in `qualities`."""
    dB = "dB"
    out = [
        MetricSpec("secret_psnr_y", "max", dB, "Y-PSNR of the secret revealed from the 8-bit "
                   "stego image against the true secret (z as z_eval, mean over draws; 1 px "
                   "crop)", baseline="secret_floor_psnr_y", when=_stego,
                   compute=lambda v: float(np.mean([v.secret_psnr(r) for r in v.revealed]))),
        MetricSpec("stego_psnr_y", "max", dB, "Y-PSNR of the 8-bit stego image against the "
                   "cover (scale px crop): how invisible the hiding is", when=_stego,
                   compute=lambda v: psnr_y(v.stego, v.cover, v.s)),
        MetricSpec("stego_ssim_y", "max", "", "Y-SSIM of the 8-bit stego image against the "
                   "cover (scale px crop)", fmt=".4f", when=_stego,
                   compute=lambda v: ssim_y(v.stego, v.cover, v.s)),
        MetricSpec("secret_psnr_y_zero", "max", dB, "secret_psnr_y with z = 0 (beside the "
                   "gaussian draws)", baseline="secret_psnr_y", when=_stego_gaussian,
                   compute=lambda v: v.secret_psnr(v.model.reveal(v.stego, mode="zero"))),
        MetricSpec("secret_floor_psnr_y", "max", dB, "Y-PSNR of the cover's own bicubic LR "
                   "against the secret: what a reveal that returned the stego's thumbnail "
                   "would score (1 px crop)", when=_stego, constant=True,
                   compute=lambda v: v.secret_psnr(quantize(v.cover_lr))),
        MetricSpec("stego_capacity_bpp", "max", "bpp", "bits of the 8-bit secret per cover "
                   "pixel: 24 / scale^2", fmt=".3f", when=_stego, constant=True,
                   compute=lambda v: capacity_bits_per_pixel(v.s)),
    ]
    for q in qualities:
        out.append(MetricSpec(
            f"jpeg{q}_secret_psnr_y", "max", dB, f"secret_psnr_y after the stego image is "
            f"stored as a real JPEG QF {q} (one z draw)", when=_stego,
            compute=lambda v, q=q: v.secret_psnr(v.jpeg_revealed(q))))
    return out


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
        return next(m for m in stego_metrics([int(secret.group(1))]) if m.name == name)
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
    and the frame tasks have their own (irn/stego_eval.py, irn/video/study.py), the
    rescaling ones do not apply to them."""
    if cfg.task == "stego":
        return [m for m in stego_metrics(jpeg_qualities(cfg)) if m.when(cfg)]
    if cfg.task in FRAME_TASKS:
        return frame_metrics(cfg)
    fixed = [m for m in METRICS.values() if m.per_image and m.when(cfg)]
    rates = rate_metrics(jpeg_qualities(cfg)) if cfg.storage_eval else []
    return fixed + [m for q in jpeg_qualities(cfg) for m in jpeg_metrics(q)] + rates
