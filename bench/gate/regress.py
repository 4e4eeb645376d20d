"""CI performance gate: compare two pytest-benchmark JSON runs, benchmark by benchmark.

    python -m bench.regress BASE.json HEAD.json [--fail median:15%]
        [--fail NAME_SUBSTRING=mean:30% ...] [--reference NAME] [--allow-missing]
        [--skip-other-machine] [--json OUT]

Absolute times drift 20-50% between runners, so each benchmark's statistic is divided by
the same statistic of a fixed reference workload in the same file, and those ratios are
compared. BASE and HEAD may each be a comma-separated list of files (interleaved runs:
base, head, base, head in one job); per benchmark, the ratios of one side are combined
by their median. See bench/REGRESS.md for the CI recipe and how to pick thresholds.

Ratios still depend on the CPU (a conv's speed relative to the reference differs between
microarchitectures): when BASE and HEAD were recorded on different CPUs, a warning says so,
and `--skip-other-machine` (for a committed baseline) passes without comparing.

Exit 0: no regression. Exit 1: a benchmark slowed past its threshold, or is missing in
HEAD (unless --allow-missing). Exit 2: bad input (one line on stderr, nothing written).
"""

import argparse
import os
import statistics
import sys
from dataclasses import dataclass

from bench.gate.benchjson import STATS, BenchFile, BenchFileError, load
from bench.common.cli import OneLineParser, UsageError, check_json_target, write_json_atomic

DEFAULT_FAIL = "median:15%"
DEFAULT_REFERENCE = "reference"


@dataclass(frozen=True)
class Threshold:
    stat: str  # one of STATS
    pct: float  # fail when HEAD is more than pct % slower than BASE


def parse_threshold(spec: str) -> Threshold:
    stat, sep, pct = spec.partition(":")
    pct = pct.strip().removesuffix("%")
    try:
        value = float(pct)
    except ValueError:
        value = -1.0
    if not sep or stat not in STATS or not (0 <= value < float("inf")):
        raise BenchFileError(f"bad --fail spec {spec!r}: expected STAT:PCT% with STAT one of "
                             f"{'/'.join(STATS)}, e.g. median:15%")
    return Threshold(stat, value)


def parse_fail(specs: list[str]) -> tuple[Threshold, list[tuple[str, Threshold]]]:
    """`STAT:PCT%` sets the default (the last one wins); `SUBSTRING=STAT:PCT%` overrides it
    for benchmarks whose full name contains SUBSTRING (the last matching override wins)."""
    default, overrides = parse_threshold(DEFAULT_FAIL), []
    for spec in specs:
        # rpartition: benchmark ids may themselves contain "=" (test_x[mode=fast]).
        name, sep, rest = spec.rpartition("=")
        if not sep:
            default = parse_threshold(spec)
        elif not name:
            raise BenchFileError(f"bad --fail spec {spec!r}: empty benchmark name before '='")
        else:
            overrides.append((name, parse_threshold(rest)))
    return default, overrides


def find_reference(bf: BenchFile, pattern: str) -> str | None:
    found = [name for name in bf.stats if pattern in name]
    if len(found) > 1:
        raise BenchFileError(f"{bf.path}: reference {pattern!r} is ambiguous "
                             f"({', '.join(found)}); pass --reference")
    return found[0] if found else None


def side_value(files: list[BenchFile], refs: list[str] | None, name: str, stat: str) -> float | None:
    """Median over this side's files of stat / reference stat (or the bare stat in absolute mode)."""
    values = [
        bf.stats[name][stat] / (bf.stats[ref][stat] if refs else 1.0)
        for bf, ref in zip(files, refs or [None] * len(files))
        if name in bf.stats
    ]
    return statistics.median(values) if values else None


