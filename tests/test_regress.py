"""The CI performance gate (bench/gate/regress.py) on real pytest-benchmark JSON.

tests/data/benchmarks/recorded.json is a real run of WORKLOADS below, made by `record()`
and trimmed by `trim()` (raw timings and CPU flags dropped). Most tests edit copies of it;
a few record a fresh run in a subprocess (about 2 s).
"""

import copy
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from bench.gate.regress import main

ROOT = Path(__file__).resolve().parents[1]
RECORDED = ROOT / "tests" / "data" / "benchmarks" / "recorded.json"
REF = "test_workloads.py::test_reference_workload"
LARGE = "test_workloads.py::test_large"

WORKLOADS = '''
import pytest

def spin(n):  # fixed pure-Python work: no sleep, no I/O
    s = 0
    for i in range(n):
        s += i * i
    return s

def test_reference_workload(benchmark):
    benchmark(spin, 3000)

def test_small(benchmark):
    benchmark(spin, 1000)

def test_large(benchmark):
    benchmark(spin, 6000)

@pytest.mark.parametrize("n", [2000, 4000], ids=["n=2000", "n=4000"])
def test_sized(benchmark, n):
    benchmark(spin, n)
'''


def record(folder: Path) -> dict:
    """Run WORKLOADS under pytest-benchmark in a subprocess and return its JSON."""
    (folder / "test_workloads.py").write_text(WORKLOADS)
    (folder / "pytest.ini").write_text("[pytest]\n")  # keep this repo's config out of it
    env = {k: v for k, v in os.environ.items() if k not in ("PYTEST_ADDOPTS", "PYTEST_DISABLE_PLUGIN_AUTOLOAD")}
    out = folder / "run.json"
    subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "test_workloads.py",
         f"--benchmark-json={out}", "--benchmark-min-rounds=5", "--benchmark-max-time=0.05",
         "--benchmark-warmup=off"],
        cwd=folder, env=env, check=True, capture_output=True, timeout=120,
    )
    return json.loads(out.read_text())


def trim(data: dict) -> dict:
    data = copy.deepcopy(data)
    data["machine_info"].pop("cpu", None)
    for b in data["benchmarks"]:
        b["stats"].pop("data", None)
    return data


def scaled(data: dict, factor: float, only: str = "", stats=("median", "mean", "min", "max", "q1", "q3")) -> dict:
    """Copy of a run with the given stats of benchmarks whose fullname contains `only` x factor."""
    data = copy.deepcopy(data)
    for b in data["benchmarks"]:
        if only in b["fullname"]:
            for s in stats:
                b["stats"][s] *= factor
    return data


def without(data: dict, name: str) -> dict:
    data = copy.deepcopy(data)
    data["benchmarks"] = [b for b in data["benchmarks"] if name not in b["fullname"]]
    return data


def put(folder: Path, name: str, data) -> str:
    path = folder / name
    path.write_text(data if isinstance(data, str) else json.dumps(data))
    return str(path)


def gate(capsys, *argv) -> tuple[int, str, str]:
    try:
        rc = main([str(a) for a in argv])
    except SystemExit as e:  # argparse errors
        rc = e.code
    out, err = capsys.readouterr()
    return rc, out, err


def row(out: str, name: str) -> str:
    return next(line for line in out.splitlines() if line.startswith(name + " "))


@pytest.fixture(scope="module")
def base() -> dict:
    return json.loads(RECORDED.read_text())


@pytest.fixture(scope="module")
def fresh(tmp_path_factory) -> dict:
    return record(tmp_path_factory.mktemp("bench"))


def test_recorded_fixture_is_a_trimmed_real_run(base):
    names = [b["fullname"] for b in base["benchmarks"]]
    assert REF in names and LARGE in names and "test_workloads.py::test_sized[n=4000]" in names
    assert base["version"].startswith("5.") and all("data" not in b["stats"] for b in base["benchmarks"])


# --- fresh runs, through the real command line -------------------------------------------

def test_fresh_run_against_itself_and_a_uniformly_slower_copy_passes(fresh, tmp_path):
    head = put(tmp_path, "head.json", fresh)
    slower = put(tmp_path, "slower.json", scaled(fresh, 1.4))  # a 40% slower runner, reference too
    for other in (head, slower):
        p = subprocess.run([sys.executable, "-m", "bench.regress", head, other],
                           cwd=ROOT, capture_output=True, text=True, timeout=60)
        assert p.returncode == 0, p.stdout + p.stderr
        assert "REGRESSED" not in p.stdout and "PASS" in p.stdout
        assert row(p.stdout, LARGE).split()[-1] == "ok"
    assert "head/base x1.40" in p.stdout


