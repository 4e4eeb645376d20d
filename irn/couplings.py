"""Coupling blocks by name: COUPLINGS[name](dims_in, subnet_constructor) -> FrEIA module.

Adding a coupling = one function or class with that signature + one registry line.
Blocks that split their input take the first LR_CHANNELS (3) channels as the LR branch,
as IRN does; the LR is always output channels 0..2 of the last stage. Every factory also
takes `split_len` (default LR_CHANNELS): the width of that first branch, which the
steganography network (irn/stego.py) sets to the cover's 3*s^2 Haar bands; `allinone` and
`iresnet` do not split by it and ignore it.
"""
import contextlib

import numpy as np
import torch
from FrEIA.modules import (AllInOneBlock, GLOWCouplingBlock, IResNetLayer, InvertibleModule,
                           NICECouplingBlock)

LR_CHANNELS = 3


class EnhancedCoupling(InvertibleModule):
    """IRN's InvBlockExp exactly.

    forward: y1 = x1 + F(x2);  s = clamp*(2*sigmoid(H(y1)) - 1);  y2 = x2*exp(s) + G(y1)
    reverse: s = clamp*(2*sigmoid(H(x1)) - 1);  y2 = (x2 - G(x1)) / exp(s);  y1 = x1 - F(y2)
    log|det J| = sum(s) per image (the official code sums over the batch and divides by N).
    """

    def __init__(self, dims_in, dims_c=None, subnet_constructor=None, clamp: float = 1.0,
                 split_len: int = LR_CHANNELS):
        super().__init__(dims_in, dims_c)
        channels = dims_in[0][0]
        self.split_len1, self.split_len2 = split_len, channels - split_len
        self.clamp = clamp
        # Attribute names F, G, H match the official checkpoint keys.
        self.F = subnet_constructor(self.split_len2, self.split_len1)
        self.G = subnet_constructor(self.split_len1, self.split_len2)
        self.H = subnet_constructor(self.split_len1, self.split_len2)

    def _scale(self, y1):
        return self.clamp * (torch.sigmoid(self.H(y1)) * 2 - 1)

    def forward(self, x, c=None, rev=False, jac=True):
        x1, x2 = x[0].split([self.split_len1, self.split_len2], dim=1)
        if not rev:
            y1 = x1 + self.F(x2)
            s = self._scale(y1)
            y2 = x2 * torch.exp(s) + self.G(y1)
            log_det = s.sum(dim=(1, 2, 3))
        else:
            s = self._scale(x1)
            y2 = (x2 - self.G(x1)) / torch.exp(s)
            y1 = x1 - self.F(y2)
            log_det = -s.sum(dim=(1, 2, 3))
        return (torch.cat((y1, y2), 1),), log_det

    def output_dims(self, input_dims):
        return input_dims


def affine(dims_in, subnet_constructor, split_len: int = LR_CHANNELS):
    """GLOW-style affine coupling on both halves (FrEIA), LR branch = first 3 channels."""
    return GLOWCouplingBlock(dims_in, subnet_constructor=subnet_constructor, clamp=2.0,
                             split_len=split_len)


def additive(dims_in, subnet_constructor, split_len: int = LR_CHANNELS):
    """NICE-style additive coupling (volume preserving: log-det 0), LR branch first."""
    return NICECouplingBlock(dims_in, subnet_constructor=subnet_constructor,
                             split_len=split_len)


def allinone(dims_in, subnet_constructor, split_len: int = LR_CHANNELS):
    """FrEIA's AllInOneBlock with its soft (random rotation) permutation and ActNorm.

    FrEIA 0.2 splits half/half regardless of the LR branch, and draws the permutation from
    NumPy's global RNG; we seed that draw from torch's RNG (so torch.manual_seed makes the
    model reproducible) and restore NumPy's state afterwards. The permutation is stored in
    the state dict, so checkpoints carry it.
    """
    seed = int(torch.randint(0, 2**31 - 1, (1,)).item())
    state = np.random.get_state()
    np.random.seed(seed)
    try:
        return AllInOneBlock(dims_in, subnet_constructor=subnet_constructor,
                             affine_clamping=2.0, permute_soft=True)
    finally:
        np.random.set_state(state)


class Constrained(torch.nn.Module):
    """A network of couplings whose constraints an optimiser step can break: `constrain()`
    re-applies them (i-ResNet's Lipschitz bound, IResNetCoupling.lipschitz_correction). The
    rescaling, stego and frame networks inherit it; the trainer calls it after every step."""

    def constrain(self):
        for m in self.modules():
            if hasattr(m, "lipschitz_correction"):
                m.lipschitz_correction()


