"""Driver-side Tune callbacks of a sweep (MLflow logging, live progress) and its final table.

Everything here runs in the driver process: trials never write to MLflow themselves, so one
SQLite file is written by one process. A child run is keyed by its trial id and found again
after a trial restart or a --resume; reports whose step is already logged are skipped.
"""
import json
import math
import os
import time

from ray import tune
from ray.tune.result import AUTO_RESULT_KEYS

from irn.stats.compare import also_compared, compare_groups
from bench.sweep.curves import curve_fields, fidelity, learning
from bench.common.outbox import PENDING
from bench.sweep.rounds import looks
from bench.sweep.replicates import REPLICATE, group_id, group_label, trial_config
from bench.common.tracking import (Tracker, config_params, host_tags, numbers, one_line,
                            path_tags)
from bench.sweep.trial_profile import PROFILE_DIR, log_profile
from irn.metric_registry import metric_spec
from dashboards import schema

# Ray's own result entries: not logged as metrics (node_id becomes the irn.node tag).
RAY_KEYS = set(AUTO_RESULT_KEYS) | {"done", "trial_id", "experiment_tag", "should_checkpoint",
                                    "node_id", REPLICATE}
PROGRESS_EVERY_S = 30.0


class Hooks(tune.Callback):
    """Fans Tune's callback events out to this process's handlers.

    Tune pickles RunConfig.callbacks into the experiment folder (tuner.pkl) and Tuner.restore
    reuses the pickled objects; so Hooks pickles as a reference to the live instance of the
    current process, and a resumed sweep logs through fresh handlers, not stale copies.
    """
    current = None

    def __init__(self, handlers):
        self.handlers = list(handlers)
        Hooks.current = self

    def __reduce__(self):
        return (_current_hooks, ())


def _current_hooks():
    return Hooks.current


def _forward_to_handlers(name):
    def hook(self, **info):
        for h in self.handlers:
            getattr(h, name)(**info)
    hook.__name__ = name
    return hook


for _name in ("setup", "on_step_begin", "on_step_end", "on_trial_start", "on_trial_restore",
              "on_trial_save", "on_trial_result", "on_trial_complete", "on_trial_recover",
              "on_trial_error", "on_checkpoint", "on_experiment_end"):
    setattr(Hooks, _name, _forward_to_handlers(_name))


def error_line(trial) -> str:
    """The last line of a failed trial's traceback (Tune writes it to error.txt)."""
    path = trial.error_file
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            lines = [ln.strip() for ln in f if ln.strip()]
        return one_line(lines[-1]) if lines else "failed"
    except (OSError, TypeError):
        return "failed (no error file)"


class TrialLog:
    def __init__(self, run_id: str, last_step: int):
        self.run_id, self.last_step, self.restarts = run_id, last_step, 0
        self.ended = False
        self.per_image: list[dict] = []  # every evaluation's rows, logged as eval/per_image.json


def per_image_rows(result: dict) -> list[dict]:
    """The per-image rows of a trial's report (sent as JSON text, see bench.sweep.trainable)."""
    rows = result.get("per_image") or []
    return json.loads(rows) if isinstance(rows, str) else list(rows)


def result_error(result) -> str | None:
    """Why a Tune result failed, in one line (None: it did not): the exception's last line,
    else the `error` a trial reported (a diverged one)."""
    if result.error is not None:
        return one_line(str(result.error).strip().splitlines()[-1])
    return (result.metrics or {}).get("error")


def trial_identity(base: dict, trial_config_: dict, searched: list[str]) -> dict:
    """The group, label, replicate and seed of a trial (bench/sweep/replicates.py)."""
    cfg, replicate = trial_config(base, trial_config_)
    label = group_label(trial_config_, searched)
    level = f"|level{cfg.level}" if cfg.level else ""  # bench/sweep/levels.py
    return {"cfg": cfg, "group": group_id(cfg, replicate), "label": label,
            "replicate": replicate, "seed": cfg.seed, "name": f"{label}|s{cfg.seed}{level}"}


