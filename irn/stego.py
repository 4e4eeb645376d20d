"""Steganography on the rescaling network's invertible core (`task=stego`).

An LR-sized secret (3 x H/s x W/s) is hidden in an HR cover (3 x H x W), in the manner of the
invertible hiding networks: HiNet (Jing et al., ICCV 2021, its method: a DWT, then affine
coupling blocks between the cover's and the secret's branches, an inverse DWT) and Lu et al.,
"Large-capacity image steganography based on invertible neural networks" (CVPR 2021).
Here the DWT is IRN's Haar transform (irn/haar.py), applied k = log2(s) times to the cover
only, so the secret enters at its own resolution:

    forward:  Haar^k(cover) (3s^2 ch, H/s) | secret (3 ch)  -> blocks ->  y1 (3s^2) | y2 (3)
              stego = Haar^-k(y1) (3 x H x W),   z = y2 (3 x H/s x W/s, the lost information)
    reverse:  Haar^k(stego) | z  -> blocks reversed ->  Haar^-k(cover') , secret'

Every step is exactly invertible (Haar, couplings; the blocks split x1 = the cover's 3s^2
bands from x2 = the secret's 3 channels through irn.couplings' `split_len`; `allinone` and
`iresnet` mix all 3s^2 + 3 channels). Capacity: 3 x H/s x W/s values in 3 x H x W, i.e. 1/s^2
of the cover's values, 24/s^2 bits per cover pixel for an 8-bit secret.

The secret: in training, the bicubic LR of the next image of the batch (the batch's lr_ref
rolled by one: batch_size >= 2); in validation, tile i hides the bicubic LR of tile (i+1) mod
n (`next_image_targets`). `guide_target=other` for ordinary rescaling uses the same choice as
the LR's guide target (irn.objective, irn.evaluate).
"""
import math

import torch
import torch.nn as nn
from FrEIA.framework import SequenceINN

from irn.couplings import COUPLINGS, Constrained
from irn.haar import HaarDownsampling
from irn.latent import draw_latent
from irn.layout import in_layout, is_channels_last
from irn.quantization import quantize
from irn.subnets import subnet_constructor
from irn.video.study import FRAME_TASKS

TASKS = ("rescale", "stego", *FRAME_TASKS)  # frames: irn/video/frames.py
GUIDE_TARGETS = ("bicubic", "other")  # what the rescaling LR is guided towards
SECRET_CHANNELS = 3
_NOMINAL = 64  # FrEIA's shape inference only; real inputs may be any size the scale divides


def capacity_bits_per_pixel(scale: int) -> float:
    """Bits of an 8-bit RGB secret per cover pixel: 3 x 8 x (H/s)(W/s) / (H W) = 24 / s^2."""
    return 3 * 8 / scale ** 2


