"""Which group is better, by how much, and is the difference real? (bench/STATISTICS.md)

A group is the set of trials that differ only by seed (bench.replicates). Each finished
trial's last evaluation gives one value per validation image, so a group's metric is a
matrix of replicates x images, and two groups are compared cell by cell: the same image
under the same replicate index (same seed offset), the pairing that cancels image
difficulty.

Confidence intervals (95%):
- one replicate: scipy.stats.bootstrap (BCa) over the images; the seed-to-seed spread is
  unknown and not in it;
- several: the seed-to-seed spread (of the replicate means, t quantile with R - 1 degrees
  of freedom) and the image-to-image spread (of the image means, I - 1) combined
  (`_two_way_interval`), so both are in it.
A difference is `better` or `worse` when its interval excludes 0, else `indistinguishable`.
"""
import math

import numpy as np
from scipy import stats

from irn.metric_registry import metric_spec

CONFIDENCE = 0.95
RESAMPLES = 4999
# Below this many images a bootstrap interval undercovers badly (at 2 images it is the range
# of the two values); the t interval is used instead (scipy.stats.bootstrap's docs: BCa
# assumes a sample large enough to stand for its population).
BOOTSTRAP_MIN_IMAGES = 10
# the rescaling metrics, and task=stego's concealing ones (each only where the rows have it)
GROUP_METRICS = ("psnr_y", "gain_db", "ssim_y", "stego_psnr_y", "stego_ssim_y")


def mean_ci(matrix) -> dict:
    """{"mean", "ci95": [lo, hi] | None} of a replicates x images matrix."""
    m = np.asarray(matrix, dtype=float)
    return {"mean": float(m.mean()), "ci95": _interval(m)}


def _interval(m: np.ndarray) -> list[float] | None:
    if m.size < 2 or not np.isfinite(m).all():
        return None
    if np.ptp(m) == 0:
        return [float(m.flat[0])] * 2  # every cell equal: no spread to resample
    n_rep, n_img = m.shape
    if n_rep == 1 or n_img == 1:
        values = m.ravel()
        if n_rep == 1 and n_img >= BOOTSTRAP_MIN_IMAGES:  # images alone: scipy's BCa
            res = stats.bootstrap((values,), np.mean, vectorized=True, n_resamples=RESAMPLES,
                                  confidence_level=CONFIDENCE, method="BCa", rng=0)
            lo, hi = res.confidence_interval
            if math.isfinite(lo) and math.isfinite(hi):
                return [float(lo), float(hi)]
        ci = stats.ttest_1samp(values, 0).confidence_interval(CONFIDENCE)
        return [float(ci.low), float(ci.high)]
    return _two_way_interval(m)


def _two_way_interval(m: np.ndarray) -> list[float]:
    """t interval of the grand mean of a replicates x images matrix whose rows share a seed
    effect and whose columns share an image effect (two-way random effects).

    Two standard errors, s(replicate means)/sqrt(R) and s(image means)/sqrt(I) (together
    they count the interaction twice, so the interval errs wide), each scaled by its own
    t quantile: R - 1 degrees of freedom for the seeds, whose spread is estimated from R
    values only (12.7 for 2 replicates, 4.3 for 3), I - 1 for the images; the half-width is
    the root of the sum of their squares. Hand-written: scipy has no two-way random-effects
    interval; a percentile bootstrap over 2 replicates called a measured A/A pair "worse",
    and pooled Welch-Satterthwaite degrees of freedom gave 10% false alarms in simulated
    A/A pairs with 2 seeds (tests/test_compare.py)."""
    n_rep, n_img = m.shape
    q = 0.5 + CONFIDENCE / 2
    seeds = stats.t.ppf(q, n_rep - 1) * m.mean(axis=1).std(ddof=1) / math.sqrt(n_rep)
    images = stats.t.ppf(q, n_img - 1) * m.mean(axis=0).std(ddof=1) / math.sqrt(n_img)
    half = math.hypot(seeds, images)
    if half == 0:  # only an interaction pattern: fall back to the cells themselves
        ci = stats.ttest_1samp(m.ravel(), 0).confidence_interval(CONFIDENCE)
        return [float(ci.low), float(ci.high)]
    return [float(m.mean() - half), float(m.mean() + half)]


def verdict(ci: list[float] | None, mode: str) -> str:
    """better / worse (of a difference A - B under `mode`) or indistinguishable."""
    if ci is None or ci[0] <= 0 <= ci[1]:
        return "indistinguishable"
    above = ci[0] > 0
    return "better" if above == (mode == "max") else "worse"


def paired_difference(a: dict, b: dict, mode: str) -> dict:
    """A - B over the cells both have. a, b: {replicate: {image: value}}."""
    reps = sorted(set(a) & set(b))
    images = sorted(set.intersection(*[set(a[r]) & set(b[r]) for r in reps])) if reps else []
    if not images:
        return {"delta": None, "ci95": None, "verdict": "indistinguishable",
                "n_replicates": 0, "n_images": 0}
    diff = np.array([[a[r][i] - b[r][i] for i in images] for r in reps])
    out = mean_ci(diff)
    return {"delta": out["mean"], "ci95": out["ci95"], "verdict": verdict(out["ci95"], mode),
            "n_replicates": len(reps), "n_images": len(images)}


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
                   reference: dict | None = None, group_metrics=GROUP_METRICS) -> dict:
    """Group statistics and verdicts. `trials`: dicts with group, label, config, replicate,
    seed, status, per_image (the last evaluation's rows). `reference`: searched values that
    pick the reference group (default: the first group). `group_metrics`: the metrics whose
    mean [CI] each group also gets, beside the objective's. Returns {"groups", "best",
    "reference", "sentence", "seeds_known"}."""
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
    for g in scored:
        for key, other in (("vs_best", best), ("vs_reference", ref)):
            g[key] = paired_difference(by_id[g["group"]], by_id[other["group"]], mode)
            g[key]["self"] = g is other
    seeds_known = min(len(g["seeds"]) for g in scored) >= 2
    return {"groups": groups, "best": best["label"], "reference": ref["label"],
            "metric": stat_metric, "seeds_known": seeds_known,
            "sentence": _sentence(scored, best, stat_metric, mode, seeds_known)}


def _reference(groups: list[dict], reference: dict | None) -> dict:
    if reference:
        for g in groups:
            if all(str(g["config"].get(k)) == str(v) for k, v in reference.items()):
                return g
    return groups[0]


def _sentence(groups, best, metric, mode, seeds_known) -> str:
    """The verdict in one sentence: the best group against the runner-up."""
    spec = metric_spec(metric)
    unit = f" {spec.unit}" if spec.unit else ""
    sign = 1 if mode == "max" else -1
    n = f"{len(best['seeds'])} seed(s) x {best['n_images']} images"
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
    word = {"indistinguishable": "indistinguishable at this budget",
            "worse": "a real difference", "better": "a real difference"}[d["verdict"]]
    return (f"{best['label']} leads {runner['label']} by {_fmt(lead, spec)}{unit} "
            f"{_fmt_interval(ci, spec)} on {metric} ({n}): {word}{caveat}")


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
