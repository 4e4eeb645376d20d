"""The same-job gate (bench/gate/command.py): how it finds BASE, its worktree, the instruction-count
verdicts, and one real end-to-end run on a tiny git repository whose suite takes seconds.

The repositories are real (`git init` in tmp_path, commits with chosen dates); the
end-to-end test runs real pytest-benchmark in a real base worktree, so it also checks that
the base run imported the base tree's `irn`, not the editable install's."""
import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from bench.gate import command as gate
from bench.common.cli import UsageError

T0 = 1_790_000_000  # a fixed epoch second for the commit dates
HOUR = 3600


def sh(repo: Path, *args, when: int | None = None) -> str:
    env = {**os.environ, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@t", "GIT_COMMITTER_NAME": "t",
           "GIT_COMMITTER_EMAIL": "t@t"}
    if when is not None:
        env["GIT_AUTHOR_DATE"] = env["GIT_COMMITTER_DATE"] = f"@{when} +0000"
    return subprocess.run(["git", "-C", str(repo), *args], env=env, check=True, capture_output=True,
                          text=True).stdout.strip()


def commit(repo: Path, when: int, files: dict[str, str] | None = None) -> str:
    for name, text in (files or {f"f{when}": str(when)}).items():
        (repo / name).parent.mkdir(parents=True, exist_ok=True)
        (repo / name).write_text(text)
    sh(repo, "add", "-A")
    sh(repo, "commit", "-q", "-m", f"at {when}", when=when)
    return sh(repo, "rev-parse", "HEAD")


def new_repo(path: Path) -> Path:
    path.mkdir()
    sh(path, "init", "-q", "-b", "main")
    return path


@pytest.fixture
def history(tmp_path):
    """c1 (t0), c2 (+1 h), c3 (+5 h), c4 = HEAD (+5.5 h) on main, and `other` off c1."""
    repo = new_repo(tmp_path / "repo")
    c = [commit(repo, T0), commit(repo, T0 + HOUR)]
    sh(repo, "branch", "side", c[0])
    c += [commit(repo, T0 + 5 * HOUR), commit(repo, T0 + 5 * HOUR + 1800)]
    sh(repo, "checkout", "-q", "side")
    other = commit(repo, T0 + 2 * HOUR)
    sh(repo, "checkout", "-q", "main")
    return repo, c, other


def write_base(repo: Path, text: str) -> None:
    (repo / "bench").mkdir(exist_ok=True)
    (repo / "bench" / "GATE_BASE").write_text(text + "\n")


def test_date_rule_without_a_base_file(history):
    repo, c, _ = history
    sha, how = gate.find_base(repo)
    assert sha == c[1] and "missing" in how and "3 h" in how  # c3 is only 0.5 h older than HEAD


def test_base_file_naming_an_ancestor_wins(history):
    repo, c, _ = history
    write_base(repo, c[2])
    assert gate.find_base(repo) == (c[2], "bench/GATE_BASE")
    write_base(repo, c[2][:10])  # an abbreviated SHA is a commit too
    assert gate.find_base(repo)[0] == c[2]


@pytest.mark.parametrize("recorded, why", [("HEAD", "HEAD itself"), ("OTHER", "not an ancestor"),
                                           ("0123456789abcdef", "not an ancestor")])
def test_unusable_base_file_falls_back_to_the_date_rule(history, recorded, why):
    repo, c, other = history
    write_base(repo, {"HEAD": c[3], "OTHER": other}.get(recorded, recorded))
    sha, how = gate.find_base(repo)
    assert sha == c[1] and why in how


def test_override_wins_and_may_be_head(history):
    repo, c, _ = history
    write_base(repo, c[2])
    assert gate.find_base(repo, "HEAD~3")[0] == c[0]
    assert gate.find_base(repo, "HEAD") == (c[3], "GATE_BASE=HEAD")  # an A/A run
    with pytest.raises(UsageError, match="not a commit"):
        gate.find_base(repo, "no-such-rev")


def test_date_rule_follows_first_parents_only(history):
    repo, c, other = history
    sh(repo, "merge", "-q", "--no-ff", "-m", "merge side", "side", when=T0 + 6 * HOUR)
    # `other` (t0 + 2 h) is the newest commit 3 h older than the merge, but not a first parent.
    assert gate.find_base(repo)[0] == c[1]


