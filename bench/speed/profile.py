"""Where a training step's time goes: python -m bench.profile --set KEY=VALUE ... [--steps N]

Runs N real training steps of one config (after warm-up steps) and splits each into waiting
for data, host-to-device copy, forward (downscale), reverse (upscale), backward and the
optimiser step; prints each part's share and the verdict "data-bound" or "compute-bound"
with the numbers behind it. The parts partition the step: they sum to its wall time.

  --compare-loaders   profile `--loader memory` and `--loader disk` (decode every step, as
                      the official code does) in one command: data-wait share and steps/s
  --compare KEY=A,B   two values of one config key (e.g. channels_last=false,true or
                      amp=off,auto), their steps interleaved (A B, B A, ...) so a shared
                      machine's drifts hit both alike; the speed-up of B over A is the
                      geometric mean of the paired step-time ratios with its 95% CI and a
                      verdict (bench/STATISTICS.md)
  --out DIR           also a torch.profiler Chrome trace of a few steps (trace.json, open it
                      in https://ui.perfetto.dev) and the top operators by self time
                      (top_ops.txt, top_ops.json)
  --peak-memory       also the training peak memory of this config under each memory mode
                      (store, checkpoint, recompute: irn/memory.py), each in a fresh process
                      so each has its own RSS high-water mark (bench.memory's measurement)
  --json OUT          everything printed, as JSON (written atomically)

Telemetry (bench.common.telemetry) samples CPU utilisation and RSS, and on a GPU its utilisation,
memory and power, while the steps run. (Sweeps log the coarser split every trainer reports
per interval: time/data, time/compute, data_fraction.)
"""
import argparse
import contextlib
import json
import os
import sys
import time

import numpy as np
import torch

from bench.common.cli import (OneLineParser, UsageError, check_json_target, check_output_folder, fail,
                       write_json_atomic)
from bench.common.telemetry import Telemetry
from irn.atomic import atomic_path, atomic_write
from irn.config import BUDGETS, ConfigError, from_dict, parse_set
from irn.data import DataError
from irn.layout import layout_name
from irn.objective import NonFiniteLossError
from irn.device import sync

PHASES = ("data", "h2d", "forward", "reverse", "backward", "optimizer")
COMPUTE = ("forward", "reverse", "backward", "optimizer")


class StepClock:
    """Marks phase boundaries of one step. On the CPU: wall clock. On a GPU: CUDA events in
    the stream, read after one synchronize at the end of the step, so each phase is charged
    with the GPU work it queued (the step starts with the GPU idle, so the events of the
    data phase, which queues no work, measure host time)."""

    def __init__(self, device: torch.device):
        self.cuda = device.type == "cuda"
        self.device = device
        self.names, self.marks = [], []

    def _now(self):
        if self.cuda:
            event = torch.cuda.Event(enable_timing=True)
            event.record()
            return event
        return time.perf_counter()

    def start(self):
        self.names, self.marks = [], [self._now()]

    def mark(self, name: str):
        self.names.append(name)
        self.marks.append(self._now())

    def seconds(self) -> dict:
        """{phase: seconds}; call after the step has been synchronised."""
        if self.cuda:
            gaps = [a.elapsed_time(b) / 1000 for a, b in zip(self.marks, self.marks[1:])]
        else:
            gaps = [b - a for a, b in zip(self.marks, self.marks[1:])]
        return dict(zip(self.names, gaps))


def timed_step(trainer, batches, clock: StepClock, trace: bool = False) -> dict:
    """One real training step, Trainer.train_step itself, split into PHASES: the batch and
    its copy to the device are timed here, the rest through train_step's phase hook.

    Returns {phase: s, "step": wall s}. A NaN raises NonFiniteLossError as in training."""
    label = torch.profiler.record_function if trace else (lambda name: contextlib.nullcontext())

    @contextlib.contextmanager
    def phase(name):
        with label(name):
            yield
        clock.mark(name)

    sync(trainer.device)
    wall = time.perf_counter()
    clock.start()
    with phase("data"):
        hr, lr_ref = next(batches)
    with phase("h2d"):
        hr, lr_ref = trainer.to_device(hr), trainer.to_device(lr_ref)
    trainer.train_step(hr, lr_ref, phase=phase)
    sync(trainer.device)
    return {**clock.seconds(), "step": time.perf_counter() - wall}


