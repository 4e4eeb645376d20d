"""Subnetworks injected into coupling blocks as `constructor(c_in, c_out)` (FrEIA contract).

Registry: SUBNETS[name](gc) -> constructor. Every subnet's last conv is zero-initialised, so
each coupling block starts as the identity (IRN's choice).
"""
import contextlib
from functools import partial

import torch
import torch.nn as nn

from irn.layout import in_layout, is_channels_last


def _xavier_scaled(convs, scale: float):
    # Official IRN `initialize_weights_xavier`: xavier_normal_, then *= scale, bias = 0.
    for conv in convs:
        nn.init.xavier_normal_(conv.weight)
        conv.weight.data *= scale
        nn.init.zeros_(conv.bias)


def _zero(conv):
    nn.init.zeros_(conv.weight)
    nn.init.zeros_(conv.bias)


class DenseBlock(nn.Module):
    """IRN's DenseBlock exactly: five 3x3 convs, growth gc, LeakyReLU(0.2) after conv1..4,
    each conv sees the input and all earlier outputs; Xavier*0.1 on conv1..4, conv5 zero.

    Without autograd (no_grad / inference_mode) a contiguous input takes `_forward_buffered`,
    a bit-identical but faster path (`DenseBlock.buffered_inference = False` turns it off).
    `DenseBlock.conv5_by_taps = True` (opt-in; bench.throughput turns it on) also runs a
    conv5 with few outputs as `conv3x3_by_taps`: faster on the CPU, equal to ~1e-6 relative.
    """

    buffered_inference = True
    conv5_by_taps = False

    def __init__(self, c_in: int, c_out: int, gc: int = 32):
        super().__init__()
        self.conv1 = nn.Conv2d(c_in, gc, 3, 1, 1)
        self.conv2 = nn.Conv2d(c_in + gc, gc, 3, 1, 1)
        self.conv3 = nn.Conv2d(c_in + 2 * gc, gc, 3, 1, 1)
        self.conv4 = nn.Conv2d(c_in + 3 * gc, gc, 3, 1, 1)
        self.conv5 = nn.Conv2d(c_in + 4 * gc, c_out, 3, 1, 1)
        self.lrelu = nn.LeakyReLU(0.2, inplace=True)
        _xavier_scaled([self.conv1, self.conv2, self.conv3, self.conv4], 0.1)
        _zero(self.conv5)

    def forward(self, x):
        if self.buffered_inference and not torch.is_grad_enabled() and x.is_contiguous():
            return self._forward_buffered(x)
        x = _as_conv_input(x)
        x1 = self.lrelu(self.conv1(x))
        x2 = self.lrelu(self.conv2(torch.cat((x, x1), 1)))
        x3 = self.lrelu(self.conv3(torch.cat((x, x1, x2), 1)))
        x4 = self.lrelu(self.conv4(torch.cat((x, x1, x2, x3), 1)))
        return self.conv5(torch.cat((x, x1, x2, x3, x4), 1))

    def _forward_buffered(self, x):
        """The same convs without the four growing torch.cat copies: one buffer
        [x | x1 | x2 | x3 | x4] is filled in place and conv k reads a prefix of it (a
        contiguous view for one NCHW image; a batch gets strided views, still correct).
        Inference only (no_grad / inference_mode): autograd cannot follow the in-place
        writes. Bit-identical to the cat path; with `conv5_by_taps`, on the CPU in fp32, a
        conv5 with few outputs (IRN: 3 or 9) runs as `conv3x3_by_taps`, equal up to float
        summation order. Measured gains: bench/THROUGHPUT.md."""
        n, c, h, w = x.shape
        gc = self.conv1.out_channels
        dtype = x.dtype
        if dtype == torch.float32 and torch.is_autocast_enabled(x.device.type):
            # autocast casts every conv input to this dtype anyway: store it that way once
            dtype = torch.get_autocast_dtype(x.device.type)
        buf = x.new_empty(n, c + 4 * gc, h, w, dtype=dtype)
        buf[:, :c] = x
        end = c
        for conv in (self.conv1, self.conv2, self.conv3, self.conv4):
            y = conv(buf[:, :end])
            slot = buf[:, end:end + gc]
            if y.dtype == dtype:  # LeakyReLU written straight into its slot
                torch.ops.aten.leaky_relu.out(y, 0.2, out=slot)
            else:
                slot.copy_(torch.nn.functional.leaky_relu(y, 0.2))
            end += gc
        if (self.conv5_by_taps and self.conv5.out_channels < 16 and buf.device.type == "cpu"
                and dtype == torch.float32):
            return conv3x3_by_taps(self.conv5, buf)
        return self.conv5(buf)


def _as_conv_input(x):
    """The dense block's input converted once, as its five convs and four cats will read it.
    Under autocast, in the autocast dtype: else the cat of the fp32 input with the bf16
    outputs would be fp32 and each conv would cast it again. Channels-last, usually a
    coupling's channel slice (strided): dense, so the cats are plain NHWC copies, ~3x faster
    than cats with a strided first input (irn/LAYOUT.md). The channel prefix of an NHWC
    buffer is not dense, so channels-last takes the cats, not _forward_buffered."""
    device = x.device.type
    if x.dtype == torch.float32 and torch.is_autocast_enabled(device):
        x = x.to(torch.get_autocast_dtype(device))
    return in_layout(x, is_channels_last(x))


