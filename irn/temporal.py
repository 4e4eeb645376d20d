"""Temporal consistency: a transform-invariance loss for training, and flicker on synthetic
camera motion for evaluation.

Transforms: a 2 x 3 `theta` of torch's affine_grid (align_corners=False) maps an output
pixel's normalised coordinates to where it samples the input; normalised coordinates span
the image whatever its resolution, so one theta is the same motion at the HR and at the LR
scale (its translation in LR pixels is the HR translation / scale, as IRN's Haar grid
aligns them). Warps pad with the border pixels; the margin they touch is cropped.

Training (`lambda_temporal` > 0; Eilertsen, Mantiuk & Unger, CVPR 2019, "Single-frame
regularization for temporally stable CNNs", sec. 3, transform invariance): one random
transform T per batch, drawn from the trainer's motion generator: a translation of up to
half an LR pixel on each axis, a rotation of up to 1 degree, a zoom log-uniform in
[1/1.02, 1.02]. The term is
    lambda_temporal * [ L(LR(T x), T LR(x)) + L(up(q(LR(T x)), T z), T up(q(LR(x)), z)) ]
on the interior (`training_margin`), each loss (loss_temporal, a per-element mean) times the
elements per image as the other terms. up(q(LR(x)), z) is the main pass's reconstruction
when its input is exactly the quantised LR (ste, no JPEG); else one more reverse. So it
costs one forward and one reverse per step, and nothing at lambda_temporal = 0.

Evaluation (`temporal_eval`): from each validation image, two 5-frame sequences of smooth
camera motion, a pan of (0.35, 0.15) HR pixels per frame and a zoom of 0.75% per frame
about the centre, warped bicubically and rounded to 8 bits. Each frame is rescaled
(model: downscale, uint8 LR, upscale with z = 0; bicubic: MATLAB imresize down, uint8, up),
rounded to uint8 and warped back to the first frame. flicker = the mean absolute Y
difference (BT.601, 8-bit levels) between consecutive aligned frames on the interior
(`eval_margin`), over both sequences. The ground-truth frames through the same warp-back
give `gt_flicker`: what the interpolation alone leaves on the sharp frames. It is not a hard
floor: a blurrier output flickers less under the same warps (bicubic down/up comes out
below it), so flicker is read against Y-PSNR, never alone.
"""
import math
from dataclasses import dataclass

import torch
from torch import nn
from torch.nn import functional as F

from irn.imresize import imresize
from irn.losses import build_loss
from irn.metrics import quantize_uint8, rgb_to_y
from irn.metric_spec import MetricSpec
from irn.quantization import quantize
from irn.study import SHAPE, LossTerm, Study

MAX_SHIFT_LR = 0.5      # training: translation per axis, in LR pixels
MAX_ANGLE_DEG = 1.0     # training: rotation
MAX_ZOOM = 1.02         # training: zoom, log-uniform in [1/MAX_ZOOM, MAX_ZOOM]
PAN_PER_FRAME = (0.35, 0.15)  # evaluation: HR pixels per frame (x, y)
ZOOM_PER_FRAME = 1.0075       # evaluation
FRAMES = 5                    # evaluation: frames per sequence, the first one unmoved


def affine_theta(h: int, w: int, dx, dy, angle=0.0, zoom=1.0) -> torch.Tensor:
    """N x 2 x 3 theta that moves the content of an h x w image by (dx, dy) pixels, rotates
    it by `angle` radians and zooms it by `zoom` about the centre (scalars or N tensors)."""
    dx, dy, angle, zoom = torch.broadcast_tensors(
        *(torch.as_tensor(v, dtype=torch.float64).reshape(-1) for v in (dx, dy, angle, zoom)))
    cos, sin = torch.cos(angle) / zoom, torch.sin(angle) / zoom
    # pixel space, about the centre: p_in = A (p_out - t) with A = R(-angle) / zoom
    a = torch.stack([torch.stack([cos, sin], -1), torch.stack([-sin, cos], -1)], -2)
    t = torch.stack([dx, dy], -1)[..., None]
    d = torch.tensor([2 / w, 2 / h], dtype=torch.float64)  # pixels -> normalised
    theta_a = d[:, None] * a / d[None, :]
    theta_b = d[:, None] * -(a @ t)
    return torch.cat([theta_a, theta_b], -1).float()


def identity_theta(n: int = 1) -> torch.Tensor:
    return torch.eye(2, 3).expand(n, 2, 3).clone()


def invert_theta(theta: torch.Tensor) -> torch.Tensor:
    """The theta that undoes `theta` (an affine map of normalised coordinates)."""
    inv = torch.linalg.inv(theta[..., :2].double())
    return torch.cat([inv, -(inv @ theta[..., 2:].double())], -1).to(theta.dtype)


