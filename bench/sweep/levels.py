"""Sweeps with `architecture=levels` (irn/levels.py): the levels train first, as Ray trials of
their own, then the sweep composes and evaluates them.

The plan: every configuration of the grid whose config is a levels cascade, at every
replicate, becomes log2(scale) level trials `{searched values, replicate, level: k}`. They
are written to `irn_levels.json` in the sweep's folder before they start, and run as one Tune
experiment in `<sweep>/levels` (running side by side as the slots allow: on 2 workers the two
levels of a x4 cascade train at once). Each trains a x2 network on the photos at 1/2^(k-1)
(irn.levels.level_config) and is logged under the sweep's parent run with irn.role=level (the
report leaves level runs out of its groups).

The dependency: the sweep's own experiment starts after the levels' has ended, and its
levels trials get `LevelMap`, which names for each (configuration, replicate) the checkpoint
of every level; such a trial trains nothing: it composes the cascade, evaluates it like any
trial (every metric, crops, a checkpoint bench.evaluate and irn.rescale read) and reports
the levels' wall time (the longest level: they ran in parallel) beside their sum.

Resume: --resume restores `<sweep>/levels` (finished levels are not trained again), rebuilds
the map from its results, then restores the sweep's experiment. A finished level whose
checkpoint is gone is refused in one line (exit 2) before anything is composed.
"""
import itertools
import json
import os

from bench.common.cli import UsageError, write_json_atomic
from bench.sweep.group_table import markdown_table, md
from bench.sweep.replicates import REPLICATE
from irn.config import from_dict
from irn.levels import n_levels

LEVELS_DIR = "levels"
LEVELS_FILE = "irn_levels.json"
LEVEL = "level"
STATE = "trainer.pt"  # bench/sweep/trainable.py's checkpoint file


def key_of(config: dict) -> str:
    """What identifies a cascade trial: its searched values and replicate, without `level`."""
    return json.dumps({k: v for k, v in config.items() if k != LEVEL}, sort_keys=True,
                      default=str)


def level_points(plan) -> list[dict]:
    """The level trials of the plan: {searched values, replicate, level} for every grid
    configuration whose config is architecture=levels, at every replicate."""
    space = plan.space_obj
    grid = {k: list(v["grid_search"]) for k, v in space.space.items()
            if isinstance(v, dict) and "grid_search" in v}
    fixed = space.fixed()
    points = []
    for combo in itertools.product(*grid.values()):
        values = dict(zip(grid, combo))
        cfg = from_dict({**plan.base, **fixed, **values})
        if cfg.architecture != "levels":
            continue
        for r in range(plan.tune["seeds"]):
            for k in range(1, n_levels(cfg.scale) + 1):
                points.append({**values, **({REPLICATE: r} if plan.tune["seeds"] > 1 else {}),
                               LEVEL: k})
    return points


def check_plan(plan) -> None:
    """Refuse what a levels sweep cannot do, before Ray starts."""
    t = plan.tune
    if t["searcher"] != "grid" or t["scheduler"] != "fifo" or t["seeds"] == "auto" \
            or t["num_samples"] != 1:
        raise UsageError("architecture=levels sweeps train their levels first: they need the "
                         "grid searcher, the fifo scheduler, one sample and a fixed --seeds "
                         f"(got {t['searcher']}, {t['scheduler']}, {t['num_samples']} "
                         f"sample(s), seeds {t['seeds']})")


def _space(plan, points: list[dict]) -> dict:
    from ray import tune
    out = {}
    for k, v in plan.space_obj.space.items():
        grid = v.get("grid_search") if isinstance(v, dict) and "grid_search" in v else None
        out[k] = tune.choice(list(grid)) if grid is not None else v
    for k in (REPLICATE, LEVEL):
        values = sorted({p[k] for p in points if k in p})
        if values:
            out[k] = tune.choice(values)
    return out


