"""bench.sweep end to end: a real local Ray (the session fixture), a real SQLite MLflow store,
the smoke budget and tiny models. Covers the shipped smoke space, a worker killed mid-trial,
an interrupted and resumed sweep, and a two-node cluster with a diverging trial."""
import json
import logging
import os
import re
import signal
import subprocess
import sys

import pytest
from mlflow.tracking import MlflowClient
from ray import tune

from bench.sweep.command import parse_args, run_sweep
from irn.config import keys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TINY = "from ray import tune\nSPACE = {{'blocks': 1, 'gc': 8, {axes}}}\n" \
       "TUNE = {{'budget': 'smoke'{tune}}}\n"
CROPS = ["crops/chelsea/bicubic_up.png", "crops/chelsea/gt.png", "crops/chelsea/lr.png",
         "crops/chelsea/lr_bicubic.png", "crops/chelsea/recon.png"]  # and astronaut/


def tiny_space(tmp_path, axes: str, tune_extra: str = "", name="tiny.py") -> str:
    path = tmp_path / name
    path.write_text(TINY.format(axes=axes, tune=tune_extra))
    return str(path)


def sweep_args(tmp_path, space, *extra):
    return [space, "--tracking-uri", f"sqlite:///{tmp_path}/mlflow.db", "--experiment", "t",
            "--storage", str(tmp_path / "runs"), "--json", str(tmp_path / "out.json"), *extra]


def runs(tmp_path, role):
    client = MlflowClient(f"sqlite:///{tmp_path}/mlflow.db")
    exp = client.get_experiment_by_name("t")
    return client, client.search_runs([exp.experiment_id], f"tags.`irn.role` = '{role}'")


def steps(client, run, name="loss/total"):
    return [m.step for m in client.get_metric_history(run.info.run_id, name)]


class Recorder(tune.Callback):
    """Raw Tune events as the driver sees them (before the MLflow de-duplication)."""

    def __init__(self):
        self.started, self.results = [], []

    def on_trial_start(self, trial, **info):
        self.started.append(trial.trial_id)

    def on_trial_result(self, trial, result, **info):
        self.results.append((trial.trial_id, result.get("step")))


class KillWorkerOnce(Recorder):
    """SIGKILLs the trial's worker process once Tune has registered its first checkpoint
    (on_checkpoint: on_trial_result runs before the checkpoint is registered)."""

    def on_checkpoint(self, trial, checkpoint, **info):
        if len(self.results) == 1:
            os.kill(trial.last_result["pid"], signal.SIGKILL)


class InterruptAfterFirst(Recorder):
    """Ctrl+C (SIGINT to this process) once the first trial has finished."""

    def on_trial_complete(self, trial, **info):
        os.kill(os.getpid(), signal.SIGINT)


class InterruptWhenAllReported(Recorder):
    """Ctrl+C once every trial has reported at least once (mid-training)."""

    def __init__(self, trials: int):
        super().__init__()
        self.trials, self.sent = trials, False

    def on_trial_result(self, trial, result, **info):
        super().on_trial_result(trial, result, **info)
        if not self.sent and len({t for t, _ in self.results}) == self.trials:
            self.sent = True
            os.kill(os.getpid(), signal.SIGINT)


