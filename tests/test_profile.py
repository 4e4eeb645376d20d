"""bench.profile and bench.common.telemetry: the split adds up, a slow loader is charged to data,
profiled steps are real training steps, the CLI contract, and telemetry without a GPU."""
import json
import time

import pytest
import torch

from bench.speed import profile

from bench.common import telemetry
from irn.config import from_dict
from irn.train import Trainer

TINY = dict(scale=2, blocks=1, gc=8, batch_size=2, patch_size=16, steps=50, eval_every=50,
            device="cpu")


def tiny_trainer(**changes):
    return Trainer(from_dict({**TINY, **changes}))


def test_parts_sum_to_the_measured_step_time():
    result = profile.profile_summary(tiny_trainer(), steps=3, warmup=1)
    parts = sum(result[f"time/{p}"] for p in profile.PHASES)
    assert abs(parts - result["time/step"]) <= 0.05 * result["time/step"]
    assert result["time/compute"] == pytest.approx(
        sum(result[f"time/{p}"] for p in profile.COMPUTE))
    assert all(result[f"time/{p}"] > 0 for p in ("forward", "reverse", "backward"))
    assert result["steps_per_s"] == pytest.approx(1 / result["time/step"])
    assert 0 <= result["data_fraction"] <= 1


def test_a_slow_loader_is_charged_to_data_and_called_data_bound():
    trainer = tiny_trainer()
    real = trainer.batches()

    def slow():
        while True:
            time.sleep(0.4)
            yield next(real)
    result = profile.profile_summary(trainer, steps=2, warmup=0, batches=slow())
    assert result["time/data"] >= 0.4
    # the wait is charged to data, not smeared over the compute phases (a tiny step)
    assert result["time/compute"] < result["time/data"]
    parts = sum(result[f"time/{p}"] for p in profile.PHASES)
    assert result["data_fraction"] == pytest.approx(
        (result["time/data"] + result["time/h2d"]) / parts)
    assert profile.verdict(result) == "data-bound"


def test_verdict_is_data_bound_from_the_threshold_on():
    assert profile.verdict({"data_fraction": 0.5}) == "data-bound"
    assert profile.verdict({"data_fraction": 0.49}) == "compute-bound"
    assert profile.verdict({"data_fraction": 0.2}, threshold=0.2) == "data-bound"
    assert profile.verdict({"data_fraction": 0.2}, threshold=0.21) == "compute-bound"


def test_profiled_steps_are_the_real_training_steps():
    a, b = tiny_trainer(), tiny_trainer()
    profile.profile_summary(a, steps=1, warmup=1)
    batches = b.batches()
    for _ in range(2):
        b.train_step(*next(batches))
    assert a.step == b.step == 2
    for (name, pa), pb in zip(a.model.named_parameters(), b.model.parameters()):
        assert torch.equal(pa, pb), name


def test_cli_compares_loaders_and_writes_trace_and_json(tmp_path, capsys):
    out, js = tmp_path / "prof", tmp_path / "p.json"
    code = profile.main(["--set", "scale=2", "blocks=1", "gc=8", "--set", "batch_size=2",
                         "patch_size=16", "device=cpu", "--steps", "1", "--warmup", "0",
                         "--trace-steps", "1", "--compare-loaders", "--out", str(out),
                         "--json", str(js)])
    assert code == 0
    text = capsys.readouterr().out
    assert "memory:" in text and "disk:" in text and "-bound" in text
    results = json.loads(js.read_text())["results"]
    assert [r["loader"] for r in results] == ["memory", "disk"]
    for r in results:
        assert r["verdict"] in ("data-bound", "compute-bound")
        assert {"time/data", "time/h2d", "data_fraction", "steps_per_s"} <= set(r)
        assert r["telemetry"]["rss_gb_peak"] > 0
    for loader in ("memory", "disk"):
        trace = json.loads((out / loader / "trace.json").read_text())
        names = {e.get("name") for e in trace["traceEvents"]}
        assert {"forward", "reverse", "backward"} <= names  # the phases are labelled
        ops = json.loads((out / loader / "top_ops.json").read_text())
        assert ops and ops[0]["self_s"] >= ops[-1]["self_s"]


