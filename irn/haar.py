"""IRN's Haar transform as a FrEIA invertible module.

Exactly the official release's definition: four fixed 2x2 kernels per channel, stride 2,
**divided by 4** (so the low band is the 2x2 mean, not the orthonormal Haar), output channel
order = all C low bands, then the C vertical, C horizontal and C diagonal bands.
Unlike FrEIA 0.2's HaarDownsampling, nothing here touches the caller's tensor in place.
"""
import math

import torch
import torch.nn.functional as F
from FrEIA.modules import InvertibleModule


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
