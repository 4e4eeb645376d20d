"""bench.common.tracking against a real SQLite MLflow store: the run layout dashboards rely on."""
import threading

import numpy as np
import pytest
from mlflow.tracking import MlflowClient

from dashboards import schema
from bench.common.tracking import (SingleRun, Tracker, TrackingError, default_tracking_uri,
                            report_points, store_opening)
from irn.config import from_dict, keys


@pytest.fixture(scope="module")
def uri(tmp_path_factory):
    return f"sqlite:///{tmp_path_factory.mktemp('mlflow') / 'mlflow.db'}"


def test_default_uri_is_absolute_sqlite(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert default_tracking_uri() == f"sqlite:///{tmp_path / 'mlflow.db'}"


def test_one_child_run_per_trial_across_trackers(uri):
    first = Tracker(uri, "t-children")
    parent = first.create_run("sweep", {"irn.role": "sweep"})
    run_a, created_a = first.trial_run(parent, "abc_00000")
    # a resumed sweep is a new process with a new Tracker: it must find the same run
    run_b, created_b = Tracker(uri, "t-children").trial_run(parent, "abc_00000")
    other, _ = first.trial_run(parent, "abc_00001")
    assert created_a and not created_b and run_a == run_b and other != run_a
    tags = MlflowClient(uri).get_run(run_a).data.tags
    assert tags["mlflow.parentRunId"] == parent and tags["irn.role"] == "trial"
    assert tags["irn.trial_id"] == "abc_00000"


def test_params_metrics_crops_and_failure(uri):
    tracker = Tracker(uri, "t-layout")
    parent = tracker.create_run("sweep", {"irn.role": "sweep"})
    run, _ = tracker.trial_run(parent, "x_00000")
    tracker.log_params(run, from_dict({}, budget="smoke").to_dict())
    tracker.log_params(run, {"blocks": 99})  # a second call (resume) is a no-op
    for step, loss in ((2, 3.0), (4, 2.0)):
        tracker.log_report(run, {"step": step, "loss/total": loss, "psnr_y": 20.0 + step,
                                 "time/wall": 1.5 * step, "note": "text", "flag": True},
                           first=step == 2)
    crops = {"astronaut": {n: np.full((8, 8, 3), i * 40, np.uint8)
                           for i, n in enumerate(schema.CROPS)}}
    tracker.log_crops(run, crops)
    tracker.finish(run, failed=True, error="diverged: non-finite loss\nat step 3")
    client = MlflowClient(uri)
    data = client.get_run(run)
    assert set(data.data.params) == set(keys()) and data.data.params["blocks"] == "8"
    assert [(m.step, m.value) for m in client.get_metric_history(run, "loss/total")] == [
        (2, 3.0), (4, 2.0)]
    assert "note" not in data.data.metrics and "flag" not in data.data.metrics
    assert tracker.last_step(run) == 4
    assert [a.path for a in client.list_artifacts(run, "crops")] == ["crops/astronaut"]
    assert sorted(a.path for a in client.list_artifacts(run, "crops/astronaut")) == sorted(
        f"crops/astronaut/{k}.png" for k in schema.CROPS)
    assert data.info.status == "FAILED" and data.data.tags["irn.status"] == "FAILED"
    assert data.data.tags["irn.error"] == "diverged: non-finite loss at step 3"


def test_report_points_dense_losses_constants_once_no_step():
    report = {"step": 10, "loss/total": 9.0, "psnr_y": 30.0, "bicubic_psnr_y": 29.0,
              "model/params": 1234, "schedule/lr": 1e-4, "per_image": "[]",
              "loss_trace": '[{"step": 5, "loss/total": 2.0}, {"step": 10, "loss/total": 1.0}]'}
    first = report_points(report, first=True)
    assert ("loss/total", 2.0, 5) in first and ("loss/total", 1.0, 10) in first
    assert ("loss/total", 9.0, 10) not in first  # the interval mean gives way to the trace
    assert not any(name == "step" for name, _, _ in first)
    assert {("bicubic_psnr_y", 29.0, 10), ("model/params", 1234.0, 10)} <= set(first)
    later = {name for name, _, _ in report_points(report, first=False)}
    assert "bicubic_psnr_y" not in later and "model/params" not in later
    assert {"psnr_y", "schedule/lr", "loss/total"} <= later
    # without a trace (an old or diverged report) the report's own losses are logged
    assert ("loss/total", 9.0, 10) in report_points({"step": 10, "loss/total": 9.0}, True)


def test_single_run(uri):
    cfg = from_dict({}, budget="smoke").to_dict()
    run = SingleRun(uri, "t-single", cfg)
    run.report({"step": 2, "loss/total": 1.0, "psnr_y": 30.0})
    run.end()
    data = MlflowClient(uri).get_run(run.run_id)
    assert data.data.metrics["system/process_rss_megabytes"] > 10  # a Python process with torch
    assert 0 <= data.data.metrics["system/cpu_utilization_percentage"]
    assert data.data.tags["irn.role"] == "single" and "mlflow.parentRunId" not in data.data.tags
    assert data.info.status == "FINISHED" and data.data.tags["irn.status"] == "FINISHED"
    assert {"time/wall", "psnr_y", "loss/total"} <= set(data.data.metrics)


def test_bench_train_logs_a_single_run(uri, capsys):
    from bench.sweep.train import main
    assert main(["--budget", "smoke", "--set", "blocks=1", "--set", "gc=8",
                 "--tracking-uri", uri, "--experiment", "t-train"]) == 0
    client = MlflowClient(uri)
    exp = client.get_experiment_by_name("t-train")
    (run,) = client.search_runs([exp.experiment_id])
    assert run.data.tags["irn.role"] == "single" and run.info.status == "FINISHED"
    assert set(run.data.params) == set(keys()) and run.data.params["gc"] == "8"
    assert [m.step for m in client.get_metric_history(run.info.run_id, "psnr_y")] == [2, 4]
    # smoke: log_every=1, so a loss point per step; constants once; no `step` metric
    assert [m.step for m in client.get_metric_history(run.info.run_id, "loss/total")] == [
        1, 2, 3, 4]
    assert len(client.get_metric_history(run.info.run_id, "bicubic_psnr_y")) == 1
    assert len(client.get_metric_history(run.info.run_id, "model/params")) == 1
    assert "step" not in run.data.metrics and "lr" not in run.data.metrics
    assert run.data.metrics["schedule/lr"] > 0
    assert [a.path for a in client.list_artifacts(run.info.run_id, "crops")] == [
        "crops/astronaut", "crops/chelsea"]  # a folder of crops per validation image


def test_unusable_store_is_one_line(tmp_path):
    (tmp_path / "file").write_text("not a folder")
    with pytest.raises(TrackingError) as err:
        Tracker(f"sqlite:///{tmp_path}/file/x.db", "t")
    assert "\n" not in str(err.value)


def _open_store(uri, barrier):
    barrier.wait()
    Tracker(uri, "t-concurrent")


def test_two_processes_creating_a_new_store_at_once(tmp_path):
    # Before: one of them failed with "Online migration expected to match one row ...".
    import multiprocessing as mp
    ctx = mp.get_context("spawn")
    uri = f"sqlite:///{tmp_path / 'new.db'}"
    barrier = ctx.Barrier(2)
    procs = [ctx.Process(target=_open_store, args=(uri, barrier)) for _ in range(2)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(120)
    assert [p.exitcode for p in procs] == [0, 0]
    exp = MlflowClient(uri).get_experiment_by_name("t-concurrent")
    assert exp.tags["mlflow.experimentKind"] == "custom_model_development"  # opens on runs


def test_a_store_opened_in_the_background_is_the_one_the_tracker_uses(tmp_path):
    # The sweep opens a new SQLite store while Ray starts (bench/sweep/command.py): what it
    # gains relies on MLflow caching one store per URI, which this checks.
    uri = f"sqlite:///{tmp_path / 'early.db'}"
    with store_opening(uri, "t-early") as ready:
        ready()
        assert not any(t.name == "open-mlflow-store" for t in threading.enumerate())
        assert (tmp_path / "early.db").is_file()
        opened = MlflowClient(uri)._tracking_client.store
        tracker = Tracker(uri, "t-early")
    assert tracker.client._tracking_client.store is opened
    # leaving the block early (a refusal, Ctrl+C) waits for the store: none is half created
    other = f"sqlite:///{tmp_path / 'left.db'}"
    with pytest.raises(KeyError):
        with store_opening(other, "t-left"):
            raise KeyError("refused")
    assert not any(t.name == "open-mlflow-store" for t in threading.enumerate())
    assert MlflowClient(other).get_experiment_by_name("Default") is not None
    # an unusable store: the thread keeps quiet, the Tracker still says it in one line
    (tmp_path / "file").write_text("not a folder")
    bad = f"sqlite:///{tmp_path}/file/x.db"
    with store_opening(bad, "t") as ready:
        ready()
    with pytest.raises(TrackingError) as err:
        Tracker(bad, "t")
    assert "\n" not in str(err.value)
    with store_opening("http://127.0.0.1:9", "t") as ready:  # a server: nothing to open
        assert not any(t.name == "open-mlflow-store" for t in threading.enumerate())
        ready()
