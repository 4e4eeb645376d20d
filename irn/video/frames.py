"""Frame prediction and interpolation as invertible networks (`task=predict|interpolate`),
the research notes' layouts ("New functionality"):

  predict, frame_layout=frames:  [frame n+1][frame n]                  <-> [frame n+2][z]
  predict, frame_layout=diff:    [frame n+1][frame n+1 - frame n]      <-> [frame n+2][z]
  interpolate (diff, the notes): [frame n+2][frame n+2 - frame n]      <-> [frame n+1][z]
  interpolate, frames:           [frame n+2][frame n]                  <-> [frame n+1][z]

The network is the rescaling network's invertible core on two images: both inputs go
through IRN's Haar transform log2(scale) times (irn/haar.py; `scale` here is the wavelet
depth, which sets the couplings' receptive field and the resolution they run at, not a
rescaling), the 2 x 3s^2 bands through `blocks` couplings of the registry (irn.couplings;
x1 = the first input's 3s^2 bands, x2 = the second's, through `split_len`), and each half
back through the inverse Haar. Every coupling and subnet of the registries works here.

With default values (couplings near the identity at initialisation) the forward pass starts
near "[frame n+1][frame n] <-> [distorted frame n+1][latent]", as the notes ask: the first
prediction is the repeated last frame (interpolation: the later neighbour) and z the second
input. In the diff layouts z starts as a frame difference, small where the motion is, so the
latent's distribution term starts small.

The reverse pass from a true frame and z gives the other direction as a by-product: predict
reverses frame n+2 into frame n+1 (and frame n), interpolate reverses frame n+1 into frame
n+2 (and frame n).
"""
import math

import torch
import torch.nn as nn
from FrEIA.framework import SequenceINN

from irn.couplings import COUPLINGS, Constrained
from irn.haar import HaarDownsampling
from irn.latent import draw_latent
from irn.subnets import subnet_constructor
from irn.video.study import FRAME_LAYOUTS, FRAME_TASKS  # noqa: F401 (re-exported)

_NOMINAL = 64  # FrEIA's shape inference only; real inputs may be any size the scale divides


class FrameNetwork(Constrained):
    """forward(a, b) -> ((target, z), log_det); rev=True: (target, z) -> ((a, b), log_det).
    a, b, target, z: N x 3 x H x W; H and W divisible by `scale`."""

    def __init__(self, scale, coupling, blocks, subnet, gc):
        super().__init__()
        self.scale = scale
        self.band_channels = 3 * scale ** 2
        self.haar = SequenceINN(3, _NOMINAL, _NOMINAL)
        for _ in range(int(math.log2(scale))):
            self.haar.append(HaarDownsampling)
        size = _NOMINAL // scale
        self.blocks = SequenceINN(2 * self.band_channels, size, size)
        ctor = subnet_constructor(subnet, gc)
        for _ in range(blocks):
            self.blocks.append(COUPLINGS[coupling], subnet_constructor=ctor,
                               split_len=self.band_channels)

    def forward(self, a, b, rev=False, jac=True):
        self._check(a, b)
        bands_a, j_a = self.haar(a, jac=jac)
        bands_b, j_b = self.haar(b, jac=jac)
        h, j = self.blocks(torch.cat([bands_a, bands_b], 1).contiguous(), rev=rev, jac=jac)
        first, second = h.split([self.band_channels, self.band_channels], dim=1)
        out_a, j_oa = self.haar(first, rev=True, jac=jac)
        out_b, j_ob = self.haar(second, rev=True, jac=jac)
        return (out_a, out_b), j_a + j_b + j + j_oa + j_ob

    def _check(self, a, b):
        if a.ndim != 4 or a.shape[1] != 3 or a.shape != b.shape:
            raise ValueError(f"expected two N x 3 x H x W batches of one shape, got "
                             f"{tuple(a.shape)} and {tuple(b.shape)}")
        h, w = a.shape[-2:]
        if h % self.scale or w % self.scale:
            raise ValueError(f"frame size {w}x{h} is not divisible by the scale {self.scale}")


def build_frame_model(scale=2, coupling="enhanced", blocks=8, subnet="dense", gc=32,
                      multiscale_depth=0, split_ratio=0.5, architecture="joint") -> FrameNetwork:
    """The frame network from the config's architecture keywords (irn.config arch()); there
    is no multiscale or levels variant."""
    from irn.model import check_architecture
    check_architecture(scale, coupling, blocks, subnet, gc, multiscale_depth, split_ratio,
                       architecture)
    if multiscale_depth or architecture != "joint":
        raise ValueError("the frame tasks have no multiscale or levels variant")
    return FrameNetwork(scale, coupling, blocks, subnet, gc)


# -- the layouts: which frames go in, which comes out ------------------------------------------
def split_triple(x: torch.Tensor):
    """N x 9 x H x W (frames n, n+1, n+2 stacked on channels) -> the three N x 3 x H x W."""
    return x[:, 0:3], x[:, 3:6], x[:, 6:9]


def net_inputs(task: str, layout: str, f0, f1, f2):
    """(a, b, target): the forward pass's two inputs and the frame its output should be."""
    later, earlier, target = (f1, f0, f2) if task == "predict" else (f2, f0, f1)
    return later, (later - earlier if layout == "diff" else earlier), target


def run_forward(model, task, layout, triple):
    """(prediction, z) of one N x 9 x H x W batch of frame triples; nothing quantised."""
    a, b, _ = net_inputs(task, layout, *split_triple(triple))
    (prediction, z), _ = model(a, b, jac=False)
    return prediction, z


def run_reverse(model, layout, frame, z=None, mode="zero", temperature=1.0, generator=None):
    """The reverse pass from a true frame (N x 3 x H x W) and z (given, else drawn by `mode`):
    (the first input, the second frame) = predict: (frame n+1, frame n) from frame n+2;
    interpolate: (frame n+2, frame n) from frame n+1."""
    if z is None:
        z = draw_latent(tuple(frame.shape), frame, mode, temperature, generator)
    (a, b), _ = model(frame, z, rev=True, jac=False)
    return a, (a - b if layout == "diff" else b)
