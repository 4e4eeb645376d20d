"""Side and position effects of the gate's wall-time runs, for a few benchmarks.

    .venv/bin/python bench/gate/tools/pairs_check.py COMMIT [--pairs 8] NODEID...

Runs the given pytest node ids (the reference workload is added) in COMMIT's worktree and in
this checkout, `--pairs` counterbalanced pairs (worktree first in odd pairs), and prints, per
benchmark, the median of the per-process ratios to the reference by side (the worktree `wt`
or this checkout `root`) and by position in the pair (0 = first). COMMIT=HEAD is an A/A run:
a side or position effect shows as a difference there. Used for bench/REGRESS.md ("Why a
confirmation round"); the measurements take about 20 s a pair for three benchmarks.
"""
import argparse
import json
import statistics
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[3]))
from bench.gate import command as gate  # noqa: E402

REFERENCE = "tests/benchmarks/test_reference.py::test_reference_workload"


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[1])
    p.add_argument("commit")
    p.add_argument("nodeids", nargs="+")
    p.add_argument("--pairs", type=int, default=8)
    args = p.parse_args()
    failures, out = [], Path(tempfile.mkdtemp(prefix="pairs-check-"))
    with gate.worktree(gate.ROOT, args.commit) as wt:
        # the gate's own counterbalanced loop: the worktree is its "base" (first in odd pairs)
        files = gate.interleaved_runs(sys.executable, {"base": wt, "head": gate.ROOT}, out, "",
                                      args.pairs, "", [REFERENCE] + args.nodeids, failures)
    if failures or any(len(f) != args.pairs for f in files.values()):
        print(f"pairs_check: a run failed or wrote no results: see the logs in {out}", file=sys.stderr)
        return 1
    rows = []
    for side, name in (("base", "wt"), ("head", "root")):
        for i, path in enumerate(files[side]):
            stats = {b["fullname"]: b["stats"]["min"] for b in json.loads(Path(path).read_text())["benchmarks"]}
            ref = stats.pop(REFERENCE)
            rows.append(dict(side=name, pos=(i % 2) ^ (side == "head"),
                             ratios={k: v / ref for k, v in stats.items()}))
    for key, values in (("side", ("wt", "root")), ("pos", (0, 1))):
        for value in values:
            sel = [r for r in rows if r[key] == value]
            print(f"{key} {value}: median ratio " + ", ".join(
                f"{name.split('::')[-1]} {statistics.median(r['ratios'][name] for r in sel):.3f}"
                for name in sel[0]["ratios"]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
