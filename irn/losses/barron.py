"""Barron's general and adaptive robust loss (J. T. Barron, "A General and Adaptive Robust
Loss Function", CVPR 2019), re-written in plain PyTorch.

    rho(x, alpha, c) = |alpha-2|/alpha * (((x/c)^2 / |alpha-2| + 1)^(alpha/2) - 1)

with the limits alpha=2: 0.5 (x/c)^2 (L2), alpha=0: log(0.5 (x/c)^2 + 1) (Cauchy),
alpha=1: sqrt((x/c)^2 + 1) - 1 (pseudo-Huber / Charbonnier: sqrt(x^2 + c^2) = c (rho + 1)).

The adaptive form treats rho as the negative log-likelihood of a distribution,
    p(x | alpha, c) = exp(-rho(x, alpha, c)) / (c Z(alpha)),
    Z(alpha) = int exp(-rho(x, alpha, 1)) dx,
and learns alpha and c by minimising  rho(x, alpha, c) + log c + log Z(alpha).
Without the log c + log Z(alpha) terms the optimiser would just drive alpha to 0 and c up.
The original code ships a spline table of log Z; here the table is computed once (lazily, on
first use, ~0.3 s) by adaptive quadrature with scipy and interpolated with a cubic Hermite
spline, which is differentiable in alpha (see _logz_table for the node placement and the
accuracy; the tests check it against closed forms and direct quadrature).
"""
import functools
import math

import numpy as np
import torch
from torch import nn
import torch.nn.functional as F

_EPS = float(np.finfo(np.float32).eps)


def barron_rho(x: torch.Tensor, alpha, scale) -> torch.Tensor:
    """Elementwise rho(x, alpha, c); scale is a float or tensor.

    A float alpha may be anything in [-inf, inf] (the exact closed form is picked in Python at
    0, 2 and +-inf). A tensor alpha (the learnable one) uses the general form with |alpha| and
    |alpha - 2| kept >= float32 eps, as in the reference implementation, and the exact forms
    where alpha == 0 or 2, so no branch can produce inf/nan gradients for alpha in [0, 2].
    """
    sq = (x / scale) ** 2
    if not torch.is_tensor(alpha):
        alpha = float(alpha)
        if alpha == 2.0:
            return 0.5 * sq
        if alpha == 0.0:
            return torch.log1p(0.5 * sq)
        if alpha == -math.inf:
            return -torch.expm1(-0.5 * sq)
        if alpha == math.inf:
            return torch.expm1(0.5 * sq)
        b = abs(alpha - 2.0)
        return (b / alpha) * (torch.pow(sq / b + 1.0, 0.5 * alpha) - 1.0)
    alpha = alpha.to(sq.dtype)
    beta_safe = torch.clamp(torch.abs(alpha - 2.0), min=_EPS)
    alpha_safe = torch.where(alpha >= 0, 1.0, -1.0) * torch.clamp(torch.abs(alpha), min=_EPS)
    general = (beta_safe / alpha_safe) * (torch.pow(sq / beta_safe + 1.0, 0.5 * alpha) - 1.0)
    exact = torch.where(alpha == 2, 0.5 * sq, torch.log1p(0.5 * sq))
    return torch.where((alpha == 2) | (alpha == 0), exact, general)


# ---- log partition function log Z(alpha) on [0, 2] ----------------------------------------
# log Z is smooth inside (0, 2) but has an infinite slope at alpha = 2 (it behaves like
# (2-alpha) log(2-alpha) there), so a grid uniform in alpha interpolates badly near 2 (2.6e-4
# error at 1.999). The nodes are uniform in s, alpha = 1 - cos(pi s), which crowds them at both
# ends; cubic Hermite in s is then within 6e-8 of direct quadrature on [0.001, 1.999].
_LOGZ_NODES = 401


def _alpha_of_s(s):
    return 1.0 - np.cos(np.pi * s)