def test_no_usable_base_on_a_root_commit_or_a_young_history(tmp_path):
    repo = new_repo(tmp_path / "young")
    commit(repo, T0)
    assert gate.find_base(repo)[0] is None
    commit(repo, T0 + 2 * HOUR)
    sha, how = gate.find_base(repo)
    assert sha is None and "no first-parent ancestor" in how


def test_no_usable_base_says_so_in_one_line_and_passes(tmp_path, monkeypatch, capsys):
    repo = new_repo(tmp_path / "root-only")
    commit(repo, T0)
    monkeypatch.setattr(gate, "ROOT", repo)
    assert gate.main([]) == 0
    out, err = capsys.readouterr()
    assert out.count("\n") == 1 and out.startswith("gate: no usable base commit") and err == ""


def test_bad_override_is_one_line_and_exit_2(history, monkeypatch, capsys):
    monkeypatch.setattr(gate, "ROOT", history[0])
    assert gate.main(["--base", "no-such-rev"]) == 2
    out, err = capsys.readouterr()
    assert out == "" and err.count("\n") == 1 and err.startswith("gate: error: GATE_BASE='no-such-rev'")
    with pytest.raises(SystemExit) as e:
        gate.main(["--pairs", "0"])
    assert e.value.code == 2 and capsys.readouterr().err.count("\n") == 1


def test_worktree_is_removed_also_on_failure(history):
    repo, c, _ = history
    with pytest.raises(RuntimeError):
        with gate.worktree(repo, c[1]) as tree:
            assert (tree / f"f{T0 + HOUR}").is_file() and not (tree / f"f{T0 + 5 * HOUR}").exists()
            raise RuntimeError("benchmark crashed")
    assert not tree.parent.exists()
    assert sh(repo, "worktree", "list").count("\n") == 0  # only the main checkout


# ------------------------------------------------------------------ instruction counts

def test_count_verdicts():
    base = {"same": 1000.0, "slower": 1000.0, "edge": 1000.0, "faster": 1000.0, "gone": 5.0}
    head = {"same": 1000.0, "slower": 1050.0, "edge": 1029.0, "faster": 900.0, "new": 7.0}
    rows = {r["name"].split("::")[1]: r for r in gate.compare_counts(base, head, 3.0)}
    assert {n: r["verdict"] for n, r in rows.items()} == {
        "same": "ok", "slower": "REGRESSED", "edge": "ok", "faster": "improved",
        "gone": "missing in head", "new": "missing in base"}
    assert {n for n, r in rows.items() if r["fails"]} == {"slower", "gone"}
    assert rows["slower"]["change_pct"] == pytest.approx(5.0)
    table = gate.render_counts(list(rows.values()))
    line = next(s for s in table.splitlines() if s.startswith("instructions::slower "))
    assert line.split()[1:] == ["1,000", "1,050", "+5.00%", "3%", "REGRESSED"]


@pytest.mark.skipif(shutil.which("valgrind") is None, reason="valgrind not installed")
def test_callgrind_totals_reads_a_real_callgrind_file(tmp_path):
    out = tmp_path / "cg.out"
    subprocess.run(["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}", "true"],
                   check=True, capture_output=True, timeout=120)
    n = gate.callgrind_totals(out)
    assert 10_000 < n < 10_000_000  # /bin/true: the dynamic loader's start-up, ~100k instructions
    (tmp_path / "empty").write_text("events: Ir\n")
    with pytest.raises(gate.GateError, match="no summary"):
        gate.callgrind_totals(tmp_path / "empty")