def describe_trial(who: dict) -> str:
    """A child run's description: its group, seed and the main config keys."""
    cfg = who["cfg"]
    return (f"Trial {who['name']}: group `{who['label']}`, replicate {who['replicate']} "
            f"(seed {who['seed']}); scale x{cfg.scale}, {cfg.coupling} coupling, "
            f"{cfg.steps} steps, loss_recon {cfg.loss_recon}, loss_guide {cfg.loss_guide} "
            f"(weight {cfg.guide_weight:g}).")


class SweepLog(tune.Callback):
    """One MLflow child run per trial: params, every report, crops, final status."""

    def __init__(self, tracker: Tracker, parent_id: str, base: dict, metric: str,
                 searched: list[str] = ()):
        self.tracker, self.parent_id, self.base, self.metric = tracker, parent_id, base, metric
        self.searched = list(searched)
        self.trials: dict[str, TrialLog] = {}
        tags = host_tags()
        self.host = {schema.HOST: tags[schema.HOST], schema.GIT_COMMIT: tags[schema.GIT_COMMIT]}
        self.first_trial_at = self.first_result_at = None
        self.train_s = self.eval_s = 0.0
        self.all_trials = []

    def _log(self, trial) -> TrialLog:
        trial_log = self.trials.get(trial.trial_id)
        if trial_log is None:
            who = trial_identity(self.base, trial.config, self.searched)
            run_id, created = self.tracker.trial_run(self.parent_id, trial.trial_id, who["name"], {
                schema.GROUP: who["group"], schema.GROUP_LABEL: who["label"],
                "irn.replicate": who["replicate"], "irn.seed": who["seed"],
                **({schema.ROLE: schema.ROLE_LEVEL, "irn.level": who["cfg"].level}
                   if who["cfg"].level else {})})
            trial_log = self.trials[trial.trial_id] = TrialLog(run_id, -1)
            if created:
                self.tracker.log_params(run_id, config_params(who["cfg"].to_dict()))
                self.tracker.set_tags(run_id, {**self.host, schema.STATUS: "RUNNING",
                                               "mlflow.note.content": describe_trial(who)})
            else:  # a resumed sweep's trial: the same run again, continued
                trial_log.per_image = self.tracker.load_json(run_id, schema.PER_IMAGE, [])
                trial_log.last_step = self.tracker.last_step(run_id)
                trial_log.restarts = int(self.tracker.run_tag(run_id, "irn.restarts", 0))
                self.tracker.reopen(run_id)
                self.tracker.set_tags(run_id, {schema.STATUS: "RUNNING"})
        return trial_log

    def on_trial_start(self, trial, **info):
        if self.first_trial_at is None:  # Tune calls this once the trial's process is set up
            self.first_trial_at = time.time()
        self._log(trial)

    def on_trial_recover(self, trial, **info):
        trial_log = self._log(trial)
        trial_log.restarts += 1
        self.tracker.set_tags(trial_log.run_id, {"irn.restarts": trial_log.restarts,
                                          "irn.last_failure": error_line(trial)})

    def on_trial_result(self, trial, result, **info):
        if self.first_result_at is None:
            self.first_result_at = time.time()
        trial_log = self._log(trial)
        step = result.get("step")
        if step is None or step <= trial_log.last_step:
            return  # already logged (a restarted trial replays nothing; a resume may)
        if "error" not in result:
            n = step - max(trial_log.last_step, 0)
            self.train_s += (result.get("time/data", 0) + result.get("time/compute", 0)) * n
            self.eval_s += result.get("time/eval", 0)
        values = {k: v for k, v in result.items() if k not in RAY_KEYS}
        self.tracker.log_report(trial_log.run_id, values, first=trial_log.last_step < 0)
        rows = per_image_rows(result)
        if rows:
            trial_log.per_image += rows
            self.tracker.log_json(trial_log.run_id, trial_log.per_image, schema.PER_IMAGE)
        if result.get("node_id"):
            self.tracker.set_tags(trial_log.run_id, {"irn.node": result["node_id"],
                                              **path_tags(result)})
        trial_log.last_step = step

    def on_trial_complete(self, trial, **info):
        trial_log = self._log(trial)
        error = trial.last_result.get("error")
        if not error and trial.checkpoint is not None:
            with trial.checkpoint.as_directory() as d:
                self.tracker.log_crop_files(trial_log.run_id, os.path.join(d, "crops"))
                log_profile(self.tracker, trial_log.run_id, os.path.join(d, PROFILE_DIR))
        self.tracker.finish(trial_log.run_id, failed=bool(error), error=error)
        trial_log.ended = True

    def on_trial_error(self, trial, **info):
        trial_log = self._log(trial)
        self.tracker.finish(trial_log.run_id, failed=True, error=error_line(trial))
        trial_log.ended = True

    def close(self) -> None:
        """After an interruption: runs of unfinished trials become KILLED (--resume reopens
        them)."""
        for trial_log in self.trials.values():
            if not trial_log.ended:
                self.tracker.set_tags(trial_log.run_id, {schema.STATUS: "KILLED"})
                self.tracker.set_status(trial_log.run_id, "KILLED")

    def on_step_end(self, trials, **info):
        self.all_trials = trials

    def on_experiment_end(self, trials, **info):
        self.all_trials = trials


