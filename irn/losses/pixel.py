"""Per-pixel distances: l1, l2, charbonnier, huber, smooth_l1, and the JPEG-aware ycbcr loss.

All return the mean over every element (batch, channel, pixel); see irn/losses/__init__.py.
"""
import torch
from torch import nn
import torch.nn.functional as F
from kornia.color import rgb_to_ycbcr


class L1Loss(nn.Module):
    """mean |pred - target|"""

    def forward(self, pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return F.l1_loss(pred, target)


class L2Loss(nn.Module):
    """mean (pred - target)^2 -- the official IRN guide loss once multiplied by C*H*W."""

    def forward(self, pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return F.mse_loss(pred, target)


def charbonnier(diff: torch.Tensor, eps: float) -> torch.Tensor:
    """Elementwise sqrt(d^2 + eps) (eps is added to d^2, not squared, as in the official code)."""
    return torch.sqrt(diff * diff + eps)


class CharbonnierLoss(nn.Module):
    """mean sqrt((pred - target)^2 + eps), eps=1e-6: the official IRN reconstruction loss
    (its ReconstructionLoss(losstype='l2') sums this over pixels and divides by the batch)."""

    def __init__(self, eps: float = 1e-6):
        super().__init__()
        self.eps = float(eps)

    def forward(self, pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return charbonnier(pred - target, self.eps).mean()

    def extra_repr(self) -> str:
        return f"eps={self.eps}"


class HuberLoss(nn.Module):
    """torch's Huber: 0.5 d^2 if |d| < delta else delta (|d| - 0.5 delta), averaged.

    Default delta=0.01 (about 2.5 grey levels), not torch's 1.0: with images in [0, 1] every
    error is below 1, so delta=1 would make this exactly 0.5 * l2.
    """

    def __init__(self, delta: float = 0.01):
        super().__init__()
        self.delta = float(delta)

    def forward(self, pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return F.huber_loss(pred, target, delta=self.delta)

    def extra_repr(self) -> str:
        return f"delta={self.delta}"


class SmoothL1Loss(nn.Module):
    """torch's SmoothL1: 0.5 d^2 / beta if |d| < beta else |d| - 0.5 beta, averaged.

    Equal to huber(delta=beta) / beta: the linear part has unit slope like l1 (whereas huber's
    quadratic part matches 0.5 * l2). Default beta=0.01 for the same reason as huber's delta.
    """

    def __init__(self, beta: float = 0.01):
        super().__init__()
        self.beta = float(beta)

    def forward(self, pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return F.smooth_l1_loss(pred, target, beta=self.beta)

    def extra_repr(self) -> str:
        return f"beta={self.beta}"


class YCbCrLoss(nn.Module):
    """JPEG-aware distance: compare in JPEG's own colour space and weight luma above chroma.

    Both images go to full-range YCbCr (JFIF / BT.601 coefficients, as JPEG uses; kornia's
    rgb_to_ycbcr). The loss is  (y_weight * D(Y) + c_weight * (D(Cb) + D(Cr))) / (y_weight +
    2 c_weight), where D is the mean base distance over one channel's elements; the
    normalisation makes equal weights give the plain per-element mean over the three YCbCr
    channels, on the same scale as the RGB losses. Defaults y_weight=0.8, c_weight=0.1 (already
    summing to 1): a luma error costs 8x an equal chroma error, mirroring JPEG's finer luma
    quantisation and the eye's lower chroma acuity.

    subsample420=True emulates JPEG 4:2:0: Cb/Cr of both images are 2x2 average-pooled before
    comparing, so chroma detail that JPEG would throw away anyway is not penalised. Off by
    default, because when on nothing constrains chroma detail finer than 2x2 blocks.
    base: 'charbonnier' (default; eps as the official IRN reconstruction loss), 'l1' or 'l2'.
    """

    BASES = ("charbonnier", "l1", "l2")

    def __init__(self, y_weight: float = 0.8, c_weight: float = 0.1, subsample420: bool = False,
                 base: str = "charbonnier", eps: float = 1e-6):
        super().__init__()
        if base not in self.BASES:
            raise ValueError(f"ycbcr: base must be one of {', '.join(self.BASES)}, got {base!r}")
        if y_weight < 0 or c_weight < 0 or y_weight + c_weight <= 0:
            raise ValueError(f"ycbcr: weights must be >= 0 and not all 0, got {y_weight}, {c_weight}")
        self.y_weight, self.c_weight = float(y_weight), float(c_weight)
        self.subsample420, self.base, self.eps = bool(subsample420), base, float(eps)

    def _distance(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        d = a - b
        if self.base == "l1":
            return d.abs().mean()
        if self.base == "l2":
            return (d * d).mean()
        return charbonnier(d, self.eps).mean()

    def forward(self, pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        p, t = rgb_to_ycbcr(pred), rgb_to_ycbcr(target)
        p_c, t_c = p[:, 1:], t[:, 1:]
        if self.subsample420:
            # ceil_mode keeps the last row/column of odd-sized images, like JPEG's edge padding
            p_c = F.avg_pool2d(p_c, 2, ceil_mode=True)
            t_c = F.avg_pool2d(t_c, 2, ceil_mode=True)
        d_y = self._distance(p[:, :1], t[:, :1])
        d_c = self._distance(p_c, t_c)  # mean over Cb and Cr = (D(Cb) + D(Cr)) / 2
        return (self.y_weight * d_y + 2 * self.c_weight * d_c) / (self.y_weight + 2 * self.c_weight)

    def extra_repr(self) -> str:
        return (f"y_weight={self.y_weight}, c_weight={self.c_weight}, "
                f"subsample420={self.subsample420}, base={self.base!r}")
