"""What the network learned: its weights, what pruning them costs, how it drifts when applied
again and again, and what its LR carries beyond the bicubic LR.

  python -m bench.analyze (--checkpoint CKPT [--scale S] | --run RUN_ID)
      [--data embedded|text|NAME=PATH] [--max-size 128] [--out DIR] [--json OUT]
      [--tracking-uri URI] [--device cpu|cuda]

Weights: a histogram per stage / block / subnet, the mass (sum |W|) of every conv's input
channels and of every block. Pruning: round-trip Y-PSNR with the lightest k% input channels
of each conv zeroed (k = 0..90), and with the lightest n blocks silenced, per stage.
Drift: Y-PSNR after N = 1..10 round trips; for x2 models x2 applied twice against bicubic x4.
LR hidden: the LR minus the bicubic LR, amplified, its spectrum and radial power profile.
All with z = 0 and irn.evaluate's convention (uint8, BT.601 Y, `scale` px border crop), on
the images centre-cropped to --max-size HR px. Writes DIR/analysis.html (offline, one page)
and DIR/analysis.json (default DIR: ./analysis); with --run also attaches both to that MLflow
run under analysis/. Reading guide: bench/ANALYZE.md. Exit 2 with one line on bad input.
"""
import argparse
import os
import sys
import time
import warnings

from rich.console import Console
from rich.table import Table

from bench.common.cli import (OneLineParser, UsageError, check_device, check_json_target, fail,
                       write_json_atomic)
from irn.config import ConfigError, from_dict
from irn.data import DataError
from irn.official import CheckpointError

PAGE, NUMBERS = "analysis.html", "analysis.json"


def parse_args(argv):
    p = OneLineParser(prog="python -m bench.analyze", description=__doc__,
                      formatter_class=argparse.RawDescriptionHelpFormatter)
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--checkpoint", metavar="CKPT", help="ours (bench.train --save) or an "
                     "official IRN .pth (needs --scale)")
    src.add_argument("--run", metavar="RUN_ID", help="an MLflow trial run of bench.sweep")
    p.add_argument("--scale", type=int, choices=(2, 4, 8), help="the checkpoint's scale")
    p.add_argument("--data", default="embedded", help="one of embedded (default), text or "
                   "NAME=PATH (a folder of PNG/JPEG HR images)")
    p.add_argument("--max-size", type=int, default=128, help="centre-crop each image to at "
                   "most this many HR px a side (128; 0 = whole; a multiple of the scale)")
    p.add_argument("--out", default="analysis", metavar="DIR", help="folder for analysis.html "
                   "and analysis.json (default ./analysis)")
    p.add_argument("--json", metavar="OUT", help="also write the numbers here (atomically)")
    p.add_argument("--tracking-uri", metavar="URI", help="the MLflow store --run reads "
                   "(default sqlite:///<cwd>/mlflow.db)")
    p.add_argument("--device", choices=("cpu", "cuda"), default="cpu")
    p.set_defaults(sweep=None, best=False)  # what bench.evaluate.source.resolve_model reads
    args = p.parse_args(argv)
    if args.max_size < 0:
        p.error("--max-size must be >= 0")
    return args


def check_out_dir(path: str) -> None:
    """Refuse an --out that is a file or whose parent folder is missing, before any work."""
    if os.path.exists(path) and not os.path.isdir(path):
        raise UsageError(f"--out is not a folder: {path}")
    parent = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(parent):
        raise UsageError(f"folder for --out does not exist: {parent}")


def check_store(args) -> None:
    """Default the tracking URI; a SQLite file that does not exist is bad input (MLflow would
    create an empty store there)."""
    from bench.common.tracking import default_tracking_uri
    args.tracking_uri = args.tracking_uri or default_tracking_uri()
    if args.tracking_uri.startswith("sqlite:///"):
        db = args.tracking_uri[len("sqlite:///"):].split("?")[0]
        if not os.path.isfile(db):
            raise UsageError(f"no MLflow database at {db} (--tracking-uri)")


def load_images(args, scale: int):
    """The validation set (hr, lr_ref) of the one dataset --data names, cropped."""
    from bench.evaluate.data import load_dataset, parse_data
    from irn.data import val_images
    specs = parse_data(args.data)
    if len(specs) != 1:
        raise UsageError("--data names one dataset here")
    if args.max_size % scale:
        raise UsageError(f"--max-size {args.max_size} is not divisible by the scale {scale}")
    name, path = specs[0]
    names, images = load_dataset(name, path)
    val_set = val_images(scale=scale, images=images, names=names, max_size=args.max_size or None)
    for n, (hr, _) in zip(val_set.names, val_set):
        if min(hr.shape[-2:]) < 3 * scale:  # the scale-px border crop must leave pixels
            raise DataError(f"image {n} ({hr.shape[-1]}x{hr.shape[-2]}) is too small for "
                            f"x{scale}")
    return val_set


def _table(title: str, head: list[str], rows) -> Table:
    t = Table(title=title, title_justify="left", min_width=len(title))
    for h in head:
        t.add_column(h, justify="right")
    for row in rows:
        t.add_row(*[c if isinstance(c, str) else f"{c:.2f}" for c in row])
    return t


