"""Train and evaluate one config: python -m bench.train --set KEY=VALUE ... [--budget B]

Prints progress and the evaluation table (with the bicubic baseline beside the model);
`--json OUT` writes the final metrics and every interval report; `--save CKPT` writes the
trained model (loadable by `python -m irn.rescale --checkpoint CKPT`).
"""
import argparse
import sys
import time

from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from bench.cli import UsageError, check_json_target, fail, write_json_atomic
from irn.config import BUDGETS, ConfigError, from_dict, parse_set
from irn.data import DataError
from irn.objective import NonFiniteLossError

HEADLINE = [("psnr_y", "Y-PSNR (dB)"), ("ssim_y", "Y-SSIM"), ("psnr_rgb", "RGB PSNR (dB)"),
            ("psnr_y_zero", "Y-PSNR, z = 0"), ("sr_psnr_y", "SR: Y-PSNR from bicubic LR"),
            ("lr_psnr_y", "LR vs bicubic LR, Y-PSNR")]


def parse_args(argv):
    p = argparse.ArgumentParser(prog="python -m bench.train", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--set", dest="sets", action="append", default=[], metavar="KEY=VALUE",
                   help="a config key (repeatable); see irn/config.py for the keys")
    p.add_argument("--budget", choices=list(BUDGETS), default=None,
                   help="preset over steps/batch/patch/lr (default: the config defaults)")
    p.add_argument("--json", metavar="OUT", help="write the metrics as JSON")
    p.add_argument("--save", metavar="CKPT", help="save the trained model here")
    return p.parse_args(argv)


def results_table(final: dict) -> Table:
    table = Table(title="Evaluation (published convention: uint8, Y channel, scale-px crop)")
    table.add_column("metric")
    table.add_column("model", justify="right")
    table.add_column("bicubic & bicubic", justify="right")
    for key, label in HEADLINE:
        if key in final:
            base = {"psnr_y": "bicubic_psnr_y", "ssim_y": "bicubic_ssim_y"}.get(key)
            table.add_row(label, f"{final[key]:.4f}" if "ssim" in key else f"{final[key]:.2f}",
                          f"{final[base]:.4f}" if base and "ssim" in key else
                          f"{final[base]:.2f}" if base else "")
    for key in sorted(k for k in final if k.startswith("jpeg") and k.endswith("_psnr_y")):
        table.add_row(f"JPEG QF{key[4:-7]}: Y-PSNR", f"{final[key]:.2f}",
                      f"{final['bicubic_' + key]:.2f}")
    return table


def run(cfg, console, on_report=None):
    """Train `cfg` with a progress bar; returns the list of interval reports."""
    from irn.train import Trainer  # heavy import after argument checks
    trainer = Trainer(cfg)
    reports = []
    with Progress(TextColumn("[bold]train"), BarColumn(), TextColumn("{task.completed}/"
                  "{task.total} steps"), TextColumn("{task.fields[status]}"),
                  TimeElapsedColumn(), console=console, transient=False) as bar:
        task = bar.add_task("train", total=cfg.steps, status="")
        for report in trainer.run():
            reports.append(report)
            bar.update(task, completed=report["step"],
                       status=f"loss {report['loss/total']:.4g}  Y-PSNR {report['psnr_y']:.2f}")
            if on_report:
                on_report(report, trainer)
    return trainer, reports


def main(argv=None) -> int:
    args = parse_args(argv)
    console = Console(stderr=True)
    try:
        check_json_target(args.json)
        cfg = from_dict(parse_set(args.sets), budget=args.budget)
    except (ConfigError, UsageError) as exc:
        return fail(exc)
    start = time.perf_counter()
    try:
        trainer, reports = run(cfg, console)
    except (DataError, NonFiniteLossError, ValueError) as exc:
        return fail(exc)
    final = reports[-1]
    Console().print(results_table(final))
    print(f"{cfg.steps} steps in {time.perf_counter() - start:.0f} s "
          f"(train {final['time/train_wall']:.0f} s), {trainer.params:,} parameters")
    if args.save:
        from irn.checkpoint import save_model
        save_model(args.save, trainer.model, cfg.arch(), {"config": cfg.to_dict()})
    if args.json:
        write_json_atomic(args.json, {"config": cfg.to_dict(), "final": final,
                                      "reports": reports,
                                      "wall_s": time.perf_counter() - start})
    return 0


if __name__ == "__main__":
    sys.exit(main())
