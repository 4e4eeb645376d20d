"""Evaluation under the published convention.

Per validation image: downscale (quantised LR), upscale with z ~ N(0, T^2) draws or z = 0,
round to uint8, Y-channel PSNR/SSIM with `scale` pixels cropped, plus RGB PSNR. In the same
table: the bicubic-down/bicubic-up baseline, the gain over it, how far the LR strays from
the bicubic LR, super-resolution (upscaling a plain bicubic LR), and real-JPEG robustness at
each QF. `evaluate_images` keeps one row per image; `evaluate` averages them.

Which metrics, and how each is computed from the `ImageViews` of one image, is the registry
irn/metric_registry.py (`METRICS`); the visual crops are irn/crops.py.
"""
from functools import cached_property

import numpy as np
import torch

from irn.config import Config
from irn.imresize import imresize
from irn.jpeg import jpeg_real
from irn.metric_registry import evaluation_metrics, metric_spec
from irn.metrics import psnr_y
from irn.quantization import quantize
from irn.stego import next_image_targets
from irn.stego_eval import StegoViews
from irn.video.study import FRAME_TASKS
from irn.video.frames_eval import frame_rows


def upscale_draws(model, lr, cfg: Config, seed: int, draws: int | None = None):
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
        return upscale_draws(self.model, self.lr, self.cfg, self.seed)

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
        return upscale_draws(self.model, self.lr_bicubic, self.cfg, self.seed)

    def jpeg_rec(self, q: int):
        """The reconstruction from the model's LR stored as a real JPEG (one z draw)."""
        if q not in self._jpeg:
            lr = jpeg_real(self.lr, q)
            self._jpeg[q] = upscale_draws(self.model, lr, self.cfg, self.seed, draws=1)[0]
        return self._jpeg[q]

    def bicubic_jpeg(self, q: int):
        return imresize(jpeg_real(self.lr_bicubic, q), self.s)

    def per_hr_pixel(self, bits: int) -> float:
        return bits / (self.hr.shape[-2] * self.hr.shape[-1])


@torch.inference_mode()
def evaluate_image(model, hr, lr_ref, cfg: Config, seed: int = 0, guide_ref=None) -> dict:
    views = ImageViews(model, hr, lr_ref, cfg, seed, guide_ref)
    return {m.name: float(m.compute(views)) for m in evaluation_metrics(cfg)}


@torch.inference_mode()
def stego_rows(model, val_set, cfg, device="cpu") -> list[dict]:
    """One row per validation image: {"image": name, metric: value, ...}; image i hides the
    next image's 8-bit bicubic LR, and its z draws are seeded with i."""
    metrics = evaluation_metrics(cfg)
    secrets = next_image_targets(val_set)
    rows = []
    for i, (name, (hr, lr), secret) in enumerate(zip(image_names(val_set), val_set, secrets)):
        views = StegoViews(model, hr.to(device), lr.to(device), quantize(secret.to(device)),
                           cfg, seed=i)
        rows.append({"image": name, **{m.name: float(m.compute(views)) for m in metrics}})
    return rows


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
    if cfg.task in FRAME_TASKS:
        return frame_rows(model, val_set, cfg, image_names(val_set), device)
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