def compare(base: list[BenchFile], head: list[BenchFile], default: Threshold,
            overrides: list[tuple[str, Threshold]], reference: str, allow_missing: bool) -> dict:
    refs = [find_reference(bf, reference) for bf in base + head]
    # Ratios are only comparable with ratios: if any file lacks the reference, every file
    # falls back to absolute times (the caller prints the warning).
    ratio_mode = all(refs)
    ref_names = set(refs) - {None}
    names = sorted({n for bf in base + head for n in bf.stats} - ref_names)

    rows = []
    for name in names:
        th = default
        for sub, t in overrides:
            if sub in name:
                th = t
        b = side_value(base, refs[: len(base)] if ratio_mode else None, name, th.stat)
        h = side_value(head, refs[len(base):] if ratio_mode else None, name, th.stat)
        change = None if b is None or h is None else (h / b - 1.0) * 100.0
        if b is None:
            verdict, fails = "missing in base", False  # a new benchmark: nothing to compare yet
        elif h is None:
            verdict, fails = "missing in head", not allow_missing  # a deleted benchmark hides regressions
        elif change > th.pct:
            verdict, fails = "REGRESSED", True
        elif change < -th.pct:
            verdict, fails = "improved", False
        else:
            verdict, fails = "ok", False
        rows.append(dict(name=name, stat=th.stat, threshold_pct=th.pct, base=b, head=h,
                         change_pct=change, verdict=verdict, fails=fails))

    ref_info = None
    if ratio_mode:
        stat = default.stat
        rb = statistics.median(bf.stats[r][stat] for bf, r in zip(base, refs[: len(base)]))
        rh = statistics.median(bf.stats[r][stat] for bf, r in zip(head, refs[len(base):]))
        ref_info = dict(names=sorted(ref_names), stat=stat, base_seconds=rb, head_seconds=rh)
    failed = any(r["fails"] for r in rows)
    return dict(
        mode="ratio" if ratio_mode else "absolute",
        reference=ref_info,
        files_without_reference=[bf.path for bf, r in zip(base + head, refs) if r is None],
        unused_overrides=[sub for sub, _ in overrides if not any(sub in n for n in names)],
        base_files=[dict(path=bf.path, commit=bf.commit) for bf in base],
        head_files=[dict(path=bf.path, commit=bf.commit) for bf in head],
        default_threshold=dict(stat=default.stat, pct=default.pct),
        allow_missing=allow_missing,
        benchmarks=rows,
        passed=not failed,
        exit_code=1 if failed else 0,
    )


def fmt_seconds(s: float) -> str:
    for unit, scale in (("s", 1.0), ("ms", 1e-3), ("us", 1e-6)):
        if s >= scale:
            return f"{s / scale:.3f} {unit}"
    return f"{s / 1e-9:.1f} ns"


def render(result: dict) -> str:
    fmt = (lambda v: f"{v:.4g}") if result["mode"] == "ratio" else fmt_seconds
    header = ("benchmark", "stat", "base" if result["mode"] == "absolute" else "base ratio",
              "head" if result["mode"] == "absolute" else "head ratio", "change", "limit", "verdict")
    table = [header] + [(
        r["name"], r["stat"],
        "-" if r["base"] is None else fmt(r["base"]),
        "-" if r["head"] is None else fmt(r["head"]),
        "-" if r["change_pct"] is None else f"{r['change_pct']:+.1f}%",
        f"{r['threshold_pct']:g}%",
        r["verdict"] + ("" if r["fails"] or r["verdict"] != "missing in head" else " (allowed)"),
    ) for r in result["benchmarks"]]
    widths = [max(len(row[i]) for row in table) for i in range(len(header))]
    lines = ["  ".join(c.ljust(w) if i in (0, 1, 6) else c.rjust(w)
                       for i, (c, w) in enumerate(zip(row, widths))).rstrip() for row in table]
    lines.insert(1, "  ".join("-" * w for w in widths))

    ref = result["reference"]
    if ref:
        drift = ref["head_seconds"] / ref["base_seconds"]
        lines.insert(0, f"ratios to reference {', '.join(ref['names'])} ({ref['stat']}: base "
                        f"{fmt_seconds(ref['base_seconds'])}, head {fmt_seconds(ref['head_seconds'])}, "
                        f"head/base x{drift:.2f})")
    else:
        lines.insert(0, "absolute times (no reference workload)")
    counts = {}
    for r in result["benchmarks"]:
        counts[r["verdict"]] = counts.get(r["verdict"], 0) + 1
    summary = ", ".join(f"{n} {v}" for v, n in counts.items()) or "no benchmarks to compare"
    lines.append(("PASS: " if result["passed"] else "FAIL: ") + summary)
    return "\n".join(lines)


