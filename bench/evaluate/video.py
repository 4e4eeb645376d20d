"""`python -m bench.evaluate --video`: the model's LR through a real video codec, against a
bicubic LR and against coding the HR directly (the science: irn/video/codec.py).

  python -m bench.evaluate --video (--checkpoint CKPT [--scale S] | --run ID | --sweep DIR)
      [--clips embedded|PATH] [--frames 12] [--size 192] [--crf 18,23,28,33,38]
      [--codec libx264] [--preset medium] [--device cpu|cuda] [--json OUT]

Clips: `embedded` renders one camera-motion clip per (held-out photo, motion) (irn.video.clips,
seed 0); PATH is a clip folder (REDS / Vid4: PATH/<clip>/*.png, or video files) read with
irn.video.io (the first --frames frames). Each clip is centre-cropped to at most --size px a
side and to a multiple of 2 x scale (an even LR: no 4:2:0 padding is coded). The table: per
pipeline and CRF the means over clips of bpp (bits per HR pixel), Y-PSNR and flicker; then
the BD-PSNR of model vs bicubic and model vs hr, the mean of the per-clip BD-PSNRs with a 95%
interval over clips (irn.stats.compare.mean_ci: BCa bootstrap from 10 clips, the t interval
below). Exit 2 with one line on bad input, checked before the model runs.
"""
import shutil
import time

import numpy as np
from rich.console import Console

from bench.common.cli import UsageError, check_device, check_json_target, write_json_atomic

DEFAULT_CRFS = "18,23,28,33,38"


def add_arguments(p) -> None:
    """The --video options (bench.evaluate.command's parser)."""
    g = p.add_argument_group("video (--video)")
    g.add_argument("--video", action="store_true", help="rate-distortion through a video "
                   "codec instead of the image tables (no --data)")
    g.add_argument("--clips", default="embedded", help="embedded (default) or a folder of "
                   "clips (PATH/<clip>/*.png or video files)")
    g.add_argument("--frames", type=int, default=12, help="frames per clip (12)")
    g.add_argument("--size", type=int, default=192, help="clip side in px, at most (192)")
    g.add_argument("--crf", default=DEFAULT_CRFS, help=f"CRFs, comma-separated ({DEFAULT_CRFS})")
    g.add_argument("--codec", default="libx264", help="libx264 (default), libx265, "
                   "libvpx-vp9, libsvtav1")
    g.add_argument("--preset", default="medium", help="encoder preset (x264/x265 names; "
                   "vp9 cpu-used and SVT-AV1 presets are numbers)")


def check_video_args(args) -> list[int]:
    """The CRF list, or UsageError: every video option checked before any work."""
    from irn.video.io import CODECS, check_codec, encode_decode
    if args.data:
        raise UsageError("--video takes its clips from --clips, not --data")
    if args.csv:
        raise UsageError("--video writes its points with --json (no --csv)")
    if CODECS.get(args.codec, (None, None))[1] is None:
        lossy = ", ".join(c for c, v in CODECS.items() if v[1] is not None)
        raise UsageError(f"--codec {args.codec}: choose a lossy codec ({lossy})")
    try:
        crfs = [int(c) for c in args.crf.split(",") if c.strip()]
    except ValueError:
        raise UsageError(f"--crf {args.crf!r}: give integers, e.g. {DEFAULT_CRFS}") from None
    if not crfs:
        raise UsageError("--crf: give at least one CRF")
    if len(set(crfs)) != len(crfs):
        raise UsageError(f"--crf {args.crf}: a CRF is repeated")
    try:
        for crf in crfs:
            check_codec(args.codec, crf)
    except ValueError as exc:
        raise UsageError(f"--crf: {exc}") from None
    try:
        check_codec(args.codec, preset=args.preset)
    except ValueError as exc:
        raise UsageError(f"--preset: {exc}") from None
    try:  # the codec opens with this preset: a 2-frame trial, milliseconds
        encode_decode(np.zeros((2, 16, 16, 3), np.uint8), args.codec, crfs[0], args.preset)
    except Exception as exc:  # noqa: BLE001 - FFmpeg's refusal, in its words
        raise UsageError(f"--codec {args.codec} --preset {args.preset}: "
                         f"{str(exc).splitlines()[0]}") from None
    if args.frames < 2:
        raise UsageError("--frames must be >= 2 (flicker compares consecutive frames)")
    if args.size < 16:
        raise UsageError("--size must be >= 16")
    return sorted(crfs)


def load_clips(args) -> tuple[list[str], list[np.ndarray]]:
    """(names, clips), every clip decoded before the model is loaded."""
    from irn.video.io import VideoError, clip_folders, read_clip
    if args.clips == "embedded":
        from irn.data import load_named_images
        from irn.video.clips import rendered_clips
        names, photos = load_named_images("embedded", "val")
        try:
            return rendered_clips(photos, names, args.frames, (args.size, args.size), seed=0)
        except ValueError as exc:  # a photo too small for the clip asked for
            raise UsageError(f"--size {args.size} --frames {args.frames}: {exc}") from None
    names, clips = [], []
    for name, path in clip_folders(args.clips):  # VideoError is a DataError: exit 2
        clip = read_clip(path, min_frames=2)[: args.frames]
        names.append(name)
        clips.append(clip)
    if not clips:
        raise VideoError(f"no clips in {args.clips}")
    return names, clips


