"""The paper's tables for any model, beside the published numbers.

  python -m bench.evaluate (--checkpoint CKPT [--scale S] | --run RUN_ID | --sweep DIR [--best])
      --data embedded|text|NAME=PATH[,...] [--z zero|gaussian] [--z-draws 5]
      [--jpeg 30,50,70,80,90] [--fit modcrop|pad] [--tile N --overlap N] [--device cpu|cuda]
      [--json OUT] [--csv PER_IMAGE.csv] [--tracking-uri URI --experiment NAME]
  python -m bench.evaluate --video (--checkpoint CKPT [--scale S] | --run ID | --sweep DIR)
      [--clips embedded|PATH] [--frames 12] [--size 192] [--crf 18,23,28,33,38]
      [--codec libx264] [--preset medium] [--json OUT]

Per dataset: Y-PSNR / Y-SSIM / RGB PSNR of the round trip, the bicubic-down/bicubic-up row,
the LR against the bicubic LR, super-resolution from a plain bicubic LR, the model's LR and
the bicubic LR through real libjpeg at each QF, and the bits per LR pixel of both LRs as PNG
and as JPEG, each as a mean with its 95% CI over images (irn.stats.compare) and the image count.
Convention: uint8, BT.601 Y, `scale` px border crop, SSIM 11x11 Gaussian (irn.evaluate).
Datasets named like Set5, Set14, BSD100, Urban100 or DIV2K get the published rows
(bench/evaluate/published/irn_tables.csv, each with its paper and table) and ours minus published.
`embedded`: the two held-out photographs; `text`: rendered text, line art, a screenshot.
Fit: `modcrop` (default) crops HR to a multiple of the scale as the official test code does;
`pad` reflect-pads and crops back, so every pixel counts. Exit 2 with one line on bad input.
--video: the model's LR through a real video codec against a bicubic LR and the HR coded
directly: bpp, Y-PSNR, flicker per CRF and BD-PSNR (bench/evaluate/video.py).
"""
import argparse
import shutil
import sys
import time
import warnings

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from bench.common.cli import (OneLineParser, UsageError, check_device, check_json_target,
                       check_output_target, fail, write_json_atomic)
from bench.evaluate.video import add_arguments as add_video_arguments
from irn.config import ConfigError, from_dict
from irn.data import DataError
from irn.official import CheckpointError


def parse_args(argv):
    p = OneLineParser(prog="python -m bench.evaluate", description=__doc__,
                      formatter_class=argparse.RawDescriptionHelpFormatter)
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--checkpoint", metavar="CKPT", help="ours (bench.train --save) or an "
                     "official IRN .pth (needs --scale)")
    src.add_argument("--run", metavar="RUN_ID", help="an MLflow trial run of bench.sweep")
    src.add_argument("--sweep", metavar="DIR", help="a bench.sweep results folder")
    p.add_argument("--best", action="store_true", help="with --sweep: its best trial by the "
                   "sweep's objective")
    p.add_argument("--scale", type=int, choices=(2, 4, 8), help="the checkpoint's scale")
    p.add_argument("--data", help="embedded, text and/or NAME=PATH, comma-"
                   "separated (NAME=PATH: a folder of PNG/JPEG HR images)")
    p.add_argument("--z", choices=("zero", "gaussian"), default="zero",
                   help="latent at upscaling (default zero; the IRN paper draws gaussian)")
    p.add_argument("--z-draws", type=int, default=5, help="gaussian draws per image (5)")
    p.add_argument("--jpeg", default="30,50,70,80,90", help="QFs of the JPEG rows ('' = none)")
    p.add_argument("--fit", choices=("modcrop", "pad"), default="modcrop")
    p.add_argument("--tile", type=int, default=0, help="tile size in HR px (0 = whole image)")
    p.add_argument("--overlap", type=int, default=32, help="tile context in HR px (32)")
    p.add_argument("--device", choices=("cpu", "cuda"), default="cpu")
    p.add_argument("--json", metavar="OUT", help="write the tables as JSON (atomically)")
    p.add_argument("--csv", metavar="PER_IMAGE", help="write the per-image rows as CSV")
    p.add_argument("--tracking-uri", metavar="URI", help="log an MLflow evaluation run (and "
                   "the store --run reads; default sqlite:///<cwd>/mlflow.db)")
    p.add_argument("--experiment", metavar="NAME", help="MLflow experiment (default irn-bench)")
    add_video_arguments(p)
    args = p.parse_args(argv)
    if not args.video and not args.data:
        p.error("the following arguments are required: --data")
    if args.best and not args.sweep:
        p.error("--best goes with --sweep")
    if args.z_draws < 1:
        p.error("--z-draws must be >= 1")
    return args


