"""Train and evaluate one config: python -m bench.train --set KEY=VALUE ... [--budget B]

Prints progress and the evaluation table (with the bicubic baseline beside the model);
`--json OUT` writes the final metrics and every interval report; `--save CKPT` writes the
trained model (loadable by `python -m irn.rescale --checkpoint CKPT`).
"""
import argparse
import sys
import time
import warnings

from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from bench.common.cli import (OneLineParser, UsageError, check_json_target, check_output_target,
                       fail, write_json_atomic)
from irn.config import BUDGETS, ConfigError, from_dict, parse_set
from irn.data import DataError
from irn.video.study import FRAME_TASKS
from irn.layout import layout_name
from irn.objective import NonFiniteLossError

HEADLINE = ("psnr_y", "gain_db", "ssim_y", "psnr_rgb", "psnr_y_zero", "sr_psnr_y", "lr_psnr_y",
            "secret_psnr_y", "secret_psnr_y_zero", "stego_psnr_y", "stego_ssim_y",  # task=stego
            "frame_psnr_y", "frame_ssim_y", "frame_gain_db", "frame_vs_flow_db",  # predict,
            "reverse_psnr_y", "reverse_gauss_psnr_y")  # interpolate


def parse_args(argv):
    p = OneLineParser(prog="python -m bench.train", description=__doc__,
                      formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--set", dest="sets", action="append", default=[], metavar="KEY=VALUE",
                   help="a config key (repeatable); see irn/config.py for the keys")
    p.add_argument("--budget", choices=list(BUDGETS), default=None,
                   help="preset over steps/batch/patch/lr (default: the config defaults)")
    p.add_argument("--json", metavar="OUT", help="write the metrics as JSON")
    p.add_argument("--save", metavar="CKPT", help="save the trained model here")
    p.add_argument("--tracking-uri", metavar="URI", help="log the run to MLflow (irn.role="
                   "single): any tracking URI, e.g. sqlite:///mlflow.db or http://host:5000")
    p.add_argument("--experiment", metavar="NAME", help="MLflow experiment (default irn-bench); "
                   "without --tracking-uri logs to sqlite:///<cwd>/mlflow.db")
    return p.parse_args(argv)


def results_table(final: dict) -> Table:
    """The final evaluation beside its baselines; names, units and formats from the metric
    registry (irn.metric_registry.METRICS)."""
    from irn.metric_registry import metric_spec
    table = Table(title="Evaluation (published convention: uint8, Y channel, scale-px crop)")
    for col, justify in (("metric", "left"), ("model", "right"), ("baseline", "right"),
                         ("meaning", "left")):
        table.add_column(col, justify=justify)
    jpeg = sorted((k for k in final if k.startswith("jpeg") and k.endswith("_psnr_y")),
                  key=lambda k: int(k[4:].split("_")[0]))
    for key in [k for k in HEADLINE if k in final] + jpeg:
        spec = metric_spec(key)
        base = final.get(spec.baseline) if spec.baseline else None
        table.add_row(key, spec.format(final[key]),
                      f"{metric_spec(spec.baseline).format(base)} ({spec.baseline})"
                      if base is not None else "", spec.describe())
    return table


def load_data(cfg):
    """Decode (memory loader) or check (disk loader) the data before any training starts, so
    a missing folder or unreadable images fail fast; warnings print as one line each."""
    from irn.data import image_files, load_images
    from irn.train import validation_set
    from irn.video.triples import check_frame_data
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        if cfg.task in FRAME_TASKS:  # photos render clips, or folders of real clips
            train, _, val = check_frame_data(cfg)
        else:
            train = load_images(cfg.data, "train") if cfg.loader == "memory" else None
            if train is None:
                image_files(cfg.data, "train")
            val = validation_set(cfg)
    for w in caught:
        print(f"warning: {w.message}", file=sys.stderr)
    return train, val


# the progress bar's metric, by task: rescale, stego, predict / interpolate
PROGRESS = (("psnr_y", "Y-PSNR"), ("secret_psnr_y", "secret Y-PSNR"),
            ("frame_psnr_y", "frame Y-PSNR"))


def run(cfg, console, on_report=None):
    """Train `cfg` with a progress bar; returns the list of interval reports."""
    from irn.train import Trainer  # heavy import after argument checks
    train, val = load_data(cfg)
    trainer = Trainer(cfg, train_images=train, val_set=val)
    console.print(f"precision: {trainer.precision} ({trainer.amp_reason}); layout: "
                  f"{layout_name(trainer.channels_last)} ({trainer.layout_reason})")
    reports = []
    with Progress(TextColumn("[bold]train"), BarColumn(), TextColumn("{task.completed}/"
                  "{task.total} steps"), TextColumn("{task.fields[status]}"),
                  TimeElapsedColumn(), console=console, transient=False) as bar:
        task = bar.add_task("train", total=cfg.steps, status="")
        for report in trainer.run():
            reports.append(report)
            psnr, value = next((name, report[key]) for key, name in PROGRESS if key in report)
            bar.update(task, completed=report["step"],
                       status=f"loss {report['loss/total']:.4g}  {psnr} {value:.2f}")
            if on_report:
                on_report(report, trainer)
    return trainer, reports


def main(argv=None) -> int:
    args = parse_args(argv)
    console = Console(stderr=True)
    try:
        check_json_target(args.json)
        check_output_target(args.save, "--save")
        cfg = from_dict(parse_set(args.sets), budget=args.budget)
        if cfg.level:  # one level of a levels cascade, alone (irn/levels.py)
            from irn.levels import level_config
            cfg = level_config(cfg)
    except (ConfigError, UsageError) as exc:
        return fail(exc)
    tracking = None
    if args.tracking_uri or args.experiment:  # MLflow only when asked for
        from bench.common.tracking import DEFAULT_EXPERIMENT, SingleRun, TrackingError, \
            default_tracking_uri
        try:
            tracking = SingleRun(args.tracking_uri or default_tracking_uri(),
                                 args.experiment or DEFAULT_EXPERIMENT, cfg.to_dict())
        except TrackingError as exc:
            return fail(exc)
    start = time.perf_counter()
    try:
        on_report = (lambda report, _: tracking.report(report)) if tracking else None
        trainer, reports = run(cfg, console, on_report=on_report)
    except (DataError, NonFiniteLossError, ValueError) as exc:
        if tracking:
            tracking.end(error=str(exc))
        return fail(exc)
    except BaseException:
        if tracking:
            tracking.end(error="interrupted", status="KILLED")
        raise
    if tracking:
        from irn.crops import visual_crops
        trainer.model.eval()
        tracking.crops(visual_crops(trainer.model, trainer.val_set, cfg, device=trainer.device))
        tracking.end()
    final = reports[-1]
    Console().print(results_table(final))
    print(f"{cfg.steps} steps in {time.perf_counter() - start:.0f} s "
          f"(train {final['time/train_wall']:.0f} s), {trainer.params:,} parameters")
    if args.save:
        from irn.checkpoint import save_model
        trained_by = {"mlflow_run_id": tracking.run_id} if tracking else {}  # bench.evaluate
        save_model(args.save, trainer.model, cfg.arch(), {"config": cfg.to_dict(), **trained_by})
    if args.json:
        write_json_atomic(args.json, {"config": cfg.to_dict(), "final": final,
                                      "reports": reports,
                                      "wall_s": time.perf_counter() - start})
    return 0


if __name__ == "__main__":
    sys.exit(main())
