"""Which group is better, by how much, and is the difference real? (bench/STATISTICS.md)

A group is the set of trials that differ only by seed (bench.sweep.replicates). Each finished
trial's last evaluation gives one value per validation image, so a group's metric is a
matrix of replicates x images, and two groups are compared cell by cell: the same image
under the same replicate index (same seed offset), the pairing that cancels image
difficulty.

Intervals:
- one replicate: scipy.stats.bootstrap (BCa) over the images; the seed-to-seed spread is
  unknown and not in it;
- several: the seed-to-seed spread and the image-to-image spread (of the image means, I - 1
  degrees of freedom) combined (`_two_way_interval`). In a sweep's comparisons the seed
  spread is pooled over all its groups (irn.stats.pooled: every group's degrees of freedom at
  once); a group whose spread is out of line, and bench.versus, use the comparison's own
  (R - 1 degrees of freedom).
A sweep's comparisons are one family (irn.stats.verdicts): simultaneous intervals, and verdicts
better / worse (maybe negligible) / equivalent (inside the metric's margin) / undecided.
"""
import math

import numpy as np
from scipy import stats

from irn.stats import verdicts
from irn.stats.pooled import pool
from irn.metric_registry import equivalence_margin, metric_spec

CONFIDENCE = 0.95
RESAMPLES = 4999
# Below this many images a bootstrap interval undercovers badly (at 2 images it is the range
# of the two values); the t interval is used instead (scipy.stats.bootstrap's docs: BCa
# assumes a sample large enough to stand for its population).
BOOTSTRAP_MIN_IMAGES = 10
# the rescaling metrics, and task=stego's concealing ones (each only where the rows have it)
GROUP_METRICS = ("psnr_y", "gain_db", "ssim_y", "stego_psnr_y", "stego_ssim_y")


def mean_ci(matrix, confidence: float = CONFIDENCE) -> dict:
    """{"mean", "ci95": [lo, hi] | None} of a replicates x images matrix (the interval at
    `confidence`; the key keeps its name)."""
    m = np.asarray(matrix, dtype=float)
    return {"mean": float(m.mean()), "ci95": _interval(m, confidence)}


def _interval(m: np.ndarray, confidence: float = CONFIDENCE,
              seed_sd: float | None = None, seed_df: int = 0) -> list[float] | None:
    if m.size < 2 or not np.isfinite(m).all():
        return None
    if np.ptp(m) == 0:
        return [float(m.flat[0])] * 2  # every cell equal: no spread to resample
    n_rep, n_img = m.shape
    if n_rep == 1 or n_img == 1:
        values = m.ravel()
        if n_rep == 1 and n_img >= BOOTSTRAP_MIN_IMAGES:  # images alone: scipy's BCa
            res = stats.bootstrap((values,), np.mean, vectorized=True, n_resamples=RESAMPLES,
                                  confidence_level=confidence, method="BCa", rng=0)
            lo, hi = res.confidence_interval
            if math.isfinite(lo) and math.isfinite(hi):
                return [float(lo), float(hi)]
        ci = stats.ttest_1samp(values, 0).confidence_interval(confidence)
        return [float(ci.low), float(ci.high)]
    return _two_way_interval(m, confidence, seed_sd, seed_df)


def _two_way_interval(m: np.ndarray, confidence: float = CONFIDENCE,
                      seed_sd: float | None = None, seed_df: int = 0) -> list[float]:
    """t interval of the grand mean of a replicates x images matrix whose rows share a seed
    effect and whose columns share an image effect (two-way random effects).

    Two standard errors, s(replicate means)/sqrt(R) and s(image means)/sqrt(I) (together
    they count the interaction twice, so the interval errs wide), each scaled by its own
    t quantile: R - 1 degrees of freedom for the seeds, whose spread is estimated from R
    values only (12.7 for 2 replicates, 4.3 for 3), I - 1 for the images; the half-width is
    the root of the sum of their squares. Hand-written: scipy has no two-way random-effects
    interval; a percentile bootstrap over 2 replicates called a measured A/A pair "worse",
    and pooled Welch-Satterthwaite degrees of freedom gave 10% false alarms in simulated
    A/A pairs with 2 seeds (tests/test_compare.py).

    `seed_sd` (with `seed_df`): the sd of one replicate's value from elsewhere (the sweep's
    pooled spread) in place of this matrix's own s(replicate means)."""
    seeds, images = _halves(m, confidence, seed_sd, seed_df)
    half = math.hypot(seeds, images)
    if half == 0:  # only an interaction pattern: fall back to the cells themselves
        ci = stats.ttest_1samp(m.ravel(), 0).confidence_interval(confidence)
        return [float(ci.low), float(ci.high)]
    return [float(m.mean() - half), float(m.mean() + half)]


