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
import sys
import tempfile
import threading
import time

from mlflow.entities import Metric, Param, RunTag
from mlflow.tracking import MlflowClient

from bench.common.cli import UsageError
from bench.common.outbox import PENDING, Outbox, new_pending_id
from dashboards.data import ui_url
from dashboards import schema

DEFAULT_EXPERIMENT = "irn-bench"
# The experiment's kind, for MLflow's own use; MLflow 3.17's UI opens every experiment on its
# GenAI overview regardless (checked in headless Chromium), hence the direct runs-table link
# (dashboards.data.ui_url) in the experiment's description and the sweep's last lines.
EXPERIMENT_KIND = ("mlflow.experimentKind", "custom_model_development")
STEP_TAG = "irn.step"  # the last report step logged to a run
PROBE_S = 30.0  # offline: how often the server's /health is tried again
# The MLflow client's waits against a tracking server, unless the user set them: a request
# gives up after 20 s, and 4 retries with backoff (about 30 s) bridge a server restart. A
# server that never answers then costs one write about 2 minutes, once; every later write
# goes to the outbox at once (tests/test_tracking_outage.py).
SERVER_CLIENT_ENV = {"MLFLOW_HTTP_REQUEST_TIMEOUT": "20",
                     "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "4"}


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


@contextlib.contextmanager
def store_opening(tracking_uri: str, experiment: str):
    """Open a SQLite MLflow store in a thread while the block runs (the sweep starts Ray in
    it): a new store is created and migrated on first use (3.3-3.6 s on a 2-core Zen 3,
    bench/SWEEP.md), and MLflow keeps one store per URI (its store registry caches them), so
    a Tracker built after `ready()` finds it open. Yields `ready`, which waits for the
    thread; leaving the block waits too, so no exit (a refusal, Ctrl+C) leaves a store half
    created. Errors are left for the Tracker to report. A server has nothing to create (and
    its retries must stay bounded by the Tracker's settings): nothing runs for one."""
    def open_store():
        try:
            with _store_lock(tracking_uri):
                MlflowClient(tracking_uri).get_experiment_by_name(experiment)
        except Exception:  # noqa: BLE001 - the Tracker meets the same error and reports it
            pass
    thread = threading.Thread(target=open_store, name="open-mlflow-store", daemon=True) \
        if tracking_uri.startswith("sqlite:") else None
    if thread is not None:
        thread.start()
    try:
        yield thread.join if thread is not None else (lambda: None)
    finally:
        if thread is not None:
            thread.join()


class Tracker:
    """Every MLflow read and write of the sweep driver. With `outbox` (a folder) and an
    http(s) server, a write the server does not take (after MLflow's own retries) switches
    the tracker offline: that write and all later ones go to the outbox on disk
    (bench/common/outbox.py), reads answer as for a new run, and every PROBE_S the server's
    /health is tried; when it answers, the outbox is replayed in order and writes go
    straight to MLflow again."""

    def __init__(self, tracking_uri: str, experiment: str = DEFAULT_EXPERIMENT,
                 outbox: str | None = None):
        self.uri, self.experiment = tracking_uri, experiment
        self.outbox = Outbox(outbox) if outbox and is_server(tracking_uri) else None
        self.offline_since: float | None = None
        self.next_probe = 0.0
        self.ids: dict[str, str] = {}  # pending id -> MLflow run id, once replayed
        self.reopened: dict[str, str | None] = {}  # run id -> its status before a --resume
        if self.outbox:  # bounded waits: a server that never answers costs one call's retries
            for key, value in SERVER_CLIENT_ENV.items():
                os.environ.setdefault(key, value)
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
        if self.outbox and self.outbox.pending():  # kept by an earlier run: log it first
            try:
                self._replay()
            except Exception as e:  # noqa: BLE001
                raise TrackingError(f"MLflow at {tracking_uri} did not take the writes kept in "
                                    f"{self.outbox.folder}: {one_line(e, 300)}") from None

    # -- offline: the outbox ----------------------------------------------------------------
    @property
    def offline(self) -> bool:
        return self.offline_since is not None

    def _go_offline(self, error: Exception) -> None:
        if self.offline:
            return
        self.offline_since, self.next_probe = time.time(), time.time() + PROBE_S
        self.outbox.set_meta(self.uri, self.experiment)
        print(f"MLflow at {self.uri} stopped answering ({one_line(error, 160)}): tracking "
              f"writes are kept in {self.outbox.folder} and sent when it answers again "
              f"(tried every {PROBE_S:.0f} s)", file=sys.stderr)

    def _back(self, now: bool = False) -> bool:
        """Offline: is the server back (tried at most every PROBE_S unless `now`)? When it
        is, the outbox is replayed and the tracker is online again."""
        if not self.offline:
            return True
        if not now and time.time() < self.next_probe:
            return False
        self.next_probe = time.time() + PROBE_S
        import requests
        try:
            requests.get(f"{self.uri.rstrip('/')}/health", timeout=3).raise_for_status()
            sent = self._replay()
        except Exception:  # noqa: BLE001 - still away: stay offline
            return False
        print(f"MLflow at {self.uri} answers again: {sent} write(s) kept meanwhile logged",
              file=sys.stderr)
        self.offline_since = None
        return True

    def _replay(self) -> int:
        def send(record, ids):
            self._send(record, ids, replay_root=self.outbox.folder)
            self.ids.update(ids)
        return self.outbox.replay(send)

    def _write(self, record: dict, files: dict | None = None) -> None:
        """One write: to MLflow, or to the outbox while the server is away."""
        record["run"] = self.ids.get(record["run"], record["run"])
        if self.outbox is None:
            self._send(record, self.ids)
            return
        if self.offline and not self._back():
            self.outbox.add(record, files)
            return
        try:
            self._send(record, self.ids)
        except Exception as e:  # noqa: BLE001 - whatever the client raised after its retries
            self._go_offline(e)
            self.outbox.add(record, files)

    def _read(self, read, default):
        """A read: `default` while offline, or when the server stops answering now."""
        if self.outbox is None:
            return read()
        if self.offline and not self._back():
            return default
        try:
            return read()
        except Exception as e:  # noqa: BLE001
            self._go_offline(e)
            return default

    def _send(self, r: dict, ids: dict, replay_root: str | None = None) -> None:
        """Perform one outbox record against MLflow (`ids`: pending -> MLflow run ids, which
        a created run extends); `replay_root`: the outbox folder when replaying it."""
        run = ids.get(r["run"], r["run"])
        op = r["op"]
        if op == "create":
            tags = {k: ids.get(v, v) for k, v in r["tags"].items()}  # a pending parent's id
            # replayed: the server may have taken the create before its reply was lost
            found = self._search({k: tags[k] for k in (schema.TRIAL_ID, "mlflow.parentRunId")
                                  if k in tags}) \
                if replay_root is not None and schema.TRIAL_ID in tags else []
            ids[r["run"]] = found[0].info.run_id if found else self.client.create_run(
                self.experiment_id, tags=tags, run_name=r["name"]).info.run_id
        elif op == "batch":
            self.client.log_batch(run, metrics=[Metric(*m) for m in r.get("metrics", ())],
                                  params=[Param(*x) for x in r.get("params", ())],
                                  tags=[RunTag(*x) for x in r.get("tags", ())])
        elif op == "status":
            if r["status"] == "RUNNING":
                self.client.update_run(run, status="RUNNING")
            else:
                self.client.set_terminated(run, r["status"])
        elif op == "artifact":
            self.client.log_artifact(run, os.path.join(replay_root or "", r["file"]),
                                     r.get("dir"))
        elif op == "text":
            self.client.log_text(run, r["text"], r["name"])
        else:
            raise ValueError(f"unknown outbox record {op!r}")

    def not_logged(self) -> dict | None:
        """After the sweep: one last try; the counts of what is still only in the outbox
        (Outbox.counts; None: nothing)."""
        if self.outbox is None or not self.offline or self._back(now=True):
            return None
        return self.outbox.counts()

    # -- runs -------------------------------------------------------------------------------
    def create_run(self, name: str, tags: dict) -> str:
        """The new run's id: MLflow's, or a pending one while the server is away."""
        pending = new_pending_id()
        self._write({"op": "create", "run": pending, "name": name, "tags": _str_values(tags)})
        return self.ids.get(pending, pending)

    def find_runs(self, tags: dict) -> list:
        """Runs of this experiment whose tags equal the given ones ([] while offline)."""
        return self._read(lambda: self._search(tags), [])

    def _search(self, tags: dict) -> list:
        clauses = [f"tags.`{k}` = '{v}'" for k, v in tags.items()]
        return list(self.client.search_runs([self.experiment_id], " and ".join(clauses),
                                            max_results=1000))

    def run_tag(self, run_id: str, key: str, default=None):
        """A tag of a run (default: absent, a pending run, or offline)."""
        if run_id.startswith(PENDING):
            return default
        return self._read(lambda: self.client.get_run(run_id).data.tags.get(key, default),
                          default)

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
        if self.offline or run_id.startswith(PENDING):
            return default
        try:
            with tempfile.TemporaryDirectory() as d:
                with open(self.client.download_artifacts(run_id, name, d), encoding="utf-8") as f:
                    return json.load(f)
        except Exception:  # noqa: BLE001 - absent or unreadable: start afresh
            return default

    def reopen(self, run_id: str) -> None:
        """RUNNING again (a --resume); `reopened[run_id]` keeps the status it had."""
        if not run_id.startswith(PENDING):
            self.reopened[run_id] = self._read(
                lambda: self.client.get_run(run_id).info.status, None)
        self.set_status(run_id, "RUNNING")

    def set_status(self, run_id: str, status: str) -> None:
        """The run's MLflow status: RUNNING, FINISHED, FAILED or KILLED."""
        self._write({"op": "status", "run": run_id, "status": status})

    def finish(self, run_id: str, failed: bool = False, error: str | None = None,
               status: str | None = None) -> None:
        tags = {schema.STATUS: "FAILED" if failed else "FINISHED"}
        if error:
            tags[schema.ERROR] = one_line(error)
        self.set_tags(run_id, tags)
        self.set_status(run_id, status or ("FAILED" if failed else "FINISHED"))

    # -- data -------------------------------------------------------------------------------
    def set_tags(self, run_id: str, tags: dict) -> None:
        self._write({"op": "batch", "run": run_id,
                     "tags": [[k, str(v)] for k, v in tags.items()]})

    def log_params(self, run_id: str, params: dict) -> None:
        """Every config key, once (a resumed run already holds them: skipped)."""
        if not run_id.startswith(PENDING) and self._read(
                lambda: self.client.get_run(run_id).data.params, {}):
            return
        items = [[k, str(v)] for k, v in params.items()]
        for i in range(0, len(items), 100):  # MLflow takes at most 100 params per batch
            self._write({"op": "batch", "run": run_id, "params": items[i:i + 100]})

    def _log_points(self, run_id: str, points) -> None:
        # each point keeps the timestamp it got now: a replay of it is then a duplicate
        # MLflow drops (bench/common/outbox.py)
        now = int(time.time() * 1000)
        metrics = [[k, v if math.isfinite(v) else float("nan"), now, int(step)]
                   for k, v, step in points]
        for i in range(0, len(metrics), 1000):
            self._write({"op": "batch", "run": run_id, "metrics": metrics[i:i + 1000]})

    def log_metrics(self, run_id: str, values: dict, step: int) -> None:
        self._log_points(run_id, [(k, v, step) for k, v in numbers(values).items()])

    def log_report(self, run_id: str, report: dict, first: bool) -> None:
        """One training report: its points (report_points) and its step as the tag irn.step."""
        self._log_points(run_id, report_points(report, first))
        self.set_tags(run_id, {STEP_TAG: int(report["step"])})

    def last_step(self, run_id: str) -> int:
        """The last report step logged to a run (-1 for none): resumes skip what is there."""
        return int(self.run_tag(run_id, STEP_TAG, -1))

    def log_artifact(self, run_id: str, path: str, folder: str | None = None) -> None:
        self._write({"op": "artifact", "run": run_id, "file": os.path.abspath(path),
                     "dir": folder}, files={"file": path})

    def log_artifacts(self, run_id: str, local_dir: str, folder: str) -> None:
        """Every file under local_dir, at the same relative path under `folder`."""
        for here, _, names in sorted(os.walk(local_dir)):
            rel = os.path.relpath(here, local_dir)
            for name in sorted(names):
                self.log_artifact(run_id, os.path.join(here, name),
                                  folder if rel == "." else f"{folder}/{rel}")

    def log_crops(self, run_id: str, crops: dict) -> None:
        from irn.crops import save_crops
        with tempfile.TemporaryDirectory() as d:
            save_crops(crops, d)
            self.log_artifacts(run_id, d, "crops")

    def log_crop_files(self, run_id: str, folder: str) -> bool:
        """Log the crops/<image>/<kind>.png a trial saved (irn.crops.save_crops), every
        image that has all schema.CROPS kinds; False when the folder holds none."""
        images = sorted(d for d in (os.listdir(folder) if os.path.isdir(folder) else ())
                        if all(os.path.isfile(os.path.join(folder, d, f"{k}.png"))
                               for k in schema.CROPS))
        for image in images:
            self.log_artifacts(run_id, os.path.join(folder, image), f"crops/{image}")
        return bool(images)

    def log_json(self, run_id: str, data, name: str) -> None:
        """`data` as the artifact `name` (a path like eval/per_image.json puts it in a folder)."""
        folder, base = os.path.split(name)
        with tempfile.TemporaryDirectory() as d:
            path = os.path.join(d, base)
            with open(path, "w", encoding="utf-8") as f:
                json.dump(data, f, indent=2, default=str)
            self.log_artifact(run_id, path, folder or None)

    def log_text(self, run_id: str, text: str, name: str) -> None:
        self._write({"op": "text", "run": run_id, "text": text, "name": name})

    def log_file(self, run_id: str, path: str, name: str | None = None) -> None:
        if name and name != os.path.basename(path):
            with tempfile.TemporaryDirectory() as d:
                dst = os.path.join(d, name)
                shutil.copyfile(path, dst)
                self.log_artifact(run_id, dst)
        else:
            self.log_artifact(run_id, path)


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


def is_server(uri: str | None) -> bool:
    """A tracking server's URI (http or https), not a local store."""
    return bool(uri) and uri.startswith(("http://", "https://"))


def check_tracking_reachable(uri: str | None, timeout: float = 10.0) -> None:
    """An http(s) tracking server must accept a connection within `timeout` s (else the
    sweep would hang in MLflow's retries): one line, exit 2."""
    from urllib.parse import urlparse
    if not is_server(uri):
        return
    url = urlparse(uri)
    port = url.port or (443 if url.scheme == "https" else 80)
    try:
        with socket.create_connection((url.hostname, port), timeout=timeout):
            pass
    except OSError as exc:
        raise UsageError(f"--tracking-uri {uri}: no MLflow server answers there "
                         f"({exc.strerror or exc})") from None


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
        from bench.common.telemetry import Telemetry
        self.telemetry = Telemetry(interval=1.0, quiet=True).start()

    def report(self, report: dict) -> None:
        from bench.common.telemetry import system_metrics
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