def test_smoke_space_end_to_end(ray_local, tmp_path):
    space = os.path.join(ROOT, "search_spaces", "smoke.py")
    assert run_sweep(parse_args(sweep_args(tmp_path, space))) == 0
    out = json.loads((tmp_path / "out.json").read_text())
    assert [t["status"] for t in out["trials"]] == ["FINISHED", "FINISHED"]
    assert out["objective"] == "psnr_y" and out["baseline"] == "bicubic_psnr_y"
    assert out["trials"][0]["objective"] >= out["trials"][1]["objective"]
    assert all(t["baseline"] > 20 and t["step"] == 4 for t in out["trials"])
    overhead = out["overhead"]
    assert 0 < overhead["time_to_first_metric_s"] < overhead["wall_s"]  # nan fails too
    phases = overhead["startup_s"]  # successive phases: they add up to the first metric
    assert set(phases) == {"imports", "checks", "ray", "mlflow", "trial_start", "first_report"}
    assert all(s >= 0 for s in phases.values()) and phases["trial_start"] > 0.5
    assert sum(phases.values()) == pytest.approx(overhead["time_to_first_metric_s"], abs=1e-6)
    assert 0 <= out["overhead"]["non_training_share"] < 1

    client, parents = runs(tmp_path, "sweep")
    (parent,) = parents
    tags = parent.data.tags
    assert parent.info.status == "FINISHED" and tags["irn.space"] == space
    assert tags["irn.budget"] == "smoke" and tags["irn.gpu"] == "none"
    assert tags["irn.objective"] == "psnr_y" and tags["irn.mode"] == "max"
    assert tags["irn.git_commit"] and tags["irn.host"]
    assert {a.path for a in client.list_artifacts(parent.info.run_id)} >= {
        "space.py", "summary.json", "report.html"}  # the dashboard is attached at the end
    _, children = runs(tmp_path, "trial")
    assert len(children) == 2
    assert {c.data.params["loss_recon"] for c in children} == {"l1", "charbonnier"}
    for child in children:
        assert child.data.tags["mlflow.parentRunId"] == parent.info.run_id
        assert child.info.status == "FINISHED" and child.data.tags["irn.status"] == "FINISHED"
        assert set(child.data.params) == set(keys()) and child.data.params["blocks"] == "1"
        assert steps(client, child) == [1, 2, 3, 4] and steps(client, child, "psnr_y") == [2, 4]
        assert {"loss/guide", "loss/recon", "loss/distr", "time/data", "time/compute",
                "data_fraction", "model/params", "time/wall", "bicubic_psnr_y"} <= set(
            child.data.metrics)
        assert "training_iteration" not in child.data.metrics
        assert [a.path for a in client.list_artifacts(child.info.run_id, "crops")] == [
            "crops/astronaut", "crops/chelsea"]  # every validation image
        assert sorted(a.path for a in client.list_artifacts(child.info.run_id,
                                                             "crops/chelsea")) == CROPS


class CheckpointContents(Recorder):
    """Per checkpoint Tune registers: (trial, step, whether it holds visual crops), and
    the trial process of every result."""

    def __init__(self):
        super().__init__()
        self.checkpoints, self.pids = [], {}

    def on_trial_result(self, trial, result, **info):
        super().on_trial_result(trial, result, **info)
        self.pids.setdefault(trial.trial_id, set()).add(result["pid"])

    def on_checkpoint(self, trial, checkpoint, **info):
        step = trial.last_result.get("step")
        self.checkpoints.append((trial.trial_id, step,
                                 os.path.isdir(os.path.join(checkpoint.path, "crops"))))


