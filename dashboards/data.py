"""Load one sweep (or the single runs of an experiment) from MLflow into tidy DataFrames.

Everything comes from the MLflow client (search_runs, get_metric_history, artifacts), never
from Ray's files, so any store works: a SQLite file or a tracking server. MLflow hands
params back as strings; `cast_column` turns them back into numbers / booleans / None.
"""
import contextlib
import math
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pandas as pd
from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient, get_tracking_uri

from irn.config import Config
from dashboards import schema

# Config keys always shown in the sweep table (when logged), even if constant across trials.
KEY_PARAMS = ("scale", "coupling", "loss_recon", "loss_guide", "lambda_guide", "jpeg_train")
# Keys that describe a run but are not experimental factors (never "parameters that matter").
NOT_FACTORS = {"data", "device", "vgg_weights", "workers", "eval_every", "eval_points",
               "log_every", "eval_z_draws", "profile", "jpeg_eval", "val_max_size", "val_tile",
               "seed"}  # seeds are replicates of one configuration, not a factor
# crops/<image>/<kind>.png, as irn.crops.visual_crops / bench.common.tracking write them
MAX_CROP_BYTES = 500_000  # a crop bigger than this is skipped, to keep the page light


class DashboardError(Exception):
    """Bad input (no such experiment / run, nothing finished): one line for the user."""


@dataclass
class Sweep:
    client: MlflowClient
    experiment: str
    tracking_uri: str
    parent_id: str | None  # None: the experiment has no sweep parent; its single runs are shown
    parent_name: str
    parent_tags: dict
    objective: str  # metric name, e.g. psnr_y
    mode: str  # "max" or "min"
    runs: pd.DataFrame  # one row per trial: run_id, trial, status, error, start_ms, config, metrics
    config_keys: list[str] = field(default_factory=list)  # logged config keys, in logged order

    @property
    def finished(self) -> pd.DataFrame:
        """Finished trials, best objective first."""
        done = self.runs[self.runs["status"] == "FINISHED"]
        return sort_by_objective(done, self.objective, self.mode)

    @property
    def failed(self) -> pd.DataFrame:
        return self.runs[self.runs["status"] != "FINISHED"]

    def varying(self, frame: pd.DataFrame | None = None) -> list[str]:
        """Config keys whose value differs across the given trials (default: finished ones)."""
        frame = self.finished if frame is None else frame
        return [k for k in self.config_keys
                if k in frame and frame[k].astype(str).nunique(dropna=False) > 1]

    def metric_cols(self) -> list[str]:
        return [c for c in self.runs.columns if c.startswith("m:")]


def metric(name: str) -> str:
    """Column name of a final metric value in Sweep.runs (params and metrics can share names)."""
    return f"m:{name}"


def sort_by_objective(frame: pd.DataFrame, objective: str, mode: str) -> pd.DataFrame:
    col = metric(objective)
    if col not in frame:
        return frame
    return frame.sort_values(col, ascending=(mode == "min"), na_position="last", kind="stable")


def connect(tracking_uri: str | None) -> MlflowClient:
    """A client for the store (None: $MLFLOW_TRACKING_URI, else MLflow's default). A SQLite
    file that does not exist is bad input: MLflow would silently create an empty one there."""
    uri = tracking_uri or get_tracking_uri()
    if uri.startswith("sqlite:///"):
        path = Path(uri[len("sqlite:///"):].split("?")[0])
        if not path.is_file():
            hint = "" if tracking_uri else " (the default store: pass --tracking-uri)"
            raise DashboardError(f"no MLflow database at {path}{hint}")
    try:
        client = MlflowClient(tracking_uri=uri)
        client.search_experiments(max_results=1)  # an unusable store fails here, in one line
    except Exception as e:  # noqa: BLE001 - MlflowException, unsupported scheme, connection
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise DashboardError(f"cannot use MLflow tracking URI {public_uri(uri)}: "
                             f"{first[:300]}") from None
    return client


DEFAULT_UI = "http://127.0.0.1:5000"  # where `mlflow ui` / `mlflow server` listen by default
# MLflow 3.17's UI opens an experiment on its GenAI overview (it ignores the experiment's
# mlflow.experimentKind tag, checked in headless Chromium); this URL parameter opens the
# runs table and the UI remembers the choice.
ML_VIEW = "workflowType=machine_learning"