def summarise(steps: list[dict]) -> dict:
    """Mean seconds per step of each phase, compute, data fraction, steps/s."""
    n = len(steps)
    out = {f"time/{p}": sum(s[p] for s in steps) / n for p in PHASES}
    out["time/compute"] = sum(out[f"time/{p}"] for p in COMPUTE)
    out["time/step"] = sum(s["step"] for s in steps) / n
    parts = sum(out[f"time/{p}"] for p in PHASES)
    # Input pipeline = waiting for the batch + copying it over (as Trainer.run's data_fraction).
    out["data_fraction"] = (out["time/data"] + out["time/h2d"]) / parts if parts else 0.0
    out["steps_per_s"] = 1.0 / out["time/step"] if out["time/step"] else 0.0
    out["parts_vs_step"] = parts / out["time/step"] if out["time/step"] else 0.0
    return out


def profile_summary(trainer, steps: int, warmup: int = 1, telemetry: bool = False,
                    batches=None) -> dict:
    """Run `warmup` + `steps` real training steps of `trainer` and return the split of the
    timed ones: time/data, time/h2d, time/forward, time/reverse, time/backward,
    time/optimizer, time/compute, time/step (mean s/step), data_fraction, steps_per_s.

    The steps are real: trainer.step advances by warmup + steps, and since batch k depends
    only on (seed, k), a later trainer.run() continues exactly as an unprofiled run would.
    `telemetry=True` adds the sampler's summary under "telemetry"."""
    if steps < 1 or warmup < 0:
        raise ValueError(f"steps must be >= 1 and warmup >= 0, got {steps}, {warmup}")
    batches = trainer.batches() if batches is None else batches
    clock = StepClock(trainer.device)
    trainer.model.train()
    for _ in range(warmup):
        timed_step(trainer, batches, clock)
    sampler = Telemetry(quiet=True).start() if telemetry else None
    try:
        timed = [timed_step(trainer, batches, clock) for _ in range(steps)]
    finally:
        if sampler:
            sampler.stop()
    out = summarise(timed)
    if sampler:
        out["telemetry"] = sampler.summary()
    return out


def interleaved_summaries(trainers: list, steps: int, warmup: int = 1) -> list[dict]:
    """profile_summary of two trainers whose timed steps alternate A B, B A, A B, ...;
    each summary also holds its step times ("steps_s") for the paired comparison."""
    if steps < 1 or warmup < 0:
        raise ValueError(f"steps must be >= 1 and warmup >= 0, got {steps}, {warmup}")
    batches = [t.batches() for t in trainers]
    clocks = [StepClock(t.device) for t in trainers]
    for t in trainers:
        t.model.train()
    for _ in range(warmup):
        for t, b, c in zip(trainers, batches, clocks):
            timed_step(t, b, c)
    timed = [[], []]
    for i in range(steps):
        for k in ((0, 1) if i % 2 == 0 else (1, 0)):
            timed[k].append(timed_step(trainers[k], batches[k], clocks[k]))
    return [{**summarise(t), "steps_s": [s["step"] for s in t]} for t in timed]


def paired_speedup(a: dict, b: dict) -> dict:
    """B's speed-up over A: exp of the mean log ratio of A's to B's paired step times, its
    95% CI (irn.stats.compare.mean_ci: BCa bootstrap or t) and 'faster' / 'slower' /
    'indistinguishable' (CI containing 1)."""
    from irn.stats.compare import mean_ci
    logs = np.log(np.asarray(a["steps_s"]) / np.asarray(b["steps_s"]))
    stat = mean_ci(logs[None, :])
    ci = [float(np.exp(v)) for v in stat["ci95"]] if stat["ci95"] else None
    word = ("indistinguishable" if ci is None or ci[0] <= 1 <= ci[1] else
            "faster" if ci[0] > 1 else "slower")
    return {"speedup": float(np.exp(stat["mean"])), "ci95": ci, "pairs": len(logs),
            "verdict": word}


