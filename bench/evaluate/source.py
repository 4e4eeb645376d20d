"""Which model `python -m bench.evaluate` evaluates: a checkpoint file (ours or an official
IRN .pth), a sweep's trial folder (Ray results: TRIAL/checkpoint_*/trainer.pt), or an MLflow
trial run, found through its sweep's results folder (tag irn.storage of the parent run)."""
import glob
import json
import math
import os

from bench.common.cli import UsageError
from irn.checkpoint import load_model
from dashboards import schema

# Literal copies of bench.sweep.command.STATE_FILE and bench.sweep.trainable.STATE (importing those modules
# would import Ray): the sweep's saved settings (objective, mode), a trial checkpoint's file.
SWEEP_STATE = "irn_sweep.json"
TRIAL_STATE = "trainer.pt"


def trial_checkpoint(trial_dir: str) -> str | None:
    """The newest trainer.pt of one trial folder, or None."""
    found = sorted(glob.glob(os.path.join(trial_dir, "checkpoint_*", TRIAL_STATE)))
    return found[-1] if found else None


def _last_result(trial_dir: str) -> dict:
    try:
        with open(os.path.join(trial_dir, "result.json"), encoding="utf-8") as f:
            lines = [line for line in f if line.strip()]
        return json.loads(lines[-1]) if lines else {}
    except (OSError, ValueError):
        return {}


def sweep_checkpoint(sweep_dir: str, best: bool) -> tuple[str, dict]:
    """(checkpoint path, {"trial", "metric", "value"}) of a sweep folder's only trial, or of
    its best trial by the sweep's objective with --best."""
    if not os.path.isdir(sweep_dir):
        raise UsageError(f"sweep folder does not exist: {sweep_dir}")
    trials = {os.path.basename(d): c for d in sorted(glob.glob(os.path.join(sweep_dir, "*")))
              if os.path.isdir(d) and (c := trial_checkpoint(d))}
    if not trials:
        raise UsageError(f"no trial checkpoints (TRIAL/checkpoint_*/trainer.pt) in {sweep_dir}")
    if len(trials) > 1 and not best:
        raise UsageError(f"{sweep_dir} has {len(trials)} trials: pass --best, or --checkpoint "
                         "one of them")
    metric, mode = "gain_db", "max"
    state = os.path.join(sweep_dir, SWEEP_STATE)
    if os.path.isfile(state):
        with open(state, encoding="utf-8") as f:
            tune = json.load(f).get("tune", {})
        metric, mode = tune.get("metric", metric), tune.get("mode", mode)
    sign = 1 if mode == "max" else -1

    def score(trial):
        value = _last_result(os.path.join(sweep_dir, trial)).get(metric)
        ok = isinstance(value, (int, float)) and math.isfinite(value)
        return sign * value if ok else -math.inf

    trial = max(trials, key=score)
    value = _last_result(os.path.join(sweep_dir, trial)).get(metric)
    return trials[trial], {"trial": trial, "metric": metric, "value": value}


def run_checkpoint(run_id: str, tracking_uri: str) -> tuple[str, dict]:
    """(checkpoint path, info) of an MLflow trial run of a bench.sweep."""
    from mlflow.exceptions import MlflowException
    from mlflow.tracking import MlflowClient
    client = MlflowClient(tracking_uri)
    try:
        run = client.get_run(run_id)
    except MlflowException:
        raise UsageError(f"no MLflow run {run_id} in {tracking_uri}") from None
    tags = run.data.tags
    parent, trial = tags.get("mlflow.parentRunId"), tags.get(schema.TRIAL_ID)
    if not (parent and trial):
        raise UsageError(f"run {run_id} is not a sweep trial (role {tags.get(schema.ROLE)}) and "
                         "has no checkpoint: evaluate the file `bench.train --save` wrote "
                         "with --checkpoint")
    storage = client.get_run(parent).data.tags.get("irn.storage", "")
    path = trial_checkpoint(os.path.join(storage, trial))
    if path is None:
        raise UsageError(f"run {run_id}: no checkpoint in {os.path.join(storage, trial)}")
    return path, {"trial": trial, "run_id": run_id}


def _trained_by(path: str) -> dict:
    """{"run_id"} of the MLflow run that trained a `bench.train --save` checkpoint, if any."""
    from irn.official import load_torch_file
    try:
        obj = load_torch_file(path)
    except Exception:  # noqa: BLE001 - load_model reports a bad file in its own words
        return {}
    run_id = obj.get("mlflow_run_id") if isinstance(obj, dict) else None
    return {"run_id": run_id} if run_id else {}


def resolve_model(args):
    """(model, description dict) from --checkpoint / --sweep / --run."""
    info = {}
    if args.checkpoint:
        path = args.checkpoint
        info = _trained_by(path)
    elif args.sweep:
        path, info = sweep_checkpoint(args.sweep, args.best)
    else:
        from bench.common.tracking import default_tracking_uri
        path, info = run_checkpoint(args.run, args.tracking_uri or default_tracking_uri())
    model = load_model(path, scale=args.scale).eval()
    return model, {"checkpoint": os.path.abspath(path), **info}
