"""The Ray Tune trainable: one trial = one Trainer run, one report per evaluation interval.

Runs inside a Ray worker. Only ray.tune.report / get_checkpoint / get_context / Checkpoint
are used here (ray.train's versions raise inside Tune). Trials chdir into their trial
folder, so every path it gets is absolute.

Each report carries a checkpoint holding the exact trainer state (irn.train: resuming
continues the loss curve exactly), the trial's wall time so far, the trial's torch.profiler
trace when it was profiled (bench/sweep/trial_profile.py), and the trial process's CPU,
memory (and GPU) figures since the last report as MLflow system metrics
(bench.common.telemetry.system_metrics), so a trial restarted after a failure, or a sweep
resumed after an interruption, continues where it stopped.

The visual crops of the current model (what the driver logs when a trial completes, from its
last checkpoint) go only into a checkpoint that can be the trial's last: the final step's,
and every report's when the scheduler may stop a trial early (`stops_early`, ASHA). They cost
about 1 s a report on a CPU (the model on two 160-px regions, PNG encoding), which was 5% of
the main job's slot time at six reports a trial.

A diverging trial (NaN/inf loss) is a result, not a crash: retrying it from its checkpoint
would diverge again. It reports one last result with `error` set (and the objective NaN)
and ends; the driver marks it FAILED with that reason.
"""
import json
import os
import tempfile
import time

import torch
from ray import tune

from bench.sweep.replicates import trial_config
from bench.common.telemetry import Telemetry, system_metrics
from bench.sweep.trial_profile import PROFILE_DIR, TrialProfiler, copy_profile
from bench.sweep.levels import key_of
from irn.crops import save_crops, visual_crops
from irn.levels import compose, level_weights_of, level_config
from irn.objective import NonFiniteLossError
from irn.train import Trainer, validation_set

STATE = "trainer.pt"
WALL = "wall.json"
CROPS_DIR = "crops"


def train_trial(config: dict, *, base: dict, metric: str, threads: int,
                train_images=None, val_raw=None, levels=None, stops_early=False) -> None:
    """`config`: the searched keys of this trial (and its replicate index); `base`: defaults +
    budget + fixed values; `train_images` / `val_raw` ((names, images)): decoded once by the
    driver, shared through the object store. A levels cascade (bench/sweep/levels.py): a
    `level` trial trains that level alone; the cascade's own trial composes the levels
    `levels` (bench.sweep.levels.level_map) names and evaluates them."""
    start = time.perf_counter()
    torch.set_num_threads(max(1, threads))
    cfg, _ = trial_config(base, config)
    names, images = val_raw if val_raw is not None else (None, None)
    if cfg.level:
        cfg = level_config(cfg)  # a joint x2 network on the shrunk photos
    val_set = validation_set(cfg, images=images, names=names)
    if cfg.architecture == "levels":
        return compose_trial(cfg, config, levels or {}, metric, start, val_set)
    images = train_images if cfg.loader == "memory" else None
    wall0 = 0.0
    profile_dir = os.path.join(os.getcwd(), PROFILE_DIR)  # trials run in their own folder
    checkpoint = tune.get_checkpoint()
    if checkpoint:
        with checkpoint.as_directory() as d:
            trainer = Trainer.restore(os.path.join(d, STATE), cfg, train_images=images,
                                      val_set=val_set)
            with open(os.path.join(d, WALL), encoding="utf-8") as f:
                wall0 = json.load(f)["wall"]
            copy_profile(os.path.join(d, PROFILE_DIR), profile_dir)
    else:
        trainer = Trainer(cfg, train_images=images, val_set=val_set)
    node = _node_id()
    telemetry = Telemetry(interval=1.0, quiet=True).start()
    profiler = TrialProfiler(profile_dir, trainer.device, cfg.steps) if cfg.profile \
        else None
    try:
        for report in trainer.run(on_step=profiler.step if profiler else None):
            wall = wall0 + time.perf_counter() - start
            with tempfile.TemporaryDirectory() as d:
                _checkpoint(d, trainer, wall, val_set,
                            crops=stops_early or trainer.step >= cfg.steps)
                copy_profile(profile_dir, os.path.join(d, PROFILE_DIR))
                # per_image as JSON text: Tune's loggers skip strings (a list would become
                # a TensorBoard histogram attempt and a CSV column)
                tune.report({**report, "per_image": json.dumps(report["per_image"]),
                             "loss_trace": json.dumps(report["loss_trace"]),
                             **system_metrics(telemetry.take()),
                             "time/wall": wall, "node_id": node},
                            checkpoint=tune.Checkpoint.from_directory(d))
    except NonFiniteLossError as e:
        tune.report({"step": trainer.step, metric: float("nan"), "error": f"diverged: {e}",
                     "time/wall": wall0 + time.perf_counter() - start, "node_id": node})
    finally:
        telemetry.stop()
        if profiler:
            profiler.stop()


def compose_trial(cfg, config: dict, levels: dict, metric: str, start: float, val_set) -> None:
    """A levels cascade's trial: compose its trained levels, evaluate the cascade once (at
    step `steps`: the levels trained steps in all with level_steps=split), report it with a
    checkpoint and crops like a trained trial. Its wall time is the longest level's (they
    ran in parallel) plus this evaluation; `levels/train_wall_sum_s` is their sum."""
    node = _node_id()
    entry = levels.get(key_of(config))
    missing = [k for k, path in sorted((entry or {}).get("checkpoints", {}).items()) if not path]
    if entry is None or missing:
        why = "; ".join(f"level {k}: {entry['errors'].get(k) or 'no checkpoint'}"
                        for k in missing) if entry else "its levels were not trained"
        tune.report({"step": 0, metric: float("nan"), "error": f"cannot compose: {why}",
                     "time/wall": time.perf_counter() - start, "node_id": node})
        return
    paths = [entry["checkpoints"][k] for k in sorted(entry["checkpoints"])]
    trainer = Trainer(cfg, val_set=val_set)
    trainer.model.load_state_dict(compose(cfg, [level_weights_of(p) for p in paths]).state_dict())
    trainer.step = cfg.steps
    report = trainer.evaluation_report()
    walls = [w for w in entry["walls"].values() if w is not None]
    wall = max(walls, default=0.0) + time.perf_counter() - start
    with tempfile.TemporaryDirectory() as d:
        _checkpoint(d, trainer, wall, val_set)
        tune.report({"step": trainer.step, **report,
                     "per_image": json.dumps(report["per_image"]), "loss_trace": "[]",
                     "levels/train_wall_max_s": max(walls, default=0.0),
                     "levels/train_wall_sum_s": sum(walls),
                     "time/wall": wall, "node_id": node},
                    checkpoint=tune.Checkpoint.from_directory(d))


def _checkpoint(d: str, trainer, wall: float, val_set, crops: bool = True) -> None:
    """A report's checkpoint folder: the exact trainer state, the wall time so far and, with
    `crops`, the current model's visual crops."""
    trainer.save(os.path.join(d, STATE))
    with open(os.path.join(d, WALL), "w", encoding="utf-8") as f:
        json.dump({"wall": wall, "step": trainer.step}, f)
    if not crops:
        return
    trainer.model.eval()
    save_crops(visual_crops(trainer.model, val_set, trainer.cfg, device=trainer.device),
               os.path.join(d, CROPS_DIR))
    trainer.model.train()


def _node_id() -> str:
    import ray
    try:
        return ray.get_runtime_context().get_node_id()
    except Exception:  # noqa: BLE001 - informational only
        return "unknown"