def test_cli_compare_interleaves_two_values_and_gives_a_paired_speedup(tmp_path, capsys):
    js = tmp_path / "c.json"
    code = profile.main(["--set", "scale=2", "blocks=1", "gc=8", "batch_size=2",
                         "patch_size=16", "device=cpu", "--steps", "4", "--warmup", "1",
                         "--compare", "channels_last=false,true", "--json", str(js)])
    assert code == 0
    text = capsys.readouterr().out
    assert "channels_last=true vs channels_last=false:" in text and "interleaved pairs" in text
    a, b = json.loads(js.read_text())["results"]
    assert (a["layout"], b["layout"]) == ("nchw", "channels_last")
    assert len(a["steps_s"]) == len(b["steps_s"]) == 4
    paired = b["paired"]
    assert paired["pairs"] == 4 and paired["verdict"] in ("faster", "slower", "indistinguishable")
    assert paired["ci95"][0] <= paired["speedup"] <= paired["ci95"][1]


def test_paired_speedup_calls_a_clear_difference_and_noise():
    a = {"steps_s": [2.0, 2.1, 1.9, 2.0, 2.05, 1.95]}
    assert profile.paired_speedup(a, {"steps_s": [1.0, 1.05, 0.95, 1.0, 1.0, 1.0]})[
        "verdict"] == "faster"
    assert profile.paired_speedup(a, {"steps_s": [4.0, 4.1, 3.9, 4.0, 4.1, 3.9]})[
        "verdict"] == "slower"
    noisy = profile.paired_speedup(a, {"steps_s": [1.8, 2.3, 1.7, 2.2, 1.9, 2.1]})
    assert noisy["verdict"] == "indistinguishable"


@pytest.mark.parametrize("argv, message", [
    (["--compare", "channels_last=true"], "--compare takes KEY=A,B"),
    (["--compare", "colour=a,b"], "unknown config key"),
    (["--compare", "channels_last=maybe,true"], "channels_last must be true, false or auto"),
    (["--compare", "amp=off,auto", "--compare-loaders"], "choose one"),
    (["--set", "nonsense=1"], "unknown config key"),
    (["--steps", "0"], "--steps"),
    (["--set", "loader=tape"], "loader"),
    (["--json", "/no/such/folder/x.json"], "does not exist"),
    (["--loader", "tape"], "invalid choice"),
    (["--out", __file__], "exists and is not a folder"),
    (["--out", __file__ + "/trace"], "is a file, so the folder cannot be made"),
])
def test_cli_bad_input_exits_2_with_one_line(argv, message, capsys):
    try:
        code = profile.main(argv)
    except SystemExit as exc:  # argparse errors
        code = exc.code
    assert code == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and message in err


def test_telemetry_without_a_gpu_says_so_and_records_cpu():
    with telemetry.Telemetry(interval=0.01, quiet=True) as tel:
        sum(i * i for i in range(200_000))
    summary = tel.summary()
    if not torch.cuda.is_available():
        assert "CPU figures only" in summary["note"]
        assert not any(k.startswith("gpu") for k in summary)
    assert summary["samples"] >= 2 and summary["rss_gb_peak"] > 0.01
    assert "cpu_util_mean" in summary


def test_telemetry_survives_a_failing_gpu(monkeypatch):
    class Broken:
        pass
    monkeypatch.setattr(telemetry, "nvml_handles", lambda: ([Broken()], None))
    with telemetry.Telemetry(interval=0.01, quiet=True) as tel:  # pynvml raises on Broken
        time.sleep(0.05)
    assert "GPU sampling stopped" in tel.note
    assert tel.summary()["rss_gb_peak"] > 0


def test_cli_reports_peak_memory_per_memory_mode(tmp_path, capsys):
    """Each mode measured in its own process (bench.memory's measurement; tests/test_memory.py
    checks that recompute keeps less than store at a size where it shows)."""
    js = tmp_path / "m.json"
    code = profile.main(["--set", "scale=2", "blocks=1", "gc=8", "batch_size=1",
                         "patch_size=32", "device=cpu", "--steps", "1", "--warmup", "0",
                         "--peak-memory", "--json", str(js)])
    assert code == 0
    assert "peak training memory" in capsys.readouterr().out
    rows = {r["memory"]: r for r in json.loads(js.read_text())["peak_memory"]}
    assert set(rows) == {"store", "checkpoint", "recompute"}
    assert all(r["peak_gb"] > 0.05 and r["step_s"] > 0 and r["patch"] == 32
               for r in rows.values())
