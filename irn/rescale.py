"""Rescale real image files with a trained model.

  python -m irn.rescale down IN OUT --checkpoint CKPT [--scale S]
  python -m irn.rescale up   IN OUT --checkpoint CKPT [--scale S] [--z zero|gaussian] [--seed N]

Sizes the scale does not divide are padded by reflection and cropped back (down: to the
ceiling of size/scale; up: always exact). The LR is written as 8-bit PNG (or JPEG if OUT
ends in .jpg). Exit 2 with one line on bad input; the output file is written atomically.
"""
import argparse
import math
import os
import sys

import torch
import torch.nn.functional as F
from PIL import Image, UnidentifiedImageError

from irn.atomic import atomic_write
from irn.cli import OneLineParser
from irn.data.sources import DataError, pil_to_rgb8, tensor_to_rgb8
from irn.checkpoint import load_model
from irn.official import CheckpointError


def read_rgb(path) -> torch.Tensor:
    """1 x 3 x H x W float in [0, 1]."""
    if not os.path.isfile(path):
        raise ValueError(f"input image not found: {path}")
    try:
        with Image.open(path) as im:
            arr = pil_to_rgb8(im, path)
    except (UnidentifiedImageError, OSError) as exc:
        raise ValueError(f"cannot read image {path}: {exc}") from None
    except DataError as exc:
        raise ValueError(str(exc)) from None
    return torch.from_numpy(arr.copy()).permute(2, 0, 1)[None].float() / 255.0


def output_format(path) -> str:
    """PNG or JPEG from the output's extension; ValueError for another one or a missing
    folder (checked before any work)."""
    fmt = {".png": "PNG", ".jpg": "JPEG", ".jpeg": "JPEG"}.get(os.path.splitext(path)[1].lower())
    if fmt is None:
        raise ValueError(f"output must end in .png, .jpg or .jpeg: {path}")
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        raise ValueError(f"output folder does not exist: {folder}")
    return fmt


def write_rgb(x: torch.Tensor, path) -> None:
    arr = tensor_to_rgb8(x)
    fmt = output_format(path)
    with atomic_write(path, "wb") as f:
        Image.fromarray(arr).save(f, format=fmt, **({"quality": 95} if fmt == "JPEG" else {}))


def pad_to_multiple(x: torch.Tensor, multiple: int):
    """Reflect-pad bottom/right so both sides divide `multiple`; returns (padded, (h, w))."""
    h, w = x.shape[-2:]
    ph, pw = (-h) % multiple, (-w) % multiple
    if ph or pw:
        mode = "reflect" if ph < h and pw < w else "replicate"
        x = F.pad(x, (0, pw, 0, ph), mode=mode)
    return x, (h, w)


@torch.inference_mode()
def downscale(model, hr: torch.Tensor) -> torch.Tensor:
    s = model.scale
    padded, (h, w) = pad_to_multiple(hr, s)
    lr = model.downscale(padded)
    return lr[..., : math.ceil(h / s), : math.ceil(w / s)]


@torch.inference_mode()
def upscale(model, lr: torch.Tensor, z_mode="zero", seed=0) -> torch.Tensor:
    gen = torch.Generator().manual_seed(seed)
    return model.upscale(lr, mode=z_mode, generator=gen).clamp(0, 1)


def main(argv=None) -> int:
    p = OneLineParser(prog="python -m irn.rescale", description=__doc__,
                      formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("direction", choices=["down", "up"])
    p.add_argument("input")
    p.add_argument("output")
    p.add_argument("--checkpoint", required=True, help="our .pt or an official IRN .pth")
    p.add_argument("--scale", type=int, help="required for official checkpoints")
    p.add_argument("--z", choices=["zero", "gaussian"], default="zero",
                   help="latent for upscaling (default zero)")
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args(argv)
    try:
        output_format(args.output)
        model = load_model(args.checkpoint, scale=args.scale).eval()
        image = read_rgb(args.input)
        if args.direction == "down":
            out = downscale(model, image)
        else:
            out = upscale(model, image, args.z, args.seed)
        write_rgb(out, args.output)
    except (ValueError, CheckpointError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"{args.direction}scaled {args.input} {tuple(image.shape[-2:])} -> {args.output} "
          f"{tuple(out.shape[-2:])} (x{model.scale})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
