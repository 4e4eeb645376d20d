"""Peak training memory and step time per patch size and memory mode (irn/memory.py):
python -m bench.memory [--set KEY=VALUE ...] [--patch 96,192,384,768]
                       [--modes store,checkpoint,recompute] [--batch N] [--json OUT]

Each (patch, mode) trains in a fresh process, so each has its own RSS high-water mark: it
builds the Trainer (the config from --set, default x4 at the paper's architecture), draws
real patches from the training photos (TrainPatches: the embedded set, or --set data=PATH),
and runs 2 optimiser steps (the first warms the kernels up). It reports the process's peak
RSS, the rise over the RSS before the first step (what training adds), and the second
step's wall time. A (patch, mode) whose rise, scaled from the same mode's previous patch by
the pixel count, would not fit in the free memory is skipped and says so. Bad input: one
line, exit 2 (a patch larger than every training image included).
"""
import argparse
import json
import os
import resource
import subprocess
import sys
import time

from bench.common.cli import OneLineParser, UsageError, check_json_target, fail, write_json_atomic
from irn.memory import MEMORY_MODES

DEFAULT_SET = {"scale": 4, "blocks": 8, "gc": 32}


def _rss_bytes() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def child(cfg_dict: dict) -> dict:
    """One (patch, mode): 2 steps in this process; {"peak_gb", "rise_gb", "step_s"}."""
    import torch
    from irn.config import from_dict
    from irn.data.samples import train_dataset
    from irn.train import Trainer
    cfg = from_dict(cfg_dict)
    data = train_dataset(cfg.data, cfg.scale, cfg.patch_size, cfg.loader, cfg.seed)
    pairs = [data[k] for k in range(cfg.batch_size)]
    hr = torch.stack([p[0] for p in pairs])
    lr = torch.stack([p[1] for p in pairs])
    trainer = Trainer(cfg, val_set=[])
    before = _rss_bytes()
    times = []
    for _ in range(2):
        start = time.perf_counter()
        trainer.train_step(hr, lr)
        times.append(time.perf_counter() - start)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # KiB on Linux
    return {"peak_gb": peak / 2 ** 30, "rise_gb": (peak - before) / 2 ** 30,
            "step_s": times[-1], "precision": str(trainer.amp)}


def _free_bytes() -> int:
    with open("/proc/meminfo") as f:
        info = {line.split(":")[0]: int(line.split()[1]) * 1024 for line in f}
    return info["MemAvailable"]


def measure(base: dict, patches: list[int], modes: list[str], batch: int, log=print) -> list:
    rows, last = [], {}
    for patch in patches:
        for mode in modes:
            cfg = {**base, "patch_size": patch, "batch_size": batch, "memory": mode}
            row = {"patch": patch, "batch": batch, "memory": mode}
            if mode in last:
                prev_patch, prev_rise = last[mode]
                predicted = prev_rise * (patch / prev_patch) ** 2 * 2 ** 30
                free = _free_bytes()
                if predicted > 0.9 * free:
                    row["skipped"] = (f"predicted rise {predicted / 2 ** 30:.1f} GB > 90% of "
                                      f"{free / 2 ** 30:.1f} GB free")
                    rows.append(row)
                    log(f"{patch:5d} px  {mode:10s}  skipped: {row['skipped']}")
                    continue
            proc = subprocess.run([sys.executable, "-m", "bench.memory", "--child",
                                   json.dumps(cfg)], capture_output=True, text=True)
            if proc.returncode:
                row["error"] = (proc.stderr.strip().splitlines() or ["died"])[-1][:300]
                log(f"{patch:5d} px  {mode:10s}  failed: {row['error']}")
            else:
                row.update(json.loads(proc.stdout.strip().splitlines()[-1]))
                last[mode] = (patch, row["rise_gb"])
                log(f"{patch:5d} px  {mode:10s}  peak {row['peak_gb']:6.2f} GB  rise "
                    f"{row['rise_gb']:6.2f} GB  step {row['step_s']:6.2f} s")
            rows.append(row)
    return rows


def parse_args(argv):
    p = OneLineParser(prog="python -m bench.memory", description=__doc__.splitlines()[0])
    p.add_argument("--set", dest="sets", action="append", default=[], metavar="KEY=VALUE")
    p.add_argument("--patch", default="96,192,384,768", help="patch sizes (px)")
    p.add_argument("--modes", default=",".join(MEMORY_MODES))
    p.add_argument("--batch", type=int, default=1)
    p.add_argument("--json", metavar="OUT")
    p.add_argument("--child", help=argparse.SUPPRESS)
    return p.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    if args.child:
        print(json.dumps(child(json.loads(args.child))))
        return 0
    try:
        check_json_target(args.json)
        from irn.config import ConfigError, from_dict, parse_set
        try:
            base = {**DEFAULT_SET, **parse_set(args.sets)}
        except ConfigError as e:
            raise UsageError(str(e)) from None
        modes = [m.strip() for m in args.modes.split(",") if m.strip()]
        bad = [m for m in modes if m not in MEMORY_MODES]
        if bad or not modes:
            raise UsageError(f"--modes: each of {', '.join(MEMORY_MODES)}; got {args.modes!r}")
        try:
            patches = [int(x) for x in args.patch.split(",")]
        except ValueError:
            raise UsageError(f"--patch takes sizes like 96,192; got {args.patch!r}") from None
        if args.batch < 1:
            raise UsageError(f"--batch must be >= 1, got {args.batch}")
        from irn.data import DataError, image_files
        from irn.data.samples import check_patch_fits
        try:  # every config and the data checked before any work
            cfgs = [from_dict({**base, "patch_size": patch, "batch_size": args.batch,
                               "memory": mode}) for patch in patches for mode in modes]
            check_patch_fits(image_files(cfgs[0].data, "train")[1], max(patches))
        except (ConfigError, DataError) as e:
            raise UsageError(str(e)) from None
    except UsageError as e:
        return fail(e)
    rows = measure(base, patches, modes, args.batch)
    if args.json:
        write_json_atomic(args.json, {"config": base, "rows": rows})
    return 0


if __name__ == "__main__":
    sys.exit(main())
