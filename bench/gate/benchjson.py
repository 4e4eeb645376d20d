"""Read the JSON files that `pytest --benchmark-json=F` (pytest-benchmark) writes.

Only what the regression gate needs is kept: per benchmark, its median / mean / min time
per call in seconds. Every problem with a file is raised as one BenchFileError whose
message is a single line naming the file, so the CLI can print it and exit 2.
"""

import json
import math
from dataclasses import dataclass

STATS = ("median", "mean", "min")


class BenchFileError(ValueError):
    """A file that is missing, unreadable, not JSON, or not pytest-benchmark output."""


@dataclass(frozen=True)
class BenchFile:
    path: str
    stats: dict[str, dict[str, float]]  # benchmark fullname -> {"median": s, "mean": s, "min": s}
    commit: str | None  # commit_info.id as pytest-benchmark recorded it, if any
    machine: str | None = None  # "vendor brand family/model, N CPUs" from machine_info.cpu


def machine_kind(data: dict) -> str | None:
    """The CPU a run was made on, as pytest-benchmark (py-cpuinfo) recorded it; None if absent."""
    cpu = (data.get("machine_info") or {}).get("cpu")
    if not isinstance(cpu, dict) or not cpu.get("brand_raw"):
        return None
    return (f"{cpu.get('vendor_id_raw', '?')} {cpu['brand_raw']} family {cpu.get('family', '?')} "
            f"model {cpu.get('model', '?')}, {cpu.get('count', '?')} CPUs")


def load(path: str) -> BenchFile:
    try:
        with open(path, encoding="utf-8") as f:
            text = f.read()
    except (OSError, UnicodeDecodeError) as e:
        raise BenchFileError(f"cannot read {path}: {getattr(e, 'strerror', None) or e}") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as e:
        raise BenchFileError(f"{path} is not JSON ({e.msg} at line {e.lineno})") from None
    if not isinstance(data, dict) or not isinstance(data.get("benchmarks"), list):
        raise BenchFileError(f"{path} is not a pytest-benchmark JSON file (no 'benchmarks' list)")
    if not data["benchmarks"]:
        raise BenchFileError(f"{path} holds no benchmarks (was the benchmark run skipped or disabled?)")

    stats: dict[str, dict[str, float]] = {}
    for i, entry in enumerate(data["benchmarks"]):
        if not isinstance(entry, dict) or not isinstance(entry.get("stats"), dict):
            raise BenchFileError(f"{path}: benchmark #{i} has no 'stats' object")
        # fullname ("tests/benchmarks/test_x.py::test_y[param]") is unique across modules;
        # the bare name is not. Both are relative to the pytest rootdir, so they match
        # between two checkouts of the same repository.
        name = entry.get("fullname") or entry.get("name")
        if not isinstance(name, str) or not name:
            raise BenchFileError(f"{path}: benchmark #{i} has no name")
        if name in stats:
            raise BenchFileError(f"{path}: benchmark {name} appears twice")
        values = {}
        for stat in STATS:
            v = entry["stats"].get(stat)
            # bool is an int subclass; a time must be a real positive number to divide by.
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v) or v <= 0:
                raise BenchFileError(f"{path}: benchmark {name} has no valid positive '{stat}' time")
            values[stat] = float(v)
        stats[name] = values

    commit = data.get("commit_info", {}).get("id") if isinstance(data.get("commit_info"), dict) else None
    return BenchFile(path=path, stats=stats, commit=commit if isinstance(commit, str) else None,
                     machine=machine_kind(data))
