"""A small, realistic MLflow store for the dashboard tests, in the layout bench.sweep writes
(bench/common/tracking.py's docstring): what the producers log, and nothing they do not.

One experiment, one sweep parent run (irn.role=sweep, artifact summary.json with the group
statistics from irn.stats.compare and the overhead figures) and child trials (irn.role=trial,
named LABEL|sSEED, tags irn.group / irn.group_label / irn.replicate / irn.seed) whose params
are every config key as strings. Each configuration of TRIALS runs with every seed of SEEDS.
Metrics as bench.common.tracking.report_points logs them: loss/* every log_every steps, evaluation
metrics, time/* and schedule/lr at every report, model/params and bicubic_* once, no `step`.
Artifacts: eval/per_image.json and crops/<image>/<kind>.png. One trial FAILED with an
irn.error line. `make_store` can leave out the JPEG, timing and crop data to exercise the
"section left out" paths, and `add_single_run` adds an irn.role=single run.
"""
import io
import json
import shutil
import time
from pathlib import Path

import numpy as np
from mlflow.entities import Metric, Param, RunTag
from mlflow.tracking import MlflowClient
from PIL import Image

from irn.stats.compare import compare_groups
from dashboards import schema

EXPERIMENT = "irn-test-sweep"
QFS = (30, 50, 70, 90)
SEEDS = (0, 1)
IMAGES = ("astronaut@0,0", "astronaut@0,32", "chelsea@0,0", "chelsea@0,32")
CROP_IMAGES = ("astronaut", "chelsea")
CROP_KINDS = ("gt", "lr", "lr_bicubic", "bicubic_up", "recon")

# The config keys every trial logs (strings, as MLflow stores them); TRIALS override some.
BASE = dict(scale="2", coupling="enhanced", blocks="2", subnet="dense", gc="8",
            multiscale_depth="0", split_ratio="0.5", loss_recon="charbonnier", loss_guide="l2",
            lambda_recon="1.0", lambda_guide="None", lambda_distr="1.0", z_train="zero",
            z_eval="zero", temperature="1.0", jpeg_train="off", jpeg_quality="75",
            jpeg_clean_weight="0.0", jpeg_eval="30,50,70,90", lr="0.0005", weight_decay="1e-05",
            batch_size="4", patch_size="32", steps="40", warmup="0", schedule="cosine",
            grad_clip="10.0", seed="0", eval_every="20", log_every="2", amp="off",
            channels_last="False", compile="False", loader="memory", data="embedded",
            workers="0", profile="False")
TRIALS = [
    dict(coupling="enhanced", loss_recon="charbonnier", lambda_guide="None", jpeg_train="off"),
    dict(coupling="enhanced", loss_recon="l1", lambda_guide="1.0", jpeg_train="diff"),
    dict(coupling="affine", loss_recon="charbonnier", lambda_guide="0.25", jpeg_train="off",
         batch_size="2"),
    dict(coupling="additive", loss_recon="l1", lambda_guide="0.0", jpeg_train="ste",
         loss_guide="l1"),
    dict(coupling="enhanced", loss_recon="charbonnier", lambda_guide="16.0", jpeg_train="ste",
         lr="0.001"),
    dict(coupling="affine", loss_recon="l1", lambda_guide="4.0", jpeg_train="diff",
         batch_size="2", loss_guide="l1"),
]
SEARCHED = ["coupling", "loss_recon", "lambda_guide", "jpeg_train", "lr", "batch_size",
            "loss_guide"]
FAILED = dict(coupling="additive", loss_recon="charbonnier", lambda_guide="1.0",
              jpeg_train="off", lr="0.01")
FAILED_ERROR = "RuntimeError: loss became NaN at step 3 (lr=0.01)"
PARAMS = {"enhanced": 40_000, "affine": 30_000, "additive": 20_000}
# seconds per step: additive is clearly cheaper; enhanced and affine differ by noise only
STEP_S = {"enhanced": 1.0, "affine": 1.0, "additive": 0.5}


def label_of(cfg: dict) -> str:
    return "|".join(cfg[k] for k in SEARCHED)