def _halves(m: np.ndarray, confidence: float, seed_sd: float | None,
            seed_df: int) -> tuple[float, float]:
    """(seed half-width, image half-width) of the mean of a replicates x images matrix."""
    n_rep, n_img = m.shape
    if seed_sd is None:
        seed_sd, seed_df = m.mean(axis=1).std(ddof=1), n_rep - 1
    seeds = verdicts.quantile(confidence, seed_df) * seed_sd / math.sqrt(n_rep)
    images = verdicts.quantile(confidence, n_img - 1) * m.mean(axis=0).std(ddof=1) \
        / math.sqrt(n_img)
    return float(seeds), float(images)


verdict = verdicts.verdict  # irn.stats.compare.verdict: the one vocabulary


def paired_difference(a: dict, b: dict, mode: str, margin: float = 0.0, family: int = 1,
                      pooled_sd: float | None = None, pooled_df: int = 0,
                      df_per_seed: int = 1) -> dict:
    """A - B over the cells both have. a, b: {replicate: {image: value}}. `family`: how many
    comparisons share the table (the interval is at verdicts.level(family)); `pooled_sd`:
    the sd of one replicate's difference, pooled over the sweep (None: this pair's own),
    with `pooled_df` degrees of freedom and `df_per_seed` more per added seed."""
    reps = sorted(set(a) & set(b))
    images = sorted(set.intersection(*[set(a[r]) & set(b[r]) for r in reps])) if reps else []
    confidence = verdicts.level(family)
    base = {"margin": margin, "family": family, "confidence": confidence,
            "correction": verdicts.CORRECTION,
            "n_replicates": len(reps), "n_images": len(images)}
    if not images:
        return {"delta": None, "ci95": None, "verdict": "undecided", "negligible": False,
                "spread": None, "df_seed": 0, "seeds_to_decide": None, **base}
    diff = np.array([[a[r][i] - b[r][i] for i in images] for r in reps])
    own = len(reps) >= 2 and pooled_sd is None
    sd, df = (None, 0) if own or len(reps) < 2 else (pooled_sd, pooled_df)
    ci = _interval(diff, confidence, sd, df)
    delta = float(diff.mean())
    out = {"delta": delta, "ci95": ci, "verdict": verdicts.verdict(ci, mode, margin),
           "negligible": False, **base,
           "spread": "images only" if len(reps) < 2 else ("own" if own else "pooled"),
           "df_seed": (len(reps) - 1 if own else df) if len(reps) >= 2 else 0,
           "seeds_to_decide": None}
    out["negligible"] = out["verdict"] in ("better", "worse") and verdicts.negligible(ci, margin)
    if out["verdict"] == "undecided" and len(reps) >= 2 and ci is not None:
        seed_sd = diff.mean(axis=1).std(ddof=1) if own else sd
        _, image_half = _halves(diff, confidence, seed_sd, max(out["df_seed"], 1))
        out["seeds_to_decide"] = verdicts.seeds_to_decide(
            delta, float(seed_sd), 1 if own else df_per_seed, image_half, margin, confidence)
    return out


def cells(trials: list[dict], metric: str, key: str = "replicate") -> dict:
    """{replicate (or the trial's `key`): {image: value}} of a group's finished trials."""
    return {t[key]: {r["image"]: float(r[metric]) for r in t["per_image"] if metric in r}
            for t in trials if t["status"] == "FINISHED" and t.get("per_image")}


