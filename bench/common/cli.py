"""Shared command-line plumbing: one-line errors with exit 2, atomic JSON output."""
import json
import math
import os
import sys

from irn.atomic import atomic_write
from irn.cli import OneLineParser  # noqa: F401 - the one parser, re-exported for bench.*


class UsageError(Exception):
    """Bad input: printed as one line, exit status 2."""


def fail(message: str) -> int:
    print(f"error: {str(message).splitlines()[0] if message else 'bad input'}", file=sys.stderr)
    return 2


def _jsonable(obj):
    if isinstance(obj, float) and not math.isfinite(obj):
        return str(obj)  # JSON has no inf/nan
    if isinstance(obj, dict):
        return {k: _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_jsonable(v) for v in obj]
    return obj


def write_json_atomic(path, payload) -> None:
    """Write JSON to a temp file beside `path`, then rename: never half-written."""
    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        raise UsageError(f"folder for --json does not exist: {folder}")
    with atomic_write(path) as f:
        json.dump(_jsonable(payload), f, indent=2, sort_keys=True)


def check_json_target(path) -> None:
    """Refuse an unwritable --json target before any work starts."""
    check_output_target(path, "--json")


def check_output_target(path, flag: str) -> None:
    """Refuse an output file whose folder is missing, or that is a folder, before any work."""
    if path is None:
        return
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        raise UsageError(f"folder for {flag} does not exist: {folder}")
    if os.path.isdir(path):
        raise UsageError(f"{flag} path is a folder: {path}")
    if os.path.exists(path) and not os.access(path, os.W_OK):
        raise UsageError(f"{flag} {path}: not writable")
    check_writable_folder(folder, flag)


def check_output_folder(folder, flag: str) -> None:
    """Refuse an output folder that is a file, or that could not be created (its nearest
    existing ancestor is a file or not writable), before any work."""
    if folder is None:
        return
    path = os.path.abspath(folder)
    if os.path.exists(path) and not os.path.isdir(path):
        raise UsageError(f"{flag} {folder} exists and is not a folder")
    parent = path
    while not os.path.exists(parent):
        parent = os.path.dirname(parent)
    if not os.path.isdir(parent):
        raise UsageError(f"{flag} {folder}: {parent} is a file, so the folder cannot be made")
    check_writable_folder(parent, flag)


def check_writable_folder(folder: str, flag: str) -> None:
    """Refuse a folder this process cannot create files in (a probe file, removed at once:
    permission bits alone mislead under root, ACLs and read-only mounts)."""
    import tempfile
    try:
        with tempfile.NamedTemporaryFile(dir=folder, prefix=".irn-probe-"):
            pass
    except OSError as exc:
        raise UsageError(f"{flag}: cannot write in {folder} "
                         f"({exc.strerror or exc})") from None


def check_device(device: str) -> None:
    """Refuse `--device cuda` where no CUDA device is, before any work."""
    if device == "cuda":
        import torch
        if not torch.cuda.is_available():
            raise UsageError("--device cuda: no CUDA device here")


def parse_margins(items: list[str]) -> dict:
    """--margin METRIC=VALUE ... as {metric: margin} (irn.metric_registry.margin_problem)."""
    from irn.metric_registry import margin_problem
    out = {}
    for item in items:
        name, sep, value = item.partition("=")
        try:
            number = float(value)
        except ValueError:
            number = None
        if not sep or number is None:
            raise UsageError(f"--margin {item}: give METRIC=VALUE, e.g. --margin psnr_y=0.1")
        problem = margin_problem(name.strip(), number)
        if problem:
            raise UsageError(f"--margin: {problem}")
        out[name.strip()] = number
    return out
