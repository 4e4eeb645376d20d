"""IRN's training objective: guide + reconstruction + distribution terms, each weighted.

Every loss in irn.losses is a per-element mean; multiplying it by the elements per image
gives the official reduction (sum over pixels, mean over the batch), so with the default
config this is the official loss exactly:
  guide = scale^2 * sum((LR - bicubic LR)^2) / N              (L2)
  recon = 1 * sum(sqrt((HR' - HR)^2 + 1e-6)) / N              (Charbonnier; z ~ N(0,1))
  distr = 1 * sum(z^2) / N                                    (surrogate of z ~ N(0, 1))
A weight of 0 drops its term (and the work behind it where possible).
"""
import contextlib

import torch

from irn.config import Config
from irn.jpeg import apply_jpeg, parse_quality
from irn.losses import build_loss
from irn.quantization import quantize
from irn.stamp import free_stamp


class NonFiniteLossError(FloatingPointError):
    """A NaN or infinite loss: names the step and the term."""


def per_image(t: torch.Tensor) -> int:
    return t[0].numel()


class Objective(torch.nn.Module):
    """The loss modules of a config (`guide`, `recon`). As a Module, its learnable loss
    parameters (adaptive Barron) are its parameters(), optimised with the model, and its
    state_dict and device moves are torch's."""

    def __init__(self, cfg: Config):
        super().__init__()
        opts = {"weights": cfg.vgg_weights} if cfg.vgg_weights else {}
        self.cfg = cfg
        self.guide = build_loss(cfg.loss_guide, **opts)
        self.recon = build_loss(cfg.loss_recon, **opts)

    def forward_terms(self, model, hr, lr_ref):
        """Forward pass: (LR, z, {guide, distr})."""
        out, _ = model(hr, jac=False)
        lr, z = out[:, :3], out[:, 3:]
        terms = {}
        if self.cfg.guide_weight:
            seen = free_stamp(lr, lr_ref, self.cfg.stamp, self.cfg.stamp_width)
            terms["guide"] = self.cfg.guide_weight * self.guide(seen, lr_ref) * per_image(lr)
        if self.cfg.lambda_distr:
            terms["distr"] = self.cfg.lambda_distr * z.square().sum() / z.shape[0]
        return lr, z, terms

    def draw_z(self, shape, like, generator=None):
        if self.cfg.z_train == "zero":
            return like.new_zeros(shape)
        z = torch.randn(shape, generator=generator, device=like.device, dtype=like.dtype)
        return z * self.cfg.temperature

    def reverse_terms(self, model, lr, z_shape, hr, generator=None, jpeg_generator=None):
        """Reverse pass from the quantised (optionally JPEG-degraded) LR: {recon[, recon_clean]}."""
        terms = {}
        if not self.cfg.lambda_recon:
            return terms
        lr_q = quantize(lr)
        z = self.draw_z(z_shape, lr, generator)
        jpeg_on = self.cfg.jpeg_train != "off"
        inputs = [("recon", apply_jpeg(lr_q, self.cfg.jpeg_train,
                                       parse_quality(self.cfg.jpeg_quality), jpeg_generator)
                   if jpeg_on else lr_q, 1.0)]
        if jpeg_on and self.cfg.jpeg_clean_weight:
            inputs.append(("recon_clean", lr_q, self.cfg.jpeg_clean_weight))
        for name, lr_in, weight in inputs:
            rec, _ = model(torch.cat([lr_in.to(z.dtype), z], 1), rev=True, jac=False)
            terms[name] = (weight * self.cfg.lambda_recon
                           * self.recon(rec[:, :3], hr) * per_image(hr))
        return terms

    def forward(self, model, hr, lr_ref, generator=None, jpeg_generator=None, phase=None):
        """(total, {term: value}) for one batch. `phase(name)`, when given, is a context
        manager around the forward and the reverse pass (Trainer.train_step's hook)."""
        phase = phase or no_phase
        with phase("forward"):
            lr, z, terms = self.forward_terms(model, hr, lr_ref)
        with phase("reverse"):
            terms.update(self.reverse_terms(model, lr, z.shape, hr, generator, jpeg_generator))
            total = sum(terms.values())
        return total, terms


def no_phase(name: str):
    """The phase hook that times nothing."""
    return contextlib.nullcontext()


def check_finite(step: int, total, terms) -> None:
    if not torch.isfinite(total):
        bad = [k for k, v in terms.items() if not torch.isfinite(v)] or ["total"]
        raise NonFiniteLossError(
            f"non-finite loss at step {step}: {bad[0]} = {float(terms.get(bad[0], total).detach())}")
