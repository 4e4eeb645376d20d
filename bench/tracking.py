"""MLflow logging for sweeps and single runs (the layout dashboards rely on).

Run layout (experiment from --experiment, default "irn-bench"):
  sweep  parent run   tags irn.role=sweep, irn.space, irn.budget, irn.git_commit, irn.host,
                      irn.gpu, irn.objective, irn.mode, irn.seeds, mlflow.note.content (the
                      group table), irn.groups, irn.trials, irn.best_group, irn.verdict;
                      metric best_group_gain_db (a group mean); artifacts space.py,
                      summary.json, comparison.md (the group table)
  trial  child run    named LABEL|sSEED; tags irn.role=trial, mlflow.parentRunId,
                      irn.trial_id, irn.group (hash of the config without the seed),
                      irn.group_label, irn.replicate, irn.status (FINISHED/FAILED), irn.error
                      (one line, when failed); params = every config key (seed = the
                      replicate's seed); mlflow.note.content (what the trial is); metrics =
                      every number of every report at the report's step (report_points: loss/*
                      every log_every steps, schedule/lr, time/*, evaluation metrics; constants
                      such as model/params and bicubic_* once), system/* (CPU, RSS, GPU of the
                      trial process); tags irn.step (last step logged), irn.precision
                      (fp32/bf16/fp16 as run), irn.top_op (profiled trials); artifacts
                      profile/{trace.json,top_ops.*} (profiled trials),
                      crops/<image>/<kind>.png (PNG, a centre crop of up to 4 untiled
                      validation images, 128 px at most; kinds gt, lr, lr_bicubic,
                      bicubic_up, recon: irn.crops.visual_crops),
                      eval/per_image.json (every evaluation's per-image rows)
  single run          as a trial, with irn.role=single and no parent.

Everything goes through one MlflowClient in one process (the sweep driver), never many
processes writing one SQLite file. Child runs are keyed by trial id, so a resumed sweep or a
restarted trial finds its run again instead of creating a second one.
"""
import contextlib
import fcntl
import json
import math
import os
import shutil
import socket
import subprocess
import tempfile
import time

from mlflow.entities import Metric, Param, RunTag
from mlflow.tracking import MlflowClient

from dashboards.data import ui_url
from dashboards import schema

DEFAULT_EXPERIMENT = "irn-bench"
# The experiment's kind, for MLflow's own use; MLflow 3.17's UI opens every experiment on its
# GenAI overview regardless (checked in headless Chromium), hence the direct runs-table link
# (dashboards.data.ui_url) in the experiment's description and the sweep's last lines.
EXPERIMENT_KIND = ("mlflow.experimentKind", "custom_model_development")
STEP_TAG = "irn.step"  # the last report step logged to a run


class TrackingError(RuntimeError):
    """The tracking store cannot be reached or used (one line)."""


def experiment_description(tracking_uri: str, experiment_id: str) -> str:
    """The experiment's description (markdown): where its runs table and reports are."""
    return (f"irn-bench runs. Open the runs table directly: <{ui_url(tracking_uri, experiment_id)}>"
            " (MLflow 3 otherwise opens an experiment on its GenAI overview). Each sweep is a "
            "parent run (tag irn.role=sweep) with its trials nested under it, coloured by "
            "group; its report is the parent run's artifact report.html, its verdict the "
            "parent's description.")


def config_params(config: dict) -> dict:
    """A config as MLflow params, with lambda_guide=None (the official scale^2) logged as the
    weight the run trained with, as the report shows it (a searched scale: "None (scale^2)")."""
    if "lambda_guide" not in config or config["lambda_guide"] is not None:
        return config
    try:
        return {**config, "lambda_guide": float(int(config["scale"]) ** 2)}
    except (KeyError, TypeError, ValueError):
        return {**config, "lambda_guide": "None (scale^2)"}


def default_tracking_uri() -> str:
    return f"sqlite:///{os.path.abspath('mlflow.db')}"