@pytest.mark.parametrize("scheduler", ["fifo", "asha"])
def test_trials_share_a_process_and_crops_go_where_a_trial_can_end(ray_local, tmp_path,
                                                                   scheduler):
    """Issue 36.2: three trials on one slot run in one trial process (Tune's actor reuse:
    no process start and imports per trial), with the results a fresh process gives. The
    visual crops (about 1 s a report on a CPU) are made for the checkpoint a trial can end
    on: the last one under FIFO, every one under ASHA, which may stop a trial at any report;
    every trial's run has them either way."""
    space = tiny_space(tmp_path, "'loss_recon': tune.grid_search(['l1', 'l2', 'charbonnier'])",
                       f", 'scheduler': '{scheduler}'")
    seen = CheckpointContents()
    assert run_sweep(parse_args(sweep_args(tmp_path, space, "--max-concurrent", "1")),
                     callbacks=[seen]) == 0
    assert len(seen.pids) == 3 and all(len(p) == 1 for p in seen.pids.values())
    assert len(set.union(*seen.pids.values())) == 1, seen.pids  # one process ran all three
    final = {t: max(s for u, s, _ in seen.checkpoints if u == t) for t in seen.pids}
    for trial, step, crops in seen.checkpoints:
        assert crops == (scheduler == "asha" or step == final[trial]), seen.checkpoints
    client, children = runs(tmp_path, "trial")
    assert len(children) == 3
    for child in children:
        assert [a.path for a in client.list_artifacts(child.info.run_id, "crops")] == [
            "crops/astronaut", "crops/chelsea"]
    if scheduler == "fifo":  # the reused process trains like a fresh one: l1 alone again
        out = json.loads((tmp_path / "out.json").read_text())
        again = tiny_space(tmp_path, "'loss_recon': 'l1'", name="again.py")
        args = sweep_args(tmp_path, again, "--experiment", "t2")
        args[args.index("--json") + 1] = str(tmp_path / "again.json")
        assert run_sweep(parse_args(args)) == 0
        (alone,) = json.loads((tmp_path / "again.json").read_text())["trials"]
        (shared,) = [t for t in out["trials"] if t["config"]["loss_recon"] == "l1"]
        assert alone["per_image"] == shared["per_image"]


def test_killed_worker_resumes_from_checkpoint(ray_local, tmp_path, capfd):
    space = tiny_space(tmp_path, "'seed': 1")
    killer = KillWorkerOnce()
    tune_log = logging.getLogger("ray.tune")  # Tune prints trial failures through it
    records = []
    handler = logging.Handler()
    handler.emit = records.append
    tune_log.addHandler(handler)
    try:
        assert run_sweep(parse_args(sweep_args(tmp_path, space)), callbacks=[killer]) == 0
    finally:
        tune_log.removeHandler(handler)
    err = capfd.readouterr().err
    # the driver's terminal: one line naming the trial and the restart, no traceback
    assert not [r.getMessage() for r in records if r.exc_info]
    assert "Traceback" not in err and "ActorDiedError" not in err, err[-2000:]
    assert re.search(r"restart \w+ from its checkpoint", err), err[-2000:]
    # resumed from the step-2 checkpoint: step 2 is not trained (nor reported) again
    assert [s for _, s in killer.results] == [2, 4]
    out = json.loads((tmp_path / "out.json").read_text())
    (trial,) = out["trials"]
    assert trial["status"] == "FINISHED" and trial["restarts"] == 1
    client, children = runs(tmp_path, "trial")
    assert len(children) == 1 and children[0].data.tags["irn.restarts"] == "1"
    assert steps(client, children[0]) == [1, 2, 3, 4]  # no loss point twice
    assert steps(client, children[0], "psnr_y") == [2, 4]
    assert children[0].info.status == "FINISHED"