def conv3x3_by_taps(conv: nn.Conv2d, x: torch.Tensor) -> torch.Tensor:
    """`conv(x)` for a 3x3 conv (stride 1, padding 1) with few output channels, computed as
    one matrix product to the 9 * c_out tap maps, then 9 shifted adds. oneDNN's CPU kernels
    block output channels by 8 or more, so a conv with 3 or 9 outputs ran at ~12 GFLOP/s
    against ~70 for the 32-output convs (2-core AVX2 CPU); as a GEMM it runs at full speed.
    Equal to conv(x) up to float summation order (~1e-6 relative)."""
    n, c, h, w = x.shape
    co = conv.out_channels
    # weight (co, c, 3, 3) -> rows ordered (ky, kx, o): tap map k holds W[:, :, ky, kx] @ x
    taps = torch.matmul(conv.weight.permute(2, 3, 0, 1).reshape(9 * co, c),
                        x.reshape(n, c, h * w)).view(n, 9, co, h, w)
    out = x.new_zeros(n, co, h, w) if conv.bias is None else \
        conv.bias.view(1, co, 1, 1).expand(n, co, h, w).contiguous()
    for ky in range(3):
        for kx in range(3):
            # out[y, x] += tap[y + ky - 1, x + kx - 1] where that lies inside the image (the
            # zero padding contributes nothing)
            y0, y1 = max(0, 1 - ky), min(h, h + 1 - ky)
            x0, x1 = max(0, 1 - kx), min(w, w + 1 - kx)
            out[:, :, y0:y1, x0:x1] += taps[:, 3 * ky + kx, :, y0 + ky - 1:y1 + ky - 1,
                                            x0 + kx - 1:x1 + kx - 1]
    return out


DENSE_PATHS = ("taps", "buffered", "cat")


@contextlib.contextmanager
def dense_path(path: str):
    """Run DenseBlocks' inference through `path` inside the block, restoring the previous
    switches after: 'cat' (torch.cat copies, as the official code), 'buffered' (bit-identical,
    the default), 'taps' (buffered + conv5 as shifted matrix products, ~1e-6 relative)."""
    if path not in DENSE_PATHS:
        raise ValueError(f"unknown dense path {path!r}; valid: {', '.join(DENSE_PATHS)}")
    previous = DenseBlock.buffered_inference, DenseBlock.conv5_by_taps
    DenseBlock.buffered_inference = path != "cat"
    DenseBlock.conv5_by_taps = path == "taps"
    try:
        yield
    finally:
        DenseBlock.buffered_inference, DenseBlock.conv5_by_taps = previous


class ResidualSubnet(nn.Module):
    """A cheaper alternative: conv in, one residual unit (conv-LReLU-conv + skip), conv out.
    About 3 convs of width gc instead of the dense block's growing 5."""

    def __init__(self, c_in: int, c_out: int, gc: int = 32):
        super().__init__()
        self.conv_in = nn.Conv2d(c_in, gc, 3, 1, 1)
        self.conv_a = nn.Conv2d(gc, gc, 3, 1, 1)
        self.conv_b = nn.Conv2d(gc, gc, 3, 1, 1)
        self.conv_out = nn.Conv2d(gc, c_out, 3, 1, 1)
        self.lrelu = nn.LeakyReLU(0.2, inplace=True)
        _xavier_scaled([self.conv_in, self.conv_a, self.conv_b], 0.1)
        _zero(self.conv_out)

    def forward(self, x):
        h = self.lrelu(self.conv_in(x))
        h = h + self.conv_b(self.lrelu(self.conv_a(h)))
        return self.conv_out(self.lrelu(h))


class ConvSubnet(nn.Module):
    """Glow's subnet shape: 3x3 conv, 1x1 conv, 3x3 conv (zero-initialised last)."""

    def __init__(self, c_in: int, c_out: int, gc: int = 32):
        super().__init__()
        self.net = nn.Sequential(
            nn.Conv2d(c_in, gc, 3, 1, 1), nn.LeakyReLU(0.2, inplace=True),
            nn.Conv2d(gc, gc, 1), nn.LeakyReLU(0.2, inplace=True),
            nn.Conv2d(gc, c_out, 3, 1, 1))
        _xavier_scaled([self.net[0], self.net[2]], 0.1)
        _zero(self.net[4])

    def forward(self, x):
        return self.net(x)


SUBNETS = {
    "dense": DenseBlock,
    "resnet": ResidualSubnet,
    "conv": ConvSubnet,
}


def subnet_constructor(name: str, gc: int):
    """FrEIA-style constructor(c_in, c_out) for the named subnet with width gc."""
    if name not in SUBNETS:
        raise ValueError(f"unknown subnet {name!r}; valid: {', '.join(sorted(SUBNETS))}")
    return partial(SUBNETS[name], gc=gc)