class StegoNetwork(Constrained):
    """forward((cover, secret)) -> ((stego, z), log_det); reverse: ((stego, z)) -> ((cover,
    secret), log_det). hide(cover, secret): the 8-bit stego; reveal(stego): the secret."""

    def __init__(self, scale, coupling, blocks, subnet, gc):
        super().__init__()
        self.scale = scale
        self.cover_channels = 3 * scale ** 2
        self.haar = SequenceINN(3, _NOMINAL, _NOMINAL)
        for _ in range(int(math.log2(scale))):
            self.haar.append(HaarDownsampling)
        size = _NOMINAL // scale
        self.blocks = SequenceINN(self.cover_channels + SECRET_CHANNELS, size, size)
        ctor = subnet_constructor(subnet, gc)
        for _ in range(blocks):
            self.blocks.append(COUPLINGS[coupling], subnet_constructor=ctor,
                               split_len=self.cover_channels)

    def forward(self, a, b, rev=False, jac=True):
        """Forward: (cover, secret) -> ((stego, z), log_det); rev=True: (stego, z) ->
        ((cover, secret), log_det). Nothing is quantised here (see hide)."""
        self._check(a, b)
        bands, j_in = self.haar(a, jac=jac)
        # b (a drawn z, the secret) is NCHW: the cat keeps the bands' layout
        joined = in_layout(torch.cat([bands, b], 1), is_channels_last(bands))
        h, j = self.blocks(joined, rev=rev, jac=jac)
        image_bands, small = h.split([self.cover_channels, SECRET_CHANNELS], dim=1)
        image, j_out = self.haar(image_bands, rev=True, jac=jac)
        return (image, small), j_in + j + j_out

    def _check(self, image, small):
        if image.ndim != 4 or image.shape[1] != 3:
            raise ValueError(f"expected an N x 3 x H x W image batch, got {tuple(image.shape)}")
        n, _, h, w = image.shape
        if h % self.scale or w % self.scale:
            raise ValueError(f"image size {w}x{h} is not divisible by the scale {self.scale}")
        want = (n, SECRET_CHANNELS, h // self.scale, w // self.scale)
        if tuple(small.shape) != want:
            raise ValueError(f"the secret / z must be {want} for a {w}x{h} image, got "
                             f"{tuple(small.shape)}")

    def hide(self, cover, secret):
        """The stego image, quantised to 8 bits (straight-through gradient)."""
        (stego, _), _ = self.forward(cover, secret, jac=False)
        return quantize(stego)

    def latent_shape(self, stego):
        n, _, h, w = stego.shape
        return (n, SECRET_CHANNELS, h // self.scale, w // self.scale)

    def reveal(self, stego, z=None, mode="gaussian", temperature=1.0, generator=None):
        """The secret recovered from `stego`, not clamped; z given, or drawn by `mode`
        ('gaussian': N(0, temperature^2), or 'zero')."""
        if z is None:
            z = draw_latent(self.latent_shape(stego), stego, mode, temperature, generator)
        (_, secret), _ = self.forward(stego, z, rev=True, jac=False)
        return secret


def build_stego_model(scale=2, coupling="enhanced", blocks=8, subnet="dense", gc=32,
                      multiscale_depth=0, split_ratio=0.5, architecture="joint") -> StegoNetwork:
    """The stego network from the config's architecture keywords (irn.config arch()); there
    is no multiscale or levels variant (depth must be 0, split_ratio is not used)."""
    from irn.model import check_architecture
    check_architecture(scale, coupling, blocks, subnet, gc, multiscale_depth, split_ratio,
                       architecture)
    if multiscale_depth:
        raise ValueError("task=stego has no multiscale variant: multiscale_depth must be 0")
    if architecture != "joint":
        raise ValueError("task=stego has no levels variant: architecture must be joint")
    return StegoNetwork(scale, coupling, blocks, subnet, gc)


# -- which image is the secret (or, for guide_target=other, the guide target) --------------
def next_in_batch(lr_ref: torch.Tensor) -> torch.Tensor:
    """Image i gets the bicubic LR of image i+1 of the batch (the last gets the first)."""
    return torch.roll(lr_ref.detach(), -1, dims=0)


def fit(x: torch.Tensor, h: int, w: int) -> torch.Tensor:
    """x (1 x 3 x h' x w') cut to h x w from the top left, repeated first where smaller."""
    reps = (1, 1, math.ceil(h / x.shape[-2]), math.ceil(w / x.shape[-1]))
    return x.repeat(*reps)[..., :h, :w]


def next_image_targets(val_set) -> list[torch.Tensor]:
    """For validation image (tile) i, the bicubic LR of image (i+1) mod n, fitted to image i's
    LR size (`fit`; tiles are all one size). With one image it is its own LR turned by 180
    degrees, so the target is never the image's own thumbnail."""
    lrs = [lr for _, lr in val_set]
    if len(lrs) == 1:
        return [lrs[0].flip(-1, -2)]
    return [fit(lrs[(i + 1) % len(lrs)], *lr.shape[-2:]) for i, lr in enumerate(lrs)]


def check_config(cfg) -> None:
    """The combinations `task` and `guide_target` allow (irn.config.validate calls this);
    raises ValueError with one line."""
    other = cfg.task == "stego" or cfg.guide_target == "other"
    why = "task=stego" if cfg.task == "stego" else "guide_target=other"
    if other and cfg.batch_size < 2:
        raise ValueError(f"{why} needs batch_size >= 2 (each image uses the next image of "
                         f"its batch), got {cfg.batch_size}")
    if cfg.task != "stego":
        return
    if cfg.guide_target != "bicubic":
        raise ValueError("guide_target applies to task=rescale; task=stego has no LR to guide")
    refused = {"multiscale_depth": 0, "stamp": "none", "quantization": "ste",
               "lambda_temporal": 0.0, "temporal_eval": False, "storage_eval": False}
    for key, allowed in refused.items():
        if getattr(cfg, key) != allowed:
            raise ValueError(f"task=stego supports {key}={allowed} only, got "
                             f"{getattr(cfg, key)!r}")