def cell_matrix(c: dict) -> np.ndarray:
    """The replicates x images matrix over the images every replicate has."""
    if not c:
        return np.empty((0, 0))
    images = sorted(set.intersection(*[set(v) for v in c.values()]))
    return np.array([[c[r][i] for i in images] for r in sorted(c)])


def compare_groups(trials: list[dict], objective: str, mode: str,
                   reference: dict | None = None, group_metrics=GROUP_METRICS,
                   margins: dict | None = None, looks: int = 1) -> dict:
    """Group statistics and verdicts. `trials`: dicts with group, label, config, replicate,
    seed, status, per_image (the last evaluation's rows). `reference`: searched values that
    pick the reference group (default: the first group). `group_metrics`: the metrics whose
    mean [CI] each group also gets, beside the objective's. `margins`: {metric: margin}
    overriding the registry's. `looks`: how many times this sweep's verdicts are read as it
    grows (--seeds auto: one per possible round), each look a family of its own.
    Returns {"groups", "best", "reference", "sentence", "seeds_known", "metric", "margin",
    "family", "looks", "correction", "confidence", "pooled"}."""
    order: dict[str, list[dict]] = {}
    for t in trials:
        order.setdefault(t["group"], []).append(t)
    stat_metric = objective if metric_spec(objective) and metric_spec(objective).per_image \
        else "psnr_y"
    groups = []
    for gid, members in order.items():
        finished = [t for t in members if t["status"] == "FINISHED" and t.get("per_image")]
        g = {"group": gid, "label": members[0]["label"], "config": members[0]["config"],
             "seeds": sorted(t["seed"] for t in finished), "trials": len(members),
             "finished": len(finished), "n_images": 0}
        for metric in dict.fromkeys((*group_metrics, stat_metric)):
            m = cell_matrix(cells(finished, metric))
            if m.size:
                g[metric] = mean_ci(m)
                g["n_images"] = m.shape[1]
        groups.append(g)
    scored = [g for g in groups if stat_metric in g]
    if not scored:
        return {"groups": groups, "best": None, "reference": None, "metric": stat_metric,
                "sentence": "no finished trial: nothing to compare", "seeds_known": False}
    sign = 1 if mode == "max" else -1
    best = max(scored, key=lambda g: sign * g[stat_metric]["mean"])
    ref = _reference(scored, reference)
    by_id = {gid: cells(members, stat_metric) for gid, members in order.items()}
    spread = pool(replicate_means({g["group"]: by_id[g["group"]] for g in scored}),
                  tiles={g["group"]: cell_matrix(by_id[g["group"]]) for g in scored})
    # every pair is in the family: the best is picked from the data, so its comparisons
    # are a data-chosen subset of all G(G-1)/2 pairs; and every look (bench/sweep/rounds.py)
    family = max(len(scored) * (len(scored) - 1) // 2, 1) * max(looks, 1)
    margin = equivalence_margin(stat_metric, margins)
    pooled_in = set(spread.groups) if spread.sigma is not None else set()
    for g in scored:
        for key, other in (("vs_best", best), ("vs_reference", ref)):
            pooled = {g["group"], other["group"]} <= pooled_in
            g[key] = paired_difference(
                by_id[g["group"]], by_id[other["group"]], mode, margin, family,
                pooled_sd=spread.sigma * math.sqrt(2) if pooled else None,
                pooled_df=spread.df, df_per_seed=max(len(spread.groups) - 1, 1))
            g[key]["self"] = g is other
    seeds_known = min(len(g["seeds"]) for g in scored) >= 2
    labels = {g["group"]: g["label"] for g in groups}
    # validation tiles are named NAME@row,col (irn.data.samples): say tiles, not images
    names = {i for c in by_id.values() for v in c.values() for i in v}
    unit = "tiles" if names and all("@" in str(i) for i in names) else "images"
    return {"groups": groups, "best": best["label"], "reference": ref["label"],
            "metric": stat_metric, "seeds_known": seeds_known, "margin": margin,
            "family": family, "looks": max(looks, 1), "correction": verdicts.CORRECTION,
            "confidence": verdicts.level(family),
            "pooled": spread.to_dict(labels), "image_unit": unit,
            "sentence": _sentence(scored, best, stat_metric, mode, seeds_known, unit)}


def replicate_means(by_group: dict) -> dict:
    """{group: {replicate: mean over the images every group has}} of {group: cells}."""
    sets = [set(v) for c in by_group.values() for v in c.values()]
    common = set.intersection(*sets) if sets else set()
    return {g: {r: float(np.mean([v[i] for i in common])) for r, v in c.items()}
            for g, c in by_group.items()} if common else {}


def also_compared(trials: list[dict], names, reference: dict | None,
                  margins: dict | None = None) -> list[dict]:
    """[{"metric", "reference": label, "groups": [{label, seeds, n_images, stat,
    vs_reference}]}] in TUNE compare's order (a list: summary.json sorts dict keys), for each
    metric some finished trial has, in the metric's own direction."""
    out = []
    for name in names:  # only this metric's statistics: the group table has the others
        result = compare_groups(trials, name, metric_spec(name).mode, reference, margins=margins,
                                group_metrics=())
        if result["best"] is None:  # no finished trial has it
            continue
        out.append({"metric": name, "reference": result["reference"], "groups": [
            {"label": g["label"], "seeds": g["seeds"], "n_images": g["n_images"],
             "stat": g.get(name), "vs_reference": g.get("vs_reference")}
            for g in result["groups"]]})
    return out


def _reference(groups: list[dict], reference: dict | None) -> dict:
    if reference:
        for g in groups:
            if all(str(g["config"].get(k)) == str(v) for k, v in reference.items()):
                return g
    return groups[0]


def _sentence(groups, best, metric, mode, seeds_known, samples="images") -> str:
    """The verdict in one sentence: the best group against the runner-up."""
    spec = metric_spec(metric)
    unit = f" {spec.unit}" if spec.unit else ""
    sign = 1 if mode == "max" else -1
    n = f"{len(best['seeds'])} seed(s) x {best['n_images']} {samples}"
    caveat = "" if seeds_known else "; with 1 seed the seed-to-seed spread is unknown (the " \
        "interval covers the images only): rerun with --seeds 2 or more"
    if len(groups) < 2:
        if "gain_db" not in best:  # not a rescaling sweep (task=stego)
            return f"one group ({best['label']}): {metric} {_fmt_ci(best[metric])}{unit} " \
                   f"({n}){caveat}"
        return (f"one group ({best['label']}): gain over bicubic {_fmt_ci(best['gain_db'])} "
                f"dB ({n}){caveat}")
    runner = sorted(groups, key=lambda g: -sign * g[metric]["mean"])[1]
    d = runner["vs_best"]
    lead = -d["delta"] if d["delta"] is not None else None
    ci = [-d["ci95"][1], -d["ci95"][0]] if d["ci95"] else None
    how = f"{d['confidence']:.2%} interval, {d['correction']} over {d['family']} " \
          f"comparison(s)" if d["family"] > 1 else "95% interval"
    return (f"{best['label']} leads {runner['label']} by {_fmt(lead, spec)}{unit} "
            f"{_fmt_interval(ci, spec)} on {metric} ({n}; {how}): "
            f"{verdicts.phrase(d, unit)}{caveat}")


def _fmt(v, spec) -> str:
    if v is None:
        return "-"
    text = f"{v:{spec.fmt}}"
    return f"{v:.2g}" if v and float(text) == 0 else text  # keep a tiny difference visible


def _fmt_interval(ci, spec) -> str:
    return "[-]" if ci is None else f"[{_fmt(ci[0], spec)}, {_fmt(ci[1], spec)}]"


def _fmt_ci(stat: dict) -> str:
    if not stat:
        return "-"
    ci = stat.get("ci95")
    return f"{stat['mean']:.2f}" + (f" [{ci[0]:.2f}, {ci[1]:.2f}]" if ci else "")