@functools.lru_cache(maxsize=1)
def _logz_table() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(alphas, log Z, d log Z / d s) at the nodes s = 0, 1/400, ..., 1 (float64)."""
    from scipy.integrate import quad_vec  # imported here: only the adaptive loss needs scipy

    s = np.linspace(0.0, 1.0, _LOGZ_NODES)
    alphas = _alpha_of_s(s)
    alphas[0], alphas[-1] = 0.0, 2.0  # exactly, so the closed forms are used at the ends
    x_val = torch.zeros(1, dtype=torch.float64)

    def integrand(x: float) -> np.ndarray:
        # exp(-rho(x, alpha, 1)) for every alpha on the grid at once (vector-valued quadrature)
        x_val.fill_(x)
        return np.exp(-barron_rho(x_val, torch.from_numpy(alphas), 1.0).numpy())

    # The density is symmetric: Z = 2 * int_0^inf. At alpha=0 the tail is ~ 2/x^2, which the
    # adaptive quadrature over the infinite interval handles (error estimate ~1e-11).
    half, _ = quad_vec(integrand, 0.0, np.inf, epsabs=1e-12, epsrel=1e-11)
    logz = np.log(2.0 * half)
    return alphas, logz, np.gradient(logz, s, edge_order=2)


def logz_table_tensors() -> tuple[torch.Tensor, torch.Tensor]:
    """(log Z, d log Z / d s) at the nodes, float64 tensors (a module keeps them as buffers)."""
    _, logz, dlogz = _logz_table()
    return torch.tensor(logz, dtype=torch.float64), torch.tensor(dlogz, dtype=torch.float64)


def log_partition(alpha: torch.Tensor,
                  table: tuple[torch.Tensor, torch.Tensor] | None = None) -> torch.Tensor:
    """log Z(alpha) for alpha in [0, 2] (clamped), differentiable in alpha (cubic Hermite in s).

    `table` = logz_table_tensors() already on alpha's device; without it the table is copied
    from the host on every call (a blocking copy, i.e. a GPU sync: modules pass buffers).
    Computed in float64 (a few scalar ops) and returned in alpha's dtype.
    """
    values, slopes = table if table is not None else logz_table_tensors()
    values = values.to(alpha.device, torch.float64)
    slopes = slopes.to(alpha.device, torch.float64)
    # keep 1 - alpha off +-1 so that acos has a finite derivative (value error < 1e-10)
    a = alpha.to(torch.float64).clamp(1e-12, 2.0 - 1e-12)
    s = torch.acos(1.0 - a) / math.pi
    h = 1.0 / (_LOGZ_NODES - 1)
    idx = torch.clamp(torch.floor(s / h).long(), 0, _LOGZ_NODES - 2)
    t = s / h - idx.to(s.dtype)  # position inside the interval, in [0, 1]
    t2, t3 = t * t, t * t * t
    h00, h10 = 2 * t3 - 3 * t2 + 1, t3 - 2 * t2 + t
    h01, h11 = -2 * t3 + 3 * t2, t3 - t2
    out = (h00 * values[idx] + h10 * h * slopes[idx]
           + h01 * values[idx + 1] + h11 * h * slopes[idx + 1])
    return out.to(alpha.dtype)


# ---- the two registered losses ------------------------------------------------------------
class BarronLoss(nn.Module):
    """Fixed-shape general robust loss: mean of rho(pred - target, alpha, scale).

    Defaults alpha=1 (pseudo-Huber: quadratic below ~scale, linear above) and scale=0.01
    (about 2.5 grey levels of an 8-bit image, so typical reconstruction errors sit in the
    robust part). Note that rho is *not* multiplied by the scale: for |x| >> c at alpha=1 it
    grows like |x|/c, i.e. 100x an L1 loss at the default scale; choose term weights accordingly.
    """

    def __init__(self, alpha: float = 1.0, scale: float = 0.01):
        super().__init__()
        if not scale > 0:
            raise ValueError(f"barron: scale must be > 0, got {scale}")
        self.alpha, self.scale = float(alpha), float(scale)

    def forward(self, pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return barron_rho(pred - target, self.alpha, self.scale).mean()

    def extra_repr(self) -> str:
        return f"alpha={self.alpha}, scale={self.scale}"


def _logit(p: float) -> float:
    return math.log(p / (1.0 - p))


def _softplus_inverse(y: float) -> float:
    return y + math.log(-math.expm1(-y))


class AdaptiveBarronLoss(nn.Module):
    """Adaptive robust loss: mean over elements of the NLL  rho(x, alpha, c) + log c + log Z(alpha).

    Two learnable scalars (shared by all pixels and channels), as in Barron's
    AdaptiveLossFunction: alpha = lo + (hi - lo) * sigmoid(alpha_latent) with (lo, hi) =
    (0.001, 1.999), and c = scale_lo + softplus(scale_latent). Put this module's parameters in
    the optimiser. The value is a log-likelihood, so it can be negative (log c < 0).
    """

    def __init__(self, alpha_init: float = 1.0, scale_init: float = 0.01,
                 alpha_lo: float = 0.001, alpha_hi: float = 1.999, scale_lo: float = 1e-5):
        super().__init__()
        if not 0.0 <= alpha_lo < alpha_init < alpha_hi <= 2.0:
            raise ValueError(f"barron_adaptive: need 0 <= alpha_lo < alpha_init < alpha_hi <= 2, "
                             f"got {alpha_lo}, {alpha_init}, {alpha_hi}")
        if not scale_init > scale_lo > 0:
            raise ValueError(f"barron_adaptive: need scale_init > scale_lo > 0, "
                             f"got {scale_init}, {scale_lo}")
        self.alpha_lo, self.alpha_hi, self.scale_lo = alpha_lo, alpha_hi, scale_lo
        frac = (alpha_init - alpha_lo) / (alpha_hi - alpha_lo)
        self.alpha_latent = nn.Parameter(torch.tensor(_logit(frac)))
        self.scale_latent = nn.Parameter(torch.tensor(_softplus_inverse(scale_init - scale_lo)))
        logz, dlogz = logz_table_tensors()
        self.register_buffer("logz", logz, persistent=False)  # follows .to(device): no H2D copies
        self.register_buffer("dlogz", dlogz, persistent=False)

    @property
    def alpha(self) -> torch.Tensor:
        return self.alpha_lo + (self.alpha_hi - self.alpha_lo) * torch.sigmoid(self.alpha_latent)

    @property
    def scale(self) -> torch.Tensor:
        return self.scale_lo + F.softplus(self.scale_latent)

    def forward(self, pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        # computed in the parameters' dtype (float32) even if pred is bf16 under autocast
        x = (pred - target).to(self.alpha_latent.dtype)
        alpha, scale = self.alpha, self.scale
        log_z = log_partition(alpha, (self.logz, self.dlogz))
        return barron_rho(x, alpha, scale).mean() + torch.log(scale) + log_z
