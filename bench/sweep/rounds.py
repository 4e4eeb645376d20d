"""`--seeds auto`: seeds added until every comparison that matters is decided.

Round 1 is the sweep with 2 seeds per configuration (the sweep's own Tune experiment). After
each round, every group in an `undecided` comparison with the best or the reference gets one
more seed, and so does the group it was compared with (a paired difference needs the same
replicate on both sides): round K is a Tune experiment of exactly those trials, in
STORAGE/.../<sweep>/round-K, with the sweep's callbacks (same MLflow parent, one child run
per trial). It stops when nothing is undecided, or when every undecided group has
`max_seeds` replicates.

Repeated looks: the verdicts are read after every round, and a sweep that stops on a
decision must not raise false alarms for it. Each possible look (max_seeds - 1 of them) is
a family of its own in one Bonferroni union: the intervals are at
1 - 0.05 / (pairs x looks), at every look and in the final table, so the chance of any false
verdict at any look is at most 5% (bench/STATISTICS.md "Seeds until decided").

Resume: each round's trial list is written to `irn_rounds.json` before it starts; --resume
restores round 1, then each saved round in order (finished trials are not rerun), then
goes on deciding.
"""
import json
import os

from bench.common.cli import write_json_atomic
from bench.sweep.replicates import REPLICATE

ROUNDS_FILE = "irn_rounds.json"


def looks(tune_cfg: dict) -> int:
    """How many times the verdicts may be read: one per possible round with seeds=auto."""
    from bench.sweep.space import AUTO_SEEDS, FIRST_ROUND_SEEDS
    if tune_cfg.get("seeds") != AUTO_SEEDS:
        return 1
    return max(tune_cfg["max_seeds"] - FIRST_ROUND_SEEDS + 1, 1)


def next_points(summary: dict, max_seeds: int) -> list[dict]:
    """The trials of the next round: {searched values..., replicate} for every group in an
    undecided comparison with the best or the reference, and its counterpart, whose
    replicates number fewer than max_seeds."""
    groups = [g for g in summary["groups"] if g.get("vs_best")]
    by_label = {g["label"]: g for g in groups}
    comp = summary["comparison"]
    grow = []
    for g in groups:
        for key, other in (("vs_best", comp["best"]), ("vs_reference", comp["reference"])):
            d = g[key]
            if not d.get("self") and d.get("verdict") == "undecided":
                grow += [g["label"], other]
    tried: dict[str, list[int]] = {}
    for t in summary["trials"]:
        tried.setdefault(t["label"], []).append(int(t["replicate"]))
    points = []
    for label in dict.fromkeys(grow):
        reps = tried.get(label, [])
        if len(reps) < max_seeds and label in by_label:
            points.append({**by_label[label]["config"], REPLICATE: max(reps) + 1})
    return points


def load_rounds(exp_dir: str) -> list[dict]:
    path = os.path.join(exp_dir, ROUNDS_FILE)
    if not os.path.isfile(path):
        return []
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def round_space(space_obj, max_seeds: int) -> dict:
    """A later round's param space: each grid key as a choice over its grid (the round's
    points pick the values), the replicate likewise, the fixed keys as they are."""
    from ray import tune
    out = {}
    for k, v in space_obj.space.items():
        grid = v.get("grid_search") if isinstance(v, dict) and set(v) == {"grid_search"} \
            else None
        out[k] = tune.choice(list(grid)) if grid is not None else v
    out[REPLICATE] = tune.choice(list(range(max_seeds)))
    return out


def round_tuner(plan, trainable, hooks, k: int, points: list[dict], restore: bool):
    from ray import tune
    from ray.tune.search.basic_variant import BasicVariantGenerator

    from bench.sweep.tuner import new_tuner

    t = plan.tune
    name = f"round-{k}"
    path = os.path.join(plan.exp_dir, name)
    space = round_space(plan.space_obj, t["max_seeds"])
    if restore and tune.Tuner.can_restore(path):
        return tune.Tuner.restore(path, trainable, resume_unfinished=True, resume_errored=True,
                                  param_space=space)
    searcher = BasicVariantGenerator(points_to_evaluate=points, random_state=0,
                                     max_concurrent=plan.max_concurrent or 0)
    return new_tuner(plan, trainable, space, name=name, storage=plan.exp_dir, hooks=hooks,
                     search_alg=searcher, num_samples=len(points))


def run_rounds(plan, trainable, hooks, log, summarize_all, first_results, console):
    """Rounds 2, 3, ... after round 1's `first_results`. `summarize_all(results, total)`:
    the sweep summary of the given results with `total` trials planned. Returns the last
    summary, with `rounds` (what each round added) in it."""
    import dataclasses
    results, trials_seen = list(first_results), list(log.all_trials)
    saved = load_rounds(plan.exp_dir)
    total = plan.total_trials  # the trials planned by the rounds run so far
    k = 2
    while True:
        log.all_trials = trials_seen
        summary = summarize_all(results, total)
        if summary["interrupted"]:
            break
        restore = k - 2 < len(saved)
        if restore:
            points = saved[k - 2]["points"]
        else:
            points = next_points(summary, plan.tune["max_seeds"])
            if not points:
                break
            saved.append({"round": k, "points": points})
            write_json_atomic(os.path.join(plan.exp_dir, ROUNDS_FILE), saved)
        total += len(points)
        labels = sorted({summary_label(summary, p) for p in points})
        console.print(f"round {k}: one more seed for {len(labels)} group(s) in an undecided "
                      f"comparison: {', '.join(labels)}")
        plan_k = dataclasses.replace(plan, total_trials=total)
        results += list(round_tuner(plan_k, trainable, hooks, k, points, restore).fit())
        trials_seen += list(log.all_trials)
        k += 1
    summary["rounds"] = saved
    return summary


def summary_label(summary: dict, point: dict) -> str:
    keys = [k for k in point if k != REPLICATE]
    for g in summary["groups"]:
        if all(str(g["config"].get(k)) == str(point[k]) for k in keys):
            return g["label"]
    return str(point)