def test_driver_selects_workloads_like_pytest_k():
    import importlib.util  # the driver is run by path, not imported as bench.something
    spec = importlib.util.spec_from_file_location("callgrind_driver", gate.TOOLS / "callgrind_driver.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    names = ["haar_transform", "coupling_block", "training_step"]
    assert mod.selected(names, "") == names
    assert mod.selected(names, "haar or training") == ["haar_transform", "training_step"]
    assert mod.selected(names, "instructions and not haar") == ["coupling_block", "training_step"]
    assert mod.selected(names, "test_reference") == []


# ------------------------------------------------------------------ end to end, tiny repo

SUITE = '''
def spin(n):
    s = 0
    for i in range(n):
        s += i * i
    return s

def test_reference_workload(benchmark):
    benchmark.pedantic(spin, (20000,), rounds=15)

def test_work(benchmark):
    benchmark.pedantic(spin, ({n},), rounds=15)
'''
NEW = '''
def test_new(benchmark):
    benchmark.pedantic(sum, (range(1000),), rounds=5)
'''


def tiny_project(repo: Path, n: int, extra: str = "") -> dict[str, str]:
    return {"pytest.ini": "[pytest]\n", "irn/__init__.py": "", "tests/__init__.py": "",
            "tests/benchmarks/__init__.py": "",
            "tests/benchmarks/test_speed.py": SUITE.format(n=n) + extra}


def run_gate(monkeypatch, capsys, repo: Path, *argv) -> tuple[int, str, str]:
    monkeypatch.setattr(gate, "ROOT", repo)
    # the tiny project has no science to probe (tests/test_science_gate.py covers that part)
    rc = gate.main(["--pairs", "1", "--confirm-pairs", "1", "--no-instructions", "--no-science",
                    "--out", str(repo / "out"), *argv])
    out, err = capsys.readouterr()
    return rc, out, err


def test_end_to_end_in_a_base_worktree(tmp_path, monkeypatch, capsys):
    repo = new_repo(tmp_path / "proj")
    base = commit(repo, T0, tiny_project(repo, 20000))
    write_base(repo, base)
    # 20x the work (the ~1 ms spin moves up to 40% between runs on a busy 2-core machine),
    # and one new benchmark
    commit(repo, T0 + HOUR, tiny_project(repo, 400000, NEW))
    rc, out, err = run_gate(monkeypatch, capsys, repo)
    assert rc == 1, out + err
    assert f"gate: BASE {base[:12]} (bench/GATE_BASE)" in out
    work = next(line for line in out.splitlines() if "::test_work " in line)
    assert work.split()[-1] == "REGRESSED" and float(work.split()[-3].strip("%+")) > 500
    assert "missing in base" in next(line for line in out.splitlines() if "::test_new " in line)
    assert "::test_work: regression CONFIRMED" in out  # measured again, alone, and still slow
    assert "gate: FAIL: tests/benchmarks/test_speed.py::test_work REGRESSED (confirmed" in out
    result = json.loads((repo / "out" / "gate.json").read_text())
    assert result["exit_code"] == 1 and not list(tmp_path.glob("irn-gate-*"))
    assert [r["confirmed"] for r in result["confirmation"]] == [True]
    assert (repo / "out" / "confirm-head-1.json").is_file()
    assert sh(repo, "worktree", "list").count("\n") == 0

    # The same change the other way round (head 20x faster) passes; so does the override.
    commit(repo, T0 + 2 * HOUR, tiny_project(repo, 1000))
    rc, out, err = run_gate(monkeypatch, capsys, repo, "--base", base)
    assert rc == 0, out + err
    assert "improved" in next(line for line in out.splitlines() if "::test_work " in line)
    assert f"BASE {base[:12]} (GATE_BASE={base})" in out


BURST = '''
def test_burst(benchmark):
    # A neighbour's burst of load, once: the first head run is 20x slower, later ones are not.
    import os
    n = 20000
    if os.path.exists("burst-once"):
        os.remove("burst-once")
        n *= 20
    benchmark.pedantic(spin, (n,), rounds=15)
'''


def test_a_regression_seen_once_is_not_confirmed_and_passes(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(gate, "WALL_FAIL", ["min:100%"])  # the burst is +1900%; noise is not
    repo = new_repo(tmp_path / "proj")
    commit(repo, T0, tiny_project(repo, 20000, BURST))
    commit(repo, T0 + HOUR, tiny_project(repo, 20000, BURST + "\n# head\n"))
    (repo / "burst-once").write_text("")  # untracked: only the head tree (the checkout) sees it
    rc, out, err = run_gate(monkeypatch, capsys, repo, "--base", "HEAD~1")
    assert rc == 0, out + err
    assert "REGRESSED" in next(line for line in out.splitlines() if "::test_burst " in line)
    assert "::test_burst: not confirmed (ok in the fresh pairs)" in out and "gate: PASS" in out
    confirm_run = json.loads((repo / "out" / "confirm-head-1.json").read_text())
    assert {b["name"] for b in confirm_run["benchmarks"]} == {"test_reference_workload", "test_burst"}

    # Without a confirmation round the first round decides, and fails.
    (repo / "burst-once").write_text("")
    monkeypatch.setattr(gate, "ROOT", repo)
    rc = gate.main(["--base", "HEAD~1", "--pairs", "1", "--confirm-pairs", "0",
                    "--no-instructions", "--no-science", "--out", str(repo / "out")])
    out = capsys.readouterr().out
    assert rc == 1 and "gate: FAIL: tests/benchmarks/test_speed.py::test_burst REGRESSED\n" in out


def test_end_to_end_head_crash_fails_and_k_limits(tmp_path, monkeypatch, capsys):
    # Base and head time the same code here: what is tested is -k and a crashing head, not
    # timing, so no wall-time noise may fail it.
    monkeypatch.setattr(gate, "WALL_FAIL", ["min:10000%"])
    repo = new_repo(tmp_path / "proj")
    commit(repo, T0, tiny_project(repo, 20000))
    commit(repo, T0 + HOUR, tiny_project(repo, 20000, "\ndef test_broken(benchmark):\n    1 / 0\n"))
    rc, out, err = run_gate(monkeypatch, capsys, repo, "--base", "HEAD~1", "-k", "work")
    assert rc == 0, out + err  # -k work: test_broken is not run
    assert "test_broken" not in out and "::test_work " in out
    rc, out, err = run_gate(monkeypatch, capsys, repo, "--base", "HEAD~1")
    assert rc == 1 and "gate: FAIL: head's benchmark run 1 failed (pytest exit 1)" in out
    rc, out, err = run_gate(monkeypatch, capsys, repo, "--base", "HEAD", "-k", "nothing_matches")
    assert rc == 0 and "missing" not in out  # the reference alone: nothing to compare, passes


def test_a_base_run_importing_the_wrong_irn_is_refused(tmp_path):
    tree = tmp_path / "base"
    with pytest.raises(gate.GateError, match="did not measure that tree's code"):
        gate.check_imported(str(gate.ROOT / "irn" / "__init__.py"), tree, "the base run")
    gate.check_imported(str(tree / "irn" / "__init__.py"), tree, "the base run")  # fine
    env = gate.tree_env(tree)
    assert env["PYTHONPATH"].split(os.pathsep)[0] == str(tree) and env["OMP_NUM_THREADS"] == "1"


def test_every_instruction_workload_runs_natively():
    """The gate counts them under valgrind; here each is built and called once (seconds), so
    an API change that breaks one fails the unit tests, not only the gate."""
    from tests.benchmarks.callgrind_workloads import WORKLOADS
    assert {"haar_transform", "coupling_block", "loader_batch_memory", "training_step",
            "x4_round_trip", "jpeg_training_step", "recon_losses",
            "evaluate_one_image"} <= set(WORKLOADS)
    for name, make in WORKLOADS.items():
        fn, number = make()
        assert number >= 1 and fn() is not None, name


SKIPPED_IN_HEAD = '''
import pytest

@pytest.mark.skipif(True, reason="no native bf16 on this CPU")
def test_lowp(benchmark):
    benchmark.pedantic(spin, (20000,), rounds=5)
'''
RUN_IN_BASE = '''
def test_lowp(benchmark):
    benchmark.pedantic(spin, (20000,), rounds=5)
'''


def test_a_benchmark_head_skips_by_decision_passes_a_deleted_one_fails(tmp_path, monkeypatch,
                                                                          capsys):
    # The base measured bf16 where oneDNN only emulates it; head's skipif leaves it out on
    # such a CPU: that is a decision with a reason, not a benchmark deleted or crashed.
    monkeypatch.setattr(gate, "WALL_FAIL", ["min:10000%"])
    repo = new_repo(tmp_path / "proj")
    commit(repo, T0, tiny_project(repo, 20000, RUN_IN_BASE))
    commit(repo, T0 + HOUR, tiny_project(repo, 20000, SKIPPED_IN_HEAD))
    rc, out, err = run_gate(monkeypatch, capsys, repo, "--base", "HEAD~1")
    assert rc == 0, out + err
    assert "::test_lowp: skipped in head (no native bf16 on this CPU): not a failure" in out
    result = json.loads((repo / "out" / "gate.json").read_text())
    assert list(result["skipped_in_head"].values()) == ["no native bf16 on this CPU"]
    commit(repo, T0 + 2 * HOUR, tiny_project(repo, 20000))  # deleted: still a failure
    rc, out, err = run_gate(monkeypatch, capsys, repo, "--base", "HEAD~2")
    assert rc == 1 and "gate: FAIL: tests/benchmarks/test_speed.py::test_lowp missing in head" in out