class Progress(tune.Callback):
    """Live progress on stderr: starts, each report's objective, ends, and every 30 s the
    running trials with their latest metric."""

    def __init__(self, console, metric: str, searched: list[str]):
        self.console, self.metric, self.searched = console, metric, searched
        self.last_print = time.time()

    def _name(self, trial) -> str:
        shown = [*self.searched, REPLICATE] if REPLICATE in trial.config else self.searched
        cfg = ", ".join(f"{k}={trial.config.get(k)}" for k in shown)
        return f"{trial.trial_id}" + (f" ({cfg})" if cfg else "")

    def on_trial_start(self, trial, **info):
        self.console.print(f"[cyan]start[/] {self._name(trial)}")

    def on_trial_result(self, trial, result, **info):
        if "error" in result:
            return
        value = result.get(self.metric, float("nan"))
        name = _baseline(self.metric)
        # "bicubic" for the metric's bicubic twin, else the baseline's own name (task=stego:
        # secret_floor_psnr_y); nothing when the trial does not report it
        label = "bicubic" if name == f"bicubic_{self.metric}" else name
        beside = f" ({label} {result[name]:.4g})" if name in result else ""
        loss = f", loss {result['loss/total']:.4g}" if "loss/total" in result else \
            " (composed levels: no training here)" if "levels/train_wall_sum_s" in result else ""
        self.console.print(f"  {trial.trial_id} step {result.get('step')}: {self.metric} "
                           f"{value:.4g}{beside}{loss}")

    def on_trial_complete(self, trial, **info):
        error = trial.last_result.get("error")
        if error:
            self.console.print(f"[red]failed[/] {self._name(trial)}: {error}")
        else:
            self.console.print(f"[green]done[/] {self._name(trial)}")

    def on_trial_recover(self, trial, **info):
        self.console.print(f"[yellow]restart[/] {trial.trial_id} from its checkpoint: "
                           f"{error_line(trial)}")

    def on_trial_error(self, trial, **info):
        self.console.print(f"[red]failed[/] {self._name(trial)}: {error_line(trial)}")

    def on_step_end(self, trials, **info):
        if time.time() - self.last_print < PROGRESS_EVERY_S:
            return
        self.last_print = time.time()
        running = [t for t in trials if t.status == "RUNNING"]
        counts = {s: sum(t.status == s for t in trials) for s in ("PENDING", "TERMINATED",
                                                                   "ERROR")}
        now = ", ".join(f"{t.trial_id} step {t.last_result['step']} {self.metric} "
                        f"{t.last_result.get(self.metric, float('nan')):.4g}"
                        if "step" in t.last_result else f"{t.trial_id} starting"
                        for t in running)
        self.console.print(f"[dim]{time.strftime('%H:%M:%S')} running {len(running)}"
                           f"{': ' + now if now else ''}; pending {counts['PENDING']}, "
                           f"done {counts['TERMINATED']}, errored {counts['ERROR']}[/]")


