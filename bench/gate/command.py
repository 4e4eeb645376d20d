"""The CI performance gate: benchmark BASE and HEAD in this job, on this machine, and compare.

    python -m bench.gate [--base COMMIT] [-k EXPR] [--pairs N] [--out DIR] [--no-instructions]
                         [--no-science | --science-only]

HEAD is the tree the gate runs in (uncommitted changes included). BASE is --base (`make
gate GATE_BASE=...`); else the commit in bench/GATE_BASE when it is an ancestor of HEAD
other than HEAD (`make gate-base` writes it at the start of a session); else the newest
first-parent ancestor committed more than 3 hours (one session) before HEAD. Without a
usable base (HEAD is the first commit) the gate says so in one line and passes.

The base tree is checked out with `git worktree add` into a temporary folder (removed
afterwards, also on failure) and measured with this same Python, importing its own code
(PYTHONPATH = the tree; every run records which `irn` it imported, and the gate checks it):

0. the science gate (bench/gate/science.py): the same per-image numbers from a short
   training and a fixed model's evaluation, or a change declared by a `Science-change:`
   trailer in a commit since BASE (--science-only runs just this; --no-science skips it);
1. instruction counts: tests/benchmarks/callgrind_workloads.py of each tree under valgrind's
   callgrind (deterministic; both trees at once), fail above +INSTR_FAIL_PCT per workload;
2. wall time: the pytest-benchmark suite, interleaved base, head, head, base, ... and
   compared by bench.regress as ratios to the reference workload (WALL_FAIL);
3. confirmation: a benchmark that REGRESSED in wall time is measured again, alone with the
   reference, in --confirm-pairs fresh interleaved pairs, and fails only if it regresses
   there too (a noise burst on a shared runner rarely strikes the same benchmark twice).

Exit 0: no regression. Exit 1: a regression, a benchmark missing in HEAD, HEAD's
benchmarks failed, or an undeclared change in the numbers. Exit 2: bad input (one line on stderr). Results in --out (gate.json,
regress.json, each run's JSON and log). See bench/REGRESS.md for the thresholds' origin.
"""
import argparse
import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.gate import regress

from bench.gate import science as science_gate
from bench.gate.benchjson import BenchFileError, load
from bench.common.cli import OneLineParser, UsageError, write_json_atomic

ROOT = Path(__file__).resolve().parents[2]
TOOLS = Path(__file__).resolve().parent / "tools"  # the driver and the pytest probe
BASE_FILE = "bench/GATE_BASE"
MAX_AGE_HOURS = 3.0  # date rule: a base at least one session older than HEAD
PAIRS = 3
# The sweep benchmark (a Ray start and three MLflow-logged trials, ~40 s a run, and ~5 s of
# importing Ray and MLflow to collect it) stays in `make bench`: six runs would cost 4 minutes.
NOT_GATED = "tests/benchmarks/test_sweep_overhead.py"
# From five A/A gate runs on the 2-core EPYC (bench/REGRESS.md): the min statistic (noise
# only adds to it; the median moved up to 27%), about twice each group's largest A/A change.
# The loader batches, the Haar transform and the training step are gated tightly by their
# instruction counts; the training step's wall limit is the default 30% since a gate run on
# 2026-12-01 moved an unchanged x4 step by +22.6% (bench/REGRESS.md).
WALL_FAIL = ["min:30%", "x4_round_trip=min:25%", "loader_batch=min:60%",
             "haar_transform=min:60%"]
INSTR_FAIL_PCT = 3.0  # A/A spread of the counts: see bench/REGRESS.md
WORKLOADS_FILE = "tests/benchmarks/callgrind_workloads.py"
RUN_TIMEOUT_S = 1200  # one suite run or one callgrind run; a hang must not hold CI forever


class GateError(Exception):
    """A broken run of the gate itself (not a regression): one line, exit 2."""


def git(repo, *args) -> str:
    p = subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=True)
    if p.returncode:
        raise GateError(f"git {' '.join(args)}: {(p.stderr.strip().splitlines() or ['failed'])[-1]}")
    return p.stdout.strip()


def commit_of(repo, rev: str) -> str | None:
    p = subprocess.run(["git", "-C", str(repo), "rev-parse", "--verify", "--quiet", f"{rev}^{{commit}}"],
                       capture_output=True, text=True)
    return p.stdout.strip() if p.returncode == 0 else None


def is_ancestor(repo, a: str, b: str) -> bool:
    return subprocess.run(["git", "-C", str(repo), "merge-base", "--is-ancestor", a, b],
                          capture_output=True).returncode == 0