def test_interrupted_sweep_resumes(ray_local, tmp_path):
    space = tiny_space(tmp_path, "'loss_recon': tune.grid_search(['l1', 'l2'])")
    first = InterruptAfterFirst()
    code = run_sweep(parse_args(sweep_args(tmp_path, space, "--max-concurrent", "1")),
                     callbacks=[first])
    assert code == 130
    done = first.started[0]
    again = Recorder()
    assert run_sweep(parse_args(sweep_args(tmp_path, space, "--resume")),
                     callbacks=[again]) == 0
    assert done not in again.started and again.started  # finished trials are not re-run
    out = json.loads((tmp_path / "out.json").read_text())
    assert sorted(t["status"] for t in out["trials"]) == ["FINISHED", "FINISHED"]
    client, parents = runs(tmp_path, "sweep")
    assert len(parents) == 1 and parents[0].info.status == "FINISHED"
    _, children = runs(tmp_path, "trial")
    assert len(children) == 2  # exactly one run per trial across the two processes
    for child in children:
        assert steps(client, child) == [1, 2, 3, 4] and child.info.status == "FINISHED"
    # a finished sweep compared afterwards on another metric: no trial reruns
    later = Recorder()
    assert run_sweep(parse_args(sweep_args(tmp_path, space, "--resume", "--compare",
                                           "psnr_rgb", "--margin", "psnr_rgb=2.5")),
                     callbacks=[later]) == 0
    assert not later.started
    out = json.loads((tmp_path / "out.json").read_text())
    ref = out["comparison"]["reference"]
    (block,) = out["also"]
    assert block["metric"] == "psnr_rgb" and block["reference"] == ref
    rows = {g["label"]: g for g in block["groups"]}
    other = ({"l1", "l2"} - {ref}).pop()
    assert rows[ref]["vs_reference"]["self"] and rows[other]["n_images"] == 8
    assert rows[other]["vs_reference"]["verdict"] in ("better", "worse", "equivalent", "undecided")
    # issue 32: --resume with another store silently used the first one
    elsewhere = sweep_args(tmp_path, space, "--resume")
    elsewhere[elsewhere.index("--tracking-uri") + 1] = f"sqlite:///{tmp_path}/other.db"
    assert run_sweep(parse_args(elsewhere)) == 2
    assert not (tmp_path / "other.db").exists()
    # --margin sets that metric's margin only; the objective keeps the registry's
    assert rows[other]["vs_reference"]["margin"] == 2.5 and out["comparison"]["margin"] == 0.1
    assert len(runs(tmp_path, "trial")[1]) == 2


def test_interrupt_after_every_trial_reported_is_not_reported_as_finished(ray_local,
                                                                          tmp_path, capsys):
    # Before: exit 0, both trials FINISHED at partial steps, interrupted false, parent FINISHED.
    space = tiny_space(tmp_path, "'loss_recon': tune.grid_search(['l1', 'l2'])")
    stop = InterruptWhenAllReported(2)
    args = sweep_args(tmp_path, space, "--set", "steps=400", "--set", "eval_every=10")
    assert run_sweep(parse_args(args), callbacks=[stop]) == 130
    out = json.loads((tmp_path / "out.json").read_text())
    assert out["interrupted"] is True
    assert [t["status"] for t in out["trials"]] == ["UNFINISHED", "UNFINISHED"]
    assert all(t["step"] < 400 and t["planned_steps"] == 400 for t in out["trials"])
    assert all(g["finished"] == 0 and "psnr_y" not in g for g in out["groups"])
    captured = capsys.readouterr()
    assert "/400" in captured.out and "interrupted: continue with" in captured.err
    _, (parent,) = runs(tmp_path, "sweep")
    assert parent.info.status == "KILLED"
    _, children = runs(tmp_path, "trial")
    assert {c.data.tags["irn.status"] for c in children} == {"KILLED"}


def test_two_node_cluster_with_a_diverging_trial(tmp_path):
    from ray.cluster_utils import Cluster
    cluster = Cluster(initialize_head=True, connect=False, head_node_args={"num_cpus": 1})
    cluster.add_node(num_cpus=1)
    try:
        # lr=1e6 gives a non-finite loss within two steps: the trial fails with its reason
        space = tiny_space(tmp_path, "'lr': tune.grid_search([5e-4, 1e6])")
        proc = subprocess.run(
            [sys.executable, "-m", "bench.sweep",
             *sweep_args(tmp_path, space, "--address", cluster.address)],
            cwd=tmp_path, capture_output=True, text=True, timeout=600)
    finally:
        cluster.shutdown()
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = json.loads((tmp_path / "out.json").read_text())
    good, bad = out["trials"]
    assert good["status"] == "FINISHED" and good["step"] == 4
    assert bad["status"] == "FAILED" and "non-finite loss" in bad["error"]
    assert out["failed"] == [bad["trial_id"]]
    assert good["node"] != bad["node"]  # one trial per node (1 CPU each)
    client, children = runs(tmp_path, "trial")
    failed = [c for c in children if c.info.status == "FAILED"]
    assert len(children) == 2 and len(failed) == 1
    assert "non-finite loss" in failed[0].data.tags["irn.error"]


