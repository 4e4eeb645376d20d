"""Evaluation of the steganography task (`task=stego`, irn/stego.py): one row per validation
image (tile), in the project's convention (uint8 rounding, BT.601 Y, SSIM 11x11 sigma 1.5).

Tile i is the cover and hides the 8-bit bicubic LR of tile (i+1) mod n (irn.stego.
next_image_targets). The stego image is quantised to 8 bits before anything reads it; the
secret is revealed with z as `z_eval` (gaussian: the mean over `eval_z_draws` draws seeded
with the image's index; zero). Under task=stego the rescaling metrics (psnr_y, gain_db,
lr_psnr_y, ...) do not apply and are not computed: `irn.metric_registry.evaluation_metrics`
returns its `stego_metrics(...)` instead, and `irn.evaluate.stego_rows` these rows.

Crops: the stego image against the cover crops `scale` pixels from each border, as the
rescaling HR metrics do; the LR-sized secret 1 pixel (`lr_psnr_y`, like the official
test.py, crops none).
"""
from functools import cached_property

import torch

from irn.jpeg import jpeg_real
from irn.metrics import psnr_y

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