def find_base(repo, override: str | None = None, base_file: str = BASE_FILE,
              max_age_s: float = MAX_AGE_HOURS * 3600) -> tuple[str | None, str]:
    """(commit, how it was chosen); commit is None when there is no usable base."""
    head = commit_of(repo, "HEAD")
    if head is None:
        raise GateError(f"{repo} has no HEAD commit")
    if override:
        sha = commit_of(repo, override)
        if sha is None:
            raise UsageError(f"GATE_BASE={override!r} is not a commit of this repository")
        return sha, f"GATE_BASE={override}"
    path = Path(repo) / base_file
    recorded = path.read_text().strip() if path.is_file() else ""
    sha = commit_of(repo, recorded) if recorded else None
    if sha and sha != head and is_ancestor(repo, sha, head):
        return sha, base_file
    why = (f"{base_file} is missing" if not recorded else f"{base_file} ({recorded[:12]}) is "
           + ("HEAD itself" if sha == head else "not an ancestor of HEAD"))
    # Date rule: the newest first-parent ancestor at least one session older than HEAD.
    head_time = int(git(repo, "log", "-1", "--format=%ct", "HEAD"))
    for line in git(repo, "log", "--first-parent", "--format=%H %ct", "HEAD").splitlines():
        sha, ct = line.split()
        if int(ct) <= head_time - max_age_s:
            return sha, f"{why}; newest first-parent ancestor committed {max_age_s / 3600:g} h before HEAD"
    return None, f"{why}, and no first-parent ancestor is {max_age_s / 3600:g} h older than HEAD"


@contextlib.contextmanager
def worktree(repo, sha: str):
    """A detached worktree of `sha` in a temporary folder, removed however the block ends."""
    folder = Path(tempfile.mkdtemp(prefix="irn-gate-"))
    tree = folder / "base"
    try:
        git(repo, "worktree", "add", "--detach", "--quiet", str(tree), sha)
        yield tree
    finally:
        subprocess.run(["git", "-C", str(repo), "worktree", "remove", "--force", str(tree)],
                       capture_output=True)
        shutil.rmtree(folder, ignore_errors=True)
        subprocess.run(["git", "-C", str(repo), "worktree", "prune"], capture_output=True)


