"""IRN model assembly: stages of (Haar transform + coupling blocks), built with FrEIA.

One stage per factor of 2 (x2: 1, x4: 2, x8: 3). With `multiscale_depth = d`, the first d
stages each split part of their high-frequency channels straight to the latent after their
blocks (RealNVP/Glow multiscale), so later stages work on fewer channels. The LR branch
(channels 0..2) is never split off. The raw output is always ONE tensor of 3*scale^2
channels at 1/scale resolution: [last stage's output | split-off latents, pixel-unshuffled
to the final resolution] -- so `out[:, :3]` is the LR and `out[:, 3:]` is z, whatever the
depth. Pixel (un)shuffle is a permutation: exact, log-det 0.
"""
import math

import torch
import torch.nn as nn
import torch.nn.functional as F
from FrEIA.framework import SequenceINN

from irn.config_fields import default
from irn.couplings import COUPLINGS, LR_CHANNELS, Constrained
from irn.haar import HaarDownsampling
from irn.latent import draw_latent
from irn.memory import run_stage
from irn.layout import in_layout, is_channels_last
from irn.quantization import quantize
from irn.subnets import SUBNETS, subnet_constructor

SCALES = (2, 4, 8)
# Nominal spatial size used only for FrEIA's shape inference; real inputs may be any size
# divisible by the scale.
_NOMINAL = 64


def stage_channels(scale: int, multiscale_depth: int, split_ratio: float):
    """Per stage: (channels after Haar, channels split off after the blocks)."""
    n_stages = int(math.log2(scale))
    plan, ch = [], 3
    for i in range(n_stages):
        ch *= 4
        split = 0
        if i < multiscale_depth:
            split = int(math.floor((ch - LR_CHANNELS) * split_ratio + 0.5))
            split = min(max(split, 0), ch - LR_CHANNELS)
        plan.append((ch, split))
        ch -= split
    return plan


class InvertibleRescaler(Constrained):
    """forward(x, rev=False) -> (out, log_det); downscale(hr); upscale(lr, z, mode)."""

    def __init__(self, scale, coupling, blocks, subnet, gc, multiscale_depth, split_ratio,
                 architecture="joint"):
        super().__init__()
        check_architecture(scale, coupling, blocks, subnet, gc, multiscale_depth, split_ratio,
                           architecture)
        self.scale, self.coupling_name, self.architecture = scale, coupling, architecture
        if architecture == "levels":
            # a cascade of x2 levels (irn/levels.py): every stage but the last splits off all
            # of its high-frequency channels, so stage k is exactly a x2 network on the LR
            # of stage k-1 and level k's weights load into it unchanged
            multiscale_depth, split_ratio = int(math.log2(scale)) - 1, 1.0
        self.plan = stage_channels(scale, multiscale_depth, split_ratio)
        make_block = COUPLINGS[coupling]
        ctor = subnet_constructor(subnet, gc)
        self.stages = nn.ModuleList()
        ch, size = 3, _NOMINAL
        for stage_ch, split in self.plan:
            stage = SequenceINN(ch, size, size)
            stage.append(HaarDownsampling)
            for _ in range(blocks):
                stage.append(make_block, subnet_constructor=ctor)
            self.stages.append(stage)
            ch, size = stage_ch - split, size // 2
        # what training keeps for backward (irn/memory.py); not an architecture key: the
        # weights and every output are the same in every mode
        self.memory = "store"

    # -- raw invertible map ---------------------------------------------------------------
    def forward(self, x, rev=False, jac=True):
        """Forward: HR (N,3,H,W) -> (out (N, 3*s^2, H/s, W/s), log_det (N,)).
        Reverse: out -> HR. `jac=False` skips log-det work (matters for iresnet).
        A channels-last model (`.to(memory_format=torch.channels_last)`) runs channels-last
        whatever the input's layout: callers build inputs NCHW (cat with a drawn z), and
        one NCHW tensor would make every conv after it convert (irn/LAYOUT.md)."""
        channels_last = self.channels_last()
        x = in_layout(x, channels_last)
        return (self._reverse(x, jac, channels_last) if rev else
                self._forward(x, jac, channels_last))

    def _forward(self, x, jac, channels_last):
        self._check_hr(x)
        h, log_det, latents = x, x.new_zeros(x.shape[0]), []
        for stage, (stage_ch, split) in zip(self.stages, self.plan):
            h, j = self._stage(stage, h, False, jac)
            log_det = log_det + j
            if split:
                h, off = h.split([stage_ch - split, split], dim=1)
                latents.append(off)
        # Latent split off at stage i has 2^(n-1-i) times the final resolution.
        n = len(self.stages)
        parts = [h] + [F.pixel_unshuffle(z, 2 ** (n - 1 - i)) if n - 1 - i else z
                       for i, z in zip(self._split_stages(), latents)]
        # pixel (un)shuffle returns NCHW
        return in_layout(torch.cat(parts, 1), channels_last), log_det

    def _reverse(self, y, jac, channels_last):
        expected = 3 * self.scale ** 2
        if y.ndim != 4 or y.shape[1] != expected:
            raise ValueError(f"reverse input must be N x {expected} x h x w, got {tuple(y.shape)}")
        n = len(self.stages)
        split_stages = self._split_stages()
        widths = [self.plan[-1][0] - self.plan[-1][1]]
        widths += [self.plan[i][1] * 4 ** (n - 1 - i) for i in split_stages]
        h, *latents = y.split(widths, dim=1)
        latents = {i: F.pixel_shuffle(z, 2 ** (n - 1 - i)) if n - 1 - i else z
                   for i, z in zip(split_stages, latents)}
        log_det = y.new_zeros(y.shape[0])
        for i in reversed(range(n)):
            if i in latents:
                h = in_layout(torch.cat([h, latents[i]], 1), channels_last)
            h, j = self._stage(self.stages[i], h, True, jac)
            log_det = log_det + j
        return h, log_det

    def _stage(self, stage, h, rev, jac):
        """One stage, under the memory mode when gradients are taken and no log-det is
        asked for (training); otherwise as FrEIA runs it."""
        if self.memory == "store" or jac or not torch.is_grad_enabled():
            return stage(h, rev=rev, jac=jac)
        return run_stage(stage, h, rev, self.memory), h.new_zeros(h.shape[0])

    def channels_last(self) -> bool:
        """Whether the convolution weights are laid out channels-last (the first weight whose
        layout tells: a 1x1 kernel, like AllInOne's rotation, is both layouts at once)."""
        weight = next((p for p in self.parameters() if p.ndim == 4 and p.shape[1] > 1
                       and p.shape[2] * p.shape[3] > 1), None)
        return weight is not None and is_channels_last(weight)

    def _split_stages(self):
        return [i for i, (_, split) in enumerate(self.plan) if split]

    def _check_hr(self, x):
        if x.ndim != 4 or x.shape[1] != 3:
            raise ValueError(f"expected an N x 3 x H x W image batch, got {tuple(x.shape)}")
        h, w = x.shape[-2:]
        if h % self.scale or w % self.scale:
            raise ValueError(f"image size {w}x{h} is not divisible by the scale {self.scale}; "
                             "crop or pad it (irn.rescale pads by reflection)")

    # -- the rescaling API ----------------------------------------------------------------
    def downscale(self, hr):
        """HR (N,3,H,W) in [0,1] -> LR (N,3,H/s,W/s), quantised to 8 bits."""
        out, _ = self.forward(hr, jac=False)
        return quantize(out[:, :LR_CHANNELS])

    def latent_shape(self, lr):
        n, _, h, w = lr.shape
        return (n, 3 * self.scale ** 2 - LR_CHANNELS, h, w)

    def upscale(self, lr, z=None, mode="gaussian", temperature=1.0, generator=None):
        """LR (N,3,h,w) -> HR (N,3,h*s,w*s), not clamped. z: given, or drawn by `mode`:
        'gaussian' (N(0, temperature^2)) or 'zero'."""
        if z is None:
            z = draw_latent(self.latent_shape(lr), lr, mode, temperature, generator)
        out, _ = self.forward(torch.cat([lr, z], 1), rev=True, jac=False)
        return out[:, :3]

    def operations(self):
        """The modules in the official release's order: Haar, blocks, Haar, blocks, ..."""
        return [op for stage in self.stages for op in stage.module_list]


