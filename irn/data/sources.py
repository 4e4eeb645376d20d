"""Where images come from: embedded photos, folders, the PNG cache; decoding to RGB uint8."""
from __future__ import annotations

import os
import warnings
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
from PIL import Image

from irn.atomic import atomic_write

EMBEDDED_VAL = ("astronaut", "chelsea")
EMBEDDED_TRAIN = ("coffee", "rocket", "hubble_deep_field", "retina", "immunohistochemistry",
                  "stereo_motorcycle_left", "stereo_motorcycle_right")
EXTENSIONS = (".png", ".jpg", ".jpeg")
TRAIN_DIRS = ("train", "DIV2K_train_HR")
VAL_DIRS = ("val", "valid", "DIV2K_valid_HR")


class DataError(ValueError):
    """Missing, empty or unreadable data; the message is one line naming the path."""


class DataWarning(UserWarning):
    """Some image files were skipped."""


# ---------------------------------------------------------------- decoding

def to_rgb(img: np.ndarray) -> np.ndarray:
    """H x W, H x W x 1 or H x W x 4 uint8 -> H x W x 3 uint8 (no copy if already RGB)."""
    if img.dtype != np.uint8:
        raise DataError(f"images must be uint8, got {img.dtype}")
    if img.ndim == 2:
        img = img[:, :, None]
    if img.ndim != 3 or img.shape[2] not in (1, 3, 4):
        raise DataError(f"images must be H x W x 1/3/4, got shape {img.shape}")
    if img.shape[2] == 1:
        return np.repeat(img, 3, axis=2)
    return img[:, :, :3]


# Integer modes wider than 8 bits (16-bit grey PNGs open as I;16, some as I): scaled to
# 8 bits (x / 257, rounded: 65535 -> 255), never clipped as Image.convert("RGB") would.
WIDE_INT_MODES = ("I;16", "I;16B", "I;16L", "I;16N", "I")


def pil_to_rgb8(im: Image.Image, name="image") -> np.ndarray:
    """Any Pillow image -> H x W x 3 uint8 RGB, scaling high bit depths (see WIDE_INT_MODES);
    alpha is dropped; float images (mode F, range unknown) are refused with a DataError."""
    if im.mode in WIDE_INT_MODES:
        a = np.asarray(im).astype(np.int64)
        if a.size and (a.min() < 0 or a.max() > 65535):
            raise DataError(f"{name}: mode {im.mode} values outside 0..65535; save it as an "
                            "8- or 16-bit PNG")
        return to_rgb(np.round(a / 257).astype(np.uint8))
    if im.mode == "F":
        raise DataError(f"{name}: 32-bit float image (mode F) has no known range; save it as "
                        "an 8- or 16-bit PNG")
    if im.mode == "P" and "transparency" in im.info:
        im = im.convert("RGBA")  # the palette's transparency, then dropped with the alpha
    return to_rgb(np.asarray(im.convert("RGB")))


def frames_to_tensor(frames: np.ndarray):
    """F x H x W x 3 uint8 (a clip's frames, or any batch of images) -> F x 3 x H x W float32
    in [0, 1], what the models take."""
    import torch
    return torch.from_numpy(np.ascontiguousarray(frames)).permute(0, 3, 1, 2).float() / 255


def tensor_to_frames(x) -> np.ndarray:
    """F x 3 x H x W in [0, 1] (any float dtype, any device) -> F x H x W x 3 uint8, rounded
    as saving an image to a file does."""
    return (x.detach().float().clamp(0, 1) * 255).round().byte().permute(0, 2, 3, 1).cpu().numpy()


def tensor_to_rgb8(x) -> np.ndarray:
    """One 1 x 3 x H x W image in [0, 1] (any float dtype, any device) -> H x W x 3 uint8."""
    if x.ndim != 4 or x.shape[0] != 1 or x.shape[1] != 3:
        raise ValueError(f"expected one 1 x 3 x H x W image, got {tuple(x.shape)}")
    return tensor_to_frames(x)[0]


def read_image(path: str | Path) -> np.ndarray:
    """Decode one file to H x W x 3 uint8 RGB (pil_to_rgb8)."""
    with Image.open(path) as im:
        return pil_to_rgb8(im, str(path))


def _readable(folder: Path, paths: list[Path], results: list) -> list[tuple[Path, object]]:
    """(path, result) of the files that decoded (result not None). Some unreadable: a
    warning naming them; all unreadable: a DataError naming them (one line, no warning)."""
    bad = [p for p, r in zip(paths, results) if r is None]
    names = ", ".join(p.name for p in bad[:3]) + (", ..." if len(bad) > 3 else "")
    good = [(p, r) for p, r in zip(paths, results) if r is not None]
    if not good:
        raise DataError(f"no readable images in {folder} ({len(bad)} unreadable: {names})")
    if bad:
        warnings.warn(f"skipped {len(bad)} unreadable image file(s) in {folder}: {names}",
                      DataWarning, stacklevel=3)
    return good


def _list_images(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in EXTENSIONS)