def git_commit() -> str:
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True,
                             cwd=os.path.dirname(os.path.abspath(__file__)), timeout=10)
        return out.stdout.strip() or "unknown"
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def gpu_name() -> str:
    """The local GPU, or "none"."""
    import torch
    if torch.cuda.is_available():
        return torch.cuda.get_device_name(0)
    return "none"


def host_tags() -> dict:
    return {schema.GIT_COMMIT: git_commit(), schema.HOST: socket.gethostname(),
            schema.GPU: gpu_name()}


def path_tags(report: dict) -> dict:
    """The tags saying which arithmetic and memory layout a trainer's report ran
    (irn/precision.py, irn/layout.py)."""
    return {"irn.precision": report.get("precision", ""), "irn.layout": report.get("layout", "")}


def one_line(text: str, limit: int = 500) -> str:
    line = " ".join(str(text).split())
    return line if len(line) <= limit else line[:limit - 3] + "..."


def numbers(report: dict) -> dict:
    """The numeric entries of a report (bools and strings dropped)."""
    return {k: float(v) for k, v in report.items()
            if isinstance(v, (int, float)) and not isinstance(v, bool)}


@contextlib.contextmanager
def _store_lock(uri: str):
    """An exclusive file lock beside a SQLite store while it is first opened: MLflow creates
    and migrates a new database on first use, and two processes doing that at once fail
    ("Online migration expected to match one row ... 'alembic_version'")."""
    if not uri.startswith("sqlite:///"):
        yield
        return
    db = os.path.abspath(uri[len("sqlite:///"):])
    if not os.path.isdir(os.path.dirname(db)):
        yield  # MLflow reports the missing folder itself
        return
    with open(db + ".lock", "a") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


