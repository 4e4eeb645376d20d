"""IRN's Haar transform as a FrEIA invertible module.

Exactly the official release's definition: four fixed 2x2 kernels per channel, stride 2,
**divided by 4** (so the low band is the 2x2 mean, not the orthonormal Haar), output channel
order = all C low bands, then the C vertical, C horizontal and C diagonal bands.
Unlike FrEIA 0.2's HaarDownsampling, nothing here touches the caller's tensor in place.

A channels-last input (torch.channels_last) takes a butterfly of adds instead of the grouped
convolution, and its output is channels-last too: the conv path's reshapes would return an
NCHW tensor, and every later conv of a channels-last model would convert its input back
(measured: irn/LAYOUT.md). The two paths agree to float rounding (the butterfly sums the
four pixels in another order). Under autocast both run in the input's dtype (fp32): the
bands carry the LR and z, which bf16 would round coarser than the LR's 8-bit steps.
"""
import math

import torch
import torch.nn.functional as F
from FrEIA.modules import InvertibleModule

from irn.layout import is_channels_last


def haar_kernels(channels: int) -> torch.Tensor:
    """The official `haar_weights`: shape (4C, 1, 2, 2), kernels repeated per channel."""
    k = torch.ones(4, 1, 2, 2)
    k[1, 0, 0, 1] = k[1, 0, 1, 1] = -1  # [[1,-1],[1,-1]]  vertical edges
    k[2, 0, 1, 0] = k[2, 0, 1, 1] = -1  # [[1,1],[-1,-1]]  horizontal edges
    k[3, 0, 1, 0] = k[3, 0, 0, 1] = -1  # [[1,-1],[-1,1]]  diagonal
    return torch.cat([k] * channels, 0)


class HaarDownsampling(InvertibleModule):
    """(N, C, H, W) -> (N, 4C, H/2, W/2). log|det J| = C*H*W/4 * log(1/16) per image."""

    def __init__(self, dims_in, dims_c=None):
        super().__init__(dims_in, dims_c)
        self.channels = dims_in[0][0]
        # A buffer, not a parameter: it is fixed, but stored in the state dict under the
        # official key name (`haar_weights`) so released checkpoints line up.
        self.register_buffer("haar_weights", haar_kernels(self.channels))

    def forward(self, x, c=None, rev=False, jac=True):
        x = x[0]
        n, ch, h, w = x.shape
        expected = self.channels * (4 if rev else 1)
        if ch != expected:
            raise ValueError(f"Haar transform expects {expected} channels here, got {ch}")
        if not rev:
            if h % 2 or w % 2:
                raise ValueError(f"Haar transform needs even height and width, got {h}x{w}")
        if is_channels_last(x):
            out = haar_nhwc(x) if not rev else inverse_haar_nhwc(x, self.channels)
            sign = -1.0 if rev else 1.0
        elif torch.is_autocast_enabled(x.device.type):
            # in the input's dtype, not autocast's: in bf16 the bands (and so the LR and z)
            # would carry ~3 significant digits, coarser than the LR's 8-bit steps
            with torch.autocast(x.device.type, enabled=False):
                return self.forward([x], c, rev, jac)
        elif not rev:
            out = F.conv2d(x, self.haar_weights, stride=2, groups=ch) / 4.0
            # conv output is grouped per input channel (c0: 4 bands, c1: 4 bands, ...);
            # reorder to band-major: all low bands first, as the official code does.
            out = out.reshape(n, ch, 4, h // 2, w // 2).transpose(1, 2)
            out = out.reshape(n, 4 * ch, h // 2, w // 2)
            sign = 1.0
        else:
            c = self.channels
            out = x.reshape(n, 4, c, h, w).transpose(1, 2).reshape(n, 4 * c, h, w)
            # The kernels K satisfy K K^T = 4 I per 2x2 block, so the inverse of K/4 is K^T:
            # a transposed convolution with the same weights and no rescaling.
            out = F.conv_transpose2d(out, self.haar_weights, stride=2, groups=c)
            sign = -1.0
        elements = x[0].numel()  # C*H*W of the input, = (4C)*(H/2)*(W/2) in reverse
        log_det = sign * elements / 4 * math.log(1 / 16)
        return (out,), torch.full((n,), log_det, dtype=x.dtype, device=x.device)

    def output_dims(self, input_dims):
        c, h, w = input_dims[0]
        return [(4 * c, h // 2, w // 2)]


def haar_nhwc(x: torch.Tensor) -> torch.Tensor:
    """The forward transform of a channels-last (N, C, H, W) tensor, channels-last out.
    Per 2x2 block [[p, q], [r, s]]: low (p+q+r+s)/4, vertical (p-q+r-s)/4, horizontal
    (p+q-r-s)/4, diagonal (p-q-r+s)/4 (the kernels of haar_kernels), band-major."""
    n, c, h, w = x.shape
    x = x.contiguous(memory_format=torch.channels_last)  # a channel slice: one copy
    blocks = x.permute(0, 2, 3, 1).view(n, h // 2, 2, w // 2, 2, c)
    p, q = blocks[:, :, 0, :, 0], blocks[:, :, 0, :, 1]
    r, s = blocks[:, :, 1, :, 0], blocks[:, :, 1, :, 1]
    top_sum, top_diff, bottom_sum, bottom_diff = p + q, p - q, r + s, r - s
    bands = torch.stack((top_sum + bottom_sum, top_diff + bottom_diff,
                         top_sum - bottom_sum, top_diff - bottom_diff), dim=3) * 0.25
    return bands.view(n, h // 2, w // 2, 4 * c).permute(0, 3, 1, 2)


def inverse_haar_nhwc(y: torch.Tensor, channels: int) -> torch.Tensor:
    """The reverse transform of a channels-last (N, 4C, h, w) tensor, channels-last out:
    p = L+V+H+D, q = L-V+H-D, r = L+V-H-D, s = L-V-H+D (the transposed kernels, unscaled)."""
    n, _, h, w = y.shape
    y = y.contiguous(memory_format=torch.channels_last)
    bands = y.permute(0, 2, 3, 1).view(n, h, w, 4, channels)
    low, vertical, horizontal, diagonal = bands.unbind(3)
    low_sum, low_diff = low + horizontal, low - horizontal
    edge_sum, edge_diff = vertical + diagonal, vertical - diagonal
    top = torch.stack((low_sum + edge_sum, low_sum - edge_sum), dim=3)  # p, q
    bottom = torch.stack((low_diff + edge_diff, low_diff - edge_diff), dim=3)  # r, s
    pixels = torch.stack((top, bottom), dim=2)  # (n, h, 2, w, 2, C)
    return pixels.view(n, 2 * h, 2 * w, channels).permute(0, 3, 1, 2)