def _png(array: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(np.clip(array, 0, 255).astype(np.uint8)).save(buf, format="PNG")
    return buf.getvalue()


def _crops(guide: float, seed: int) -> dict[str, dict[str, bytes]]:
    """Per image: GT 32x32 and the other kinds; a weaker guide weight puts more 'hidden'
    texture in the LR; the reconstruction is closer to the GT than bicubic is."""
    rng = np.random.default_rng(seed)
    out = {}
    for j, image in enumerate(CROP_IMAGES):
        yy, xx = np.mgrid[0:32, 0:32]
        gt = np.stack([xx * 8, yy * 8, (xx + yy) * 4 + 40 * j], -1).astype(float)
        lr_bicubic = gt.reshape(16, 2, 16, 2, 3).mean((1, 3)).repeat(2, 0).repeat(2, 1)
        hidden = rng.normal(0, 60 / (1 + guide), lr_bicubic.shape)
        out[image] = {"gt": _png(gt), "lr_bicubic": _png(lr_bicubic),
                      "lr": _png(lr_bicubic + hidden),
                      "bicubic_up": _png(gt + rng.normal(0, 8, gt.shape)),
                      "recon": _png(gt + rng.normal(0, 3, gt.shape))}
    return out


def _per_image(c: int, seed: int, cfg: dict, step: int, steps: int, jpeg: bool) -> list[dict]:
    """Rows as irn.train logs them: image, seed, step and every per-image metric."""
    rng = np.random.default_rng(100 * c + seed + step)
    quality = 30.0 + c * 0.7 - (0.8 if cfg["coupling"] == "additive" else 0.0)
    quality -= 2.0 * (steps - step) / steps
    rows = []
    for j, image in enumerate(IMAGES):
        bicubic = 28.5 + 0.4 * j
        q = quality + 0.4 * j + rng.normal(0, 0.05)
        row = {"image": image, "seed": seed, "step": step, "psnr_y": q,
               "gain_db": q - bicubic, "ssim_y": 0.85 + 0.01 * c, "psnr_rgb": q - 1.5,
               "lr_psnr_y": 38.0 - c, "bicubic_psnr_y": bicubic, "bicubic_ssim_y": 0.80,
               "sr_psnr_y": 27.0 + 0.2 * c}
        robust = 0.0 if cfg["jpeg_train"] == "off" else 2.0
        for qf in QFS if jpeg else ():
            drop = (100 - qf) / 10
            row[f"jpeg{qf}_psnr_y"] = q - drop * (2.0 - robust / 2) - 1.0 + rng.normal(0, 0.05)
            row[f"jpeg{qf}_ssim_y"] = 0.8 - drop * 0.02
            row[f"bicubic_jpeg{qf}_psnr_y"] = bicubic - drop * 0.8
            row[f"bicubic_jpeg{qf}_ssim_y"] = 0.78 - drop * 0.02
        rows.append(row)
    return rows


def _metrics(c: int, seed: int, cfg: dict, t0_ms: int, jpeg: bool, timing: bool):
    """(metrics, per-image rows of every evaluation, wall time of the trial)."""
    steps, every, log_every = int(cfg["steps"]), int(cfg["eval_every"]), int(cfg["log_every"])
    rng = np.random.default_rng(10 * c + seed)
    step_s = STEP_S[cfg["coupling"]] * (1 + rng.normal(0, 0.01))
    guide_scale = 40.0 if cfg["loss_guide"] == "l1" else 0.7
    out, rows = [], []

    def add(key, value, step, wall):
        out.append(Metric(key, float(value), t0_ms + int(wall * 1000), step))

    for step in range(log_every, steps + 1, log_every):
        wall = step * step_s
        decay = np.exp(-step / 10) + 0.02 * rng.normal()
        add("loss/recon", 0.2 * decay + 0.01 * c + 0.02, step, wall)
        add("loss/guide", guide_scale * (0.3 + decay), step, wall)
        add("loss/distr", 0.05 * decay + 0.06, step, wall)
        add("loss/total", 0.25 * decay + 0.01 * c + guide_scale * (0.3 + decay) + 0.1, step, wall)
    for step in range(every, steps + 1, every):
        wall = step * step_s + 2.0  # + evaluation
        first = step == every
        evaluation = _per_image(c, seed, cfg, step, steps, jpeg)
        rows += evaluation
        add("time/wall", wall, step, wall)
        add("schedule/lr", float(cfg["lr"]) * 0.5 * (1 + np.cos(np.pi * step / steps)), step,
            wall)
        for key in evaluation[0]:
            if key in ("image", "seed", "step"):
                continue
            if key.startswith("bicubic_") and not first:
                continue  # constants: logged once, at the first report
            add(key, np.mean([r[key] for r in evaluation]), step, wall)
        if first:
            add("model/params", PARAMS[cfg["coupling"]], step, wall)
        if timing:
            add("time/data", 0.02 * step_s, step, wall)
            add("time/compute", 0.98 * step_s, step, wall)
            add("data_fraction", 0.02, step, wall)
        add("time/eval", 2.0, step, wall)
        add("time/train_wall", step * step_s, step, wall)
    return out, rows, steps * step_s + 2.0 * (steps // every)


def _log(client: MlflowClient, run_id: str, *, params=None, tags=None, metrics=()):
    metrics = list(metrics)
    client.log_batch(run_id, params=[Param(k, v) for k, v in (params or {}).items()],
                     tags=[RunTag(k, v) for k, v in (tags or {}).items()])
    for start in range(0, len(metrics), 900):  # log_batch takes at most 1000 metrics
        client.log_batch(run_id, metrics=metrics[start:start + 900])


def _log_crops(client: MlflowClient, run_id: str, crops: dict, tmp: Path):
    for image, kinds in crops.items():
        folder = tmp / f"crops-{run_id}" / image
        folder.mkdir(parents=True)
        for kind, data in kinds.items():
            (folder / f"{kind}.png").write_bytes(data)
        client.log_artifacts(run_id, str(folder), artifact_path=f"crops/{image}")
    shutil.rmtree(tmp / f"crops-{run_id}")


def add_sweep(uri: str, experiment: str, trials: list[dict], *, start_ms: int, jpeg=True,
              timing=True, crops=True, failed=None, seeds=SEEDS) -> str:
    """A sweep parent and its trials (configs over BASE, each with every seed); `failed`:
    one more config that fails. Returns the parent run id."""
    client = MlflowClient(tracking_uri=uri)
    exp_id = client.get_experiment_by_name(experiment).experiment_id
    parent = client.create_run(exp_id, start_time=start_ms, run_name="test", tags={
        schema.ROLE: schema.ROLE_SWEEP, schema.SPACE: "search_spaces/test.py", schema.BUDGET: "smoke",
        schema.GIT_COMMIT: "abc1234", schema.HOST: "testhost", schema.GPU: "none",
        schema.OBJECTIVE: "psnr_y", schema.MODE: "max"}).info.run_id
    configs = [(c, s, {**BASE, **t, "seed": str(s)}) for c, t in enumerate(trials)
               for s in seeds]
    if failed:
        configs.append((len(trials), 0, {**BASE, **failed}))
    summary_trials, stats_trials = [], []
    for i, (c, seed, cfg) in enumerate(configs):
        is_failed = failed is not None and c == len(trials)
        start = start_ms + 60_000 * (i + 1)
        label = label_of(cfg)
        rid = client.create_run(exp_id, start_time=start, run_name=f"{label}|s{seed}", tags={
            "mlflow.parentRunId": parent, schema.ROLE: schema.ROLE_TRIAL, schema.TRIAL_ID: f"t{i:05d}",
            schema.GROUP: f"g{c}", schema.GROUP_LABEL: label, "irn.replicate": str(seed),
            "irn.seed": str(seed), schema.STATUS: "FAILED" if is_failed else "FINISHED",
            **({schema.ERROR: FAILED_ERROR} if is_failed else {})}).info.run_id
        row = {"trial_id": f"t{i:05d}", "group": f"g{c}", "label": label, "seed": seed,
               "replicate": seed, "config": {k: cfg[k] for k in SEARCHED},
               "mlflow_run_id": rid}
        if is_failed:
            _log(client, rid, params=cfg, metrics=[Metric("loss/total", 0.9, start + 500, 1),
                                                   Metric("time/wall", 0.5, start + 500, 1)])
            client.set_terminated(rid, status="FAILED", end_time=start + 1000)
            summary_trials.append({**row, "status": "FAILED", "error": FAILED_ERROR,
                                   "time_wall_s": 0.5, "metrics": {}})
            continue
        metrics, rows, wall = _metrics(c, seed, cfg, start, jpeg, timing)
        _log(client, rid, params=cfg, metrics=metrics)
        client.log_text(rid, json.dumps(rows), schema.PER_IMAGE)
        if crops:
            guide = 4.0 if cfg["lambda_guide"] == "None" else float(cfg["lambda_guide"])
            _log_crops(client, rid, _crops(guide, i), Path(uri[len("sqlite:///"):]).parent)
        client.set_terminated(rid, status="FINISHED", end_time=start + int(wall * 1000))
        last = max(r["step"] for r in rows)
        summary_trials.append({**row, "status": "FINISHED", "time_wall_s": wall,
                               "metrics": {m.key: m.value for m in metrics}})
        stats_trials.append({**row, "status": "FINISHED",
                             "per_image": [r for r in rows if r["step"] == last]})
    comparison = compare_groups(stats_trials, "psnr_y", "max") if stats_trials else {
        "groups": [], "sentence": "no finished trial: nothing to compare"}
    train_s = sum(t["metrics"].get("time/train_wall", 0) for t in summary_trials)
    eval_s = sum(2.0 * 2 for t in summary_trials if t["status"] == "FINISHED")
    wall_s = 1.3 * (train_s + eval_s) / 2 + 30
    summary = {"space": "search_spaces/test.py", "objective": "psnr_y", "mode": "max",
               "searched": SEARCHED, "seeds": len(seeds), "trials": summary_trials,
               "groups": comparison["groups"],
               "comparison": {k: v for k, v in comparison.items() if k != "groups"},
               "overhead": {"wall_s": wall_s, "time_to_first_metric_s": 30.0, "slots": 2,
                            "train_s": train_s, "eval_s": eval_s,
                            "non_training_share": 1 - train_s / (wall_s * 2),
                            "non_trial_share": 1 - (train_s + eval_s) / (wall_s * 2)}}
    if comparison["groups"]:  # as bench.sweep stores it for the report
        from bench.sweep.group_table import stored
        summary["group_table"] = stored(summary)
    client.log_text(parent, json.dumps(summary), schema.SUMMARY)
    client.set_terminated(parent, status="FINISHED", end_time=start_ms + 600_000)
    return parent


def new_store(root: Path, experiment: str = EXPERIMENT) -> str:
    """An empty SQLite store with one experiment; returns the tracking URI."""
    root.mkdir(parents=True, exist_ok=True)
    uri = f"sqlite:///{root / 'mlflow.db'}"
    new_experiment(uri, experiment)
    return uri


def new_experiment(uri: str, name: str) -> str:
    """An experiment whose artifacts live beside the SQLite file (not in ./mlruns)."""
    root = Path(uri[len("sqlite:///"):]).parent
    return MlflowClient(tracking_uri=uri).create_experiment(
        name, artifact_location=(root / "artifacts" / name).as_uri())


def make_store(root: Path, experiment: str = EXPERIMENT, **options) -> tuple[str, str, str]:
    """The full sweep (TRIALS x SEEDS plus one FAILED trial, every metric and crop) under
    root; returns (tracking_uri, experiment name, parent run id)."""
    uri = new_store(root, experiment)
    options.setdefault("failed", FAILED)
    parent = add_sweep(uri, experiment, TRIALS, start_ms=int(time.time() * 1000) - 3_600_000,
                       **options)
    return uri, experiment, parent


_CACHE = {}


def cached_store(tmp_path_factory, **options) -> tuple[str, str, str]:
    """make_store, built once per test session (a fresh SQLite store costs seconds)."""
    key = tuple(sorted(options.items()))
    if key not in _CACHE:
        _CACHE[key] = make_store(tmp_path_factory.mktemp("mlflow"), **options)
    return _CACHE[key]


def add_single_run(uri: str, experiment: str, i: int = 0, **config) -> str:
    """A bench.train run (irn.role=single, no parent) in an existing experiment."""
    client = MlflowClient(tracking_uri=uri)
    exp_id = client.get_experiment_by_name(experiment).experiment_id
    start = int(time.time() * 1000) + i * 60_000
    cfg = {**BASE, **config}
    rid = client.create_run(exp_id, start_time=start, run_name=f"single_{i}",
                            tags={schema.ROLE: schema.ROLE_SINGLE}).info.run_id
    _log(client, rid, params=cfg, metrics=_metrics(i, 0, cfg, start, False, True)[0])
    client.set_terminated(rid, status="FINISHED", end_time=start + 5000)
    return rid


def add_empty_sweep(uri: str, experiment: str) -> str:
    """A new experiment whose only sweep has no finished trial; returns the parent run id."""
    client = MlflowClient(tracking_uri=uri)
    exp_id = new_experiment(uri, experiment)
    parent = client.create_run(exp_id, tags={schema.ROLE: schema.ROLE_SWEEP, schema.OBJECTIVE: "psnr_y"})
    child = client.create_run(exp_id, tags={"mlflow.parentRunId": parent.info.run_id,
                                            schema.ROLE: schema.ROLE_TRIAL, schema.STATUS: "FAILED",
                                            schema.ERROR: FAILED_ERROR})
    client.set_terminated(child.info.run_id, status="FAILED")
    client.set_terminated(parent.info.run_id, status="FINISHED")
    return parent.info.run_id