def print_summary(numbers: dict, console: Console) -> None:
    ev, n = numbers["evaluation"]["mean"], numbers["n_images"]
    console.print(f"round trip (z = 0): Y-PSNR {ev['psnr_y']:.2f} dB, bicubic "
                  f"{ev['bicubic_psnr_y']:.2f} dB, LR vs bicubic LR {ev['lr_psnr_y']:.2f} dB "
                  f"(mean over {n} images)")
    ch = numbers["channel_pruning"]
    console.print(_table(f"Channel pruning: Y-PSNR (dB), mean over {ch['n_images']} images",
                         ["zeroed %", *ch["curves"]],
                         [[f"{p}", *(c[i] for c in ch["curves"].values())]
                          for i, p in enumerate(ch["percents"])]))
    bl = numbers["block_pruning"]
    depth = max(map(len, bl["curves"].values()))
    console.print(_table(f"Block pruning: Y-PSNR (dB), mean over {bl['n_images']} images",
                         ["blocks silenced", *bl["curves"]],
                         [[f"{k}", *(c[k] if k < len(c) else "-" for c in bl["curves"].values())]
                          for k in range(depth)]))
    rep = numbers["repeat"]
    console.print(_table(f"Repeated round trips: Y-PSNR (dB), mean over {rep['n_images']} "
                         "images", ["N", "model", "bicubic"],
                         zip(map(str, rep["n"]), rep["psnr_y"], rep["bicubic_psnr_y"])))
    t = numbers["x2_twice"]
    console.print(f"x2 twice: {t['psnr_y']:.2f} dB vs bicubic x4 {t['bicubic_x4_psnr_y']:.2f} dB "
                  f"({t['gain_db']:+.2f}; mean over {t['n_images']} images)" if t else
                  f"x2 twice: skipped (a x{numbers['setup']['scale']} model; only for x2)")
    rms = numbers["lr_hidden"]["rms_levels"]
    console.print(f"LR - bicubic LR: RMS {sum(rms) / len(rms):.2f} Y levels "
                  f"(mean over {len(rms)} images)")


def write_outputs(args, numbers: dict, pictures: dict, source: dict) -> list[str]:
    """analysis.html + analysis.json in --out (and --json), each atomically; their paths."""
    from dashboards.analysis import write_page
    os.makedirs(args.out, exist_ok=True)
    page, json_path = os.path.join(args.out, PAGE), os.path.join(args.out, NUMBERS)
    setup = numbers["setup"]
    meta = {"model": source["checkpoint"], "MLflow run": source.get("run_id"),
            "architecture": setup["architecture"],
            "images": f"{numbers['n_images']} from {args.data} ({', '.join(numbers['images'])}),"
                      f" at most {args.max_size or 'full'} HR px a side",
            "convention": "z = 0, uint8, BT.601 Y-PSNR with a scale-px border crop"}
    write_page(page, f"What the network learned: x{setup['scale']} "
               f"{os.path.basename(source['checkpoint'])}", meta, numbers, pictures)
    write_json_atomic(json_path, numbers)
    if args.json:
        write_json_atomic(args.json, numbers)
    return [page, json_path]


def attach(run_id: str, tracking_uri: str, paths: list[str]) -> None:
    from mlflow.tracking import MlflowClient
    client = MlflowClient(tracking_uri)
    for path in paths:
        client.log_artifact(run_id, path, artifact_path="analysis")


def main(argv=None) -> int:
    args = parse_args(argv)
    console = Console(stderr=True)
    start = time.perf_counter()
    try:
        from bench.evaluate.source import resolve_model
        from irn.analysis import analyze
        check_json_target(args.json)
        check_out_dir(args.out)
        if args.run:
            check_store(args)
        check_device(args.device)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # torch/scipy chatter; refusals are exceptions
            model, source = resolve_model(args)
            val_set = load_images(args, model.scale)
        cfg = from_dict({"scale": model.scale, "z_eval": "zero", "jpeg_eval": "",
                         "device": args.device})
        with console.status("analysing") as status:
            numbers, pictures = analyze(model, val_set, cfg, args.device,
                                        progress=lambda s: status.update(f"analysing: {s}"))
    except (UsageError, DataError, CheckpointError, ConfigError) as exc:
        return fail(exc)
    numbers["setup"] = {"scale": model.scale, "data": args.data, "max_size": args.max_size,
                        "device": args.device, "z": "zero", "source": source,
                        "architecture": f"{model.coupling_name}, {len(model.stages)} stage(s) "
                        f"of {len(model.stages[0].module_list) - 1} blocks"}
    numbers["wall_s"] = time.perf_counter() - start  # loading and analysing
    paths = write_outputs(args, numbers, pictures, source)
    if args.run:
        attach(args.run, args.tracking_uri, paths)
    print_summary(numbers, Console())
    print(f"wrote {paths[0]} and {paths[1]}; analysed in {numbers['wall_s']:.0f} s"
          + (f"; attached to MLflow run {args.run} under analysis/" if args.run else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