class IResNetCoupling(IResNetLayer):
    """FrEIA's invertible residual layer (i-ResNet, Behrmann et al. 2019): y = x + g(x), with
    g's spectral norm kept below 0.8 per layer, so g is a contraction (Lip <= 0.8^3 = 0.51)
    and the reverse is a fixed-point iteration x <- y - g(x).

    Reverse accuracy and cost: FIXED_POINT_ITERATIONS (50) evaluations of g per layer, so the
    reverse costs about 50x the forward; the error shrinks by Lip(g) per iteration, so after
    50 it is at float precision (tests/test_model.py checks the round trip to within 1e-3).
    The constraint only holds if `lipschitz_correction()` runs after every optimiser step
    (`model.constrain()` does it). The subnet name is not used: g is conv3x3-ELU-conv3x3-ELU-
    conv3x3 of width max(gc, 2C). The log-det is FrEIA's Hutchinson power-series estimate
    (20 terms, seeded so forward and reverse agree); it is not differentiable and costs 20
    backward passes, so it is only computed when asked for (jac=True).
    Works around two FrEIA 0.2 bugs: the caller's input never gets requires_grad set, and
    jac=False returns zeros instead of None.
    """

    FIXED_POINT_ITERATIONS = 50

    def __init__(self, dims_in, subnet_constructor=None, gc: int = 32):
        super().__init__(dims_in, internal_size=max(gc, 2 * dims_in[0][0]), n_internal_layers=1,
                         fixed_point_iterations=self.FIXED_POINT_ITERATIONS,
                         spectral_norm_max=0.8)
        self.lipschitz_correction()

    def lipschitz_correction(self):
        """FrEIA's power-method rescale of each conv to spectral norm <= 0.8, run on NCHW
        copies of the weights (its `.view` refuses a channels-last model's conv outputs) and
        written back into the weights' own layout."""
        with _nchw_weights(self, write_back=True):
            super().lipschitz_correction()

    def _log_det(self, point):
        with torch.enable_grad(), torch.random.fork_rng(devices=[]), _nchw_weights(self):
            torch.manual_seed(0)  # same Hutchinson probe vectors forward and reverse
            probe = point.detach().contiguous().requires_grad_(True)
            return self._jacobian([probe]).detach()

    def forward(self, x, c=None, rev=False, jac=True):
        y = x[0]
        if not rev:
            out = y + self.residual(y)
            log_det = self._log_det(y) if jac else y.new_zeros(y.shape[0])
        else:
            with torch.no_grad():
                x_hat = y
                for _ in range(self.fixed_point_iterations):
                    x_hat = y - self.residual(x_hat)
            out = y - self.residual(x_hat)  # one differentiable step, as FrEIA does
            log_det = -self._log_det(out) if jac else y.new_zeros(y.shape[0])
        return (out,), log_det


@contextlib.contextmanager
def _nchw_weights(module, write_back: bool = False):
    """`module`'s conv weights NCHW for the block's duration. FrEIA 0.2's log-det estimator
    and its Lipschitz correction `.view` conv outputs flat, which a channels-last model's
    outputs refuse; neither is differentiated, so swapping `.data` is safe. write_back: copy
    what the block wrote into the NCHW weights back into the original (layout kept)."""
    saved = [(p, p.data) for p in module.parameters() if p.ndim == 4]
    for p, data in saved:
        p.data = data.contiguous()
    try:
        yield
    finally:
        for p, data in saved:
            if write_back and p.data is not data:  # an NCHW model's weights were not copied
                data.copy_(p.data)
            p.data = data


def iresnet(dims_in, subnet_constructor, split_len: int = LR_CHANNELS):
    """No split: `split_len` is ignored."""
    gc = getattr(subnet_constructor, "keywords", {}).get("gc", 32)
    return IResNetCoupling(dims_in, gc=gc)


def enhanced(dims_in, subnet_constructor, split_len: int = LR_CHANNELS):
    return EnhancedCoupling(dims_in, subnet_constructor=subnet_constructor, clamp=1.0,
                            split_len=split_len)


COUPLINGS = {
    "enhanced": enhanced,
    "affine": affine,
    "additive": additive,
    "allinone": allinone,
    "iresnet": iresnet,
}
