"""The image sets `python -m bench.evaluate --data` names: `embedded`, `text` (rendered
out-of-domain images) and NAME=PATH folders; and how an image is fitted to the scale.

Fit `modcrop` (default) crops each HR image from the top-left to a multiple of the scale, as
the official test code and every published table do (irn.data.val_images). Fit `pad`
evaluates every pixel: the HR is reflect-padded for the model and the results are cropped
back (EvalModel.for_size), as `irn.rescale` does; the LR reference is the MATLAB bicubic
imresize of the unpadded image (ceil(size / scale)).
"""
import warnings

import numpy as np
import torch

from bench.common.cli import UsageError
from irn.data import DataError, DataWarning, load_named_images, val_images
from irn.data.rendered import rendered_images
from irn.imresize import imresize

BUILTIN = {"embedded": lambda: load_named_images("embedded", "val"), "text": rendered_images}


def parse_data(spec: str) -> list[tuple[str, str | None]]:
    """'embedded,text,Set5=/d/Set5' -> [(name, path or None)], names unique."""
    out = []
    for item in (s.strip() for s in spec.split(",")):
        if not item:
            continue
        name, sep, path = item.partition("=")
        name = name.strip()
        if not sep and name not in BUILTIN:
            raise UsageError(f"unknown dataset {name!r}: use {', '.join(BUILTIN)} or NAME=PATH")
        if sep and not (name and path.strip()):
            raise UsageError(f"--data entry {item!r} is not NAME=PATH")
        if name in [n for n, _ in out]:
            raise UsageError(f"dataset name {name!r} given twice in --data")
        out.append((name, path.strip() if sep else None))
    if not out:
        raise UsageError("--data names no dataset")
    return out


def load_dataset(name: str, path: str | None) -> tuple[list[str], list[np.ndarray]]:
    """(image names, uint8 images). A folder with an unreadable image is refused: a benchmark
    missing one of its images is not that benchmark."""
    if path is None:
        return BUILTIN[name]()
    with warnings.catch_warnings():
        warnings.simplefilter("error", DataWarning)
        try:
            return load_named_images(path, "val", val=path)
        except (DataWarning, DataError) as exc:
            raise DataError(f"dataset {name}: {str(exc).replace('validation folder', 'folder')}") \
                from None


def image_pairs(images, names, scale: int, fit: str):
    """[(name, hr 1x3xHxW, lr_ref)] in [0, 1] under the fit rule."""
    for n, img in zip(names, images):
        if min(img.shape[:2]) < 3 * scale:  # the scale-px border crop must leave pixels
            raise DataError(f"image {n} ({img.shape[1]}x{img.shape[0]}) is too small for x{scale}")
    if fit == "modcrop":
        vs = val_images(scale=scale, images=images, names=names)
        return [(n, hr, lr) for n, (hr, lr) in zip(vs.names, vs)]
    out = []
    for n, img in zip(names, images):
        hr = torch.from_numpy(np.ascontiguousarray(img.transpose(2, 0, 1)))[None].float() / 255
        out.append((n, hr, imresize(hr, 1 / scale).clamp_(0, 1)))
    return out
