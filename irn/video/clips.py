"""Camera-motion clips rendered from still photos: the video data whose every frame's ground
truth is known.

A clip is F frames of h x w pixels, uint8 RGB (F x h x w x 3). Frame t samples the
full-resolution photo through an affine map about a moving centre: the camera pans along a
straight line, zooms (a geometric progression of the magnification) or rotates, each with a
sub-pixel step per frame, so no frame is an integer shift of another. Every frame is
resampled from the photo itself (OpenCV warpAffine, bicubic, reflected border), never from
the previous frame, so errors do not accumulate and frame t is the true image of the scene
under camera pose t.

Reproducible: the motion's parameters are drawn from numpy's default_rng([seed, ...]), so a
clip is a function of (photo, frames, size, motion, seed) only. Magnifications stay in
[1, 1.25] (the camera never zooms out past the photo's own sampling, so no aliasing needs a
pre-filter); the path is kept inside the photo with a margin, so the reflected border is
rarely touched.
"""
from __future__ import annotations

import math

import cv2
import numpy as np

MOTIONS = ("pan", "zoom", "rotate")
PAN_SPEED = (0.4, 2.5)     # pixels per frame, uniform
ZOOM_STEP = (0.004, 0.015)  # relative magnification change per frame, uniform
ROTATE_STEP = (0.1, 0.6)   # degrees per frame, uniform
MAX_MAGNIFICATION = 1.25


def _poses(frames: int, motion: str, rng: np.random.Generator):
    """Per frame (dx, dy, magnification, angle in degrees) relative to the clip's start."""
    t = np.arange(frames, dtype=np.float64)
    zero = np.zeros(frames)
    if motion == "pan":
        speed, heading = rng.uniform(*PAN_SPEED), rng.uniform(0, 2 * math.pi)
        return speed * math.cos(heading) * t, speed * math.sin(heading) * t, zero + 1, zero
    if motion == "zoom":
        # in (zoom > 0) or out, always within [1, MAX_MAGNIFICATION]
        step = min(rng.uniform(*ZOOM_STEP), MAX_MAGNIFICATION ** (1 / max(frames - 1, 1)) - 1)
        mag = (1 + step) ** (t if rng.choice([-1, 1]) > 0 else t[::-1])
        return zero, zero, mag, zero
    if motion == "rotate":
        step = rng.uniform(*ROTATE_STEP) * rng.choice([-1, 1])
        return zero, zero, zero + 1, step * t
    raise ValueError(f"unknown motion {motion!r}; choose from {', '.join(MOTIONS)}")


def render_clip(photo: np.ndarray, frames: int, size: tuple[int, int], motion: str,
                seed: int) -> np.ndarray:
    """F x h x w x 3 uint8: `frames` frames of `size` = (h, w) from `photo` (H x W x 3 uint8)
    under camera `motion` (pan | zoom | rotate), reproducible from `seed`."""
    if motion not in MOTIONS:
        raise ValueError(f"unknown motion {motion!r}; choose from {', '.join(MOTIONS)}")
    if frames < 1:
        raise ValueError(f"a clip needs at least 1 frame, got {frames}")
    h, w = size
    ph, pw = photo.shape[:2]
    rng = np.random.default_rng([seed, MOTIONS.index(motion)])
    dx, dy, mag, angle = _poses(frames, motion, rng)
    # the start centre: anywhere the whole path and the rotated frame stay inside the photo
    reach = 0.5 * math.hypot(h, w) + 2
    span_x, span_y = np.ptp(dx) + 2 * reach, np.ptp(dy) + 2 * reach
    if span_x > pw or span_y > ph:
        raise ValueError(f"a {motion} clip of {frames} frames at {w}x{h} needs a photo of at "
                         f"least {math.ceil(span_x)}x{math.ceil(span_y)}, got {pw}x{ph}")
    cx = rng.uniform(reach - dx.min(), pw - reach - dx.max())
    cy = rng.uniform(reach - dy.min(), ph - reach - dy.max())
    # only the part of the photo the path sees is converted (a patch-sized clip of a large
    # photo would otherwise convert all of it); coordinates below are in that part
    x0, y0 = int(max(cx + dx.min() - reach - 2, 0)), int(max(cy + dy.min() - reach - 2, 0))
    x1, y1 = int(min(cx + dx.max() + reach + 3, pw)), int(min(cy + dy.max() + reach + 3, ph))
    src = photo[y0:y1, x0:x1].astype(np.float32)
    cx, cy = cx - x0, cy - y0
    out = np.empty((frames, h, w, 3), np.uint8)
    for i in range(frames):
        # the map from photo to frame: rotate and magnify about the camera centre, which lands
        # on the frame's centre
        m = cv2.getRotationMatrix2D((cx + dx[i], cy + dy[i]), angle[i], mag[i])
        m[:, 2] += ((w - 1) / 2 - (cx + dx[i]), (h - 1) / 2 - (cy + dy[i]))
        frame = cv2.warpAffine(src, m, (w, h), flags=cv2.INTER_CUBIC,
                               borderMode=cv2.BORDER_REFLECT_101)
        out[i] = np.clip(np.rint(frame), 0, 255).astype(np.uint8)
    return out


def rendered_clips(photos: list[np.ndarray], names: list[str], frames: int,
                   size: tuple[int, int], seed: int) -> tuple[list[str], list[np.ndarray]]:
    """One clip per (photo, motion): names "PHOTO/MOTION", in photo then MOTIONS order; the
    clip of photo i and motion m is rendered with seed [seed, i]."""
    out_names, clips = [], []
    for i, (photo, name) in enumerate(zip(photos, names)):
        for motion in MOTIONS:
            out_names.append(f"{name}/{motion}")
            clips.append(render_clip(photo, frames, size, motion, seed * 1000 + i))
    return out_names, clips


def center_crop(clip: np.ndarray, multiple: int, size: int | None = None) -> np.ndarray:
    """The clip's centre, each side cut to a multiple of `multiple` (and to at most `size`)."""
    h, w = clip.shape[1:3]
    th, tw = (min(h, size), min(w, size)) if size else (h, w)
    th, tw = th - th % multiple, tw - tw % multiple
    if not th or not tw:
        raise ValueError(f"a {w}x{h} clip has no {multiple}-multiple centre")
    top, left = (h - th) // 2, (w - tw) // 2
    return clip[:, top:top + th, left:left + tw]
