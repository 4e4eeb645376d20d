"""Frame triples (frames n, n+1, n+2) for the frame tasks: training batches and the
validation set, from photos (rendered camera motion, irn/video/clips.py) or real clips.

`data` as everywhere (irn.data): "embedded" or a folder of photos renders clips from the
photos; a folder of clips (irn.video.io.clip_folders: frame folders in the Vid4 / REDS
layout, or video files) with train/ and val/ inside uses the real frames.

Training sample k is a function of (seed, k), as irn.data's patches: an epoch visits every
photo (clip) once in a seeded order; sample k draws a camera motion and renders three
patch-sized frames (photos), or takes three consecutive frames at a random start and crop
(clips); then one of the 8 flips / 90-degree rotations, the same for the three frames.
A batch is N x 9 x P x P (the three frames on channels, float in [0, 1]).

Validation: from each val photo one clip per camera motion (pan, zoom, rotate) of
`clip_frames` frames of clip_size x clip_size, seeded with VAL_SEED whatever the trial's
seed, so every trial of a sweep sees the same frames; real clips: their first clip_frames
frames, centre-cropped to clip_size. Every run of three consecutive frames is a triple,
named "CLIP#t" (t: the first frame), cut into val_tile tiles ("CLIP#t@row,col") that are
evaluated as separate images.
"""
from __future__ import annotations

import numpy as np
import torch

from irn.data import load_named_images
from irn.data.samples import ValSet, _tiles, flip_rotate
from irn.data.sources import DataError
from irn.video.clips import MOTIONS, center_crop, render_clip, rendered_clips

VAL_SEED = 0
TRIPLE = 3


def to_triple(frames: np.ndarray) -> torch.Tensor:
    """3 x H x W x 3 uint8 -> 9 x H x W float in [0, 1] (frame-major channels)."""
    t = torch.from_numpy(np.ascontiguousarray(frames)).permute(0, 3, 1, 2)
    return t.reshape(-1, *t.shape[-2:]).float().div_(255)


def frame_source(data, split: str):
    """("photos" | "clips", names, arrays) of a data spec's split."""
    try:
        names, photos = load_named_images(data, split)
        return "photos", names, photos
    except DataError as photo_error:
        from irn.video.io import clip_folders, read_clip  # PyAV only when clips are read
        from pathlib import Path
        root = Path(data) / split
        found = clip_folders(root) if root.is_dir() else []
        if not found:
            raise DataError(f"{data}: no {split} photos and no {split}/ folder of clips "
                            f"({photo_error})") from None
        return "clips", [n for n, _ in found], [read_clip(p, min_frames=TRIPLE) for _, p in found]


class TrainTriples:
    """Sample k -> 9 x P x P; batches(batch_size, start_batch) the infinite stream."""

    def __init__(self, data, patch_size: int, seed: int, images=None):
        self.kind, _, self.source = ("photos", None, images) if images is not None \
            else frame_source(data, "train")
        self.patch_size, self.seed = patch_size, seed

    def sample(self, k: int) -> torch.Tensor:
        n, p = len(self.source), self.patch_size
        epoch, pos = divmod(k, n)
        i = int(np.random.default_rng([self.seed, 0, epoch]).permutation(n)[pos])
        rng = np.random.default_rng([self.seed, 1, k])
        if self.kind == "photos":
            motion = MOTIONS[int(rng.integers(len(MOTIONS)))]
            frames = render_clip(self.source[i], TRIPLE, (p, p), motion,
                                 int(rng.integers(2 ** 31)))
        else:
            clip = self.source[i]
            f, h, w = clip.shape[:3]
            if h < p or w < p:
                raise DataError(f"clip {i} is {w}x{h}, smaller than patch_size {p}")
            t0 = int(rng.integers(f - TRIPLE + 1))
            top, left = int(rng.integers(h - p + 1)), int(rng.integers(w - p + 1))
            frames = clip[t0:t0 + TRIPLE, top:top + p, left:left + p]
        return to_triple(flip_rotate(frames, int(rng.integers(8))))

    def batches(self, batch_size: int, start_batch: int = 0):
        """(triples N x 9 x P x P, an empty N x 0 x P x P) from batch `start_batch` on: the
        trainer's (hr, lr_ref) pair, which the frame tasks do not use the second of."""
        b = start_batch
        while True:
            x = torch.stack([self.sample(b * batch_size + j) for j in range(batch_size)])
            yield x, x[:, :0]
            b += 1


def check_frame_data(cfg):
    """Decode a frame task's data once, before any training (the sweep's and bench.train's
    pre-check, so bad data is one line and exit 2): (the training photos, which trials share,
    or None for real clips, which each trial reads; (names, val photos) or None; the
    validation ValSet)."""
    kind, _, train = frame_source(cfg.data, "train")
    source = frame_source(cfg.data, "val")
    val_set = val_triples(cfg.data, cfg.clip_frames, cfg.clip_size, cfg.scale, cfg.val_tile,
                          source=source)
    photos = source[0] == "photos"
    return (train if kind == "photos" else None), (source[1:] if photos else None), val_set


def val_clips(source, frames: int, size: int, scale: int):
    """(names, clips F x h x w x 3 uint8) of a validation source (frame_source's triple):
    photos render a clip per motion; real clips keep their first `frames` frames,
    centre-cropped to at most `size` and a multiple of the scale."""
    kind, names, arrays = source
    if kind == "photos":
        return rendered_clips(arrays, names, frames, (size, size), VAL_SEED)
    return names, [center_crop(clip[:frames], scale, size) for clip in arrays]


def val_triples(data, frames: int, size: int, scale: int, tile: int = 0, images=None,
                names=None, source=None) -> ValSet:
    """ValSet of (triple 1 x 9 x H x W, empty 1 x 0 x H x W), named "CLIP#t[@r,c]", from
    `source` (frame_source's triple), else the photos `images` already decoded, else
    `data`'s val split."""
    if frames < TRIPLE:
        raise DataError(f"clip_frames must be at least {TRIPLE}, got {frames}")
    if source is None:
        source = ("photos", names, images) if images is not None else frame_source(data, "val")
    clip_names, clips = val_clips(source, frames, size, scale)
    pairs, out = [], []
    for name, clip in zip(clip_names, clips):
        if len(clip) < TRIPLE:
            raise DataError(f"validation clip {name} has {len(clip)} frames; a triple needs "
                            f"{TRIPLE}")
        for t in range(len(clip) - TRIPLE + 1):
            stacked = np.concatenate(list(clip[t:t + TRIPLE]), axis=2)  # H x W x 9
            pieces = _tiles(stacked, tile) if tile else [((0, 0), stacked)]
            for (r, c), piece in pieces:
                h, w = piece.shape[:2]
                x = to_triple(piece.reshape(h, w, TRIPLE, 3).transpose(2, 0, 1, 3))[None]
                pairs.append((x, x[:, :0]))
                out.append(f"{name}#{t}" + (f"@{r},{c}" if tile else ""))
    return ValSet(pairs, out)
