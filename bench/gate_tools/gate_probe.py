"""pytest plugin (`-p gate_probe`) that bench/gate.py loads into every benchmark run: it
records in the pytest-benchmark JSON which folder's `irn` the run really imported, so the
gate can refuse a base run that measured head's code (the editable install maps `irn` to
the main checkout unless the base worktree comes first on sys.path). It sits alone in this
folder because the gate puts the folder on PYTHONPATH of a tree that may not have it."""
import os


def pytest_benchmark_update_json(config, benchmarks, output_json):
    import irn
    output_json["gate_probe"] = {"irn_file": os.path.realpath(irn.__file__)}
