"""IRN's training objective: guide + reconstruction + distribution terms, each weighted.

Every loss in irn.losses is a per-element mean; multiplying it by the elements per image
gives the official reduction (sum over pixels, mean over the batch), so with the default
config this is the official loss exactly:
  guide = scale^2 * sum((LR - bicubic LR)^2) / N              (L2)
  recon = 1 * sum(sqrt((HR' - HR)^2 + 1e-6)) / N              (Charbonnier; z ~ N(0,1))
  distr = 1 * sum(z^2) / N                                    (surrogate of z ~ N(0, 1))
A weight of 0 drops its term (and the work behind it where possible). Optional terms:
  dequant  = lambda_dequant * KL(q || uniform)  (quantization=variational; irn/dequantization.py)
  a study's term, e.g. temporal = lambda_temporal * transform-invariance distances
  (irn/temporal.py; irn/study.py says how a study adds one)
guide_target=other: the guide compares the LR with the next batch image's bicubic LR
(irn.stego.next_in_batch). task=stego has its own objective: irn/stego_objective.py.
"""
import contextlib

import torch

from irn.config import Config
from irn.dequantization import DequantizationFlow, uniform_noise
from irn.jpeg import apply_jpeg, parse_quality
from irn.latent import draw_latent
from irn.losses import build_loss
from irn.quantization import quantize
from irn.stamp import free_stamp
from irn.stego import next_in_batch
from irn.studies import STUDIES


class NonFiniteLossError(FloatingPointError):
    """A NaN or infinite loss: names the step and the term."""


def per_image(t: torch.Tensor) -> int:
    return t[0].numel()


class Objective(torch.nn.Module):
    """The loss modules of a config (`guide`, `recon`, and where configured `dequant`, the
    variational dequantization flow, and each study's loss under its name, e.g. `temporal`).
    As a Module, its learnable parameters
    (adaptive Barron, the flow) are its parameters(), optimised with the model, and its
    state_dict (so checkpoints) and device moves are torch's."""

    def __init__(self, cfg: Config):
        super().__init__()
        opts = {"weights": cfg.vgg_weights} if cfg.vgg_weights else {}
        self.cfg = cfg
        self.guide = build_loss(cfg.loss_guide, **opts)
        self.recon = build_loss(cfg.loss_recon, **opts)
        self.dequant = DequantizationFlow() if cfg.quantization == "variational" else None
        self.study_losses = []  # (term name, module name) of the studies switched on
        for study in STUDIES:
            loss = study.build_loss(cfg, opts) if study.build_loss else None
            setattr(self, study.name, loss)  # the state_dict keeps it under the study's name
            if loss is not None:
                self.study_losses.append((study.loss_term.name, study.name))

    def forward_terms(self, model, hr, lr_ref):
        """Forward pass: (LR, z, {guide, distr})."""
        out, _ = model(hr, jac=False)
        lr, z = out[:, :3], out[:, 3:]
        terms = {}
        if self.cfg.guide_target == "other":
            lr_ref = next_in_batch(lr_ref)
        if self.cfg.guide_weight:
            seen = free_stamp(lr, lr_ref, self.cfg.stamp, self.cfg.stamp_width)
            terms["guide"] = self.cfg.guide_weight * self.guide(seen, lr_ref) * per_image(lr)
        if self.cfg.lambda_distr:
            terms["distr"] = self.cfg.lambda_distr * z.square().sum() / z.shape[0]
        return lr, z, terms

    def draw_z(self, shape, like, generator=None):
        return draw_latent(shape, like, self.cfg.z_train, self.cfg.temperature, generator)

    def dequantize(self, lr_q, generator=None):
        """(the LR the reverse pass sees in training, {dequant}): `quantization`'s noise."""
        if self.cfg.quantization == "uniform":
            return lr_q + uniform_noise(lr_q, generator), {}
        if self.dequant is None:
            return lr_q, {}
        noise, log_q = self.dequant.noise(lr_q, generator)
        terms = {"dequant": self.cfg.lambda_dequant * log_q.mean()} \
            if self.cfg.lambda_dequant else {}
        return lr_q + noise.to(lr_q.dtype), terms

    def reverse_terms(self, model, lr, z_shape, hr, generator=None, jpeg_generator=None):
        """Reverse pass from the quantised (optionally dequantised, JPEG-degraded) LR:
        {recon[, recon_clean][, dequant]}."""
        return self._reverse(model, lr, z_shape, hr, generator, jpeg_generator)[0]

    def _reverse(self, model, lr, z_shape, hr, generator=None, jpeg_generator=None):
        """(terms, z, the reconstruction from the plain quantised LR when one was made)."""
        if not self.cfg.lambda_recon:
            return {}, None, None
        lr_q = quantize(lr)
        z = self.draw_z(z_shape, lr, generator)
        lr_d, terms = self.dequantize(lr_q, generator)
        jpeg_on = self.cfg.jpeg_train != "off"
        inputs = [("recon", apply_jpeg(lr_d, self.cfg.jpeg_train,
                                       parse_quality(self.cfg.jpeg_quality), jpeg_generator)
                   if jpeg_on else lr_d, 1.0)]
        if jpeg_on and self.cfg.jpeg_clean_weight:
            inputs.append(("recon_clean", lr_d, self.cfg.jpeg_clean_weight))
        plain = None
        for name, lr_in, weight in inputs:
            rec, _ = model(torch.cat([lr_in.to(z.dtype), z], 1), rev=True, jac=False)
            plain = rec if lr_in is lr_q else plain
            terms[name] = (weight * self.cfg.lambda_recon
                           * self.recon(rec[:, :3], hr) * per_image(hr))
        return terms, z, plain

    def forward(self, model, hr, lr_ref, generator=None, jpeg_generator=None, phase=None,
                motion_generator=None):
        """(total, {term: value}) for one batch. `phase(name)`, when given, is a context
        manager around the forward and the reverse passes (Trainer.train_step's hook); a
        study term's extra passes are timed with them. `motion_generator` (CPU) draws what
        the study terms draw (the temporal term's transform)."""
        phase = phase or no_phase
        with phase("forward"):
            lr, z, terms = self.forward_terms(model, hr, lr_ref)
            states = [getattr(self, module).prepare(model, hr, motion_generator)
                      for _, module in self.study_losses]
        with phase("reverse"):
            rev_terms, z_used, rec = self._reverse(model, lr, z.shape, hr, generator,
                                                   jpeg_generator)
            terms.update(rev_terms)
            for (name, module), state in zip(self.study_losses, states):
                terms[name] = getattr(self, module).term(model, state, lr, rec, z_used)
            total = sum(terms.values())
        return total, terms

    @torch.no_grad()
    def image_metrics(self, model, hr, seed: int) -> dict:
        """Per-image metrics that need the objective's modules: `dequant_bpd` on the model's
        uint8 LR (variational only; one draw seeded with `seed`)."""
        if self.dequant is None:
            return {}
        gen = torch.Generator(hr.device).manual_seed(seed)
        return {"dequant_bpd": float(self.dequant.bits_per_dim(model.downscale(hr), gen)[0])}


def no_phase(name: str):
    """The phase hook that times nothing."""
    return contextlib.nullcontext()


def check_finite(step: int, total, terms) -> None:
    if not torch.isfinite(total):
        bad = [k for k, v in terms.items() if not torch.isfinite(v)] or ["total"]
        raise NonFiniteLossError(
            f"non-finite loss at step {step}: {bad[0]} = {float(terms.get(bad[0], total).detach())}")
