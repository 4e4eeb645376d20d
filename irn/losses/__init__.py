"""Loss registry: a name -> constructor dict, and weighted sums built from a spec string.

Contract of every loss: an nn.Module called as `loss(pred, target) -> scalar tensor`, with
pred/target N x C x H x W (RGB in about [0, 1]; LR images for the guide term, HR images for
the reconstruction term).

Reduction convention: every loss is a MEAN over all elements (batch, channel, pixel). The
objective multiplies by the elements per image (C*H*W) to recover the official IRN reduction
"sum over pixels, mean over batch"; so `l2` and `charbonnier` here are exactly the official
guide and reconstruction distances divided by C*H*W. Image-level scores follow the same
convention by being averages themselves: ssim / ms_ssim give 1 - mean (MS-)SSIM, gmsd the
deviation of the per-pixel similarity map, lpips / dists the per-pixel-averaged feature
distance, barron_adaptive the mean per-element negative log-likelihood; each is averaged over
the batch.

    build_loss("l2")                          one loss
    build_loss("l2+0.1*dists", weights=PATH)  weighted sum: [WEIGHT*]NAME (+ [WEIGHT*]NAME)*
    build_loss("barron", alpha=0.0)           options go to every term that accepts them

Options that belong to a registered loss that is absent from the spec are ignored (a trainer
may pass e.g. weights=PATH always); options that no loss accepts raise ValueError. Adding a
loss: one class (or function) returning an nn.Module, plus one line in LOSSES.
"""
import inspect
import math
import re

import torch
from torch import nn

from .barron import AdaptiveBarronLoss, BarronLoss
from .perceptual import DISTSLoss, LPIPSLoss
from .pixel import CharbonnierLoss, HuberLoss, L1Loss, L2Loss, SmoothL1Loss, YCbCrLoss
from .structural import GMSDLoss, MSSSIMLoss, SSIMLoss

LOSSES = {
    "l1": L1Loss,
    "l2": L2Loss,
    "charbonnier": CharbonnierLoss,        # sqrt(d^2 + 1e-6): official IRN reconstruction
    "huber": HuberLoss,                    # delta=0.01
    "smooth_l1": SmoothL1Loss,             # beta=0.01
    "barron": BarronLoss,                  # alpha=1, scale=0.01, fixed
    "barron_adaptive": AdaptiveBarronLoss,  # learned alpha in (0, 2) and scale (2 parameters)
    "ssim": SSIMLoss,
    "ms_ssim": MSSSIMLoss,
    "gmsd": GMSDLoss,
    "ycbcr": YCbCrLoss,                    # JPEG-aware: luma weighted 8x chroma
    "lpips": LPIPSLoss,                    # needs weights=PATH or IRN_VGG16_WEIGHTS
    "dists": DISTSLoss,                    # needs weights=PATH or IRN_VGG16_WEIGHTS
}


def loss_names() -> list[str]:
    return sorted(LOSSES)


_NUMBER = r"(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?"
_TERM = re.compile(rf"\s*(?:(?P<weight>{_NUMBER})\s*\*\s*)?(?P<name>[A-Za-z_][A-Za-z0-9_]*)\s*")


def parse_spec(spec: str) -> list[tuple[float, str]]:
    """'l2+0.1*dists' -> [(1.0, 'l2'), (0.1, 'dists')]; ValueError (one line) when malformed."""
    valid = ", ".join(loss_names())
    grammar = f"expected [WEIGHT*]NAME(+[WEIGHT*]NAME)*, e.g. 'l2+0.1*dists'; names: {valid}"
    if not isinstance(spec, str):
        raise ValueError(f"loss spec must be a string, got {type(spec).__name__}; {grammar}")
    terms, pos = [], 0
    while True:
        m = _TERM.match(spec, pos)
        if not m:
            raise ValueError(f"malformed loss spec {spec!r} at position {pos}: {grammar}")
        name, weight = m.group("name").lower(), float(m.group("weight") or 1.0)
        if name not in LOSSES:
            raise ValueError(f"unknown loss {name!r} in {spec!r}; valid: {valid}")
        if not (math.isfinite(weight) and weight > 0):
            raise ValueError(f"loss weight must be a positive number in {spec!r}, "
                             f"got {weight} for {name}")
        terms.append((weight, name))
        pos = m.end()
        if pos == len(spec):
            return terms
        if spec[pos] != "+":
            raise ValueError(f"malformed loss spec {spec!r} at position {pos}: {grammar}")
        pos += 1


def _accepted(name: str) -> set[str]:
    ctor = LOSSES[name]
    params = inspect.signature(ctor).parameters.values()
    return {p.name for p in params if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)}


def _options_for(name: str, options: dict) -> dict:
    """The options that loss `name` accepts; ValueError for one that no loss accepts."""
    for key in options:
        if not any(key in _accepted(n) for n in LOSSES):
            raise ValueError(f"option {key!r} is not accepted by any loss")
    return {k: v for k, v in options.items() if k in _accepted(name)}


class WeightedLoss(nn.Module):
    """sum_i w_i * loss_i(pred, target). `.terms` = [(weight, name)], `.losses` the modules
    (their parameters are this module's parameters), `.last` = {key: detached value of each
    unweighted term at the last call}, keyed by name (name#2, ... for repeated names)."""

    def __init__(self, spec: str, terms: list[tuple[float, str]], losses: list[nn.Module]):
        super().__init__()
        self.spec, self.terms = spec, list(terms)
        self.losses = nn.ModuleList(losses)
        self.keys, seen = [], {}
        for _, name in terms:
            seen[name] = seen.get(name, 0) + 1
            self.keys.append(name if seen[name] == 1 else f"{name}#{seen[name]}")
        self.last: dict[str, torch.Tensor] = {}

    def forward(self, pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        total = None
        for (weight, _), key, loss in zip(self.terms, self.keys, self.losses):
            value = loss(pred, target)
            self.last[key] = value.detach()  # no .item(): logging must not force a sync here
            term = value if weight == 1.0 else weight * value
            total = term if total is None else total + term
        return total

    def extra_repr(self) -> str:
        return f"spec={self.spec!r}"


def build_loss(spec: str, **options) -> WeightedLoss:
    """A loss module from a name or a weighted sum; see the module docstring."""
    terms = parse_spec(spec)
    losses = [LOSSES[name](**_options_for(name, options)) for _, name in terms]
    return WeightedLoss(spec, terms, losses)


__all__ = ["LOSSES", "build_loss", "loss_names", "parse_spec", "WeightedLoss"]
