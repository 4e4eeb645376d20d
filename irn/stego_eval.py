"""Evaluation of the steganography task (`task=stego`, irn/stego.py): one row per validation
image (tile), in the project's convention (uint8 rounding, BT.601 Y, SSIM 11x11 sigma 1.5).

Tile i is the cover and hides the 8-bit bicubic LR of tile (i+1) mod n (irn.stego.
next_image_targets). The stego image is quantised to 8 bits before anything reads it; the
secret is revealed with z as `z_eval` (gaussian: the mean over `eval_z_draws` draws seeded
with the image's index; zero). Under task=stego the rescaling metrics (psnr_y, gain_db,
lr_psnr_y, ...) do not apply and are not computed: `irn.metric_registry.evaluation_metrics`
returns `stego_metrics(...)` instead, and `irn.evaluate.evaluate_images` these rows.

Crops: the stego image against the cover crops `scale` pixels from each border, as the
rescaling HR metrics do; the LR-sized secret 1 pixel (`lr_psnr_y`, like the official
test.py, crops none).
"""
from functools import cached_property

import numpy as np
import torch

from irn.jpeg import jpeg_real
from irn.metrics import psnr_y, ssim_y
from irn.quantization import quantize
from irn.stego import capacity_bits_per_pixel, next_image_targets

SECRET_CROP = 1


class StegoViews:
    """The images one stego evaluation compares, each computed on first use."""

    def __init__(self, model, cover, cover_lr, secret, cfg, seed: int):
        self.model, self.cover, self.cover_lr, self.secret = model, cover, cover_lr, secret
        self.cfg, self.seed, self.s = cfg, seed, cfg.scale
        self._jpeg = {}

    @cached_property
    def stego(self):
        return self.model.hide(self.cover, self.secret)

    def _reveal(self, stego, draws: int):
        if self.cfg.z_eval == "zero":
            return [self.model.reveal(stego, mode="zero")]
        gen = torch.Generator(stego.device).manual_seed(self.seed)
        return [self.model.reveal(stego, mode="gaussian", temperature=self.cfg.temperature,
                                  generator=gen) for _ in range(draws)]

    @cached_property
    def revealed(self):
        return self._reveal(self.stego, self.cfg.eval_z_draws)

    def secret_psnr(self, secret) -> float:
        return psnr_y(secret, self.secret, SECRET_CROP)

    def jpeg_revealed(self, q: int):
        """The secret revealed from the stego image stored as a real JPEG (one z draw)."""
        if q not in self._jpeg:
            self._jpeg[q] = self._reveal(jpeg_real(self.stego, q), 1)[0]
        return self._jpeg[q]


def _stego(cfg) -> bool:
    return cfg.task == "stego"


def _stego_gaussian(cfg) -> bool:
    return cfg.task == "stego" and cfg.z_eval == "gaussian"


def stego_metrics(qualities=()) -> list:
    """The per-image MetricSpecs of task=stego, then those of each JPEG QF in `qualities`."""
    from irn.metric_registry import MetricSpec  # which registers these: imported lazily
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


@torch.inference_mode()
def stego_rows(model, val_set, cfg, device="cpu") -> list[dict]:
    """One row per validation image: {"image": name, metric: value, ...}; image i hides the
    next image's 8-bit bicubic LR, and its z draws are seeded with i."""
    from irn.evaluate import image_names
    from irn.metric_registry import evaluation_metrics
    metrics = evaluation_metrics(cfg)
    secrets = next_image_targets(val_set)
    rows = []
    for i, (name, (hr, lr), secret) in enumerate(zip(image_names(val_set), val_set, secrets)):
        views = StegoViews(model, hr.to(device), lr.to(device), quantize(secret.to(device)),
                           cfg, seed=i)
        rows.append({"image": name, **{m.name: float(m.compute(views)) for m in metrics}})
    return rows