def test_uniform_slowdown_without_reference_falls_back_to_absolute_and_fails(fresh, tmp_path, capsys):
    base = put(tmp_path, "base.json", without(fresh, "reference"))
    head = put(tmp_path, "head.json", without(scaled(fresh, 1.4), "reference"))
    rc, out, err = gate(capsys, base, head)
    assert rc == 1  # exactly why ratios exist: absolute times flag a slower machine
    assert err.count("\n") == 1 and err.startswith("warning: no reference benchmark") and "absolute" in err
    assert "absolute times" in out and row(out, LARGE).split()[-1] == "REGRESSED"


def test_help_exits_0():
    p = subprocess.run([sys.executable, "-m", "bench.regress", "--help"], cwd=ROOT, capture_output=True, text=True)
    assert p.returncode == 0 and "--allow-missing" in p.stdout and "--reference" in p.stdout


# --- edited copies of the recorded run ---------------------------------------------------

def test_one_benchmark_30_percent_slower_regresses(base, tmp_path, capsys):
    head = put(tmp_path, "head.json", scaled(base, 1.3, only=LARGE))
    rc, out, _ = gate(capsys, RECORDED, head)
    assert rc == 1
    assert row(out, LARGE).split()[-1] == "REGRESSED" and "+30.0%" in row(out, LARGE)
    assert row(out, "test_workloads.py::test_small").split()[-1] == "ok"
    assert out.splitlines()[-1].startswith("FAIL: ")


def test_change_within_noise_passes(base, tmp_path, capsys):
    head = put(tmp_path, "head.json", scaled(base, 1.05, only=LARGE))
    rc, out, _ = gate(capsys, RECORDED, head)
    assert rc == 0 and "+5.0%" in row(out, LARGE) and row(out, LARGE).split()[-1] == "ok"


def test_slower_reference_makes_the_others_look_faster(base, tmp_path, capsys):
    head = put(tmp_path, "head.json", scaled(base, 1.3, only="reference"))
    rc, out, _ = gate(capsys, RECORDED, head)
    assert rc == 0 and row(out, LARGE).split()[-1] == "improved" and "-23.1%" in row(out, LARGE)


def test_threshold_override_by_name_and_statistic(base, tmp_path, capsys):
    head = put(tmp_path, "head.json", scaled(base, 1.3, only=LARGE))
    assert gate(capsys, RECORDED, head, "--fail", "large=median:40%")[0] == 0
    assert gate(capsys, RECORDED, head, "--fail", "median:40%", "--fail", "large=min:10%")[0] == 1
    # Only the mean moved (one slow outlier round): the median gate passes, a mean gate fails.
    mean_only = put(tmp_path, "mean.json", scaled(base, 1.3, only=LARGE, stats=("mean",)))
    assert gate(capsys, RECORDED, mean_only)[0] == 0
    rc, out, _ = gate(capsys, RECORDED, mean_only, "--fail", "mean:20%")
    assert rc == 1 and row(out, LARGE).split()[1] == "mean"
    # Benchmark ids with '=' in them still parse as NAME=STAT:PCT.
    sized = put(tmp_path, "sized.json", scaled(base, 1.3, only="[n=4000]"))
    assert gate(capsys, RECORDED, sized)[0] == 1
    assert gate(capsys, RECORDED, sized, "--fail", "[n=4000]=median:50%")[0] == 0


def test_missing_in_head_fails_unless_allowed(base, tmp_path, capsys):
    head = put(tmp_path, "head.json", without(base, LARGE))
    rc, out, _ = gate(capsys, RECORDED, head)
    assert rc == 1 and "missing in head" in row(out, LARGE)
    rc, out, _ = gate(capsys, RECORDED, head, "--allow-missing")
    assert rc == 0 and "missing in head (allowed)" in row(out, LARGE)


def test_new_benchmark_missing_in_base_is_reported_and_passes(base, tmp_path, capsys):
    old = put(tmp_path, "old.json", without(base, LARGE))
    rc, out, _ = gate(capsys, old, RECORDED)
    assert rc == 0 and "missing in base" in row(out, LARGE)


def test_interleaved_runs_combine_by_median(base, tmp_path, capsys):
    b1, b2 = put(tmp_path, "b1.json", base), put(tmp_path, "b2.json", scaled(base, 1.2))
    h1 = put(tmp_path, "h1.json", scaled(base, 0.9))
    h2 = put(tmp_path, "h2.json", scaled(base, 1.02, only=LARGE))
    h3 = put(tmp_path, "h3.json", scaled(base, 2.0, only=LARGE))  # one disturbed run
    rc, out, _ = gate(capsys, f"{b1},{b2}", f"{h1},{h2},{h3}")
    assert rc == 0 and "+2.0%" in row(out, LARGE)  # median of +0%, +2%, +100%
    h4 = put(tmp_path, "h4.json", scaled(base, 1.5, only=LARGE))
    assert gate(capsys, f"{b1},{b2}", f"{h1},{h3},{h4}")[0] == 1  # median +50%


