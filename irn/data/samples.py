"""Training patches (with their LR references) and validation images."""
from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset, Sampler

from irn.config_fields import default
from irn.data.sources import (DataError, image_files, load_images, load_named_images, read_image,
                              to_rgb)
from irn.imresize import imresize

LOADERS = ("memory", "disk")  # decode once / decode the file at every sample


def flip_rotate(pixels: np.ndarray, aug: int) -> np.ndarray:
    """One of the 8 flips / 90-degree rotations (aug 0..7) of ... x H x W x C pixels: an
    image, or every frame of a clip alike (irn/video/triples.py). A view, no copy."""
    if aug & 1:
        pixels = pixels[..., ::-1, :]  # horizontal flip
    if aug & 2:
        pixels = pixels[..., ::-1, :, :]  # vertical flip
    if aug & 4:
        pixels = pixels.swapaxes(-3, -2)  # transpose: with the flips, all 8
    return pixels


class TrainPatches(Dataset):
    """Random HR patches and their MATLAB-bicubic LR references.

    `source` is a list of uint8 H x W x 3 arrays (memory) or of files (disk, with `sizes`).
    Item k -> (hr: 3 x P x P, lr: 3 x P/s x P/s), float32 in [0, 1]; any k >= 0 is valid, and
    len() is one epoch (each image once). Images smaller than the patch are mirror-padded
    (edge repeated) at the bottom/right. The LR is imresize(hr, 1/s) clamped to [0, 1]
    (bicubic overshoot), as a uint8 DIV2K LR file would be, without the 8-bit rounding.
    """

    def __init__(self, source, scale: int, patch_size: int, seed: int,
                 sizes: list[tuple[int, int]] | None = None):
        if int(scale) != scale or scale < 1:
            raise ValueError(f"scale must be a positive integer, got {scale}")
        if patch_size < scale or patch_size % scale:
            raise ValueError(f"patch_size {patch_size} must be a positive multiple "
                             f"of scale {scale}")
        if seed < 0:
            raise ValueError(f"seed must be >= 0, got {seed}")
        if not len(source):
            raise DataError("no training images")
        self.scale, self.patch_size, self.seed = int(scale), patch_size, seed
        self.on_disk = sizes is not None
        if self.on_disk:
            self.source, self.sizes = list(source), list(sizes)
        else:
            self.source = [to_rgb(np.asarray(im)) for im in source]
            self.sizes = [im.shape[:2] for im in self.source]
        check_patch_fits(self.sizes, patch_size)

    def __len__(self) -> int:
        return len(self.source)

    def locate(self, k: int) -> tuple[int, int, int, int]:
        """(image index, top, left, augmentation 0..7) of sample k: a function of (seed, k)."""
        n, p = len(self.source), self.patch_size
        epoch, pos = divmod(k, n)
        # Independent streams: [seed, 0, epoch] orders an epoch, [seed, 1, k] draws sample k.
        i = int(np.random.default_rng([self.seed, 0, epoch]).permutation(n)[pos])
        rng = np.random.default_rng([self.seed, 1, k])
        h, w = self.sizes[i]
        top, left = (int(rng.integers(0, max(d, p) - p + 1)) for d in (h, w))
        return i, top, left, int(rng.integers(8))

    def hr_patch(self, k: int) -> torch.Tensor:
        """Sample k's HR patch, 3 x P x P uint8 (one copy out of the source image)."""
        i, top, left, aug = self.locate(k)
        p = self.patch_size
        img = self._read(self.source[i]) if self.on_disk else self.source[i]
        h, w = img.shape[:2]
        if h < p or w < p:
            img = np.pad(img, ((0, max(p - h, 0)), (0, max(p - w, 0)), (0, 0)), mode="symmetric")
        patch = flip_rotate(img[top:top + p, left:left + p], aug)
        return torch.from_numpy(np.ascontiguousarray(patch.transpose(2, 0, 1)))

    @staticmethod
    def _read(path) -> np.ndarray:
        try:
            return read_image(path)
        except Exception as e:  # passed the header check at start-up, e.g. a truncated JPEG
            raise DataError(f"cannot decode {path}: {e}") from e

    def _pair(self, hr_u8: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        hr = hr_u8.float().div_(255)
        return hr, imresize(hr, 1 / self.scale).clamp_(0, 1)

    def __getitem__(self, k: int):
        return self._pair(self.hr_patch(k))

    def __getitems__(self, ks: list[int]):
        # The DataLoader calls this with a whole batch: one batched imresize per batch.
        return self._pair(torch.stack([self.hr_patch(k) for k in ks]))


def check_patch_fits(sizes, patch_size: int) -> None:
    """A patch must fit in at least one training image: smaller images are mirror-padded,
    but a patch larger than every image would train on padding everywhere (DataError)."""
    if sizes and not any(h >= patch_size and w >= patch_size for h, w in sizes):
        h, w = max(sizes, key=lambda hw: min(hw))
        raise DataError(f"patch_size {patch_size} is larger than every training image (the "
                        f"largest fit is {w}x{h}): give a smaller patch_size or larger images")


class _CountFrom(Sampler):
    """start, start + 1, ... forever: the sample numbers of an infinite stream."""

    def __init__(self, start: int = 0):
        self.start = start

    def __iter__(self):
        return itertools.count(self.start)


def _already_collated(batch):
    return batch  # __getitems__ returns the stacked (hr, lr) batch


def train_dataset(data: str | Path = default("data"), scale: int = default("scale"),
                  patch_size: int = default("patch_size"), loader: str = default("loader"),
                  seed: int = default("seed"),
                  images: list[np.ndarray] | None = None) -> TrainPatches:
    """The TrainPatches of a training split (see train_loader for the arguments)."""
    if loader == "memory":
        return TrainPatches(load_images(data, "train") if images is None else images,
                            scale, patch_size, seed)
    if loader == "disk":
        if images is not None:
            raise ValueError("images= is for loader='memory'; the disk loader reads files")
        paths, sizes = image_files(data, "train")
        return TrainPatches(paths, scale, patch_size, seed, sizes=sizes)
    raise ValueError(f"loader must be {' or '.join(map(repr, LOADERS))}, got {loader!r}")


def train_loader(data: str | Path = default("data"), scale: int = default("scale"),
                 patch_size: int = default("patch_size"), batch_size: int = default("batch_size"),
                 loader: str = default("loader"), workers: int = default("workers"),
                 seed: int = default("seed"), images: list[np.ndarray] | None = None,
                 start_batch: int = 0) -> DataLoader:
    """Infinite iterable of (hr: B x 3 x P x P, lr: B x 3 x P/s x P/s) float32 batches.

    Deterministic for a seed whatever `workers` is. Each `iter()` restarts at batch
    `start_batch` (resume a run at step N with start_batch=N). Crop, flips and the batched
    LR imresize run where the batch is built: the main process, or a worker if workers > 0.
    """
    dataset = train_dataset(data, scale, patch_size, loader, seed, images)
    return DataLoader(dataset, batch_size=batch_size,
                      sampler=_CountFrom(start_batch * batch_size),
                      num_workers=workers, collate_fn=_already_collated,
                      persistent_workers=False, prefetch_factor=2 if workers else None)


# ---------------------------------------------------------------- validation

class ValSet(list):
    """A list of (hr, lr_ref) pairs with their image names (`names`) and, when the images
    were tiled, the untiled pairs (`whole`, for visual crops)."""

    def __init__(self, pairs, names, whole=None):
        super().__init__(pairs)
        self.names = list(names)
        self.whole = list(whole) if whole is not None else list(pairs)


def _pair(img: np.ndarray, scale: int):
    hr = torch.from_numpy(np.ascontiguousarray(img.transpose(2, 0, 1)))[None].float().div_(255)
    return hr, imresize(hr, 1 / scale).clamp_(0, 1)


def _tiles(img: np.ndarray, tile: int):
    """Non-overlapping tile x tile pieces, row-major, with their (row, col); the remainder
    at the right and bottom is dropped. An image smaller than a tile stays whole."""
    h, w = img.shape[:2]
    if h < tile or w < tile:
        return [((0, 0), img)]
    return [((r, c), img[r * tile:(r + 1) * tile, c * tile:(c + 1) * tile])
            for r in range(h // tile) for c in range(w // tile)]


SSIM_WINDOW = 11  # irn.metrics: the Gaussian window SSIM needs, after the scale-px border crop


def check_val_sizes(images, names, scale: int, max_size: int | None, tile: int) -> None:
    """Refuse (DataError, one line) a validation set whose evaluated images or tiles are too
    small for SSIM after the border crop: found before training, not after it."""
    for name, img in zip(names, images):
        h, w = np.asarray(img).shape[:2]
        if max_size:
            h, w = min(h, max_size), min(w, max_size)
        h, w = h - h % scale, w - w % scale
        if tile and h >= tile and w >= tile:
            h = w = tile
        if min(h, w) - 2 * scale < SSIM_WINDOW:
            raise DataError(
                f"validation image {name} is {h} x {w} px as evaluated (val_max_size "
                f"{max_size or 'off'}, val_tile {tile or 'off'}, scale {scale}): SSIM needs "
                f"{SSIM_WINDOW} x {SSIM_WINDOW} after the {scale}-px border crop; use larger "
                "images or a larger val_max_size / val_tile")


def val_images(data: str | Path = default("data"), scale: int = default("scale"),
               max_size: int | None = None, val: str | Path | None = None,
               images: list[np.ndarray] | None = None, names: list[str] | None = None,
               tile: int = default("val_tile")) -> ValSet:
    """ValSet of (hr: 1 x 3 x H x W, lr_ref: 1 x 3 x H/s x W/s) float32 in [0, 1].

    Optionally center-cropped to at most max_size x max_size (fast CPU evaluation), then
    mod-cropped from the top-left to a multiple of `scale` like the official code; lr_ref =
    imresize(hr, 1/scale) clamped to [0, 1]. With `tile` (a multiple of `scale`) > 0, each
    image is then cut into tiles named "NAME@row,col", evaluated as separate images.
    """
    if images is None:
        names, images = load_named_images(data, "val", val)
    names = list(names) if names is not None else [f"image{i}" for i in range(len(images))]
    if tile and tile % scale:
        raise DataError(f"val_tile {tile} is not divisible by scale {scale}")
    check_val_sizes(images, names, scale, max_size, tile)
    pairs, out_names, whole = [], [], []
    for name, img in zip(names, images):
        img = to_rgb(np.asarray(img))
        if max_size is not None:
            h, w = img.shape[:2]
            t, l = max(h - max_size, 0) // 2, max(w - max_size, 0) // 2
            img = img[t:t + max_size, l:l + max_size]
        h, w = img.shape[:2]
        img = img[:h - h % scale, :w - w % scale]
        if img.size == 0:
            raise DataError(f"validation image smaller than the scale {scale}")
        whole.append(_pair(img, scale))
        if not tile:
            pairs.append(whole[-1])
            out_names.append(name)
            continue
        for (r, c), piece in _tiles(img, tile):
            pairs.append(_pair(piece, scale))
            out_names.append(f"{name}@{r},{c}")
    return ValSet(pairs, out_names, whole)
