"""pytest plugin (`-p gate_probe`) that bench/gate/command.py loads into every benchmark run: it
records in the pytest-benchmark JSON which folder's `irn` the run really imported, so the
gate can refuse a base run that measured head's code (the editable install maps `irn` to
the main checkout unless the base worktree comes first on sys.path). It sits alone in this
folder because the gate puts the folder on PYTHONPATH of a tree that may not have it.

It also records the benchmarks the run skipped, with pytest's reason: a benchmark that a
skipif leaves out on this machine (bf16 without native bf16) is absent by decision, not
deleted or crashed, and the gate reports it as such instead of failing."""
import os

SKIPPED: dict[str, str] = {}


def pytest_runtest_logreport(report):
    if report.skipped and report.when in ("setup", "call"):
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(
            report.longrepr)
        SKIPPED[report.nodeid] = str(reason).removeprefix("Skipped: ")


def pytest_benchmark_update_json(config, benchmarks, output_json):
    import irn
    output_json["gate_probe"] = {"irn_file": os.path.realpath(irn.__file__),
                                 "skipped": dict(SKIPPED)}