class Tracker:
    def __init__(self, tracking_uri: str, experiment: str = DEFAULT_EXPERIMENT):
        self.uri = tracking_uri
        try:
            with _store_lock(tracking_uri):
                self.client = MlflowClient(tracking_uri)
                exp = self.client.get_experiment_by_name(experiment)
                self.experiment_id = exp.experiment_id if exp else \
                    self.client.create_experiment(
                        experiment, artifact_location=_artifact_root(tracking_uri, experiment))
                if not exp or EXPERIMENT_KIND[0] not in exp.tags:
                    self.client.set_experiment_tag(self.experiment_id, *EXPERIMENT_KIND)
                if not exp or "mlflow.note.content" not in exp.tags:
                    self.client.set_experiment_tag(self.experiment_id, "mlflow.note.content",
                                                   experiment_description(
                                                       tracking_uri, self.experiment_id))
        except Exception as e:  # noqa: BLE001 - any store failure is one clear line
            raise TrackingError(f"cannot use MLflow tracking URI {tracking_uri}: "
                                f"{one_line(e, 300)}") from None

    # -- runs -------------------------------------------------------------------------------
    def create_run(self, name: str, tags: dict) -> str:
        run = self.client.create_run(self.experiment_id, tags=_str_values(tags), run_name=name)
        return run.info.run_id

    def find_runs(self, tags: dict) -> list:
        """Runs of this experiment whose tags equal the given ones."""
        clauses = [f"tags.`{k}` = '{v}'" for k, v in tags.items()]
        return list(self.client.search_runs([self.experiment_id], " and ".join(clauses),
                                            max_results=1000))

    def trial_run(self, parent_id: str, trial_id: str, name: str | None = None,
                  tags: dict | None = None) -> tuple[str, bool]:
        """(run id, created) of the child run of `trial_id`; one run per trial, ever."""
        found = self.find_runs({schema.TRIAL_ID: trial_id, "mlflow.parentRunId": parent_id})
        if found:
            return found[0].info.run_id, False
        return self.create_run(name or trial_id, {
            schema.ROLE: schema.ROLE_TRIAL, schema.TRIAL_ID: trial_id,
            "mlflow.parentRunId": parent_id,
            **(tags or {})}), True

    def load_json(self, run_id: str, name: str, default=None):
        """An artifact logged by log_json, or `default` when the run has none."""
        try:
            with tempfile.TemporaryDirectory() as d:
                with open(self.client.download_artifacts(run_id, name, d), encoding="utf-8") as f:
                    return json.load(f)
        except Exception:  # noqa: BLE001 - absent or unreadable: start afresh
            return default

    def reopen(self, run_id: str) -> None:
        self.client.update_run(run_id, status="RUNNING")

    def finish(self, run_id: str, failed: bool = False, error: str | None = None,
               status: str | None = None) -> None:
        tags = {schema.STATUS: "FAILED" if failed else "FINISHED"}
        if error:
            tags[schema.ERROR] = one_line(error)
        self.set_tags(run_id, tags)
        self.client.set_terminated(run_id, status or ("FAILED" if failed else "FINISHED"))

    # -- data -------------------------------------------------------------------------------
    def set_tags(self, run_id: str, tags: dict) -> None:
        self.client.log_batch(run_id, tags=[RunTag(k, str(v)) for k, v in tags.items()])

    def log_params(self, run_id: str, params: dict) -> None:
        """Every config key, once (a resumed run already holds them: skipped)."""
        if self.client.get_run(run_id).data.params:
            return
        items = [Param(k, str(v)) for k, v in params.items()]
        for i in range(0, len(items), 100):  # MLflow takes at most 100 params per batch
            self.client.log_batch(run_id, params=items[i:i + 100])

    def log_metrics(self, run_id: str, values: dict, step: int) -> None:
        now = int(time.time() * 1000)
        metrics = [Metric(k, v if math.isfinite(v) else float("nan"), now, int(step))
                   for k, v in numbers(values).items()]
        for i in range(0, len(metrics), 1000):
            self.client.log_batch(run_id, metrics=metrics[i:i + 1000])

    def log_report(self, run_id: str, report: dict, first: bool) -> None:
        """One training report: its points (report_points) and its step as the tag irn.step."""
        now = int(time.time() * 1000)
        metrics = [Metric(k, v if math.isfinite(v) else float("nan"), now, step)
                   for k, v, step in report_points(report, first)]
        for i in range(0, len(metrics), 1000):
            self.client.log_batch(run_id, metrics=metrics[i:i + 1000])
        self.set_tags(run_id, {STEP_TAG: int(report["step"])})

    def last_step(self, run_id: str) -> int:
        """The last report step logged to a run (-1 for none): resumes skip what is there."""
        return int(self.client.get_run(run_id).data.tags.get(STEP_TAG, -1))

    def log_crops(self, run_id: str, crops: dict) -> None:
        from irn.crops import save_crops
        with tempfile.TemporaryDirectory() as d:
            save_crops(crops, d)
            self.client.log_artifacts(run_id, d, "crops")

    def log_crop_files(self, run_id: str, folder: str) -> bool:
        """Log the crops/<image>/<kind>.png a trial saved (irn.crops.save_crops), every
        image that has all schema.CROPS kinds; False when the folder holds none."""
        images = sorted(d for d in (os.listdir(folder) if os.path.isdir(folder) else ())
                        if all(os.path.isfile(os.path.join(folder, d, f"{k}.png"))
                               for k in schema.CROPS))
        for image in images:
            self.client.log_artifacts(run_id, os.path.join(folder, image), f"crops/{image}")
        return bool(images)

    def log_profile(self, run_id: str, folder: str) -> bool:
        """Log a profiled trial's profile/{trace.json,top_ops.txt,top_ops.json} and tag the
        top operator (irn.top_op: name and share of self time); False when there is none."""
        from bench.profile import PROFILE_FILES
        from bench.trial_profile import has_profile
        if not has_profile(folder):
            return False
        for name in PROFILE_FILES:
            self.client.log_artifact(run_id, os.path.join(folder, name), "profile")
        with open(os.path.join(folder, "top_ops.json"), encoding="utf-8") as f:
            ops = json.load(f)
        if ops:
            self.set_tags(run_id, {"irn.top_op": f"{ops[0]['name']} "
                                                 f"{100 * ops[0]['share']:.0f}% of self time"})
        return True

    def log_json(self, run_id: str, data, name: str) -> None:
        """`data` as the artifact `name` (a path like eval/per_image.json puts it in a folder)."""
        folder, base = os.path.split(name)
        with tempfile.TemporaryDirectory() as d:
            path = os.path.join(d, base)
            with open(path, "w", encoding="utf-8") as f:
                json.dump(data, f, indent=2, default=str)
            self.client.log_artifact(run_id, path, folder or None)

    def log_text(self, run_id: str, text: str, name: str) -> None:
        self.client.log_text(run_id, text, name)

    def log_file(self, run_id: str, path: str, name: str | None = None) -> None:
        if name and name != os.path.basename(path):
            with tempfile.TemporaryDirectory() as d:
                dst = os.path.join(d, name)
                shutil.copyfile(path, dst)
                self.client.log_artifact(run_id, dst)
        else:
            self.client.log_artifact(run_id, path)