def ui_url(tracking_uri: str, experiment_id: str, run_id: str | None = None) -> str:
    """The MLflow UI page of an experiment's runs table, or of one run: on the tracking
    server itself for an http(s) store, else on `mlflow ui`'s default address."""
    parts = urlsplit(tracking_uri or "")
    base = public_uri(tracking_uri).rstrip("/") if parts.scheme in ("http", "https") \
        else DEFAULT_UI
    page = f"runs/{run_id}" if run_id else "runs"
    return f"{base}/#/experiments/{experiment_id}/{page}?{ML_VIEW}"


def public_uri(uri: str) -> str:
    """The tracking URI without any user:password@ part, for printing on the page."""
    parts = urlsplit(uri)
    if parts.username or parts.password:
        host = parts.hostname + (f":{parts.port}" if parts.port else "")
        return urlunsplit(parts._replace(netloc=host))
    return uri


def cast_value(text):
    """One MLflow param string back to a Python value: None, bool, int, float or the string."""
    if text is None or (isinstance(text, float) and math.isnan(text)):
        return None
    s = str(text).strip()
    if s in ("None", ""):
        return None
    if s in ("True", "False"):
        return s == "True"
    for cast in (int, float):
        try:
            return cast(s)
        except ValueError:
            pass
    return s


def cast_column(values: pd.Series) -> pd.Series:
    """Cast a column of param strings: numeric if every value is a number (or None), booleans
    if every value is a bool, else left as strings (e.g. jpeg_quality "75" next to "50-90")."""
    cast = values.map(cast_value)
    present = [v for v in cast if v is not None]
    if present and all(isinstance(v, bool) for v in present):
        return cast.astype(object)
    if present and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in present):
        return pd.to_numeric(cast, errors="coerce")
    return values.where(values.notna(), None).astype(object)


def _search(client: MlflowClient, exp_id: str, filter_string: str = "") -> list:
    runs, token = [], None
    while True:
        page = client.search_runs([exp_id], filter_string, max_results=1000, page_token=token,
                                  order_by=["attributes.start_time ASC"])
        runs.extend(page)
        token = page.token
        if not token:
            return runs


def _latest_parent(client: MlflowClient, exp_id: str):
    page = client.search_runs([exp_id], f"tags.`{schema.ROLE}` = '{schema.ROLE_SWEEP}'",
                              max_results=1,
                              order_by=["attributes.start_time DESC"])
    return page[0] if page else None


def _runs_frame(runs: list) -> tuple[pd.DataFrame, list[str]]:
    rows, keys = [], []
    for run in runs:
        tags, params = run.data.tags, run.data.params
        keys.extend(k for k in params if k not in keys)
        failed = run.info.status == "FAILED" or tags.get(schema.STATUS) == "FAILED"
        rows.append({
            "run_id": run.info.run_id,
            # the run's name (LABEL|sSEED for a sweep trial), as MLflow's UI shows it
            "trial": run.info.run_name or tags.get(schema.TRIAL_ID) or run.info.run_id[:8],
            "group": tags.get(schema.GROUP) or run.info.run_id,
            "group_label": tags.get(schema.GROUP_LABEL) or run.info.run_name
            or run.info.run_id[:8],
            "status": "FAILED" if failed else run.info.status,
            "error": (tags.get(schema.ERROR) or "failed; no irn.error tag was logged")
            if failed else "",
            "start_ms": run.info.start_time,
            **params,
            **{metric(k): v for k, v in run.data.metrics.items()},
        })
    frame = pd.DataFrame(rows)
    for key in keys:
        frame[key] = cast_column(frame[key])
    if "lambda_guide" in frame and "scale" in frame:  # None: the effective weight
        frame["lambda_guide"] = [effective_guide_weight(g, s) for g, s in
                                 zip(frame["lambda_guide"], frame["scale"])]
    return frame, keys


def effective_guide_weight(lambda_guide, scale):
    """The guide weight a trial trained with: irn.config.Config.guide_weight (None means the
    official scale^2); a value that does not make a Config is shown as logged."""
    lambda_guide = cast_value(lambda_guide)  # a column of only "None" stays strings
    missing = lambda_guide is None
    try:
        return Config(scale=int(scale), lambda_guide=None if missing else
                      float(lambda_guide)).guide_weight
    except (TypeError, ValueError):
        return lambda_guide


