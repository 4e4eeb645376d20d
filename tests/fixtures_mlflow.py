"""A small, realistic MLflow store for the dashboard tests, in the layout bench.sweep writes.

One experiment, one sweep parent run (irn.role=sweep) and child trials (irn.role=trial) whose
params are every config key as strings, whose metrics have step histories, and whose artifacts
include the LR / reconstruction crops as PNGs. One trial FAILED with an irn.error line.
`make_store` can leave out the JPEG, profiling and throughput metrics to exercise the
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

EXPERIMENT = "irn-test-sweep"
QFS = (30, 50, 70, 90)

# The config keys every trial logs (strings, as MLflow stores them); TRIALS override some.
BASE = dict(scale="2", coupling="enhanced", blocks="2", subnet="dense", gc="8",
            multiscale_depth="0", split_ratio="0.5", loss_recon="charbonnier", loss_guide="l2",
            lambda_recon="1.0", lambda_guide="None", lambda_distr="1.0", z_train="zero",
            z_eval="zero", temperature="1.0", jpeg_train="off", jpeg_quality="75",
            jpeg_clean_weight="0.0", jpeg_eval="30,50,70,90", lr="0.0005", weight_decay="1e-05",
            batch_size="4", patch_size="32", steps="8", warmup="0", schedule="cosine",
            grad_clip="10.0", seed="0", eval_every="4", amp="off", channels_last="False",
            compile="False", loader="memory", data="embedded", workers="0", profile="True")
TRIALS = [
    dict(coupling="enhanced", loss_recon="charbonnier", lambda_guide="None", jpeg_train="off"),
    dict(coupling="enhanced", loss_recon="l1", lambda_guide="1.0", jpeg_train="diff"),
    dict(coupling="affine", loss_recon="charbonnier", lambda_guide="0.25", jpeg_train="off",
         batch_size="2"),
    dict(coupling="additive", loss_recon="l1", lambda_guide="0.0", jpeg_train="ste"),
    dict(coupling="enhanced", loss_recon="charbonnier", lambda_guide="16.0", jpeg_train="ste",
         lr="0.001"),
    dict(coupling="affine", loss_recon="l1", lambda_guide="4.0", jpeg_train="diff",
         batch_size="2"),
]
FAILED = dict(coupling="additive", loss_recon="charbonnier", lambda_guide="1.0",
              jpeg_train="off", lr="0.01")
FAILED_ERROR = "RuntimeError: loss became NaN at step 3 (lr=0.01)"
PARAMS = {"enhanced": 40_000, "affine": 30_000, "additive": 20_000}


def _png(array: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(np.clip(array, 0, 255).astype(np.uint8)).save(buf, format="PNG")
    return buf.getvalue()


def _crops(guide: float, seed: int) -> dict[str, bytes]:
    """GT 32x32 and 16x16 LR crops; a weaker guide weight puts more 'hidden' texture in the LR."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:32, 0:32]
    gt = np.stack([xx * 8, yy * 8, (xx + yy) * 4], -1).astype(float)
    bicubic = gt.reshape(16, 2, 16, 2, 3).mean((1, 3))
    hidden = rng.normal(0, 60 / (1 + guide), bicubic.shape)
    return {"gt.png": _png(gt), "lr_bicubic.png": _png(bicubic),
            "lr.png": _png(bicubic + hidden), "recon.png": _png(gt + rng.normal(0, 4, gt.shape))}


def _metrics(i: int, cfg: dict, t0_ms: int, jpeg: bool, profiled: bool, throughput: bool):
    """Step histories: losses every step, evaluation metrics every eval_every steps."""
    steps, every = int(cfg["steps"]), int(cfg["eval_every"])
    quality = 30.0 + i * 0.7 - (0.8 if cfg["coupling"] == "additive" else 0.0)
    out = []

    def add(key, value, step, wall):
        out.append(Metric(key, float(value), t0_ms + int(wall * 1000), step))

    for step in range(1, steps + 1):
        wall = step * (0.4 + 0.1 * i)
        decay = np.exp(-step / 4)
        add("loss/recon", 0.2 * decay + 0.01 * i, step, wall)
        add("loss/guide", 0.1 * decay, step, wall)
        add("loss/distr", 0.05 * decay + 0.001, step, wall)
        add("loss/total", 0.35 * decay + 0.01 * i + 0.001, step, wall)
        add("time/wall", wall, step, wall)
        if step % every:
            continue
        q = quality - 2.0 * (steps - step) / steps
        add("lr", float(cfg["lr"]) * 0.5 * (1 + np.cos(np.pi * step / steps)) + 1e-6, step, wall)
        add("psnr_y", q, step, wall)
        add("ssim_y", 0.85 + 0.01 * i, step, wall)
        add("psnr_rgb", q - 1.5, step, wall)
        add("psnr_y_std", 0.05, step, wall)
        add("psnr_y_zero", q + 0.1, step, wall)
        add("lr_psnr_y", 38.0 - i, step, wall)
        add("bicubic_psnr_y", 28.5, step, wall)
        add("bicubic_ssim_y", 0.80, step, wall)
        add("sr_psnr_y", 27.0 + 0.2 * i, step, wall)
        add("time/data", 0.02 + 0.01 * (i % 3), step, wall)
        add("time/compute", 0.3 + 0.05 * i, step, wall)
        add("data_fraction", (0.02 + 0.01 * (i % 3)) / (0.32 + 0.05 * i + 0.01 * (i % 3)),
            step, wall)
        add("params", PARAMS[cfg["coupling"]], step, wall)
        if throughput:
            add("throughput_mps", 0.05 - 0.004 * i + (0.02 if cfg["coupling"] == "additive"
                                                     else 0.0), step, wall)
        if profiled:
            for key, share in (("forward", 0.3), ("reverse", 0.3), ("backward", 0.3),
                               ("optimizer", 0.07), ("h2d", 0.03)):
                add(f"time/{key}", share * (0.3 + 0.05 * i), step, wall)
        if jpeg:
            robust = 0.0 if cfg["jpeg_train"] == "off" else 2.0
            for qf in QFS:
                drop = (100 - qf) / 10
                add(f"jpeg{qf}_psnr_y", q - drop * (2.0 - robust / 2) - 1.0, step, wall)
                add(f"jpeg{qf}_ssim_y", 0.8 - drop * 0.02, step, wall)
                add(f"bicubic_jpeg{qf}_psnr_y", 28.5 - drop * 0.8, step, wall)
                add(f"bicubic_jpeg{qf}_ssim_y", 0.78 - drop * 0.02, step, wall)
    return out