def report_points(report: dict, first: bool) -> list[tuple[str, float, int]]:
    """(metric, value, step) to log for one training report. `step` itself is not a metric
    (every MLflow point carries its step); the dense loss trace (`loss_trace`, a list or its
    JSON text) replaces the report's interval-mean losses and its schedule/lr, each point at
    its own step (every log_every steps); the
    constants (model/params, bicubic baselines: `constant` in the metric registry) only in
    the `first` report of a run."""
    from irn.metric_registry import metric_spec
    step = int(report["step"])
    trace = report.get("loss_trace") or []
    trace = json.loads(trace) if isinstance(trace, str) else trace
    points = [(k, v, int(p["step"])) for p in trace for k, v in numbers(p).items() if k != "step"]
    for k, v in numbers(report).items():
        spec = metric_spec(k)
        if k == "step" or (trace and (k.startswith("loss/") or k in trace[-1])) or \
                (spec and spec.constant and not first):
            continue
        points.append((k, v, step))
    return points


def _artifact_root(uri: str, experiment: str) -> str | None:
    """Artifacts of a SQLite store go next to the database file (absolute, so trials that
    chdir and later readers agree); a tracking server picks its own."""
    if uri.startswith("sqlite:///"):
        db = uri[len("sqlite:///"):]
        root = os.path.join(os.path.dirname(os.path.abspath(db)), "mlartifacts")
        return "file://" + os.path.join(root, experiment)
    return None


def _str_values(tags: dict) -> dict:
    return {k: str(v) for k, v in tags.items()}


class SingleRun:
    """MLflow logging for one `bench.train` run (irn.role=single): params, per-report
    metrics with time/wall and system metrics, crops, and the final status."""

    def __init__(self, tracking_uri: str, experiment: str, cfg_dict: dict, name: str = "single"):
        self.tracker = Tracker(tracking_uri, experiment)
        self.run_id = self.tracker.create_run(
            name, {schema.ROLE: schema.ROLE_SINGLE, **host_tags()})
        self.tracker.log_params(self.run_id, config_params(cfg_dict))
        self.start = time.perf_counter()
        self.per_image: list[dict] = []
        self.first = True
        from bench.telemetry import Telemetry
        self.telemetry = Telemetry(interval=1.0, quiet=True).start()

    def report(self, report: dict) -> None:
        from bench.telemetry import system_metrics
        values = {**report, **system_metrics(self.telemetry.take()),
                  "time/wall": time.perf_counter() - self.start}
        self.tracker.log_report(self.run_id, values, first=self.first)
        if self.first and report.get("precision"):
            self.tracker.set_tags(self.run_id, path_tags(report))
        self.first = False
        if report.get("per_image"):
            self.per_image += report["per_image"]
            self.tracker.log_json(self.run_id, self.per_image, schema.PER_IMAGE)

    def crops(self, crops: dict) -> None:
        self.tracker.log_crops(self.run_id, crops)

    def end(self, error: str | None = None, status: str | None = None) -> None:
        self.telemetry.stop()
        self.tracker.finish(self.run_id, failed=error is not None, error=error, status=status)