def summarize(per_clip: list[dict]) -> list[dict]:
    """Per (pipeline, crf): the means over clips."""
    from irn.video.codec import PIPELINES
    rows = []
    crfs = sorted({p["crf"] for c in per_clip for p in c["points"]})
    for pipeline in PIPELINES:
        for crf in crfs:
            pts = [p for c in per_clip for p in c["points"]
                   if p["pipeline"] == pipeline and p["crf"] == crf]
            rows.append({"pipeline": pipeline, "crf": crf, "codec_crf": pts[0]["codec_crf"],
                         "n_clips": len(pts),
                         **{k: float(np.mean([p[k] for p in pts]))
                            for k in ("bpp", "y_psnr", "flicker")}})
    return rows


def bd_summary(per_clip: list[dict]) -> dict:
    from irn.stats.compare import mean_ci
    out = {}
    for key in ("model_vs_bicubic", "model_vs_hr"):
        values = [c["bd_psnr"][key] for c in per_clip if c["bd_psnr"][key] is not None]
        stat = mean_ci(np.array([values])) if values else {"mean": None, "ci95": None}
        out[key] = {**stat, "n_clips": len(values)}
    return out


def table(result: dict):
    from rich.table import Table
    s = result["setup"]
    t = Table(title=f"x{s['scale']} through {s['codec']} ({s['preset']}), clips "
              f"{s['clips']}: means over {s['n_clips']} clips ({s['n_frames']} frames in all)",
              title_justify="left")
    for col in ("pipeline", "crf", "coded crf", "bpp", "Y-PSNR (dB)", "flicker (Y levels)"):
        t.add_column(col, justify="left" if col == "pipeline" else "right")
    for r in result["summary"]:
        t.add_row(r["pipeline"], str(r["crf"]), str(r["codec_crf"]), f"{r['bpp']:.4f}",
                  f"{r['y_psnr']:.2f}", f"{r['flicker']:.3f}")
    return t


def bd_lines(bd: dict) -> list[str]:
    lines = []
    for key, stat in bd.items():
        name = key.replace("_vs_", " vs ")
        if stat["mean"] is None:
            lines.append(f"BD-PSNR {name}: none (the rate ranges do not overlap)")
            continue
        ci = stat["ci95"]
        interval = f" [{ci[0]:+.2f}, {ci[1]:+.2f}]" if ci else " (no interval from 1 clip)"
        lines.append(f"BD-PSNR {name}: {stat['mean']:+.2f} dB{interval} (95% over "
                     f"{stat['n_clips']} clips; > 0: the model is better at equal rate)")
    return lines


def run_video(args, console) -> int:
    """The --video command: returns the exit status (bad input raises, as main expects)."""
    from irn.video.clips import center_crop
    from irn.video.codec import clip_bd, hr_crf, rd_points
    from bench.evaluate.source import resolve_model
    start = time.perf_counter()
    check_json_target(args.json)
    check_device(args.device)
    crfs = check_video_args(args)
    names, clips = load_clips(args)
    model, source = resolve_model(args)
    model = model.to(args.device)
    scale = model.scale
    try:
        clips = [center_crop(c, 2 * scale, args.size) for c in clips]
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    per_clip = []
    for i, (name, clip) in enumerate(zip(names, clips)):
        console.print(f"[{i + 1}/{len(clips)}] {name}: {len(clip)} frames "
                      f"{clip.shape[2]}x{clip.shape[1]}", highlight=False)
        points = rd_points(clip, model, scale, crfs, args.codec, args.preset)
        per_clip.append({"name": name, "frames": int(len(clip)), "height": int(clip.shape[1]),
                         "width": int(clip.shape[2]), "points": points,
                         "bd_psnr": clip_bd(points)})
    wall = time.perf_counter() - start
    result = {"source": source,
              "setup": {"scale": scale, "device": args.device, "codec": args.codec,
                        "preset": args.preset, "crfs": crfs, "hr_crfs": [hr_crf(c, scale, args.codec) for c in crfs],
                        "clips": args.clips, "frames": args.frames, "size": args.size,
                        "n_clips": len(per_clip),
                        "n_frames": sum(c["frames"] for c in per_clip)},
              "summary": summarize(per_clip), "bd_psnr": bd_summary(per_clip),
              "clips": per_clip, "wall_s": wall}
    out = Console(width=shutil.get_terminal_size((150, 24)).columns)
    out.print(table(result))
    for line in bd_lines(result["bd_psnr"]):
        print(line)
    print(f"{len(per_clip)} clips ({result['setup']['n_frames']} frames) evaluated in "
          f"{wall:.0f} s ({source['checkpoint']})")
    if args.json:
        write_json_atomic(args.json, result)
    return 0