def _header_size(path: Path) -> tuple[int, int] | None:
    """(H, W) of a readable file, or None; much cheaper than a full decode. PNG: Pillow's
    verify() walks every chunk and its CRC. JPEG: a 1/8-scale DCT-domain decode, which still
    reads every byte, so truncated files are caught as a full decode would catch them."""
    try:
        with Image.open(path) as im:
            w, h = im.size
            if im.format == "JPEG":
                im.draft("RGB", (max(w // 8, 1), max(h // 8, 1)))
                im.load()
            else:
                im.verify()
        return h, w
    except Exception:
        return None


# ---------------------------------------------------------------- sources

def _folders(data: str | Path) -> tuple[Path, Path | None]:
    """Resolve (train folder, val folder or None) for the accepted layouts."""
    root = Path(data).expanduser()
    if not root.is_dir():
        raise DataError(f"data folder does not exist: {root}")
    if _list_images(root):
        train = root
        sibling = root.with_name(root.name.replace("_train_", "_valid_"))
        guess = sibling if sibling != root and sibling.is_dir() else None
    else:
        train = next((root / d for d in TRAIN_DIRS if (root / d).is_dir()), None)
        guess = next((root / d for d in VAL_DIRS if (root / d).is_dir()), None)
        if train is None:
            raise DataError(f"no PNG/JPEG images in {root} (nor in {root}/train)")
    return train, guess


def _split_folder(data, split: str, val) -> Path:
    if split not in ("train", "val"):
        raise ValueError(f"split must be 'train' or 'val', got {split!r}")
    if split == "val" and val is not None:  # an explicit val folder wins, whatever `data` is
        val_dir = Path(val).expanduser()
        if not val_dir.is_dir():
            raise DataError(f"validation folder does not exist: {val_dir}")
        return val_dir
    train, val_dir = _folders(data)
    if split == "train":
        return train
    if val_dir is None:
        raise DataError(f"no validation folder for {data}: "
                        "pass val=PATH or use PATH/train + PATH/val")
    return val_dir


def _embedded(names) -> list[np.ndarray]:
    import skimage.data  # lazy: importing scikit-image takes about a second

    def load(name):
        if name.startswith("stereo_motorcycle_"):  # a (left, right, disparity) triple
            return stereo[0] if name.endswith("left") else stereo[1]
        return getattr(skimage.data, name)()

    stereo = skimage.data.stereo_motorcycle() if any("stereo" in n for n in names) else None
    return [to_rgb(load(n)) for n in names]


def _embedded_names(split: str) -> tuple[str, ...]:
    if split not in ("train", "val"):
        raise ValueError(f"split must be 'train' or 'val', got {split!r}")
    return EMBEDDED_TRAIN if split == "train" else EMBEDDED_VAL


def load_images(data: str | Path = "embedded", split: str = "train",
                val: str | Path | None = None) -> list[np.ndarray]:
    """Decode a split once: list of H x W x 3 uint8 arrays (share it via train_loader(images=))."""
    return load_named_images(data, split, val)[1]


def load_named_images(data: str | Path = "embedded", split: str = "train",
                      val: str | Path | None = None) -> tuple[list[str], list[np.ndarray]]:
    """(names, images) of a split: the embedded photos' names, or the files' stems."""
    if data == "embedded" and (split == "train" or val is None):
        names = list(_embedded_names(split))
        return names, _embedded(names)
    folder = _split_folder(data, split, val)
    paths = _list_images(folder)
    if not paths:
        raise DataError(f"no PNG/JPEG images in {folder}")

    def decode(p):
        try:
            return read_image(p)
        except Exception:
            return None

    # Pillow releases the GIL while decoding, so threads decode large folders in parallel.
    with ThreadPoolExecutor(min(8, os.cpu_count() or 1)) as pool:
        images = list(pool.map(decode, paths))
    good = _readable(folder, paths, images)
    return [p.stem for p, _ in good], [im for _, im in good]


def cache_dir() -> Path:
    return Path(os.environ.get("IRN_CACHE", "~/.cache/irn-bench")).expanduser() / "embedded"


def _embedded_files(names) -> list[Path]:
    """PNG copies of the embedded photos, written once; atomic, so concurrent trials are safe."""
    folder = cache_dir()
    folder.mkdir(parents=True, exist_ok=True)
    paths = [folder / f"{n}.png" for n in names]
    missing = [i for i, p in enumerate(paths) if not p.is_file()]
    for i, img in zip(missing, _embedded([names[i] for i in missing]) if missing else []):
        # Readers (other trials) never see a half-written PNG.
        with atomic_write(paths[i], "wb") as f:
            Image.fromarray(img).save(f, format="PNG", compress_level=1)
    return paths


def image_files(data: str | Path = "embedded", split: str = "train",
                val: str | Path | None = None) -> tuple[list[Path], list[tuple[int, int]]]:
    """Readable files of a split and their (H, W) sizes, for the disk loader."""
    if data == "embedded" and (split == "train" or val is None):
        paths = _embedded_files(_embedded_names(split))
        folder = cache_dir()
    else:
        folder = _split_folder(data, split, val)
        paths = _list_images(folder)
        if not paths:
            raise DataError(f"no PNG/JPEG images in {folder}")
    sizes = [_header_size(p) for p in paths]
    good = _readable(folder, paths, sizes)
    return [p for p, _ in good], [s for _, s in good]


def shrink(images, factor: int) -> list[np.ndarray]:
    """Each H x W x 3 uint8 image at 1/factor (config `downsample`, irn/levels.py): cropped to
    a multiple of `factor`, MATLAB bicubic (irn.imresize, antialiased), rounded to uint8 like
    a photo saved at that size. One image is converted at a time."""
    if factor == 1:
        return list(images)
    import torch

    from irn.imresize import imresize
    out = []
    for img in images:
        h, w = img.shape[0] - img.shape[0] % factor, img.shape[1] - img.shape[1] % factor
        if not h or not w:
            raise DataError(f"an image of {img.shape[1]}x{img.shape[0]} px is smaller than "
                            f"downsample {factor}")
        x = torch.from_numpy(np.ascontiguousarray(img[:h, :w])).permute(2, 0, 1).float() / 255
        y = imresize(x, 1 / factor).clamp(0, 1).mul(255).round().to(torch.uint8)
        out.append(y.permute(1, 2, 0).numpy())
    return out