def run_levels(plan, trainable, hooks, console) -> list:
    """Train the plan's level trials (restoring them on --resume); their Tune results."""
    from ray import tune
    from ray.tune.search.basic_variant import BasicVariantGenerator

    from bench.sweep.tuner import new_tuner

    path = os.path.join(plan.exp_dir, LEVELS_DIR)
    saved = os.path.join(plan.exp_dir, LEVELS_FILE)
    if plan.resume and os.path.isfile(saved):
        with open(saved, encoding="utf-8") as f:
            points = json.load(f)["points"]
    else:
        points = level_points(plan)
        write_json_atomic(saved, {"points": points})
    space = _space(plan, points)
    console.print(f"levels: {len(points)} level trial(s) first, then the sweep composes "
                  "and evaluates each cascade (bench/sweep/levels.py)")
    if plan.resume and tune.Tuner.can_restore(path):
        tuner = tune.Tuner.restore(path, trainable, resume_unfinished=True, resume_errored=True,
                                   param_space=space)
    else:
        searcher = BasicVariantGenerator(points_to_evaluate=points, random_state=0,
                                         max_concurrent=plan.max_concurrent or 0)
        tuner = new_tuner(plan, trainable, space, name=LEVELS_DIR, storage=plan.exp_dir,
                          hooks=hooks, search_alg=searcher, num_samples=len(points))
    return list(tuner.fit())


def level_map(results) -> dict:
    """key_of(cascade trial) -> {"checkpoints": [path per level or None], "walls": [...],
    "errors": [...]}: what each cascade trial composes. A finished level whose checkpoint
    folder is gone is refused (UsageError)."""
    from bench.sweep.log import result_error  # imports Ray: called once Ray runs
    out = {}
    for result in results:
        config = dict(result.config or {})
        k = int(config.get(LEVEL, 0))
        if not k:
            continue
        entry = out.setdefault(key_of(config), {"checkpoints": {}, "walls": {}, "errors": {}})
        m = result.metrics or {}
        error = result_error(result)
        path = os.path.join(result.checkpoint.path, STATE) if result.checkpoint else None
        if not error and path and not os.path.isfile(path):
            raise UsageError(f"level {k} checkpoint missing: {path} (its trial finished; "
                             "remove the sweep folder's levels/ to train the levels again)")
        entry["checkpoints"][k] = None if error else path
        entry["walls"][k] = m.get("time/wall")
        entry["errors"][k] = error
    return out


def deepest_shrink(plan) -> int:
    """The largest factor a level of the plan shrinks the photos by (1 without levels)."""
    fixed = plan.space_obj.fixed()
    factors = [2 ** (p[LEVEL] - 1) * from_dict({**plan.base, **fixed, **_values(p)}).downsample
               for p in level_points(plan)]
    return max(factors, default=1)


def _values(point: dict) -> dict:
    return {k: v for k, v in point.items() if k not in (LEVEL, REPLICATE)}


def level_rows(plan, results) -> list[dict]:
    """One row per level trial, for the summary (`levels`): its cascade's label, replicate,
    level, status, steps, wall time and x2 psnr_y on the photos at 1/2^(k-1)."""
    from bench.sweep.log import result_error
    from bench.sweep.replicates import group_label
    from irn.levels import level_config
    rows = []
    for result in results:
        config = dict(result.config or {})
        m = result.metrics or {}
        cfg = from_dict({**plan.base, **plan.space_obj.fixed(), **_values(config)})
        planned = level_config(cfg, int(config[LEVEL])).steps
        error = result_error(result)
        status = "FAILED" if error else (
            "FINISHED" if (m.get("step") or 0) >= planned else "UNFINISHED")
        rows.append({"label": group_label(config, plan.space_obj.searched),
                     "replicate": int(config.get(REPLICATE, 0)), "level": int(config[LEVEL]),
                     "status": status, "step": m.get("step"), "planned_steps": planned,
                     "time_wall_s": m.get("time/wall"), "psnr_y": m.get("psnr_y"),
                     **({"error": error} if error else {})})
    return sorted(rows, key=lambda r: (r["label"], r["replicate"], r["level"]))


def unfinished(rows: list[dict]) -> bool:
    return any(r["status"] == "UNFINISHED" for r in rows)


def cost_markdown(summary: dict) -> list[str]:
    """What each group's network cost, for RESULTS.md (bench.results) when the sweep has
    cascades: the report's cost rows (dashboards.levels.cost_rows) as a markdown table."""
    if not summary.get("levels"):
        return []
    from dashboards.levels import cost_rows
    rows = cost_rows(summary)
    return ["*cost:* " + md("per group, means over its seeds; a cascade's trial time is its "
                            "longest level plus its evaluation (the levels trained side by "
                            "side), and each level's psnr_y is its own x2 round trip on the "
                            "photos at 1/2^(k-1)"), "",
            *markdown_table(list(rows[0]), [list(r.values()) for r in rows]), ""]
