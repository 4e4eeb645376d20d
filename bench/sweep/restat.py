"""`python -m bench.restat SUMMARY.json [--margin METRIC=VALUE] [--json OUT]`: the group
table and verdict of a finished sweep (and its learning and budget verdicts where it kept
curves), recomputed from its stored per-image rows with this version's statistics
(bench/STATISTICS.md), without rerunning a trial.

SUMMARY is a sweep's `--json` summary (or the parent run's summary.json artifact). The
reference group is the one the sweep used; TUNE margins the sweep ran with are kept unless
--margin overrides them. --json writes the summary with its groups and comparison replaced
(atomically; the input is never touched unless OUT names it).
"""
import sys

from rich.console import Console

from bench.sweep import group_table
from bench.common.cli import (OneLineParser, UsageError, check_json_target, fail, parse_margins,
                       write_json_atomic)
from irn.stats.compare import also_compared, compare_groups
from bench.sweep.curves import fidelity, learning
from bench.sweep.versus import load_summary


def restat(summary: dict, margins: dict | None = None) -> dict:
    """The summary with `groups`, `comparison` and `also` recomputed from its trials."""
    trials = summary["trials"]
    order = summary.get("grid_order")
    if order:  # the grid's order: the default reference is its first group
        rank = {tid: i for i, tid in enumerate(order)}
        trials = sorted(trials, key=lambda t: rank.get(t["trial_id"], len(rank)))
    label = (summary.get("comparison") or {}).get("reference")
    ref = next((t["config"] for t in trials if t["label"] == label), None)
    margins = {**(summary.get("margins") or {}), **(margins or {})}
    # an auto-seeds sweep read its verdicts after every round: keep its multiplicity
    # (bench/sweep/rounds.py), or the table would print a narrower interval than the sweep did
    looks = (summary.get("comparison") or {}).get("looks") or 1
    comp = compare_groups(trials, summary["objective"], summary["mode"], ref, margins=margins,
                          looks=looks)
    also = [block["metric"] for block in summary.get("also") or []]
    out = {**summary, "groups": comp["groups"], "margins": margins,
           "comparison": {k: v for k, v in comp.items() if k != "groups"},
           "also": also_compared(trials, also, ref, margins)}
    if any(t.get("per_image_half") for t in trials):  # summaries with learning curves
        out["learning"] = learning(trials, summary["objective"], summary["mode"], margins)
    key = (summary.get("fidelity") or {}).get("key")
    if key:
        out["fidelity"] = fidelity(trials, key, summary.get("searched") or [key],
                                   summary["objective"], summary["mode"], ref, margins)
    out["group_table"] = group_table.stored(out)
    return out


def parse_args(argv):
    p = OneLineParser(prog="python -m bench.restat", description=__doc__.splitlines()[0])
    p.add_argument("summary", help="a sweep's --json summary")
    p.add_argument("--margin", dest="margins", action="append", default=[],
                   metavar="METRIC=VALUE", help="equivalence margin, as bench.sweep's")
    p.add_argument("--json", metavar="OUT", help="write the recomputed summary (atomically)")
    return p.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    try:
        check_json_target(args.json)
        margins = parse_margins(args.margins)
        summary = restat(load_summary(args.summary), margins)
    except UsageError as exc:
        return fail(exc)
    out = Console(width=None if sys.stdout.isatty() else 200)
    out.print(group_table.rich_table(summary))
    also = group_table.also_table(summary)
    if also is not None:
        out.print(also)
    print(f"verdict: {summary['comparison']['sentence']}")
    for key in ("learning", "fidelity"):
        if (summary.get(key) or {}).get("sentence"):
            print(f"{key}: {summary[key]['sentence']}")
    if args.json:
        write_json_atomic(args.json, summary)
    return 0


if __name__ == "__main__":
    sys.exit(main())