def tree_env(tree: Path) -> dict:
    """The environment every measured process gets: the tree's own code first on sys.path
    (the editable install would otherwise hand out the main checkout's irn), one thread."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTEST_ADDOPTS", "PYTHONPATH")}
    env.update(PYTHONPATH=f"{tree}{os.pathsep}{TOOLS}", OMP_NUM_THREADS="1", PYTHONHASHSEED="0")
    return env


def check_imported(irn_file: str | None, tree: Path, what: str) -> None:
    if not irn_file or not Path(irn_file).is_relative_to(tree.resolve()):
        raise GateError(f"{what} imported irn from {irn_file}, not from {tree}: it did not "
                        "measure that tree's code")


# ------------------------------------------------------------------ instruction counts

def callgrind_totals(path: Path) -> int:
    """The instruction count of one callgrind part file (its `summary:`/`totals:` line)."""
    for line in path.read_text(errors="replace").splitlines():
        if line.startswith(("summary:", "totals:")):
            return int(line.split()[1])
    raise GateError(f"{path} has no summary line")


def count_instructions(python: str, trees: dict[str, Path], out: Path, k: str) -> dict:
    """{side: {workload: instructions per call}} for every side whose tree has workloads,
    both trees under valgrind at once (the counts do not depend on the load)."""
    procs = {}
    for side, tree in trees.items():
        if not (tree / WORKLOADS_FILE).is_file():
            continue
        folder = out / f"callgrind-{side}"
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir(parents=True)
        cmd = ["valgrind", "--tool=callgrind", "--instr-atstart=no", "--collect-atstart=no",
               f"--callgrind-out-file={folder}/callgrind.out", python,
               str(TOOLS / "callgrind_driver.py"), str(tree), str(folder / "parts.json"), k]
        log = open(folder / "valgrind.log", "w")
        procs[side] = (subprocess.Popen(cmd, cwd=tree, env=tree_env(tree), stdout=log,
                                        stderr=subprocess.STDOUT), folder, log)
    counts = {}
    try:
        for side, (proc, folder, log) in procs.items():
            rc = proc.wait(timeout=RUN_TIMEOUT_S)
            log.close()
            parts_file = folder / "parts.json"
            if rc or not parts_file.is_file():
                if side == "head":
                    raise GateError(f"head's instruction counts failed (valgrind exit {rc}): "
                                    f"see {folder / 'valgrind.log'}")
                print(f"gate: warning: base's instruction counts failed (exit {rc}), counted as "
                      f"missing in base: see {folder / 'valgrind.log'}", file=sys.stderr)
                continue
            parts = json.loads(parts_file.read_text())
            check_imported(parts["irn_file"], trees[side], f"the {side} callgrind run")
            counts[side] = {name: callgrind_totals(folder / f"callgrind.out.{p['part']}") / p["number"]
                            for name, p in parts["parts"].items()}
    finally:
        for proc, _, log in procs.values():
            if proc.poll() is None:
                proc.kill()
                proc.wait()
            log.close()
    return counts


def compare_counts(base: dict[str, float], head: dict[str, float], pct: float) -> list[dict]:
    """Per workload: instructions per call, change in %, verdict (as bench.regress's)."""
    rows = []
    for name in sorted(set(base) | set(head)):
        b, h = base.get(name), head.get(name)
        change = None if b is None or h is None else (h / b - 1.0) * 100.0
        if b is None:
            verdict, fails = "missing in base", False
        elif h is None:
            verdict, fails = "missing in head", True
        elif change > pct:
            verdict, fails = "REGRESSED", True
        elif change < -pct:
            verdict, fails = "improved", False
        else:
            verdict, fails = "ok", False
        rows.append(dict(name=f"instructions::{name}", base=b, head=h, change_pct=change,
                         threshold_pct=pct, verdict=verdict, fails=fails))
    return rows


def render_counts(rows: list[dict]) -> str:
    table = [("workload", "base instr/call", "head instr/call", "change", "limit", "verdict")] + [(
        r["name"], "-" if r["base"] is None else f"{r['base']:,.0f}",
        "-" if r["head"] is None else f"{r['head']:,.0f}",
        "-" if r["change_pct"] is None else f"{r['change_pct']:+.2f}%",
        f"{r['threshold_pct']:g}%", r["verdict"]) for r in rows]
    widths = [max(len(row[i]) for row in table) for i in range(6)]
    lines = ["  ".join(c.ljust(w) if i in (0, 5) else c.rjust(w)
                       for i, (c, w) in enumerate(zip(row, widths))).rstrip() for row in table]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


# ------------------------------------------------------------------ wall time

def run_suite(python: str, tree: Path, out_json: Path, k: str,
              targets: list[str] | None = None) -> tuple[int, float]:
    """One pytest-benchmark run of the tree's suite (or of just `targets`, pytest node ids);
    (pytest's exit status, seconds)."""
    cmd = [python, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "gate_probe",
           *(targets or ["tests/benchmarks"]), f"--ignore={NOT_GATED}", "--benchmark-only",
           f"--benchmark-json={out_json}"] + (["-k", k] if k else [])
    start = time.monotonic()
    with open(out_json.with_suffix(".log"), "w") as log:
        try:
            rc = subprocess.run(cmd, cwd=tree, env=tree_env(tree), stdout=log,
                                stderr=subprocess.STDOUT, timeout=RUN_TIMEOUT_S).returncode
        except subprocess.TimeoutExpired:
            rc = -1
    return rc, time.monotonic() - start


def wall_files(runs: list[tuple[Path, int]], tree: Path, side: str) -> list[str]:
    """The JSON files of one side's runs that hold results, each checked for its import."""
    files = []
    for path, rc in runs:
        try:
            load(str(path))
        except BenchFileError:
            continue  # a run that crashed before writing results
        check_imported(json.loads(path.read_text()).get("gate_probe", {}).get("irn_file"),
                       tree, f"the {side} benchmark run {path.name}")
        files.append(str(path))
    return files


def interleaved_runs(python: str, trees: dict[str, Path], out: Path, prefix: str, pairs: int,
                     k: str, targets: list[str] | None, failures: list[str]) -> dict[str, list[str]]:
    """`pairs` interleaved base/head runs, in the order base, head, head, base, base, head...
    (counterbalanced: the second run of a pair is not always head's); {side: JSON files
    holding results}. A failed head run is appended to `failures`."""
    runs = {"base": [], "head": []}
    for i in range(1, pairs + 1):
        for side in ("base", "head") if i % 2 else ("head", "base"):
            tree = trees[side]
            path = out / f"{prefix}{side}-{i}.json"
            path.unlink(missing_ok=True)
            rc, seconds = run_suite(python, tree, path, k, targets)
            runs[side].append((path, rc))
            print(f"gate: {prefix}{side} run {i}/{pairs}: pytest exit {rc}, {seconds:.0f} s", flush=True)
            if rc == 5:
                raise UsageError(f"no benchmark in the {side} tree matches -k {k!r}")
            if rc and side == "head":
                failures.append(f"head's {prefix}benchmark run {i} failed (pytest exit {rc}): see "
                                f"{path.with_suffix('.log')}")
    return {side: wall_files(runs[side], trees[side], side) for side in trees}


def skipped_in(paths: list[str]) -> dict[str, str]:
    """{benchmark node id: pytest's skip reason} that every one of these runs skipped
    (bench/gate/tools/gate_probe.py records them)."""
    runs = [json.loads(Path(p).read_text()).get("gate_probe", {}).get("skipped", {})
            for p in paths]
    if not runs:
        return {}
    common = set(runs[0]).intersection(*runs[1:])
    return {name: runs[0][name] for name in sorted(common)}


def compare_wall(files: dict[str, list[str]], json_out: Path) -> dict:
    """bench.regress on one set of runs (its table printed); its JSON result."""
    argv = [",".join(files["base"]), ",".join(files["head"]), "--json", str(json_out)]
    if regress.main(argv + [a for spec in WALL_FAIL for a in ("--fail", spec)]) == 2:
        raise GateError("bench.regress could not compare the runs (its line is above)")
    return json.loads(json_out.read_text())


def confirm(python: str, trees: dict[str, Path], out: Path, pairs: int, flagged: list[str],
            references: list[str], failures: list[str]) -> list[dict]:
    """Measure the flagged benchmarks again, with the reference, in fresh interleaved pairs;
    one row per flagged benchmark with the confirmation's verdict."""
    print(f"gate: {len(flagged)} wall-time regression(s) to confirm in {pairs} fresh pair(s): "
          + ", ".join(flagged), flush=True)
    files = interleaved_runs(python, trees, out, "confirm-", pairs, "", references + flagged,
                             failures)
    if not files["base"] or not files["head"]:
        raise GateError("the confirmation runs wrote no results: see the logs in " + str(out))
    rows = {r["name"]: r for r in compare_wall(files, out / "regress-confirm.json")["benchmarks"]}
    confirmed = []
    for name in flagged:
        row = rows.get(name, dict(name=name, verdict="missing in head", fails=True, change_pct=None))
        confirmed.append(dict(name=name, change_pct=row["change_pct"], verdict=row["verdict"],
                              confirmed=bool(row["fails"])))
        print(f"gate: {name}: " + ("regression CONFIRMED" if row["fails"] else
              f"not confirmed ({row['verdict']} in the fresh pairs): first-round noise"))
    return confirmed


# ------------------------------------------------------------------ the command

class GateParser(OneLineParser):
    error_prefix = "gate: "


def parse_args(argv):
    p = GateParser(prog="python -m bench.gate", description=__doc__.split("\n\n")[2],
                   formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--base", metavar="COMMIT", help="compare against this commit (make gate "
                   "GATE_BASE=...); may be HEAD itself, for an A/A run")
    p.add_argument("-k", dest="k", default="", metavar="EXPR",
                   help="pytest -k expression limiting the benchmarks and the instruction-count "
                        "workloads (named instructions::NAME); the reference workload always runs")
    p.add_argument("--pairs", type=int, default=PAIRS, help=f"interleaved base/head pairs (default {PAIRS})")
    p.add_argument("--confirm-pairs", type=int, default=PAIRS, help="fresh interleaved pairs "
                   f"that re-measure a wall-time regression before it fails (default {PAIRS}; 0: "
                   "the first round decides)")
    p.add_argument("--out", default=".benchmarks/gate", help="folder for the results (default %(default)s)")
    p.add_argument("--no-instructions", action="store_true", help="skip the callgrind counts")
    p.add_argument("--no-science", action="store_true", help="skip the science gate "
                   "(bench/gate/science.py: the same numbers at base and head)")
    p.add_argument("--science-only", action="store_true", help="run only the science gate")
    args = p.parse_args(argv)
    if args.pairs < 1:
        p.error("--pairs must be at least 1")
    if args.confirm_pairs < 0:
        p.error("--confirm-pairs must be 0 or more")
    if args.science_only and args.no_science:
        p.error("--science-only and --no-science exclude each other")
    return args


def main(argv=None) -> int:
    args = parse_args(argv)
    # SIGTERM (a CI timeout) unwinds like Ctrl-C, so the base worktree is still removed.
    previous = signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    try:
        return gate(args)
    except (UsageError, GateError, science_gate.ScienceGateError) as e:
        print(f"gate: error: {e}", file=sys.stderr)
        return 2
    finally:
        signal.signal(signal.SIGTERM, previous)


def gate(args) -> int:
    base, how = find_base(ROOT, args.base)
    head = commit_of(ROOT, "HEAD")
    if base is None:
        print(f"gate: no usable base commit ({how}): nothing to compare, passing")
        return 0
    dirty = bool(git(ROOT, "status", "--porcelain", "--untracked-files=no"))
    print(f"gate: BASE {base[:12]} ({how}), HEAD {head[:12]}{' + uncommitted changes' if dirty else ''}",
          flush=True)
    out = Path(args.out).resolve()
    out.mkdir(parents=True, exist_ok=True)
    wall_k = f"reference or ({args.k})" if args.k else ""
    python = sys.executable
    result = dict(base=base, base_chosen_by=how, head=head, head_dirty=dirty, k=args.k,
                  pairs=args.pairs, wall_fail=WALL_FAIL, instr_fail_pct=INSTR_FAIL_PCT)
    failures = []
    with worktree(ROOT, base) as base_tree:
        trees = {"base": base_tree, "head": ROOT}
        # 0. The science gate: the same numbers at base and head, or a declared change.
        if not args.no_science:
            science = science_gate.check(python, trees, out, science_gate.declarations(
                ROOT, base), log=lambda line: print(line, flush=True))
            result["science"] = science
            failures += ["science: undeclared change in the numbers"] if science["fails"] else []
            if args.science_only:
                return _finish(out, result, failures)
        # 1. Instruction counts (deterministic, so both trees run at once).
        rows = []
        if args.no_instructions:
            print("gate: instruction counts skipped (--no-instructions)")
        elif shutil.which("valgrind") is None:
            print("gate: warning: valgrind not found, instruction counts skipped "
                  "(scripts/system-deps.sh installs Debian's valgrind)", file=sys.stderr)
        else:
            start = time.monotonic()
            counts = count_instructions(python, trees, out, args.k)
            rows = compare_counts(counts.get("base", {}), counts.get("head", {}), INSTR_FAIL_PCT)
            print(f"gate: instruction counts ({time.monotonic() - start:.0f} s)\n{render_counts(rows)}",
                  flush=True)
        result["instructions"] = rows
        failures += [f"{r['name']} {r['verdict']}" for r in rows if r["fails"]]

        # 2. Wall time, interleaved: a burst of noise hits both sides, not one.
        os.sync()  # pending writeback (the unit tests') would skew the first runs
        files = interleaved_runs(python, trees, out, "", args.pairs, wall_k, None, failures)
        if not files["head"]:
            raise GateError("head's benchmark runs wrote no results: see the logs in " + str(out))
        result.update(base_files=files["base"], head_files=files["head"], confirmation=[])
        if not files["base"]:
            print("gate: the base tree's benchmark runs wrote no results: every wall-time "
                  "benchmark is missing in base", file=sys.stderr)
        else:
            wall = compare_wall(files, out / "regress.json")
            skipped = skipped_in(files["head"])
            for r in wall["benchmarks"]:
                if r["fails"] and r["verdict"] == "missing in head" and r["name"] in skipped:
                    r["fails"], r["verdict"] = False, "skipped in head"
                    print(f"gate: {r['name']}: skipped in head ({skipped[r['name']]}): "
                          "not a failure")
            result["skipped_in_head"] = {n: skipped[n] for n in skipped
                                         if any(r["name"] == n for r in wall["benchmarks"])}
            failures += [f"{r['name']} missing in head" for r in wall["benchmarks"]
                         if r["fails"] and r["verdict"] != "REGRESSED"]
            flagged = [r["name"] for r in wall["benchmarks"] if r["verdict"] == "REGRESSED"]
            # 3. Confirmation: only a regression that shows again in fresh pairs fails.
            if flagged and args.confirm_pairs:
                references = (wall["reference"] or {}).get("names", [])
                result["confirmation"] = confirm(python, trees, out, args.confirm_pairs,
                                                 flagged, references, failures)
                flagged = [r["name"] for r in result["confirmation"] if r["confirmed"]]
            failures += [f"{name} REGRESSED" + (" (confirmed in fresh pairs)" if args.confirm_pairs else "")
                         for name in flagged]
    return _finish(out, result, failures)


def _finish(out: Path, result: dict, failures: list[str]) -> int:
    exit_code = 1 if failures else 0
    result.update(failures=failures, exit_code=exit_code)
    write_json_atomic(out / "gate.json", result)
    for line in failures:
        print(f"gate: FAIL: {line}")
    print(f"gate: {'FAIL' if exit_code else 'PASS'} (results in {out})")
    return exit_code


if __name__ == "__main__":
    sys.exit(main())