def _baseline(metric: str) -> str:
    """The metric the objective is shown beside (its registry baseline; else bicubic Y-PSNR)."""
    spec = metric_spec(metric)
    return spec.baseline if spec and spec.baseline else "bicubic_psnr_y"


# --------------------------------------------------------------------------- summary

def summarize(plan, results, tracker: Tracker, log: SweepLog, slots: int,
              process_start: float) -> dict:
    """The final table of the sweep `plan` (bench.sweep.command.SweepPlan): every trial, also those
    finished before a --resume, sorted by the objective with failures last, plus the
    overhead figures."""
    metric, mode = plan.tune["metric"], plan.tune["mode"]
    searched = plan.space_obj.searched
    runs = {r.data.tags.get(schema.TRIAL_ID): r
            for r in tracker.find_runs({"mlflow.parentRunId": plan.parent_run_id})}
    tune_trials = {t.trial_id: t for t in log.all_trials}
    rows = []
    for result in results:
        m = dict(result.metrics or {})
        trial_id = m.get("trial_id") or os.path.basename(result.path)
        # an unstarted trial has no result config yet; Tune's trial object has it
        given = result.config or getattr(tune_trials.get(trial_id), "config", None) or {}
        config = {k: given.get(k) for k in searched}
        # the whole trial config (replicate included), as SweepLog saw it: the space's fixed
        # keys make the Config too (a space fixing scale=8 searches depths scale 2 refuses)
        who = trial_identity(plan.base, {**plan.space_obj.fixed(), **config, **given},
                             searched)
        error = result_error(result)
        run = runs.get(trial_id)
        status = "FAILED" if error else _status(run, tune_trials.get(trial_id), m,
                                                who["cfg"].steps)
        row = {"trial_id": trial_id, "status": status, "config": config,
               "group": who["group"], "label": who["label"], "replicate": who["replicate"],
               "seed": who["seed"], "name": who["name"],
               "objective": _num(m.get(metric)), "baseline": _num(m.get(_baseline(metric))),
               "step": m.get("step"), "planned_steps": who["cfg"].steps,
               "node": m.get("node_id"),
               "time_wall_s": _num(m.get("time/wall")),
               "precision": m.get("precision"), "layout": m.get("layout"),
               # the last evaluation's per-image rows: what the statistics and bench.versus pair
               "per_image": per_image_rows(m),
               # the learning curve, and the rows at half the steps (bench/sweep/curves.py)
               **curve_fields(_all_rows(log, tracker, trial_id, run), metric),
               "restarts": int(run.data.tags.get("irn.restarts", 0)) if run else 0,
               "mlflow_run_id": run.info.run_id if run else _logged_id(log, tracker, trial_id),
               "metrics": {k: v for k, v in numbers(m).items() if k not in RAY_KEYS}}
        if error:
            row["error"] = error
        rows.append(row)

    def key(row):
        v = row["objective"]
        bad = row["status"] != "FINISHED" or v is None
        return (bad, 0 if bad else (-v if mode == "max" else v))
    in_grid_order = list(rows)  # the default reference is the first group of the grid
    rows.sort(key=key)
    now = time.time()
    wall = now - process_start
    first = (log.first_result_at - process_start) if log.first_result_at else float("nan")
    overhead = {"wall_s": wall, "time_to_first_metric_s": first, "slots": slots,
                "train_s": log.train_s, "eval_s": log.eval_s,
                "non_training_share": 1 - log.train_s / (wall * slots),
                "non_trial_share": 1 - (log.train_s + log.eval_s) / (wall * slots)}
    # Interrupted: a trial is unfinished, or trials the searcher would still create are missing.
    done = sum(r["status"] != "UNFINISHED" for r in rows)
    interrupted = done < plan.total_trials or any(r["status"] == "UNFINISHED" for r in rows)
    reference = plan.tune.get("reference") or plan.default_reference
    margins = plan.tune.get("margins") or {}
    comparison = compare_groups(in_grid_order, metric, mode, reference, margins=margins,
                                looks=looks(plan.tune))
    return {"space": plan.space, "experiment": plan.experiment, "budget": plan.budget,
            "seeds": plan.tune.get("seeds", 1), "max_seeds": plan.tune.get("max_seeds"),
            "groups": comparison["groups"],
            "comparison": {k: v for k, v in comparison.items() if k != "groups"},
            "tracking_uri": plan.tracking_uri, "parent_run_id": plan.parent_run_id,
            "storage": plan.exp_dir, "objective": metric, "mode": mode,
            "baseline": _baseline(metric), "base_config": {**plan.base, **plan.space_obj.fixed()},
            "searcher": plan.tune["searcher"],
            "scheduler": plan.tune["scheduler"], "searched": searched, "trials": rows,
            "failed": [r["trial_id"] for r in rows if r["status"] == "FAILED"],
            "interrupted": interrupted, "overhead": overhead,
            "also": also_compared(in_grid_order, plan.tune.get("compare", ()), reference,
                                  margins),
            "margins": margins, "grid_order": [r["trial_id"] for r in in_grid_order],
            "learning": learning(in_grid_order, metric, mode, margins),
            "fidelity": fidelity(in_grid_order, plan.tune["fidelity"], searched, metric, mode,
                                 reference, margins) if plan.tune.get("fidelity") else None}