def verdict(summary: dict, threshold: float = 0.5) -> str:
    """'data-bound' when the input pipeline takes at least `threshold` of each step."""
    return "data-bound" if summary["data_fraction"] >= threshold else "compute-bound"


def trace(trainer, steps: int, out_dir: str, top: int = 25) -> dict:
    """A torch.profiler trace of `steps` real steps: Chrome trace + top ops by self time."""
    from torch.profiler import ProfilerActivity, profile
    activities = [ProfilerActivity.CPU]
    if trainer.device.type == "cuda":
        activities.append(ProfilerActivity.CUDA)
    batches = trainer.batches()
    clock = StepClock(trainer.device)
    with profile(activities=activities, record_shapes=False) as prof:
        for _ in range(steps):
            timed_step(trainer, batches, clock, trace=True)
    return export_profile(prof, out_dir, trainer.device.type, top)


PROFILE_FILES = ("trace.json", "top_ops.txt", "top_ops.json")  # what export_profile writes


def export_profile(prof, out_dir: str, device_type: str, top: int = 25) -> dict:
    """A finished torch.profiler run as out_dir/trace.json (Chrome trace), top_ops.txt and
    top_ops.json (operators by self time); {"trace": path, "top_ops": the first 10}."""
    os.makedirs(out_dir, exist_ok=True)
    trace_path = os.path.join(out_dir, "trace.json")
    with atomic_path(trace_path, suffix=".json") as tmp:
        prof.export_chrome_trace(tmp)
    sort = "self_device_time_total" if device_type == "cuda" else "self_cpu_time_total"
    averages = prof.key_averages()
    _write_atomic(os.path.join(out_dir, "top_ops.txt"),
                  averages.table(sort_by=sort, row_limit=top) + "\n")
    total = sum(getattr(e, sort) for e in averages) or 1.0
    rows = sorted(averages, key=lambda e: getattr(e, sort), reverse=True)[:top]
    ops = [{"name": e.key, "self_s": getattr(e, sort) / 1e6, "share": getattr(e, sort) / total,
            "calls": e.count} for e in rows]
    _write_atomic(os.path.join(out_dir, "top_ops.json"), json.dumps(ops, indent=2) + "\n")
    return {"trace": trace_path, "top_ops": ops[:10]}


def _write_atomic(path: str, text: str) -> None:
    with atomic_write(path) as f:
        f.write(text)


# ----------------------------------------------------------------------------- command line

def parse_args(argv):
    p = OneLineParser(prog="python -m bench.profile", description=__doc__,
                      formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--set", dest="sets", action="append", nargs="+", default=[],
                   metavar="KEY=VALUE", help="config keys (repeatable); see irn/config.py")
    p.add_argument("--budget", choices=list(BUDGETS), default=None,
                   help="preset over batch/patch/lr (default: the config defaults)")
    p.add_argument("--steps", type=int, default=10, help="timed steps (default 10)")
    p.add_argument("--warmup", type=int, default=2, help="untimed steps first (default 2)")
    p.add_argument("--loader", choices=("memory", "disk"), help="overrides --set loader=")
    p.add_argument("--workers", type=int, help="DataLoader workers (overrides --set workers=)")
    p.add_argument("--compare-loaders", action="store_true",
                   help="profile loader=memory and loader=disk, one after the other")
    p.add_argument("--compare", metavar="KEY=A,B",
                   help="two values of one config key, their steps interleaved")
    p.add_argument("--threshold", type=float, default=0.5,
                   help="data fraction from which a run is called data-bound (default 0.5: "
                        "the input pipeline takes as long as the compute)")
    p.add_argument("--out", metavar="DIR", help="write a torch.profiler trace and top ops here")
    p.add_argument("--trace-steps", type=int, default=2, help="steps in the trace (default 2)")
    p.add_argument("--peak-memory", action="store_true",
                   help="also each memory mode's peak RSS and step time, in fresh processes")
    p.add_argument("--json", metavar="OUT", help="write the results as JSON (atomically)")
    return p.parse_args(argv)