def other_machine(base: list[BenchFile], head: list[BenchFile]) -> str | None:
    """A one-line description when the two sides ran on different CPUs, else None (also
    when a file does not say which CPU it ran on)."""
    kinds = [{bf.machine for bf in side} for side in (base, head)]
    if None in kinds[0] | kinds[1] or kinds[0] == kinds[1]:
        return None
    return f"BASE was recorded on {' / '.join(sorted(kinds[0]))}, HEAD on {' / '.join(sorted(kinds[1]))}"


class RegressParser(OneLineParser):
    error_prefix = "regress: "


def split_files(arg: str) -> list[str]:
    # A path that exists as given wins over comma-splitting (for the rare path with a comma).
    return [arg] if os.path.exists(arg) else [p for p in arg.split(",") if p]


def main(argv: list[str] | None = None) -> int:
    p = RegressParser(prog="python -m bench.regress",
                      description="\n\n".join(__doc__.split("\n\n")[2:]),
                      formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("base", metavar="BASE", help="pytest-benchmark JSON of the base commit; "
                   "A.json,B.json,... combines interleaved runs by median")
    p.add_argument("head", metavar="HEAD", help="pytest-benchmark JSON of the head commit; "
                   "a comma-separated list as for BASE")
    p.add_argument("--fail", action="append", default=[], metavar="[NAME=]STAT:PCT%",
                   help=f"fail when a benchmark is more than PCT%% slower; STAT is {'/'.join(STATS)} "
                        f"(default {DEFAULT_FAIL.replace('%', '%%')}). NAME=... overrides it for benchmarks whose name "
                        "contains NAME; repeatable, the last match wins")
    p.add_argument("--reference", metavar="NAME", default=None,
                   help=f"substring naming the reference workload benchmark (default {DEFAULT_REFERENCE!r}); "
                        "if a file lacks it, absolute times are compared, with a warning")
    p.add_argument("--allow-missing", action="store_true",
                   help="do not fail when a BASE benchmark is missing in HEAD (still reported)")
    p.add_argument("--skip-other-machine", action="store_true",
                   help="when BASE and HEAD were recorded on different CPUs, say so and exit 0 "
                        "without comparing (for a baseline committed for one machine kind)")
    p.add_argument("--json", metavar="OUT", help="write the comparison as JSON (atomically)")
    args = p.parse_args(argv)

    try:
        default, overrides = parse_fail(args.fail)
        base = [load(f) for f in split_files(args.base)]
        head = [load(f) for f in split_files(args.head)]
        if not base or not head:
            raise BenchFileError("BASE and HEAD must each name at least one file")
        reference = args.reference or DEFAULT_REFERENCE
        if args.reference and not any(find_reference(bf, reference) for bf in base + head):
            raise BenchFileError(f"--reference {reference!r} matches no benchmark in any file")
        try:
            check_json_target(args.json)
        except UsageError as e:
            raise BenchFileError(str(e)) from None
        result = compare(base, head, default, overrides, reference, args.allow_missing)
    except BenchFileError as e:
        print(f"regress: error: {e}", file=sys.stderr)
        return 2

    other = other_machine(base, head)
    if other and args.skip_other_machine:
        print(f"regress: skipped: {other}; benchmark base and head in the same job instead "
              "(bench/REGRESS.md)")
        return 0
    if other:
        print(f"warning: {other}; ratios may differ by more than the noise", file=sys.stderr)
    if result["files_without_reference"]:
        print(f"warning: no reference benchmark matching {reference!r} in "
              f"{', '.join(result['files_without_reference'])}; comparing absolute times, "
              "which drift 20-50% between runs", file=sys.stderr)
    for sub in result["unused_overrides"]:
        print(f"warning: --fail override {sub!r} matches no benchmark", file=sys.stderr)
    print(render(result))
    if args.json:
        try:
            write_json_atomic(args.json, result)
        except OSError as e:
            print(f"regress: error: cannot write {args.json}: {e.strerror or e}", file=sys.stderr)
            return 2
    return result["exit_code"]


if __name__ == "__main__":
    sys.exit(main())
