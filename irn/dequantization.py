"""How the reverse pass sees the 8-bit LR in training: config key `quantization`.

  ste          the rounded LR, identity gradient (the official IRN; irn.quantization).
  uniform      the rounded LR plus u/255, u ~ U(-1/2, 1/2) per element: uniform
               dequantization (Theis et al. 2016, "A note on the evaluation of generative
               models", sec. 3.1; Ho et al. 2019, Flow++, sec. 3.1). The rounding keeps its
               straight-through gradient under the noise: the noise does not depend on the
               LR, so d(LR_in)/d(LR) = 1 exactly as with `ste` (without it the rounding
               would pass no gradient and the forward pass would learn from the guide alone).
  variational  the rounded LR plus (u - 1/2)/255, u ~ q(u | LR_q) in (0, 1)^D, a conditional
               flow trained with the model (Flow++ sec. 3.1; SurVAE Flows, Nielsen et al.
               2020, sec. 4: dequantization as a stochastic surjection). Same gradient rule.
The noise is added before the JPEG simulation (jpeg_train) and only where the reverse pass
needs the LR (lambda_recon > 0). Evaluation never adds noise: it upscales the real uint8
LR, so psnr_y measures what the training change buys.

The variational term. For a density p on the dequantized values the bound is
    log P(x) >= E_q[log p(x + u) - log q(u | x)]                       (Jensen)
so its loss is E_q[-log p(x + u)] + E_q[log q(u | x)]. IRN has no density on the LR (its
distribution term models z, not the LR), so only the second part exists here, and since the
uniform density is 1 on the unit cube it is E_q[log q(u | x)] = KL(q(. | x) || U(0, 1)^D) >= 0,
zero exactly for uniform dequantization. `loss/dequant` = lambda_dequant * that KL (nats,
summed over the LR elements, averaged over the batch, as the other terms) is therefore a
regulariser: it holds q near uniform noise while the reconstruction term, through the
reparameterised sample, pulls q toward the noise the reverse pass copes with best (q sees
only the rounded LR). It is minus q's entropy: the sign that keeps it bounded below; the
opposite sign (minimising -log q) would reward collapsing q to a point. `dequant_bpd` is the
same KL in bits per LR element, estimated on the validation LRs with one seeded draw.

The flow: eps ~ N(0, I) -> two FrEIA GLOW affine couplings over the 3 channels (splits 1|2
then 2|1, so each channel is transformed twice), each conditioned on h(LR_q), a small conv
net -> u = sigmoid(1.702 v). Zero-initialised coupling outputs make the flow start as
sigmoid(1.702 eps), the logistic approximation of the Gaussian CDF: q starts close to
uniform (KL 0.010 nats, 0.014 bits, per element).
"""
import math

import torch
from FrEIA.framework import SequenceINN
from FrEIA.modules import GLOWCouplingBlock, InvertibleModule
from torch import nn
from torch.nn import functional as F

QUANTIZATIONS = ("ste", "uniform", "variational")
LOGISTIC_GAUSSIAN = 1.702  # sigmoid(1.702 x) ~ Phi(x) within 0.01 (Bowling et al. 2009)


def uniform_noise(like: torch.Tensor, generator=None) -> torch.Tensor:
    """u/255, u ~ U(-1/2, 1/2) per element: one 8-bit level of uniform dequantization."""
    u = torch.rand(like.shape, generator=generator, device=like.device, dtype=like.dtype)
    return (u - 0.5) / 255


class ScaledSigmoid(InvertibleModule):
    """u = sigmoid(k v) element-wise; log|det| = sum(log k + log sigmoid(kv) + log sigmoid(-kv))
    (FrEIA's InvertibleSigmoid sums its log-det over dim 1 only and overflows in exp)."""

    def __init__(self, dims_in, dims_c=None, k: float = LOGISTIC_GAUSSIAN):
        super().__init__(dims_in, dims_c)
        self.k = k

    def forward(self, x, c=None, rev=False, jac=True):
        x = x[0]
        kv = self.k * x if not rev else torch.logit(x)
        out = torch.sigmoid(kv) if not rev else kv / self.k
        log_det = (math.log(self.k) + F.logsigmoid(kv) + F.logsigmoid(-kv)).flatten(1).sum(1)
        return (out,), (-log_det if rev else log_det)

    def output_dims(self, input_dims):
        return input_dims


def _conv_net(c_in: int, c_out: int, hidden: int, zero_last: bool) -> nn.Sequential:
    net = nn.Sequential(nn.Conv2d(c_in, hidden, 3, padding=1), nn.ReLU(),
                        nn.Conv2d(hidden, c_out, 3, padding=1))
    if zero_last:
        nn.init.zeros_(net[-1].weight)
        nn.init.zeros_(net[-1].bias)
    return net


class DequantizationFlow(nn.Module):
    """q(u | x_q) on (0, 1)^(C x h x w). `forward(eps, x_q)` -> (u, log|det du/deps|) per
    image; `forward(u, x_q, rev=True)` -> (eps, log|det deps/du|); `sample(x_q)` -> (u, log q)
    with log q(u | x_q) = log N(eps; 0, I) - log|det du/deps|, both summed per image. The
    condition x_q is data: no gradient flows back into it."""

    def __init__(self, channels: int = 3, hidden: int = 16, cond_channels: int = 8,
                 blocks: int = 2, clamp: float = 2.0):
        super().__init__()
        self.condition = _conv_net(channels, cond_channels, hidden, zero_last=False)
        self.flow = SequenceINN(channels, 1, 1)  # nominal size: every layer is convolutional
        for i in range(blocks):
            self.flow.append(GLOWCouplingBlock, cond=0, cond_shape=(cond_channels, 1, 1),
                             split_len=1 + i % 2, clamp=clamp,
                             subnet_constructor=lambda c_in, c_out: _conv_net(
                                 c_in, c_out, hidden, zero_last=True))
        self.flow.append(ScaledSigmoid)

    def forward(self, x, x_q, rev=False):
        cond = self.condition(x_q.detach() * 2 - 1)
        out, log_det = self.flow(x, c=[cond], rev=rev)
        return out, log_det

    def sample(self, x_q, generator=None) -> tuple[torch.Tensor, torch.Tensor]:
        eps = torch.randn(x_q.shape, generator=generator, device=x_q.device, dtype=x_q.dtype)
        u, log_det = self(eps, x_q)
        log_normal = -0.5 * (eps.square() + math.log(2 * math.pi))
        return u, log_normal.flatten(1).sum(1) - log_det

    def noise(self, x_q, generator=None) -> tuple[torch.Tensor, torch.Tensor]:
        """((u - 1/2)/255, KL estimate log q(u | x_q) per image): the dequantization noise."""
        u, log_q = self.sample(x_q, generator)
        return (u - 0.5) / 255, log_q

    @torch.no_grad()
    def bits_per_dim(self, x_q, generator=None) -> torch.Tensor:
        """KL(q || uniform) per element in bits, one draw per image: the `dequant_bpd` metric."""
        _, log_q = self.sample(x_q, generator)
        return log_q / (x_q[0].numel() * math.log(2))
