"""Evaluate one model on one image set: per-image rows under the published convention
(irn.evaluate's ImageViews and metric registry), then means with 95% CIs over images."""
import math
import warnings
from functools import cached_property

import numpy as np
import torch

from irn.stats.compare import mean_ci
from irn.evaluate import ImageViews
from irn.metric_registry import evaluation_metrics, storage_metrics
from irn.imresize import imresize
from irn.jpeg import jpeg_real
from irn.rescale import pad_to_multiple
from irn.tiling import tiled_downscale, tiled_upscale


class EvalModel:
    """The model as ImageViews sees it: tiled when `tile` > 0, and fitted to one HR size
    (reflect-padded down, cropped back up). For sizes the scale divides and no tiling it
    computes exactly what the model does."""

    def __init__(self, model, tile: int = 0, overlap: int = 0, size=None):
        self.model, self.scale, self.tile, self.overlap, self.size = \
            model, model.scale, tile, overlap, size

    def for_size(self, h: int, w: int) -> "EvalModel":
        return EvalModel(self.model, self.tile, self.overlap, (h, w))

    def downscale(self, hr):
        s = self.scale
        padded, (h, w) = pad_to_multiple(hr, s)
        lr = tiled_downscale(self.model, padded, self.tile, self.overlap) if self.tile \
            else self.model.downscale(padded)
        return lr[..., :math.ceil(h / s), :math.ceil(w / s)]

    def upscale(self, lr, z=None, mode="gaussian", temperature=1.0, generator=None):
        kw = dict(z=z, mode=mode, temperature=temperature, generator=generator)
        out = tiled_upscale(self.model, lr, self.tile, self.overlap, **kw) if self.tile \
            else self.model.upscale(lr, **kw)
        h, w = self.size or out.shape[-2:]
        return out[..., :h, :w]


class FittedViews(ImageViews):
    """ImageViews whose bicubic pipelines are cropped back to the HR size (fit=pad)."""

    def _fit(self, x):
        return x[..., :self.hr.shape[-2], :self.hr.shape[-1]]

    @cached_property
    def bicubic(self):
        return self._fit(imresize(self.lr_bicubic, self.s))

    def bicubic_jpeg(self, q: int):
        return self._fit(imresize(jpeg_real(self.lr_bicubic, q), self.s))


def table_metrics(cfg, qualities) -> list:
    """The per-image metrics of an evaluation table, in order."""
    return evaluation_metrics(cfg) + storage_metrics(qualities)


@torch.inference_mode()
def evaluate_pairs(model, pairs, cfg, qualities, tile=0, overlap=0, device="cpu",
                   on_image=None) -> list[dict]:
    """One row per (name, hr, lr_ref): every table metric, and with gaussian z each draw's
    Y-PSNR (psnr_y_draw{k}). Image i's draws are seeded with i, as irn.evaluate does."""
    fitted = EvalModel(model, tile, overlap)
    metrics = table_metrics(cfg, qualities)
    rows = []
    for i, (name, hr, lr_ref) in enumerate(pairs):
        hr, lr_ref = hr.to(device), lr_ref.to(device)
        views = FittedViews(fitted.for_size(*hr.shape[-2:]), hr, lr_ref, cfg, seed=i)
        row = {"image": name, **{m.name: float(m.compute(views)) for m in metrics}}
        if cfg.z_eval == "gaussian":
            row.update({f"psnr_y_draw{k}": p for k, p in enumerate(views.rec_psnrs)})
        rows.append(row)
        if on_image:
            on_image()
    return rows


def summarize(rows: list[dict], metrics) -> dict:
    """{metric: {"mean", "ci95" (over images; None for one image), "n"}}."""
    out = {}
    with warnings.catch_warnings():  # scipy's bootstrap warns on tiny or degenerate samples
        warnings.simplefilter("ignore")
        for m in metrics:
            stat = mean_ci(np.array([[r[m.name] for r in rows]]))
            out[m.name] = {**stat, "n": len(rows)}
    return out


def draw_spread(rows: list[dict]) -> dict | None:
    """The dataset's mean Y-PSNR under each z draw, and their standard deviation."""
    keys = sorted((k for k in rows[0] if k.startswith("psnr_y_draw")), key=lambda k: int(k[11:]))
    if not keys:
        return None
    means = [float(np.mean([r[k] for r in rows])) for k in keys]
    return {"draws": len(keys), "means": means,
            "sd": float(np.std(means, ddof=1)) if len(means) > 1 else None}