def _logged_id(log: SweepLog, tracker: Tracker, trial_id: str) -> str | None:
    """The trial's MLflow run id as this process logged it (the tracker offline: no search),
    None while MLflow has not given it yet (bench/common/outbox.py)."""
    trial_log = log.trials.get(trial_id)
    run_id = tracker.ids.get(trial_log.run_id, trial_log.run_id) if trial_log else None
    return None if run_id is None or run_id.startswith(PENDING) else run_id


def _all_rows(log: SweepLog, tracker: Tracker, trial_id: str, run) -> list[dict]:
    """Every evaluation's per-image rows of a trial: this process's log, else its run's."""
    if trial_id in log.trials and log.trials[trial_id].per_image:
        return log.trials[trial_id].per_image
    return tracker.load_json(run.info.run_id, schema.PER_IMAGE, []) if run else []


def _status(run, trial, result: dict, planned: int) -> str:
    """FINISHED (all planned steps), STOPPED (ended early by the scheduler), or UNFINISHED.

    A trial is done only when the driver saw it complete (SweepLog.on_trial_complete tags its
    run FINISHED, also in an earlier process before a --resume): on Ctrl-C, Ray marks live
    trials TERMINATED in memory, so Tune's status alone would call them finished."""
    if run is not None:
        completed = run.data.tags.get(schema.STATUS) == "FINISHED"
    else:
        completed = trial is not None and trial.status == "TERMINATED" and "step" in result
    if not completed:
        return "UNFINISHED"
    return "FINISHED" if (result.get("step") or 0) >= planned else "STOPPED"


def _num(v):
    return float(v) if isinstance(v, (int, float)) and not isinstance(v, bool) else None


def summary_table(summary: dict):
    from rich.table import Table
    metric = summary["objective"]
    table = Table(title=f"{os.path.basename(summary['space'])}: sorted by {metric} "
                        f"({summary['mode']})")
    for col in ("#", "trial", "status", *summary["searched"], metric, summary["baseline"],
                "step", "wall s", "error"):
        table.add_column(col, justify="right" if col in (metric, summary["baseline"], "step",
                                                          "wall s", "#") else "left")
    for i, r in enumerate(summary["trials"], 1):
        table.add_row(str(i), r["trial_id"], r["status"],
                      *[_cell(r["config"].get(k)) for k in summary["searched"]],
                      _fmt(r["objective"]), _fmt(r["baseline"]), _steps(r),
                      _fmt(r["time_wall_s"], 0), r.get("error", "")[:80])
    return table


def _steps(row: dict) -> str:
    """The last step, and of how many when the trial did not run them all."""
    step = row["step"] or 0
    return str(step) if row["status"] == "FINISHED" else f"{step}/{row['planned_steps']}"


def _cell(v) -> str:
    return f"{v:.4g}" if isinstance(v, float) else str(v)


def _fmt(v, digits=4):
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "-"
    return f"{v:.{digits}g}" if digits else f"{v:.0f}"