def open_tracker(args):
    """The MLflow store, opened before any work so an unusable one fails first (the run
    itself is created only once the tables exist); None unless asked for."""
    if not (args.tracking_uri or args.experiment):
        return None
    from bench.common.tracking import DEFAULT_EXPERIMENT, Tracker, TrackingError, default_tracking_uri
    try:
        return Tracker(args.tracking_uri or default_tracking_uri(),
                       args.experiment or DEFAULT_EXPERIMENT)
    except TrackingError as exc:
        raise UsageError(str(exc)) from None


def setup_config(args, scale: int):
    from irn.tiling import check_tiling
    cfg = from_dict({"scale": scale, "z_eval": args.z, "eval_z_draws": args.z_draws,
                     "jpeg_eval": args.jpeg, "device": args.device})
    if args.tile:
        try:
            check_tiling(scale, args.tile, args.overlap)
        except ValueError as exc:
            raise UsageError(str(exc)) from None
    return cfg


def setup_record(args, scale: int) -> dict:
    """How the tables were made (JSON, MLflow params)."""
    return {"scale": scale, "z": args.z, "z_draws": args.z_draws if args.z == "gaussian" else 0,
            "jpeg": args.jpeg, "fit": args.fit, "tile": args.tile,
            "overlap": args.overlap if args.tile else 0, "data": args.data, "device": args.device}


def load_all(specs) -> dict:
    """Every dataset decoded before any model work, so bad data fails first."""
    from bench.evaluate.data import load_dataset
    return {name: load_dataset(name, path) for name, path in specs}


def evaluate(model, cfg, args, data: dict, console) -> tuple[dict, list[dict]]:
    from bench.evaluate.data import image_pairs
    from bench.evaluate.run import draw_spread, evaluate_pairs, summarize, table_metrics
    from bench.evaluate.published import comparison
    from irn.metric_registry import jpeg_qualities
    qualities = jpeg_qualities(cfg)
    metrics = table_metrics(cfg, qualities)
    datasets, all_rows = {}, []
    model = model.to(args.device)
    with Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                  TimeElapsedColumn(), console=console, transient=True) as bar:
        for name, (names, images) in data.items():
            pairs = image_pairs(images, names, model.scale, args.fit)
            task = bar.add_task(name, total=len(pairs))
            rows = evaluate_pairs(model, pairs, cfg, qualities, args.tile, args.overlap,
                                  args.device, on_image=lambda: bar.advance(task))
            summary = summarize(rows, metrics)
            datasets[name] = {"n_images": len(rows), "metrics": summary,
                              "z_draws": draw_spread(rows),
                              "published": comparison(name, model.scale, summary, rows)}
            all_rows += [{"dataset": name, **r} for r in rows]
    return datasets, all_rows


def main(argv=None) -> int:
    args = parse_args(argv)
    console = Console(stderr=True)
    if args.video:
        from bench.evaluate.video import run_video
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                return run_video(args, console)
        except (UsageError, DataError, CheckpointError, ConfigError) as exc:
            return fail(exc)
    start = time.perf_counter()
    try:
        from bench.evaluate.data import parse_data
        from bench.evaluate.source import resolve_model
        check_json_target(args.json)
        check_output_target(args.csv, "--csv")
        check_device(args.device)
        tracker = open_tracker(args)
        specs = parse_data(args.data)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # torch/scipy chatter; refusals are exceptions
            data = load_all(specs)
            model, source = resolve_model(args)
        cfg = setup_config(args, model.scale)
        datasets, rows = evaluate(model, cfg, args, data, console)
    except (UsageError, DataError, CheckpointError, ConfigError) as exc:
        return fail(exc)
    from bench.evaluate.report import all_tables, as_text, log_evaluation, write_csv
    wall = time.perf_counter() - start
    result = {"source": source, "setup": setup_record(args, model.scale), "datasets": datasets,
              "wall_s": wall}
    tables = all_tables(result)
    out = Console(width=shutil.get_terminal_size((150, 24)).columns)
    for t in tables:
        out.print(t)
    n = sum(d["n_images"] for d in datasets.values())
    print(f"{n} images in {len(datasets)} dataset(s) evaluated in {wall:.0f} s "
          f"({source['checkpoint']})")
    if args.csv:
        write_csv(args.csv, rows)
    if args.json:
        write_json_atomic(args.json, result)
    if tracker:
        print(f"MLflow evaluation run {log_evaluation(tracker, result, rows, as_text(tables))}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