def build_configs(args):
    values = parse_set([kv for group in args.sets for kv in group])
    if args.loader:
        values["loader"] = args.loader
    if args.workers is not None:
        values["workers"] = args.workers
    # cfg.steps only shapes the lr schedule here: the profiled steps are counted separately.
    cfg = from_dict(values, budget=args.budget)
    if args.compare:
        key, _, pair = args.compare.partition("=")
        choices = pair.split(",")
        if not key or len(choices) != 2 or not all(choices):
            raise UsageError(f"--compare takes KEY=A,B, got {args.compare!r}")
        return [from_dict({**values, key.strip(): parse_set([f"{key}={v}"])[key.strip()]},
                          budget=args.budget) for v in choices]
    loaders = ("memory", "disk") if args.compare_loaders else (cfg.loader,)
    return [cfg.replace(loader=name) for name in loaders]


def labels(configs, args) -> list[str]:
    """Each profiled config's name in the table: its --compare value, else its loader."""
    if args.compare:
        key = args.compare.partition("=")[0].strip()
        return [f"{key}={getattr(cfg, key)}" for cfg in configs]
    return [cfg.loader for cfg in configs]


def _trainer(cfg, label, args, console):
    from irn.train import Trainer
    trainer = Trainer(cfg)
    console.print(f"[bold]{label}[/]: {cfg.loader} loader, workers={cfg.workers}, x{cfg.scale} "
                  f"batch {cfg.batch_size} x {cfg.patch_size}px, {trainer.params:,} params, "
                  f"{trainer.device}, {trainer.precision} ({trainer.amp_reason}), "
                  f"{layout_name(trainer.channels_last)} ({trainer.layout_reason}); "
                  f"{args.warmup} warm-up + {args.steps} timed steps")
    return trainer


def _finish(result, trainer, cfg, label, args, several: bool) -> dict:
    result["verdict"] = verdict(result, args.threshold)
    result.update(label=label, loader=cfg.loader, workers=cfg.workers,
                  precision=trainer.precision, layout=layout_name(trainer.channels_last))
    if args.out:
        folder = os.path.join(args.out, label) if several else args.out
        result["profiler"] = trace(trainer, args.trace_steps, folder)
    return result


def run_all(configs, args, console) -> list[dict]:
    names = labels(configs, args)
    if not args.compare:
        results = []
        for cfg, label in zip(configs, names):
            trainer = _trainer(cfg, label, args, console)
            result = profile_summary(trainer, args.steps, args.warmup, telemetry=True)
            results.append(_finish(result, trainer, cfg, label, args, len(configs) > 1))
        return results
    trainers = [_trainer(cfg, label, args, console) for cfg, label in zip(configs, names)]
    summaries = interleaved_summaries(trainers, args.steps, args.warmup)
    results = [_finish(r, t, cfg, label, args, True)
               for r, t, cfg, label in zip(summaries, trainers, configs, names)]
    results[1]["paired"] = paired_speedup(*results)
    return results


