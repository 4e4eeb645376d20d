"""The science gate: does HEAD compute the same numbers as BASE?

    python -m bench.gate --science-only [--base COMMIT]     (make gate runs it first)

bench/gate/command.py runs it with the performance gate's base and worktree. Each tree runs bench/gate/tools/science_probe.py with its own code, one
thread each, both at once: a short deterministic training (the `cpu` budget at x2, 30
steps, fp32 and the machine's `auto` arithmetic) and the evaluation of one fixed, seeded
model, each as per-image rows over the `cpu` budget's 32 validation tiles.

Identical rows: "science unchanged". Otherwise it prints, per part and metric, the paired
difference head - base over the tiles with its 95% interval (irn.stats.compare.mean_ci),
and fails, unless a commit in BASE..HEAD declares the change with a trailer line

    Science-change: why the numbers move

in its message: then it passes and prints the declarations beside the measured change, for
the closing note. Exit 0: unchanged or declared; 1: an undeclared change; 2: bad input.
"""
import json
import math
import os
import subprocess
import time
from pathlib import Path

import numpy as np

from irn.stats.compare import mean_ci

ROOT = Path(__file__).resolve().parents[2]
TOOLS = Path(__file__).resolve().parent / "tools"
PROBE = TOOLS / "science_probe.py"
TRAILER = "Science-change:"
PROBE_TIMEOUT_S = 900


class ScienceGateError(Exception):
    """The gate could not run (not a change in the numbers): one line, exit 2."""


def probe_env(tree: Path) -> dict:
    """The tree's own code first on sys.path, one thread, fixed hashing."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTEST_ADDOPTS", "PYTHONPATH")}
    env.update(PYTHONPATH=f"{tree}{os.pathsep}{TOOLS}", OMP_NUM_THREADS="1",
               PYTHONHASHSEED="0")
    return env


def run_probes(python: str, trees: dict[str, Path], out: Path) -> dict[str, dict]:
    """{side: probe result}, the sides' probes running at once (one thread each)."""
    procs = {}
    for side, tree in trees.items():
        log = open(out / f"science-{side}.log", "w", encoding="utf-8")  # noqa: SIM115
        procs[side] = (subprocess.Popen([python, str(PROBE), str(out / f"science-{side}.json")],
                                        cwd=tree, env=probe_env(tree), stdout=log,
                                        stderr=subprocess.STDOUT), log)
    results = {}
    for side, (proc, log) in procs.items():
        try:
            code = proc.wait(PROBE_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            proc.kill()
            code = "timeout"
        log.close()
        if code != 0:
            tail = (out / f"science-{side}.log").read_text(errors="replace").strip()
            raise ScienceGateError(f"the {side} tree's science probe failed ({code}): "
                                   + (tail.splitlines() or ["no output"])[-1])
        result = json.loads((out / f"science-{side}.json").read_text())
        if not Path(result["irn_file"]).is_relative_to(trees[side].resolve()):
            raise ScienceGateError(f"the {side} probe imported irn from {result['irn_file']}, "
                                   f"not from {trees[side]}")
        results[side] = result
    return results


def differences(base: dict, head: dict) -> list[dict]:
    """Per part and metric of base: the paired difference head - base over the images, with
    its 95% interval; rows only where something differs (or went missing)."""
    rows = []
    for part, base_rows in base.items():
        head_rows = {r["image"]: r for r in head.get(part, [])}
        if part not in head:
            rows.append(dict(part=part, metric="(all)", change="missing in head"))
            continue
        images = [r["image"] for r in base_rows]
        if set(images) != set(head_rows):
            rows.append(dict(part=part, metric="(images)", change="a different set of images"))
            continue
        for metric in base_rows[0]:
            if metric in ("image", "seed", "step"):
                continue
            a = np.array([r.get(metric, math.nan) for r in base_rows], dtype=float)
            b = np.array([head_rows[i].get(metric, math.nan) for i in images], dtype=float)
            if np.array_equal(a, b, equal_nan=True):
                continue
            if np.isnan(b).all():
                rows.append(dict(part=part, metric=metric, change="missing in head"))
                continue
            diff = b - a
            stat = mean_ci(diff[None, :])
            rows.append(dict(part=part, metric=metric, n=len(diff), delta=stat["mean"],
                             ci95=stat.get("ci95"), max_abs=float(np.nanmax(np.abs(diff))),
                             changed=int(np.sum(diff != 0))))
    return rows


def declarations(repo: Path, base: str, head: str = "HEAD") -> list[str]:
    """Every `Science-change:` trailer line in the messages of BASE..HEAD, with its commit."""
    log = subprocess.run(["git", "-C", str(repo), "log", "--format=%h%x00%B%x01",
                          f"{base}..{head}"], capture_output=True, text=True, check=True).stdout
    found = []
    for entry in log.split("\x01"):
        sha, _, message = entry.strip().partition("\x00")
        found += [f"{sha}: {line.strip()[len(TRAILER):].strip()}"
                  for line in message.splitlines() if line.strip().startswith(TRAILER)]
    return found


def render(rows: list[dict]) -> str:
    lines = []
    for r in rows:
        if "delta" not in r:
            lines.append(f"  {r['part']}: {r['metric']}: {r['change']}")
            continue
        ci = r["ci95"]
        interval = f" [{ci[0]:+.3g}, {ci[1]:+.3g}]" if ci else ""
        lines.append(f"  {r['part']}: {r['metric']}: head - base {r['delta']:+.3g}{interval} "
                     f"(95% over {r['n']} tiles; {r['changed']} tiles changed, at most "
                     f"{r['max_abs']:.3g})")
    return "\n".join(lines)


def check(python: str, trees: dict[str, Path], out: Path, declared: list[str],
          log=print) -> dict:
    """Run both probes and compare (see `verdict`)."""
    start = time.monotonic()
    probes = run_probes(python, trees, out)
    return verdict(probes, declared, time.monotonic() - start, log)


def verdict(probes: dict[str, dict], declared: list[str], seconds: float = 0.0,
            log=print) -> dict:
    """{"unchanged", "declared", "fails", "differences", ...} for the base and head probes;
    prints what changed and whether it was declared."""
    base, head = probes["base"], probes["head"]
    rows = differences(base["parts"], head["parts"])
    parts = ", ".join(f"{p} ({len(v)} tiles)" for p, v in head["parts"].items())
    result = dict(unchanged=not rows, differences=rows, declared=declared,
                  fails=bool(rows) and not declared, seconds=round(seconds, 1),
                  parts=list(head["parts"]), precisions=head["precisions"])
    if not rows:
        log(f"science: unchanged ({parts}: every per-image metric identical; {seconds:.0f} s)")
        return result
    log(f"science: the numbers changed ({parts}; {seconds:.0f} s):\n{render(rows)}")
    if declared:
        log("science: declared in BASE..HEAD, so it passes:\n"
            + "\n".join(f"  {d}" for d in declared))
    else:
        log(f"science: FAIL: undeclared change. If it is intended, add a line '{TRAILER} "
            "why' to a commit message since the base, and say it in the closing note.")
    return result