def warp(x: torch.Tensor, theta: torch.Tensor, mode: str = "bilinear") -> torch.Tensor:
    """x (N x C x H x W) resampled through theta (1 or N x 2 x 3), border padding."""
    theta = theta.to(device=x.device, dtype=x.dtype).expand(x.shape[0], 2, 3)
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    return F.grid_sample(x, grid, mode=mode, padding_mode="border", align_corners=False)


def max_displacement(theta: torch.Tensor, h: int, w: int) -> float:
    """The largest per-axis distance, in pixels of an h x w image, between an output pixel
    and where it samples the input (an affine displacement peaks at a corner)."""
    corners = torch.tensor([[x, y, 1.0] for x in (-1, 1) for y in (-1, 1)], dtype=torch.float64)
    moved = corners @ theta.double().transpose(-1, -2)  # N x 4 x 2
    shift = (moved - corners[:, :2]).abs() * torch.tensor([w / 2, h / 2], dtype=torch.float64)
    return float(shift.max())


def training_margin(patch_size: int, scale: int) -> int:
    """LR pixels cropped from every border of the training term: the extreme transform's
    displacement, rounded up, plus one."""
    lr = patch_size // scale
    extremes = affine_theta(lr, lr, *_extreme_params())  # shifts in LR pixels, LR image
    margin = math.ceil(max_displacement(extremes, lr, lr)) + 1
    if 2 * margin >= lr:
        raise ValueError(f"patch_size {patch_size} at x{scale} leaves no interior for the "
                         f"temporal term (it crops {margin} LR px per border); use a larger "
                         "patch_size")
    return margin


def _extreme_params():
    """(dx, dy, angle, zoom) tensors of the 16 corners of the training distribution."""
    combos = [(sx * MAX_SHIFT_LR, sy * MAX_SHIFT_LR, sa * math.radians(MAX_ANGLE_DEG),
               MAX_ZOOM ** sz) for sx in (-1, 1) for sy in (-1, 1) for sa in (-1, 1)
              for sz in (-1, 1)]
    return [torch.tensor(c, dtype=torch.float64) for c in zip(*combos)]


def draw_transform(h: int, w: int, scale: int, generator=None) -> torch.Tensor:
    """1 x 2 x 3: one random training transform for an h x w HR batch (CPU generator)."""
    r = torch.rand(4, generator=generator, dtype=torch.float64) * 2 - 1  # U(-1, 1)
    return affine_theta(h, w, r[0] * MAX_SHIFT_LR * scale, r[1] * MAX_SHIFT_LR * scale,
                        r[2] * math.radians(MAX_ANGLE_DEG), MAX_ZOOM ** r[3])


class TemporalLoss(nn.Module):
    """The transform-invariance term (module docstring): `move` is the extra forward pass,
    `forward` the extra reverse and the two distances."""

    def __init__(self, cfg, **loss_options):
        super().__init__()
        self.loss = build_loss(cfg.loss_temporal, **loss_options)
        self.weight, self.scale = cfg.lambda_temporal, cfg.scale
        self.margin = training_margin(cfg.patch_size, cfg.scale)

    def move(self, model, hr, theta):
        """The LR of the transformed batch, LR(T x)."""
        out, _ = model(warp(hr, theta), jac=False)
        return out[:, :3]

    def prepare(self, model, hr, generator=None):
        """The forward phase's part (irn/study.py): draw T, run the moved batch forward."""
        theta = draw_transform(*hr.shape[-2:], self.scale, generator)
        return theta, self.move(model, hr, theta)

    def term(self, model, state, lr, rec, z):
        """The reverse phase's part: the weighted term."""
        theta, lr_moved = state
        return self(model, theta, lr, lr_moved, rec, z)

    def forward(self, model, theta, lr, lr_moved, rec=None, z=None):
        """The weighted term; `rec` = up(q(LR(x)), z) when the caller has it."""
        z = torch.zeros_like(lr).repeat(1, self.scale ** 2 - 1, 1, 1) if z is None else z
        if rec is None:
            rec, _ = model(torch.cat([quantize(lr), z], 1), rev=True, jac=False)
        rec_moved, _ = model(torch.cat([quantize(lr_moved), warp(z, theta)], 1), rev=True,
                             jac=False)
        lr_term = self._distance(lr_moved, warp(lr, theta), self.margin)
        hr_term = self._distance(rec_moved[:, :3], warp(rec[:, :3], theta),
                                 self.margin * self.scale)
        return self.weight * (lr_term + hr_term)

    def _distance(self, a, b, m):
        a, b = a[..., m:-m, m:-m], b[..., m:-m, m:-m]
        return self.loss(a, b) * a[0].numel()