def test_unmeetable_resources_are_refused(ray_local, tmp_path, capsys):
    space = os.path.join(ROOT, "search_spaces", "smoke.py")
    assert run_sweep(parse_args(sweep_args(tmp_path, space, "--gpus-per-trial", "0.5"))) == 2
    assert "the Ray cluster has no GPUs" in capsys.readouterr().err
    assert run_sweep(parse_args(sweep_args(tmp_path, space, "--cpus-per-trial", "3"))) == 2
    assert "no node has more than 2 CPUs" in capsys.readouterr().err
    assert not (tmp_path / "out.json").exists() and not (tmp_path / "runs").exists()


def test_replicated_sweep_groups_cis_verdicts_and_per_image(ray_local, tmp_path):
    space = tiny_space(tmp_path, "'loss_recon': tune.grid_search(['l1', 'charbonnier'])",
                       ", 'reference': {'loss_recon': 'charbonnier'}")
    assert run_sweep(parse_args(sweep_args(tmp_path, space, "--seeds", "2", "--profile",
                                           "--compare", "ssim_y,psnr_rgb"))) == 0
    out = json.loads((tmp_path / "out.json").read_text())
    # --compare: every group against the reference on each named metric, in its direction
    assert [b["metric"] for b in out["also"]] == ["ssim_y", "psnr_rgb"]
    for block in out["also"]:
        assert block["reference"] == "charbonnier"
        rows = {g["label"]: g for g in block["groups"]}
        assert rows["charbonnier"]["vs_reference"]["self"]
        lo, hi = rows["l1"]["vs_reference"]["ci95"]
        assert lo <= rows["l1"]["vs_reference"]["delta"] <= hi and rows["l1"]["seeds"] == [0, 1]
    assert len(out["trials"]) == 4 and out["seeds"] == 2
    assert sorted(t["seed"] for t in out["trials"]) == [0, 0, 1, 1]
    (parent,) = runs(tmp_path, "sweep")[1]  # issue 31: the param said seed=0
    assert parent.data.params["seed"] == "0 + replicates 0-1"
    groups = {g["label"]: g for g in out["groups"]}
    assert set(groups) == {"l1", "charbonnier"}
    for g in groups.values():
        assert g["seeds"] == [0, 1] and g["n_images"] == 8  # smoke: 2 photos x 4 tiles
        for metric in ("psnr_y", "gain_db"):
            lo, hi = g[metric]["ci95"]
            assert lo <= g[metric]["mean"] <= hi
        for key in ("vs_best", "vs_reference"):
            assert g[key]["verdict"] in ("better", "worse", "equivalent", "undecided")
            assert set(g[key]) >= {"delta", "ci95", "verdict"}
    assert out["comparison"]["reference"] == "charbonnier"
    assert groups["charbonnier"]["vs_reference"]["self"]
    # the report reads this summary typed (dashboards/summary.py): a part the writer renamed
    # would read as empty there, so every part the sections read must be present
    from dashboards.summary import Summary
    typed = Summary.of(out)
    assert {g.label for g in typed.with_stat("gain_db")} == {"l1", "charbonnier"}
    assert all(g.vs_reference and g.vs_best and g.seeds == (0, 1) and g.n_images == 8
               and {"psnr_y", "ssim_y"} <= set(g.stats) for g in typed.groups)
    assert typed.comparison.reference == "charbonnier" and typed.comparison.best
    assert typed.comparison.sentence and typed.comparison.family is not None
    assert typed.overhead.wall_s and typed.overhead.slots and typed.overhead.train_s
    assert typed.overhead.time_to_first_metric_s is not None
    assert [b.metric for b in typed.also] == ["ssim_y", "psnr_rgb"]
    assert all(t.finished and t.time_wall_s and len(t.curve) == 2 for t in typed.trials)
    assert typed.learning["groups"] and typed.group_table["rows"]
    # what bench.versus pairs: each trial's last per-image rows, the base config, the path
    for t in out["trials"]:
        assert len(t["per_image"]) == 8 and {r["step"] for r in t["per_image"]} == {4}
        # the learning curve: every evaluation (smoke: steps 2 and 4), and the rows half way
        assert [p["step"] for p in t["curve"]] == [2, 4]
        assert {r["step"] for r in t["per_image_half"]} == {2} and len(t["per_image_half"]) == 8
    learn = out["learning"]
    assert {g["label"] for g in learn["groups"]} == {"l1", "charbonnier"}
    assert all(g["learning"] in ("still improving", "flat", "declining", "undecided")
               for g in learn["groups"])
    assert learn["ranking"]["tau"] is None  # 2 groups: no rank correlation
    assert "groups still improving from step 2 to 4" in learn["sentence"]
    assert all(t["precision"] == "fp32" and t["layout"] == "nchw" for t in out["trials"])
    assert out["base_config"]["steps"] == 4 and out["base_config"]["blocks"] == 1
    from bench.sweep.versus import main as versus
    assert versus([str(tmp_path / "out.json"), str(tmp_path / "out.json"),
                   "--json", str(tmp_path / "versus.json")]) == 0
    same = json.loads((tmp_path / "versus.json").read_text())["metrics"][0]
    assert same["pooled"]["delta"] == 0 and same["pooled"]["n_trial_pairs"] == 4
    # MLflow: every child run has its per-image rows and group tags; the parent the verdict
    client, children = runs(tmp_path, "trial")
    assert len(children) == 4
    # issue 31: MLflow's table colours a trial by its group, as the report does; the guide
    # weight is logged as trained (None meant scale^2); the experiment's description links
    # its runs table (MLflow 3 would open the GenAI overview)
    from dashboards.colors import group_colors
    colors = group_colors(["l1", "charbonnier"])
    assert {c.data.tags["irn.group_label"]: c.data.tags["mlflow.runColor"]
            for c in children} == colors and len(set(colors.values())) == 2
    assert {c.data.params["lambda_guide"] for c in children} == {"4.0"}
    exp = client.get_experiment(children[0].info.experiment_id)
    assert "/runs?workflowType=machine_learning" in exp.tags["mlflow.note.content"]
    assert len({c.data.tags["irn.group"] for c in children}) == 2
    # the summary's groups are the runs' groups (the space fixes blocks and gc: both count)
    assert {t["group"] for t in out["trials"]} == {c.data.tags["irn.group"] for c in children}
    assert sorted(c.info.run_name for c in children) == [
        "charbonnier|s0", "charbonnier|s1", "l1|s0", "l1|s1"]
    for child in children:
        local = client.download_artifacts(child.info.run_id, "eval/per_image.json", str(tmp_path))
        with open(local, encoding="utf-8") as f:
            rows = json.load(f)
        assert {r["step"] for r in rows} == {2, 4} and len(rows) == 16  # both evaluations
        assert {r["seed"] for r in rows} == {int(child.data.tags["irn.seed"])}
        # metric layout: dense losses, constants once, no step/lr/params, system metrics
        history = client.get_metric_history(child.info.run_id, "loss/total")
        assert [m.step for m in history] == [1, 2, 3, 4]  # smoke: log_every=1
        assert len(client.get_metric_history(child.info.run_id, "bicubic_psnr_y")) == 1
        metrics = child.data.metrics
        assert not {"step", "lr", "params"} & set(metrics)
        assert {"schedule/lr", "model/params", "system/cpu_utilization_percentage",
                "system/process_rss_megabytes"} <= set(metrics)
        assert child.data.tags["irn.step"] == "4"
        # --profile: every trial's torch.profiler trace and top operators
        assert sorted(a.path for a in client.list_artifacts(child.info.run_id, "profile")) == [
            "profile/top_ops.json", "profile/top_ops.txt", "profile/trace.json"]
        assert "% of self time" in child.data.tags["irn.top_op"]
        assert child.info.run_name.split("|")[0] in child.data.tags["mlflow.note.content"]
    _, (parent,) = runs(tmp_path, "sweep")
    assert parent.info.run_name == "tiny" and parent.data.tags["irn.groups"] == "2"
    assert "best_group_gain_db" in parent.data.metrics and "groups" not in parent.data.metrics
    assert parent.data.params["loss_recon"] == "grid: l1, charbonnier"
    assert parent.data.params["steps"] == "4" and parent.data.params["blocks"] == "1"
    assert parent.data.params["lambda_guide"] == "4.0"  # issue 31: was None (scale^2)
    assert "leads" in parent.data.tags["mlflow.note.content"]
    names = [a.path for a in client.list_artifacts(parent.info.run_id)]
    assert {"comparison.md", "metrics.md", "summary.json", "report.html"} <= set(names)
    with open(client.download_artifacts(parent.info.run_id, "comparison.md", str(tmp_path)),
              encoding="utf-8") as f:
        assert "| psnr\\_rgb (dB) | psnr\\_rgb vs charbonnier |" in f.read()
    # the report built from this real store leads with the groups and the per-image gains
    with open(client.download_artifacts(parent.info.run_id, "report.html", str(tmp_path)),
              encoding="utf-8") as f:
        page = f.read()
    figs = re.findall(r'data-irn-figure="(\w+)"', page)
    assert figs[:3] == ["groups", "learning", "per_image"]  # learning: group mean curves
    assert "no group statistics" not in page and "charbonnier@" not in page
    assert "astronaut@0,0" in page and out["comparison"]["sentence"] in page
    # the rest of the report, from what this sweep wrote
    assert {"parcoords", "curves", "jpeg", "time", "also"} <= set(figs)  # also: --compare
    assert "not two-factor (1 config key(s)" in page  # one searched key: no heatmap
    assert 'data-linked="parcoords"' in page and page.count("data-run=") == 4
    assert "lambda_guide=4" in page and "lambda_guide=None" not in page  # scale 2: 2^2
    # gallery: both validation images, per group LR + reconstruction + error map
    from plotly.offline import get_plotlyjs
    body = page.replace(get_plotlyjs(), "")  # (plotly.js has a data URI of its own)
    assert body.count('src="data:image/png;base64,') == 2 * (4 + 4 * 2 - 1)
    # the time section, from summary.json: the first metric's start-up phases
    assert "first interval + evaluation" in page and "trial process start" in page