ARCHITECTURES = ("joint", "levels")


def check_architecture(scale, coupling, blocks, subnet, gc, multiscale_depth, split_ratio,
                       architecture="joint"):
    if scale not in SCALES:
        raise ValueError(f"scale must be one of {SCALES}, got {scale!r}")
    if architecture not in ARCHITECTURES:
        raise ValueError(f"architecture must be one of {', '.join(ARCHITECTURES)}, "
                         f"got {architecture!r}")
    if architecture == "levels" and scale < 4:
        raise ValueError(f"architecture=levels cascades x2 levels: it needs scale 4 or 8, got "
                         f"scale {scale} (one level is the joint x2 network)")
    if architecture == "levels" and multiscale_depth:
        raise ValueError("architecture=levels splits every level's high frequencies off "
                         "already: leave multiscale_depth at 0")
    if coupling not in COUPLINGS:
        raise ValueError(f"unknown coupling {coupling!r}; valid: {', '.join(COUPLINGS)}")
    if subnet not in SUBNETS:
        raise ValueError(f"unknown subnet {subnet!r}; valid: {', '.join(SUBNETS)}")
    if not (isinstance(blocks, int) and blocks >= 1):
        raise ValueError(f"blocks must be a positive integer, got {blocks!r}")
    if not (isinstance(gc, int) and gc >= 1):
        raise ValueError(f"gc must be a positive integer, got {gc!r}")
    max_depth = int(math.log2(scale)) - 1
    if not (isinstance(multiscale_depth, int) and 0 <= multiscale_depth <= max_depth):
        raise ValueError(f"multiscale_depth must be 0..{max_depth} at scale {scale} "
                         f"(the last stage never splits), got {multiscale_depth!r}")
    if not 0.0 <= split_ratio < 1.0:
        raise ValueError(f"split_ratio must be in [0, 1), got {split_ratio!r}")


def build_model(scale=default("scale"), coupling=default("coupling"), blocks=default("blocks"),
                subnet=default("subnet"), gc=default("gc"),
                multiscale_depth=default("multiscale_depth"),
                split_ratio=default("split_ratio"),
                architecture=default("architecture")) -> InvertibleRescaler:
    """Build an IRN-family model; keyword names and defaults are the config's (irn.config),
    whose arch() passes exactly these keywords."""
    return InvertibleRescaler(scale=scale, coupling=coupling, blocks=blocks, subnet=subnet,
                              gc=gc, multiscale_depth=multiscale_depth, split_ratio=split_ratio,
                              architecture=architecture)


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters() if p.requires_grad)
