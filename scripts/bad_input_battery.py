"""The bad-input battery: every command fed the kinds of bad input a user gives it.

    .venv/bin/python scripts/bad_input_battery.py [-k SUBSTRING] [--keep DIR]

Each case runs the real command in a fresh process (in a scratch folder with the files the
case needs) and passes when: the exit status is 2, stderr is exactly one line with no
traceback, an output file that existed beforehand is byte-identical afterwards, no stray
file (a temporary, a half-written output) is left in the scratch folder, and, for the
malicious checkpoint, its payload never ran. Prints one line per case and the counts; exit
1 when any case fails. About 5 minutes on 2 cores (every case starts Python and torch).
"""
import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time

import numpy as np
from PIL import Image

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PY = sys.executable
SENTINEL = b"an output that existed before the command ran\n"
TINY = "from ray import tune\nSPACE = {{'blocks': 1, 'gc': 8, {axes}}}\nTUNE = {{{tune}}}\n"


class Payload:
    """Unpickling this runs a shell command: a checkpoint loader must refuse it."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def make_fixtures(d: str) -> dict:
    """Everything the cases read, made once: images, folders, checkpoints, spaces."""
    f = {k: os.path.join(d, k) for k in (
        "good.png", "corrupt.png", "truncated.png", "float.tif", "notes.txt", "empty",
        "corrupt_data", "ckpt.pt", "garbage.pt", "truncated.pt", "evil.pt", "x4.pt",
        "bad_key.py", "syntax.py", "no_space.py", "bad_coupling.py", "bad_tune.py",
        "bad_metric.py", "bad_mode.py", "ok_space.py", "bench.json", "bad.json",
        "marker")}
    rng = np.random.default_rng(0)
    Image.fromarray(rng.integers(0, 255, (64, 64, 3), np.uint8)).save(f["good.png"])
    with open(f["good.png"], "rb") as src:
        data = src.read()
    with open(f["corrupt.png"], "wb") as out:
        out.write(b"\x89PNG\r\n\x1a\n" + bytes(rng.integers(0, 255, 200, np.uint8)))
    with open(f["truncated.png"], "wb") as out:
        out.write(data[: len(data) // 2])
    Image.fromarray(rng.random((64, 64), np.float32)).save(f["float.tif"])
    with open(f["notes.txt"], "w") as out:
        out.write("not an image\n")
    os.makedirs(f["empty"])
    os.makedirs(f["corrupt_data"])
    shutil.copy(f["corrupt.png"], f["corrupt_data"])
    train = [PY, "-m", "bench.train", "--budget", "smoke", "--set", "blocks=1", "--set", "gc=8"]
    subprocess.run(train + ["--save", f["ckpt.pt"]], check=True, capture_output=True, cwd=d)
    subprocess.run(train + ["--set", "scale=4", "--save", f["x4.pt"]], check=True,
                   capture_output=True, cwd=d)
    with open(f["garbage.pt"], "wb") as out:
        out.write(bytes(rng.integers(0, 255, 4096, np.uint8)))
    with open(f["ckpt.pt"], "rb") as src:
        blob = src.read()
    with open(f["truncated.pt"], "wb") as out:
        out.write(blob[: len(blob) // 3])
    import torch
    torch.save({"model": Payload(f["marker"])}, f["evil.pt"])  # a real torch file, poisoned
    spaces = {
        "bad_key.py": TINY.format(axes="'blokcs': 2", tune="'budget': 'smoke'"),
        "syntax.py": "SPACE = {'blocks': 1,\n",
        "no_space.py": "TUNE = {'budget': 'smoke'}\n",
        "bad_coupling.py": TINY.format(axes="'coupling': tune.grid_search(['enhanced', "
                                            "'glowish'])", tune="'budget': 'smoke'"),
        "bad_tune.py": TINY.format(axes="'seed': 0", tune="'budget': 'smoke', 'serched': 1"),
        "bad_metric.py": TINY.format(axes="'seed': 0", tune="'budget': 'smoke', "
                                                           "'metric': 'psnr_z'"),
        "bad_mode.py": TINY.format(axes="'seed': 0", tune="'budget': 'smoke', "
                                                         "'metric': 'psnr_y', 'mode': 'min'"),
        "ok_space.py": TINY.format(axes="'loss_recon': tune.grid_search(['l1', 'l2'])",
                                   tune="'budget': 'smoke'"),
    }
    for name, text in spaces.items():
        with open(f[name], "w") as out:
            out.write(text)
    shutil.copy(os.path.join(ROOT, "bench", "gate", "baselines", "cpu-2core-1.json"), f["bench.json"])
    with open(f["bad.json"], "w") as out:
        out.write("{not json")
    sys.path.insert(0, ROOT)
    from bench.common.tracking import Tracker
    Tracker(f"sqlite:///{d}/store/mlflow.db", "no-sweep")  # a real store, an empty experiment
    return f


def cases(f: dict, d: str) -> list[tuple[str, list[str], str | None]]:
    """(name, argv, output path that must survive) per kind of bad input."""
    sweep = [PY, "-m", "bench.sweep"]
    store = ["--tracking-uri", f"sqlite:///{d}/store/mlflow.db", "--storage", f"{d}/store/runs"]
    ok = f["ok_space.py"]
    out = os.path.join(d, "out")  # a folder of existing outputs the failures must not touch
    old = {n: os.path.join(out, n) for n in ("old.json", "old.png", "old.pt", "old.html")}
    train = [PY, "-m", "bench.train", "--budget", "smoke", "--set", "blocks=1", "--set", "gc=8"]
    prof = [PY, "-m", "bench.profile", "--budget", "smoke", "--set", "blocks=1", "gc=8"]
    thr = [PY, "-m", "bench.throughput", "--scale", "2", "--repeats", "1", "--warmup", "0"]
    down = [PY, "-m", "irn.rescale", "down"]
    up = [PY, "-m", "irn.rescale", "up"]
    ck = ["--checkpoint", f["ckpt.pt"]]
    dash = [PY, "-m", "dashboards.build", "--tracking-uri", f"sqlite:///{d}/store/mlflow.db"]
    reg = [PY, "-m", "bench.regress"]
    ev = [PY, "-m", "bench.evaluate", "--checkpoint", f["ckpt.pt"]]
    return [
        # bench.sweep
        ("sweep: space file missing", sweep + [f"{d}/nope.py", *store], None),
        ("sweep: space with a syntax error", sweep + [f["syntax.py"], *store], None),
        ("sweep: space without SPACE", sweep + [f["no_space.py"], *store], None),
        ("sweep: space with an unknown key", sweep + [f["bad_key.py"], *store], None),
        ("sweep: space with an unknown coupling", sweep + [f["bad_coupling.py"], *store], None),
        ("sweep: unknown TUNE key", sweep + [f["bad_tune.py"], *store], None),
        ("sweep: unknown objective metric", sweep + [f["bad_metric.py"], *store], None),
        ("sweep: mode contradicts the metric", sweep + [f["bad_mode.py"], *store], None),
        ("sweep: unknown budget", sweep + [ok, "--budget", "huge", *store], None),
        ("sweep: --set unknown key", sweep + [ok, "--set", "blokcs=2", *store], None),
        ("sweep: --set bad type", sweep + [ok, "--set", "blocks=many", *store], None),
        ("sweep: --set without =", sweep + [ok, "--set", "blocks", *store], None),
        ("sweep: --set of a searched key", sweep + [ok, "--set", "loss_recon=l1", *store], None),
        ("sweep: --set size the scale does not divide",
         sweep + [ok, "--set", "patch_size=33", *store], None),
        ("sweep: --data missing folder", sweep + [ok, "--data", f"{d}/missing", *store], None),
        ("sweep: --data empty folder", sweep + [ok, "--data", f["empty"], *store], None),
        ("sweep: --data with a corrupt image", sweep + [ok, "--data", f["corrupt_data"], *store],
         None),
        ("sweep: --data is a file", sweep + [ok, "--data", f["notes.txt"], *store], None),
        ("sweep: --seeds 0", sweep + [ok, "--seeds", "0", *store], None),
        ("sweep: --seeds not a number", sweep + [ok, "--seeds", "two", *store], None),
        ("sweep: --json into a missing folder",
         sweep + [ok, "--json", f"{d}/missing/out.json", *store], None),
        ("sweep: --json over a folder", sweep + [ok, "--json", f["empty"], *store], None),
        ("sweep: unusable tracking URI", sweep + [ok, "--tracking-uri", "bogus://x",
                                                  "--storage", f"{d}/store/runs"], None),
        ("sweep: --resume with nothing to resume", sweep + [ok, "--resume", *store], None),
        ("sweep: more GPUs per trial than the machine has",
         sweep + [ok, "--gpus-per-trial", "1", *store], None),
        ("sweep: --max-concurrent 0", sweep + [ok, "--max-concurrent", "0", *store], None),
        # bench.train
        ("train: unknown coupling", train + ["--set", "coupling=glowish", "--json", old["old.json"]],
         old["old.json"]),
        ("train: scale 3", train + ["--set", "scale=3"], None),
        ("train: negative lr", train + ["--set", "lr=-1"], None),
        ("train: val_tile not a multiple of the scale", train + ["--set", "val_tile=33"], None),
        ("train: data folder missing", train + ["--set", f"data={d}/missing"], None),
        ("train: data folder with a corrupt image", train + ["--set", f"data={f['corrupt_data']}",
                                                             "--save", old["old.pt"]], old["old.pt"]),
        ("train: --json into a missing folder", train + ["--json", f"{d}/missing/x.json"], None),
        ("train: --save into a missing folder", train + ["--save", f"{d}/missing/x.pt"], None),
        ("train: unknown budget", [PY, "-m", "bench.train", "--budget", "huge"], None),
        ("train: unknown option", train + ["--sett", "blocks=1"], None),
        ("train: unusable tracking URI", train + ["--tracking-uri", "bogus://x"], None),
        # bench.profile
        ("profile: --steps 0", prof + ["--steps", "0"], None),
        ("profile: unknown loader", prof + ["--loader", "floppy"], None),
        ("profile: data with a corrupt image", prof + [f"data={f['corrupt_data']}"], None),
        ("profile: --out is a file", prof + ["--out", f["notes.txt"]], None),
        ("profile: --json into a missing folder", prof + ["--json", f"{d}/missing/p.json"], None),
        # bench.throughput
        ("throughput: size not WxH", thr + ["--size", "big"], None),
        ("throughput: size zero", thr + ["--size", "0x0"], None),
        ("throughput: overlap the scale does not divide", thr + ["--size", "64x64", "--tile",
                                                                 "32", "--overlap", "3"], None),
        ("throughput: tile the scale does not divide", thr + ["--size", "64x64", "--tile", "33"],
         None),
        ("throughput: checkpoint missing", thr + ["--size", "64x64", "--checkpoint",
                                                  f"{d}/missing.pt"], None),
        ("throughput: checkpoint of another scale", thr + ["--size", "64x64", "--checkpoint",
                                                           f["x4.pt"]], None),
        ("throughput: --threads -1", thr + ["--size", "64x64", "--threads", "-1"], None),
        ("throughput: cuda on a machine without one", thr + ["--size", "64x64", "--device",
                                                             "cuda"], None),
        # irn.rescale
        ("rescale: input missing", down + [f"{d}/missing.png", old["old.png"], *ck],
         old["old.png"]),
        ("rescale: corrupt input", down + [f["corrupt.png"], old["old.png"], *ck], old["old.png"]),
        ("rescale: truncated input", down + [f["truncated.png"], old["old.png"], *ck],
         old["old.png"]),
        ("rescale: input not an image", down + [f["notes.txt"], old["old.png"], *ck],
         old["old.png"]),
        ("rescale: floating-point TIFF input", down + [f["float.tif"], old["old.png"], *ck],
         old["old.png"]),
        ("rescale: checkpoint missing", down + [f["good.png"], old["old.png"], "--checkpoint",
                                                f"{d}/missing.pt"], old["old.png"]),
        ("rescale: checkpoint is garbage", down + [f["good.png"], old["old.png"], "--checkpoint",
                                                   f["garbage.pt"]], old["old.png"]),
        ("rescale: checkpoint truncated", down + [f["good.png"], old["old.png"], "--checkpoint",
                                                  f["truncated.pt"]], old["old.png"]),
        ("rescale: malicious checkpoint pickle", down + [f["good.png"], old["old.png"],
                                                         "--checkpoint", f["evil.pt"]],
         old["old.png"]),
        ("rescale: output folder missing", down + [f["good.png"], f"{d}/missing/lr.png", *ck],
         None),
        ("rescale: unknown output format", down + [f["good.png"], f"{out}/lr.xyz", *ck], None),
        ("rescale: --scale contradicts the checkpoint", down + [f["good.png"], old["old.png"],
                                                                *ck, "--scale", "4"],
         old["old.png"]),
        ("rescale: unknown direction", [PY, "-m", "irn.rescale", "sideways", f["good.png"],
                                        old["old.png"], *ck], old["old.png"]),
        ("rescale: unknown z", up + [f["good.png"], old["old.png"], *ck, "--z", "uniform"],
         old["old.png"]),
        # dashboards.build
        ("dashboard: experiment missing", dash + ["--experiment", "nope", "--out",
                                                  old["old.html"]], old["old.html"]),
        ("dashboard: experiment with nothing finished", dash + ["--experiment", "no-sweep",
                                                                "--out", old["old.html"]],
         old["old.html"]),
        ("dashboard: parent run missing", dash + ["--experiment", "no-sweep", "--parent",
                                                  "0" * 32, "--out", old["old.html"]],
         old["old.html"]),
        ("dashboard: --out into a missing folder", dash + ["--experiment", "no-sweep", "--out",
                                                           f"{d}/missing/r.html"], None),
        ("dashboard: unusable tracking URI", [PY, "-m", "dashboards.build", "--tracking-uri",
                                              "bogus://x", "--experiment", "e", "--out",
                                              old["old.html"]], old["old.html"]),
        # bench.evaluate
        ("evaluate: data folder missing", ev + ["--data", f"Set5={d}/missing"], None),
        ("evaluate: data folder empty", ev + ["--data", f"Set5={f['empty']}"], None),
        ("evaluate: data folder with a corrupt image", ev + ["--data",
                                                             f"Set5={f['corrupt_data']}"], None),
        ("evaluate: unknown dataset name", ev + ["--data", "set6"], None),
        ("evaluate: checkpoint of another scale", ev + ["--data", "embedded", "--scale", "4"],
         None),
        ("evaluate: checkpoint missing", [PY, "-m", "bench.evaluate", "--checkpoint",
                                          f"{d}/missing.pt", "--data", "embedded"], None),
        ("evaluate: malicious checkpoint pickle", [PY, "-m", "bench.evaluate", "--checkpoint",
                                                   f["evil.pt"], "--data", "embedded"], None),
        ("evaluate: --json into a missing folder", ev + ["--data", "embedded", "--json",
                                                         f"{d}/missing/e.json"], None),
        ("evaluate: --json keeps an old file on failure", ev + ["--data", f"Set5={f['empty']}",
                                                                "--json", old["old.json"]],
         old["old.json"]),
        ("evaluate: bad JPEG quality", ev + ["--data", "embedded", "--jpeg", "0,50"], None),
        # bench.regress
        ("regress: base file missing", reg + [f"{d}/missing.json", f["bench.json"]], None),
        ("regress: corrupt JSON", reg + [f["bad.json"], f["bench.json"]], None),
        ("regress: bad --fail threshold", reg + [f["bench.json"], f["bench.json"], "--fail",
                                                 "median:lots"], None),
        ("regress: --json into a missing folder", reg + [f["bench.json"], f["bench.json"],
                                                         "--json", f"{d}/missing/r.json"], None),
        # bench.sync
        ("sync: outbox folder missing", [PY, "-m", "bench.sync", f"{d}/missing"], None),
        ("sync: a folder that is not an outbox", [PY, "-m", "bench.sync", f["empty"]], None),
        # bench.memory
        ("memory: a patch larger than every training image", [
            PY, "-m", "bench.memory", "--patch", "2000", "--json", old["old.json"]],
         old["old.json"]),
        ("memory: unknown memory mode", [PY, "-m", "bench.memory", "--modes", "swap"], None),
        ("memory: recompute with iresnet", [PY, "-m", "bench.memory", "--set",
                                            "coupling=iresnet", "--modes", "recompute"], None),
        ("memory: patch sizes not numbers", [PY, "-m", "bench.memory", "--patch", "big"],
         None),
        ("memory: --json into a missing folder", [PY, "-m", "bench.memory", "--json",
                                                  f"{d}/missing/m.json"], None),
        ("train: memory=recompute with iresnet", train + ["--set", "memory=recompute",
                                                          "--set", "coupling=iresnet"], None),
    ]


def snapshot(folder: str) -> set[str]:
    return {os.path.relpath(os.path.join(r, n), folder)
            for r, _, names in os.walk(folder) for n in names}


def run_case(name, argv, keep, d, f) -> tuple[bool, str]:
    out = os.path.join(d, "out")
    shutil.rmtree(out, ignore_errors=True)
    shutil.rmtree(os.path.join(d, "missing"), ignore_errors=True)  # never there before a case
    os.makedirs(out)
    for n in ("old.json", "old.png", "old.pt", "old.html"):
        with open(os.path.join(out, n), "wb") as w:
            w.write(SENTINEL)
    before = snapshot(d)
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": ROOT, "NO_COLOR": "1"}
    proc = subprocess.run(argv, capture_output=True, text=True, cwd=d, env=env, timeout=300)
    lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
    problems = []
    if proc.returncode != 2:
        problems.append(f"exit {proc.returncode}")
    if len(lines) != 1:
        problems.append(f"{len(lines)} stderr lines")
    if "Traceback" in proc.stderr:
        problems.append("traceback")
    if "\x1b[" in proc.stderr:
        problems.append("ANSI escapes")
    if keep:
        with open(keep, "rb") as r:
            if r.read() != SENTINEL:
                problems.append(f"{os.path.basename(keep)} overwritten")
    stray = snapshot(d) - before
    if stray:
        problems.append(f"left {sorted(stray)[:3]}")
    if os.path.exists(f["marker"]):
        problems.append("THE PAYLOAD RAN")
        os.remove(f["marker"])
    shown = lines[-1] if lines else "(no stderr)"
    return not problems, ("; ".join(problems) + " | " if problems else "") + shown[:160]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("-k", default="", help="run only cases whose name contains this")
    ap.add_argument("--keep", help="make the scratch folder here and keep it")
    args = ap.parse_args()
    d = args.keep or tempfile.mkdtemp(prefix="irn-battery-")
    os.makedirs(d, exist_ok=True)
    start = time.time()
    try:
        f = make_fixtures(d)
        chosen = [c for c in cases(f, d) if args.k in c[0]]
        failed = 0
        for name, argv, keep in chosen:
            ok, detail = run_case(name, argv, keep, d, f)
            failed += not ok
            print(f"{'ok  ' if ok else 'FAIL'} {name}: {detail}", flush=True)
        print(f"{len(chosen) - failed} of {len(chosen)} kinds of bad input handled (one line, "
              f"exit 2, nothing lost or half-written) in {time.time() - start:.0f} s")
        return 1 if failed else 0
    finally:
        if not args.keep:
            shutil.rmtree(d, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