def test_progress_names_the_baseline_it_prints_beside_the_objective():
    import io
    from types import SimpleNamespace

    from rich.console import Console

    from bench.sweep.log import Progress
    trial = SimpleNamespace(trial_id="t1", config={})
    lines = {}
    for metric, result in (("psnr_y", {"psnr_y": 33.0, "bicubic_psnr_y": 32.5}),
                           ("secret_psnr_y", {"secret_psnr_y": 28.0,
                                              "secret_floor_psnr_y": 13.5}),
                           ("psnr_y", {"psnr_y": 33.0})):
        out = io.StringIO()
        Progress(Console(file=out, width=200), metric, []).on_trial_result(
            trial, {"step": 60, "loss/total": 1.0, **result})
        lines.setdefault(metric, []).append(out.getvalue())
    assert "psnr_y 33 (bicubic 32.5), loss 1" in lines["psnr_y"][0]
    assert "(secret_floor_psnr_y 13.5)" in lines["secret_psnr_y"][0]  # not "bicubic"
    assert "psnr_y 33, loss 1" in lines["psnr_y"][1]  # no baseline reported: none shown


def test_overhead_line_of_a_resume_where_nothing_ran_claims_no_overhead():
    from bench.sweep.command import overhead_line
    ran = {"trials": [{}] * 6, "failed": [], "overhead": {
        "wall_s": 600.0, "time_to_first_metric_s": 122.7, "train_s": 924.0, "slots": 2,
        "non_training_share": 0.23}}
    assert overhead_line(ran) == ("6 trials, 0 failed; wall 600 s, first metric after "
                                  "122.7 s, not training 23% of 2 slot(s)")
    phases = dict(zip(["imports", "checks", "ray", "mlflow", "trial_start", "first_report"],
                      [6.9, 1.2, 5.0, 0.4, 7.1, 102.1]))
    assert overhead_line({**ran, "overhead": {**ran["overhead"], "startup_s": phases}}) == (
        "6 trials, 0 failed; wall 600 s, first metric after 122.7 s (imports 6.9, checks 1.2, "
        "ray 5.0, mlflow 0.4, trial start 7.1, first report 102.1 s), not training 23% of 2 "
        "slot(s)")
    resumed = {**ran, "overhead": {**ran["overhead"], "wall_s": 15.0, "train_s": 0.0,
                                   "time_to_first_metric_s": float("nan"),
                                   "non_training_share": 1.0}}
    line = overhead_line(resumed)
    assert line.startswith("6 trials, 0 failed; wall 15 s (no trial reported")
    assert "100%" not in line and "nan" not in line