def test_reference_missing_on_one_side_compares_absolute_times_everywhere(base, tmp_path, capsys):
    head = put(tmp_path, "head.json", without(base, "reference"))
    rc, out, err = gate(capsys, RECORDED, head)
    assert rc == 0 and "absolute times" in out and REF not in out  # reference is not a row
    assert err.count("\n") == 1 and head in err and str(RECORDED) not in err


def test_json_output_has_per_benchmark_verdicts(base, tmp_path, capsys):
    head = put(tmp_path, "head.json", without(scaled(base, 1.3, only=LARGE), "small"))
    out_path = tmp_path / "out" / "cmp.json"
    out_path.parent.mkdir()
    out_path.write_text("stale")
    rc, _, _ = gate(capsys, RECORDED, head, "--json", out_path)
    result = json.loads(out_path.read_text())
    verdicts = {b["name"]: b["verdict"] for b in result["benchmarks"]}
    assert rc == 1 and result["exit_code"] == 1 and result["passed"] is False and result["mode"] == "ratio"
    assert verdicts[LARGE] == "REGRESSED" and verdicts["test_workloads.py::test_small"] == "missing in head"
    assert verdicts["test_workloads.py::test_sized[n=2000]"] == "ok" and REF not in verdicts
    assert result["reference"]["names"] == [REF]
    assert os.listdir(out_path.parent) == ["cmp.json"]  # no temp file left behind


# --- bad input: exit 2, one line on stderr, nothing written ------------------------------

BAD_FILES = {
    "missing": None,
    "garbage": "{not json",
    "a_list": "[1, 2]",
    "no_benchmarks": json.dumps({"benchmarks": []}),
    "zero_median": "ZERO",
}


@pytest.mark.parametrize("kind", BAD_FILES)
def test_bad_file_exits_2_with_one_line(kind, base, tmp_path, capsys):
    content = BAD_FILES[kind]
    if content == "ZERO":
        broken = copy.deepcopy(base)
        broken["benchmarks"][1]["stats"]["median"] = 0
        content = json.dumps(broken)
    bad = str(tmp_path / "bad.json") if content is None else put(tmp_path, "bad.json", content)
    out_path = tmp_path / "cmp.json"
    rc, out, err = gate(capsys, RECORDED, bad, "--json", out_path)
    assert rc == 2 and out == "" and not out_path.exists()
    assert err.count("\n") == 1 and err.startswith("regress: error: ") and "bad.json" in err


@pytest.mark.parametrize("argv", [
    ["--fail", "median:x%"], ["--fail", "p99:10%"], ["--fail", "median"], ["--fail", "=median:10%"],
    ["--fail", "large=median:-5%"], ["--reference", "no_such_benchmark"], ["--reference", "test_"],
    ["--json", "/no/such/folder/out.json"], ["--json", "."], ["--frobnicate"],
])
def test_bad_option_exits_2_with_one_line(argv, capsys):
    rc, out, err = gate(capsys, RECORDED, RECORDED, *argv)
    assert rc == 2 and out == "" and err.count("\n") == 1 and "error" in err


def test_missing_head_argument_exits_2_with_one_line(capsys):
    rc, _, err = gate(capsys, RECORDED)
    assert rc == 2 and err.count("\n") == 1 and "HEAD" in err


def on_cpu(data: dict, brand: str) -> dict:
    data = copy.deepcopy(data)
    data["machine_info"]["cpu"] = {"vendor_id_raw": "Vendor", "brand_raw": brand, "family": 1,
                                   "model": 2, "count": 2}
    return data


def test_other_machine_warns_or_skips(base, tmp_path, capsys):
    amd = put(tmp_path, "amd.json", on_cpu(base, "AMD EPYC"))
    intel = put(tmp_path, "intel.json", on_cpu(scaled(base, 1.3, only=LARGE), "Intel Xeon"))
    rc, out, err = gate(capsys, amd, intel)
    assert rc == 1 and "REGRESSED" in out  # compared anyway, with a warning
    assert err.count("\n") == 1 and "AMD EPYC" in err and "Intel Xeon" in err
    rc, out, err = gate(capsys, amd, intel, "--skip-other-machine")
    assert rc == 0 and out.startswith("regress: skipped: BASE was recorded on Vendor AMD EPYC")
    assert "REGRESSED" not in out
    same = put(tmp_path, "same.json", on_cpu(scaled(base, 1.3, only=LARGE), "AMD EPYC"))
    rc, out, err = gate(capsys, amd, same, "--skip-other-machine")
    assert rc == 1 and "REGRESSED" in out and err == ""  # same CPU: the gate applies