def motion_thetas(h: int, w: int) -> tuple[torch.Tensor, list[list[int]]]:
    """The evaluation's camera motion: (thetas of the distinct frames, 1 + 2 x (FRAMES - 1)
    of them, frame 0 unmoved; the frame indices of each sequence: pan, zoom)."""
    k = torch.arange(1, FRAMES, dtype=torch.float64)
    pan = affine_theta(h, w, PAN_PER_FRAME[0] * k, PAN_PER_FRAME[1] * k)
    zoom = affine_theta(h, w, 0.0 * k, 0.0 * k, 0.0 * k, ZOOM_PER_FRAME ** k)
    thetas = torch.cat([identity_theta(), pan, zoom])
    return thetas, [[0, *range(1, FRAMES)], [0, *range(FRAMES, 2 * FRAMES - 1)]]


def eval_margin(thetas: torch.Tensor, h: int, w: int, scale: int) -> int:
    """HR pixels cropped from every border for flicker: the largest displacement, rounded
    up, plus the rescaler's border (2 x scale) and the bicubic support (2)."""
    margin = math.ceil(max_displacement(thetas, h, w)) + 2 * scale + 2
    if 2 * margin >= min(h, w):
        raise ValueError(f"a {w}x{h} validation image leaves no interior for flicker after "
                         f"a {margin}-px margin")
    return margin


def flicker(rescale, hr: torch.Tensor, scale: int) -> float:
    """Mean |Y difference| (8-bit levels) of consecutive aligned frames of the evaluation's
    camera motion, each frame through `rescale` (N x 3 x H x W -> same); hr: 1 x 3 x H x W."""
    h, w = hr.shape[-2:]
    thetas, sequences = motion_thetas(h, w)
    frames = quantize_uint8(warp(hr.expand(len(thetas), -1, -1, -1), thetas, "bicubic"))
    back = warp(quantize_uint8(rescale(frames)), invert_theta(thetas), "bicubic")
    m = eval_margin(thetas, h, w, scale)
    y = rgb_to_y(back)[..., m:h - m, m:w - m] * 255
    diffs = [(y[b] - y[a]).abs().mean() for seq in sequences for a, b in zip(seq, seq[1:])]
    return float(torch.stack(diffs).mean())


def model_flicker(model, hr: torch.Tensor, scale: int) -> float:
    return flicker(lambda f: model.upscale(model.downscale(f), mode="zero"), hr, scale)


def bicubic_flicker(hr: torch.Tensor, scale: int) -> float:
    return flicker(lambda f: imresize(quantize(imresize(f, 1 / scale)), scale), hr, scale)


def gt_flicker(hr: torch.Tensor, scale: int) -> float:
    return flicker(lambda f: f, hr, scale)


@dataclass(frozen=True)
class TemporalFields:
    """The study's config keys (irn.config.Config inherits them)."""
    loss_temporal: str = "l1"
    lambda_temporal: float = 0.0  # >0: transform-invariance term (+1 forward, +1 reverse)
    temporal_eval: bool = False  # flicker on synthetic camera motion at every evaluation


def check_config(cfg) -> None:
    """The temporal term's crop must leave part of the patch, flicker's part of a tile."""
    try:
        if cfg.lambda_temporal:
            training_margin(cfg.patch_size, cfg.scale)
        if cfg.temporal_eval and cfg.val_tile:
            t = cfg.val_tile
            eval_margin(motion_thetas(t, t)[0], t, t, cfg.scale)
    except ValueError as exc:
        raise ValueError(f"lambda_temporal/temporal_eval: {exc}") from None


def _measured(cfg) -> bool:
    return cfg.temporal_eval


def _metrics() -> list[MetricSpec]:
    return [
        MetricSpec("flicker", "min", "levels", "temporal instability: mean |Y difference| of "
                   "consecutive aligned frames of synthetic camera motion, each downscaled, "
                   "uint8 and upscaled with z = 0 (irn/temporal.py; 8-bit levels)",
                   fmt=".3f", baseline="bicubic_flicker", when=_measured,
                   compute=lambda v: model_flicker(v.model, v.hr, v.s)),
        MetricSpec("bicubic_flicker", "min", "levels", "flicker of bicubic down, uint8, "
                   "bicubic up on the same motion", fmt=".3f", baseline="gt_flicker",
                   when=_measured, constant=True, compute=lambda v: bicubic_flicker(v.hr, v.s)),
        MetricSpec("gt_flicker", "min", "levels", "flicker of the ground-truth frames through "
                   "the same warp-back: what the interpolation leaves (blur goes below it)",
                   fmt=".3f", when=_measured, constant=True, compute=lambda v: gt_flicker(v.hr, v.s)),
    ]


STUDY = Study(
    "temporal", TemporalFields, weights=("lambda_temporal",), losses=("loss_temporal",),
    check=check_config,
    loss_term=LossTerm("temporal", "lambda_temporal", ("loss_temporal", *SHAPE)),
    build_loss=lambda cfg, options: TemporalLoss(cfg, **options) if cfg.lambda_temporal else None,
    metrics=_metrics)