class InterruptOnReplicate(Recorder):
    """Ctrl+C when a trial of replicate `replicate` first reports (a later round)."""

    def __init__(self, replicate: int):
        super().__init__()
        self.replicate, self.sent = replicate, False

    def on_trial_result(self, trial, result, **info):
        super().on_trial_result(trial, result, **info)
        if not self.sent and trial.config.get("replicate") == self.replicate:
            self.sent = True
            os.kill(os.getpid(), signal.SIGINT)


def test_seeds_auto_adds_seeds_to_undecided_groups_and_resumes(ray_local, tmp_path, capsys):
    # Two groups that train identically (jpeg_eval changes only what is evaluated): their
    # psnr_y difference is exactly 0, and with margin 0 that is never decided, so every
    # round grows both groups until --max-seeds 3: round 2 adds replicate 2 to each.
    space = tiny_space(tmp_path, "'jpeg_eval': tune.grid_search(['', '50'])")
    args = sweep_args(tmp_path, space, "--seeds", "auto", "--max-seeds", "3",
                      "--margin", "psnr_y=0")
    stop = InterruptOnReplicate(2)
    assert run_sweep(parse_args(args), callbacks=[stop]) == 130
    out = json.loads((tmp_path / "out.json").read_text())
    assert out["interrupted"] and out["seeds"] == "auto"
    rounds = out["rounds"]
    assert [r["round"] for r in rounds] == [2] and len(rounds[0]["points"]) == 2
    assert {p["replicate"] for p in rounds[0]["points"]} == {2}
    err = capsys.readouterr().err
    assert "round 2: one more seed for 2 group(s) in an undecided comparison" in err
    assert "dashboard: not built" not in err  # groups evaluated at different JPEG QFs
    again = Recorder()
    assert run_sweep(parse_args(sweep_args(tmp_path, space, "--resume")),
                     callbacks=[again]) == 0
    out = json.loads((tmp_path / "out.json").read_text())
    assert not out["interrupted"] and len(out["trials"]) == 6
    assert sorted(t["replicate"] for t in out["trials"]) == [0, 0, 1, 1, 2, 2]
    assert all(t["status"] == "FINISHED" for t in out["trials"])
    assert [r["round"] for r in out["rounds"]] == [2]  # max 3 seeds: no round 3
    assert len(again.started) <= 2  # only round 2's trials ran again
    # the verdicts of every look are one family: 1 pair x 2 looks (rounds at 2 and 3 seeds)
    comp = out["comparison"]
    assert comp["looks"] == 2 and comp["family"] == 2 and comp["confidence"] == 0.975
    groups = {g["label"]: g for g in out["groups"]}
    assert all(len(g["seeds"]) == 3 for g in groups.values())
    assert all(g["vs_best"]["verdict"] == "undecided" for g in groups.values()
               if not g["vs_best"]["self"])
    _, children = runs(tmp_path, "trial")
    assert len(children) == 6  # one MLflow run per trial across both processes and rounds
