"""Rescale real image files, videos and frame folders with a trained model.

  python -m irn.rescale down IN OUT --checkpoint CKPT [--scale S]
  python -m irn.rescale up   IN OUT --checkpoint CKPT [--scale S] [--z zero|gaussian] [--seed N]
  video: IN a video file (.mp4 .mkv .avi .mov .webm .y4m) or a folder of PNG/JPEG frames;
         OUT a video file [--codec libx264] [--crf 18 | --bitrate 500k], or a folder (a path
         ending in / or an existing empty folder) that gets 00000000.png, 00000001.png, ...

Sizes the scale does not divide are padded by reflection and cropped back (down: to the
ceiling of size/scale; up: always exact). The LR is written as 8-bit PNG (or JPEG if OUT
ends in .jpg). A video goes through the model frame by frame (batches of frames; up: frame
i's z drawn with seed + i), keeping frame count, order and frame rate (a frame folder: 25
fps); the output video is encoded with --codec (default libx264 at CRF 18; .webm: libvpx-vp9,
.y4m: raw) and odd sizes are padded and cropped back (irn.video.io). Exit 2 with one line on
bad input, checked before the model is loaded or any frame decoded; the output file (or
folder) is written atomically.
"""
import argparse
import math
import os
import shutil
import sys
import tempfile

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image, UnidentifiedImageError

from irn.atomic import atomic_write
from irn.cli import OneLineParser
from irn.data.sources import (DataError, frames_to_tensor, pil_to_rgb8, tensor_to_frames,
                              tensor_to_rgb8)
from irn.checkpoint import load_model
from irn.latent import draw_latent
from irn.official import CheckpointError
from irn.video.io import (CODECS, check_codec, check_video_target, frame_files, is_video_file,
                          probe_video, read_clip, write_video)

FRAME_BATCH = 4  # frames per model call
DEFAULT_CRF = 18


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


@torch.inference_mode()
def upscale_frames(model, lr: torch.Tensor, z_mode="zero", seed=0) -> torch.Tensor:
    """upscale for a batch of frames, frame j's z drawn as `upscale` draws it with seed + j."""
    z = torch.cat([draw_latent(model.latent_shape(lr[j:j + 1]), lr, z_mode,
                               generator=torch.Generator().manual_seed(seed + j))
                   for j in range(len(lr))])
    return model.upscale(lr, z=z).clamp(0, 1)


def rescale_frames(model, frames, direction: str, z_mode="zero", seed=0,
                   batch: int = FRAME_BATCH):
    """F x H x W x 3 uint8 -> the model's down (ceil(size / scale)) or up frames, uint8."""
    out = []
    for i in range(0, len(frames), batch):
        x = frames_to_tensor(frames[i:i + batch])
        y = downscale(model, x) if direction == "down" else upscale_frames(model, x, z_mode,
                                                                          seed + i)
        out.append(tensor_to_frames(y))
    return np.concatenate(out)


def is_video_input(path) -> bool:
    return os.path.isdir(path) or is_video_file(path)


def is_frames_output(path) -> bool:
    return path.endswith(("/", os.sep)) or os.path.isdir(path)


def video_job(args) -> dict:
    """Every check of a video job (input, output, codec settings) before any work: the input
    by its headers only. {"fps", "frames_out" | ("codec", "crf")}."""
    if os.path.isdir(args.input):
        if not frame_files(args.input):
            raise ValueError(f"no PNG/JPEG frames in {args.input}")
        fps = 25.0
    else:
        if not os.path.isfile(args.input):
            raise ValueError(f"input video not found: {args.input}")
        fps = probe_video(args.input)["fps"]
    if is_frames_output(args.output):
        folder = os.path.normpath(args.output)
        parent = os.path.dirname(os.path.abspath(folder))
        if not os.path.isdir(parent):
            raise ValueError(f"output folder does not exist: {parent}")
        if os.path.isdir(folder) and os.listdir(folder):
            raise ValueError(f"output folder is not empty: {folder}")
        if args.codec or args.crf is not None or args.bitrate is not None:
            raise ValueError("--codec, --crf and --bitrate are for a video output; a folder "
                             "gets PNG frames")
        return {"fps": fps, "frames_out": folder}
    if not is_video_file(args.output):
        raise ValueError(f"a video or frame folder goes to a video file (.mp4 .mkv .avi .mov "
                         f".webm .y4m) or a folder ending in /: {args.output}")
    _, codec = check_video_target(args.output, args.codec)
    crf = args.crf
    if crf is None and args.bitrate is None and CODECS[codec][1] is not None:
        crf = DEFAULT_CRF
    check_codec(codec, crf, args.bitrate)
    return {"fps": fps, "codec": codec, "crf": crf}


def write_frames(frames, folder) -> None:
    """PNG frames 00000000.png ... into `folder` (absent or empty), atomically: written into
    a temp folder beside it, then renamed."""
    parent = os.path.dirname(os.path.abspath(folder))
    tmp = tempfile.mkdtemp(dir=parent, prefix=f".{os.path.basename(folder)}.")
    try:
        for i, frame in enumerate(frames):
            Image.fromarray(frame).save(os.path.join(tmp, f"{i:08d}.png"))
        os.chmod(tmp, 0o777 & ~_umask())
        os.replace(tmp, folder)
    finally:
        if os.path.exists(tmp):
            shutil.rmtree(tmp)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def rescale_video(args) -> str:
    """The video path of main: returns its report line."""
    job = video_job(args)
    model = load_model(args.checkpoint, scale=args.scale).eval()
    clip = read_clip(args.input)
    out = rescale_frames(model, clip, args.direction, args.z, args.seed)
    if "frames_out" in job:
        write_frames(out, job["frames_out"])
        how = "PNG frames"
    else:
        write_video(out, args.output, codec=job["codec"], crf=job["crf"],
                    bitrate=args.bitrate, fps=job["fps"])
        how = job["codec"] + (f" crf {job['crf']}" if job["crf"] is not None else "") + (
            f" {args.bitrate}" if args.bitrate else "")
    return (f"{args.direction}scaled {args.input} {len(clip)} frames {tuple(clip.shape[1:3])} "
            f"-> {args.output} {tuple(out.shape[1:3])} (x{model.scale}, {how})")


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
    p.add_argument("--codec", help="video output: " + ", ".join(CODECS) + " (default libx264;"
                   " .webm libvpx-vp9, .y4m rawvideo)")
    rate = p.add_mutually_exclusive_group()
    rate.add_argument("--crf", type=int, help=f"video output: constant quality (default "
                      f"{DEFAULT_CRF}; lower is better)")
    rate.add_argument("--bitrate", help="video output: a target rate instead, e.g. 500k, 2M")
    args = p.parse_args(argv)
    if is_video_input(args.input):
        try:
            line = rescale_video(args)
        except (ValueError, CheckpointError) as exc:  # VideoError is a ValueError
            print(f"error: {str(exc).splitlines()[0]}", file=sys.stderr)
            return 2
        print(line)
        return 0
    try:
        if args.codec or args.crf is not None or args.bitrate is not None:
            raise ValueError("--codec, --crf and --bitrate are for a video input (a video file "
                             "or a frame folder)")
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