def _log(client: MlflowClient, run_id: str, *, params=None, tags=None, metrics=()):
    metrics = list(metrics)
    client.log_batch(run_id, params=[Param(k, v) for k, v in (params or {}).items()],
                     tags=[RunTag(k, v) for k, v in (tags or {}).items()])
    for start in range(0, len(metrics), 900):  # log_batch takes at most 1000 metrics
        client.log_batch(run_id, metrics=metrics[start:start + 900])


def _log_crops(client: MlflowClient, run_id: str, crops: dict, tmp: Path):
    folder = tmp / f"crops-{run_id}" / "crops"
    folder.mkdir(parents=True)
    for name, data in crops.items():
        (folder / name).write_bytes(data)
    client.log_artifacts(run_id, str(folder), artifact_path="crops")
    shutil.rmtree(folder.parent)


def add_sweep(uri: str, experiment: str, trials: list[dict], *, start_ms: int, jpeg=True,
              profiled=True, throughput=True, timing=True, crops=True, failed=None) -> str:
    """A sweep parent and its trials (configs over BASE); `failed`: one more config that fails.
    Returns the parent run id."""
    client = MlflowClient(tracking_uri=uri)
    exp_id = client.get_experiment_by_name(experiment).experiment_id
    parent = client.create_run(exp_id, start_time=start_ms, run_name="sweep-test", tags={
        "irn.role": "sweep", "irn.space": "search_spaces/test.py", "irn.budget": "smoke",
        "irn.git_commit": "abc1234", "irn.host": "testhost", "irn.gpu": "none",
        "irn.objective": "psnr_y", "irn.mode": "max"}).info.run_id
    configs = [{**BASE, **t} for t in trials] + ([{**BASE, **failed}] if failed else [])
    for i, cfg in enumerate(configs):
        is_failed = failed is not None and i == len(trials)
        start = start_ms + 60_000 * (i + 1)
        rid = client.create_run(exp_id, start_time=start, run_name=f"trial_{i:05d}", tags={
            "mlflow.parentRunId": parent, "irn.role": "trial", "irn.trial_id": f"t{i:05d}",
            "irn.status": "FAILED" if is_failed else "FINISHED",
            **({"irn.error": FAILED_ERROR} if is_failed else {})}).info.run_id
        if is_failed:
            _log(client, rid, params=cfg, metrics=[Metric("loss/total", 0.9, start + 500, 1),
                                                   Metric("time/wall", 0.5, start + 500, 1)])
            client.set_terminated(rid, status="FAILED", end_time=start + 1000)
            continue
        metrics = _metrics(i, cfg, start, jpeg, profiled, throughput)
        if not timing:
            metrics = [m for m in metrics if m.key not in ("time/data", "time/compute")]
        _log(client, rid, params=cfg, metrics=metrics)
        if crops:
            guide = 4.0 if cfg["lambda_guide"] == "None" else float(cfg["lambda_guide"])
            _log_crops(client, rid, _crops(guide, i), Path(uri[len("sqlite:///"):]).parent)
        client.set_terminated(rid, status="FINISHED", end_time=start + 10_000)
    client.log_text(parent, json.dumps({"trials": len(configs)}), "summary.json")
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
    """The full sweep (TRIALS plus one FAILED trial, every metric and crop) under root;
    returns (tracking_uri, experiment name, parent run id)."""
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
                            tags={"irn.role": "single"}).info.run_id
    _log(client, rid, params=cfg, metrics=_metrics(i, cfg, start, False, False, False))
    client.set_terminated(rid, status="FINISHED", end_time=start + 5000)
    return rid


def add_empty_sweep(uri: str, experiment: str) -> str:
    """A new experiment whose only sweep has no finished trial; returns the parent run id."""
    client = MlflowClient(tracking_uri=uri)
    exp_id = new_experiment(uri, experiment)
    parent = client.create_run(exp_id, tags={"irn.role": "sweep", "irn.objective": "psnr_y"})
    child = client.create_run(exp_id, tags={"mlflow.parentRunId": parent.info.run_id,
                                            "irn.role": "trial", "irn.status": "FAILED",
                                            "irn.error": FAILED_ERROR})
    client.set_terminated(child.info.run_id, status="FAILED")
    client.set_terminated(parent.info.run_id, status="FINISHED")
    return parent.info.run_id