def render(results: list[dict], threshold: float):
    from rich.table import Table
    table = Table(title="Training step split (mean per step)")
    table.add_column("phase")
    for r in results:
        table.add_column(f"{r['label']} (ms)", justify="right")
        table.add_column("share", justify="right")
    for phase in PHASES + ("compute", "step"):
        row = [phase]
        for r in results:
            t = r[f"time/{phase}"]
            row += [f"{1000 * t:.1f}", f"{100 * t / r['time/step']:.1f}%"]
        table.add_row(*row)
    table.add_row("steps/s", *[x for r in results for x in (f"{r['steps_per_s']:.3f}", "")])
    lines = []
    for r in results:
        tel = r.get("telemetry", {})
        gpu = "".join(f", GPU{i} {tel[f'gpu{i}_util_mean']:.0f}% util, "
                      f"{tel[f'gpu{i}_mem_gb_peak']:.1f} GB, {tel[f'gpu{i}_power_w_mean']:.0f} W"
                      for i in range(8) if f"gpu{i}_util_mean" in tel)
        lines.append(
            f"{r['label']}: {r['verdict']} -- the input pipeline (data wait + copy) takes "
            f"{100 * r['data_fraction']:.1f}% of each {1000 * r['time/step']:.0f} ms step "
            f"(threshold {100 * threshold:.0f}%); compute {1000 * r['time/compute']:.0f} ms; "
            f"free data would make steps {1 / max(1e-9, 1 - r['data_fraction']):.2f}x faster. "
            + (f"CPU {tel.get('cpu_util_mean', 0):.0f}%, peak RSS {tel.get('rss_gb_peak', 0):.2f}"
               f" GB{gpu}; " if tel else "")
            + f"parts sum to {100 * r['parts_vs_step']:.1f}% of the measured step")
    if len(results) == 2 and "paired" in results[1]:
        a, b = results
        p = b["paired"]
        ci = f"[{p['ci95'][0]:.3f}, {p['ci95'][1]:.3f}]" if p["ci95"] else "(no interval)"
        lines.append(f"{b['label']} vs {a['label']}: {p['speedup']:.3f}x the steps/s, 95% CI "
                     f"{ci} over {p['pairs']} interleaved pairs: {p['verdict']}")
    elif len(results) == 2:
        a, b = results
        lines.append(f"{b['label']} vs {a['label']}: {b['steps_per_s'] / a['steps_per_s']:.2f}x "
                     f"the steps/s; data wait {1000 * a['time/data']:.1f} ms -> "
                     f"{1000 * b['time/data']:.1f} ms per step")
    return table, lines


def main(argv=None) -> int:
    from rich.console import Console
    args = parse_args(argv)
    console = Console(stderr=False)
    try:
        if args.steps < 1 or args.warmup < 0 or args.trace_steps < 1:
            raise UsageError("--steps and --trace-steps must be >= 1, --warmup >= 0")
        if args.workers is not None and args.workers < 0:
            raise UsageError("--workers must be >= 0")
        if not 0 < args.threshold < 1:
            raise UsageError("--threshold must be between 0 and 1")
        check_output_folder(args.out, "--out")
        if args.compare and args.compare_loaders:
            raise UsageError("--compare and --compare-loaders: choose one")
        check_json_target(args.json)
        configs = build_configs(args)
        results = run_all(configs, args, console)
        peaks = peak_memory(configs[0], console) if args.peak_memory else None
    except (UsageError, ConfigError, DataError, ValueError, NonFiniteLossError) as exc:
        return fail(exc)
    table, lines = render(results, args.threshold)
    console.print(table)
    for line in lines:
        console.print(line, highlight=False)
    note = results[0].get("telemetry", {}).get("note")
    if note:
        console.print(f"telemetry: {note}", highlight=False)
    if args.json:
        write_json_atomic(args.json, {"config": configs[0].to_dict(), "threshold":
                                      args.threshold, "results": results,
                                      **({"peak_memory": peaks} if peaks else {})})
    return 0


def peak_memory(cfg, console) -> list[dict]:
    """Peak RSS, its rise over the RSS before training, and the step time of `cfg` under each
    memory mode, each in a fresh process (bench/speed/memory.py); printed as they come."""
    from bench.speed.memory import measure
    from irn.memory import MEMORY_MODES
    console.print(f"[bold]peak training memory[/] per memory mode (x{cfg.scale}, batch "
                  f"{cfg.batch_size} x {cfg.patch_size} px, each mode in a fresh process):")
    return measure(cfg.to_dict(), [cfg.patch_size], list(MEMORY_MODES), cfg.batch_size,
                   log=lambda line: console.print(line, highlight=False))


if __name__ == "__main__":
    sys.exit(main())