def load_sweep(experiment: str, tracking_uri: str | None = None,
               parent: str | None = None) -> Sweep:
    """The trials of `parent` (default: the latest sweep parent run in the experiment; if the
    experiment has no sweep, its other runs). Raises DashboardError on bad input."""
    client = connect(tracking_uri)
    try:
        exp = client.get_experiment_by_name(experiment)
    except MlflowException as e:
        raise DashboardError(f"cannot read MLflow store: {str(e).splitlines()[0]}") from None
    if exp is None:
        raise DashboardError(f"experiment {experiment!r} not found in the MLflow store")
    if parent:
        try:
            parent_run = client.get_run(parent)
        except MlflowException:
            raise DashboardError(f"parent run {parent!r} not found") from None
        if parent_run.info.experiment_id != exp.experiment_id:
            raise DashboardError(f"run {parent!r} is not in experiment {experiment!r}")
    else:
        parent_run = _latest_parent(client, exp.experiment_id)
    if parent_run is not None:
        pid = parent_run.info.run_id
        runs = [r for r in _search(client, exp.experiment_id,
                                   f"tags.`mlflow.parentRunId` = '{pid}'")
                if r.data.tags.get(schema.ROLE) != schema.ROLE_LEVEL]  # components, not groups
    else:
        runs = [r for r in _search(client, exp.experiment_id)
                if r.data.tags.get(schema.ROLE) != schema.ROLE_SWEEP]
    frame, keys = _runs_frame(runs)
    if frame.empty or not (frame["status"] == "FINISHED").any():
        what = f"sweep run {parent_run.info.run_id}" if parent_run else f"experiment {experiment!r}"
        raise DashboardError(f"{what} has no finished runs")
    tags = parent_run.data.tags if parent_run else {}
    return Sweep(client=client, experiment=experiment,
                 tracking_uri=client.tracking_uri, parent_id=parent_run and parent_run.info.run_id,
                 parent_name=parent_run.info.run_name if parent_run else "",
                 parent_tags=tags, objective=tags.get(schema.OBJECTIVE, "psnr_y"),
                 mode=tags.get(schema.MODE, "max"), runs=frame, config_keys=keys)


def load_histories(sweep: Sweep, run_ids, keys) -> pd.DataFrame:
    """Long frame run_id, key, step, value: every logged point of the given metrics."""
    rows = [(rid, key, m.step, m.value) for rid in run_ids for key in keys
            for m in sweep.client.get_metric_history(rid, key)]
    return pd.DataFrame(rows, columns=["run_id", "key", "step", "value"])


@contextlib.contextmanager
def _no_progress_bars():
    """MLflow draws a progress bar per artifact download; a report build wants none."""
    key = "MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR"
    old = os.environ.get(key)
    os.environ[key] = "false"
    try:
        yield
    finally:
        if old is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = old


def load_crops(sweep: Sweep, run_ids) -> dict[str, dict[str, dict[str, bytes]]]:
    """run_id -> {image: {kind: PNG bytes}} of the crops/<image>/<kind>.png artifacts, for the
    images that have every kind in schema.CROPS."""
    out = {}
    with tempfile.TemporaryDirectory() as tmp, _no_progress_bars():
        for rid in run_ids:
            try:
                local = Path(sweep.client.download_artifacts(rid, "crops", f"{tmp}/{rid}"))
            except (MlflowException, OSError):
                continue
            if not local.is_dir():
                continue
            images = {}
            for folder in sorted(p for p in local.iterdir() if p.is_dir()):
                kinds = {k: (folder / f"{k}.png").read_bytes() for k in schema.CROPS
                         if (folder / f"{k}.png").is_file()}
                if len(kinds) == len(schema.CROPS) and all(
                        d[:8] == b"\x89PNG\r\n\x1a\n" and len(d) <= MAX_CROP_BYTES
                        for d in kinds.values()):
                    images[folder.name] = kinds
            if images:
                out[rid] = images
    return out


def load_json_artifact(client: MlflowClient, run_id: str, name: str):
    """A JSON artifact of a run, or None when the run has none."""
    import json
    with tempfile.TemporaryDirectory() as tmp, _no_progress_bars():
        try:
            path = client.download_artifacts(run_id, name, tmp)
            with open(path, encoding="utf-8") as f:
                return json.load(f)
        except (MlflowException, OSError, ValueError):
            return None


def load_per_image(sweep: Sweep) -> pd.DataFrame:
    """label, run_id, seed, image and every per-image metric of the last evaluation of each
    finished trial (its eval/per_image.json)."""
    rows = []
    for rid, label in zip(sweep.finished["run_id"], sweep.finished["group_label"]):
        data = load_json_artifact(sweep.client, rid, schema.PER_IMAGE) or []
        last = max((r.get("step", 0) for r in data), default=None)
        rows += [{**r, "label": label, "run_id": rid} for r in data
                 if r.get("step") == last and "image" in r]
    frame = pd.DataFrame(rows)
    for col in ("label", "run_id", "seed", "image", "gain_db"):
        if col not in frame:
            frame[col] = pd.Series(dtype=object)
    return frame
