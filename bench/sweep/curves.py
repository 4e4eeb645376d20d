"""Does a cheap budget rank like a long one? (bench/STATISTICS.md "Learning curves")

- `curve_fields`: a trial's learning curve (the mean of the objective and gain_db at every
  evaluation) and its per-image rows at the evaluation nearest half its steps, kept in the
  sweep summary beside the last evaluation's rows.
- `learning`: per group, the gain over the last half of training (a paired difference,
  same image and seed, last minus half; `still improving` when its interval lies above 0 in
  the metric's direction), and whether the ranking of the groups at half the steps held at
  the end (Kendall's tau of the group means, with a bootstrap interval over the images).
- `fidelity`: a sweep that searches a budget key (TUNE["fidelity"] = "steps"): each
  budget's verdicts against the reference, the rank correlation of every budget with the
  longest, and whether each short-budget verdict survives at the longest.
"""
import numpy as np
from scipy import stats

from irn.stats import verdicts
from irn.stats.compare import cell_matrix, cells, compare_groups, paired_difference
from bench.sweep.replicates import group_label
from irn.metric_registry import equivalence_margin, metric_spec

RESAMPLES = 999
WORDS = {"better": "still improving", "worse": "declining", "equivalent": "flat",
         "undecided": "undecided"}


def stat_metric(metric: str) -> str:
    spec = metric_spec(metric)
    return metric if spec and spec.per_image else "psnr_y"


def curve_fields(rows: list[dict], metric: str) -> dict:
    """{"curve": [{"step", METRIC, "gain_db"}], "per_image_half": rows at half the steps}."""
    name = stat_metric(metric)
    steps = sorted({r["step"] for r in rows if "step" in r})
    keep = [m for m in dict.fromkeys((name, "gain_db")) if any(m in r for r in rows)]
    curve = []
    for s in steps:
        at = [r for r in rows if r.get("step") == s]
        curve.append({"step": s, **{m: float(np.mean([r[m] for r in at if m in r]))
                                    for m in keep}})
    half = []
    if len(steps) >= 2:
        h = min(steps[:-1], key=lambda s: abs(s - steps[-1] / 2))
        half = [{"image": r["image"], "step": h, **{m: r[m] for m in keep if m in r}}
                for r in rows if r.get("step") == h]
    return {"curve": curve, "per_image_half": half}


def _by_group(trials: list[dict]) -> dict:
    out: dict = {}
    for t in trials:
        if t["status"] == "FINISHED" and t.get("per_image"):
            out.setdefault(t["group"], []).append(t)
    return out


def _half_cells(members: list[dict], metric: str) -> dict:
    return cells([{**t, "per_image": t.get("per_image_half") or []} for t in members], metric)


def learning(trials: list[dict], metric: str, mode: str, margins: dict | None = None) -> dict:
    """Still improving per group, and whether the ranking at half the steps held."""
    name = stat_metric(metric)
    groups = _by_group(trials)
    margin = equivalence_margin(name, margins)
    family = max(len(groups), 1)
    rows, half_means, last_means, matrices = [], [], [], []
    changes = {g: (cells(m, name), _half_cells(m, name)) for g, m in groups.items()}
    changes = {g: c for g, c in changes.items() if any(c[1].values())}
    sd, df = within_group_spread(changes)
    for gid, (last, half) in changes.items():
        members = groups[gid]
        d = paired_difference(last, half, mode, margin, family, pooled_sd=sd, pooled_df=df,
                              df_per_seed=len(changes))
        half_step = members[0]["per_image_half"][0]["step"]
        rows.append({"label": members[0]["label"], "half_step": half_step,
                     "last_step": members[0].get("step"), **d,
                     "learning": WORDS[d["verdict"]]})
        images = sorted(set.intersection(*[set(half[r]) & set(last.get(r, {}))
                                           for r in half]))
        m_half = np.array([[half[r][i] for i in images] for r in sorted(half)])
        m_last = np.array([[last[r][i] for i in images] for r in sorted(half)])
        matrices.append((m_half, m_last))
        half_means.append(m_half.mean())
        last_means.append(m_last.mean())
    if not rows:
        return {"metric": name, "groups": [], "ranking": None,
                "sentence": "one evaluation per trial: no learning curve to read"}
    ranking = _ranking(rows, half_means, last_means, matrices, mode)
    return {"metric": name, "margin": margin, "family": family,
            "correction": verdicts.CORRECTION, "confidence": verdicts.level(family),
            "groups": rows, "ranking": ranking, "sentence": _sentence(rows, ranking, name)}


def within_group_spread(changes: dict) -> tuple[float | None, int]:
    """(sd, df) of one replicate's mean change, pooled over the groups: the one-way
    within-group spread (sum of squared deviations from each group's mean over
    sum(R_g - 1)). Not irn.stats.pooled's two-way fit: a group's change is not paired with
    another group's, so the seed luck shared by all groups is part of its noise.
    (None, 0) with fewer than 2 replicates anywhere."""
    ss, df = 0.0, 0
    for last, half in changes.values():
        reps = sorted(set(last) & set(half))
        if len(reps) < 2:
            continue
        means = np.array([np.mean([last[r][i] - half[r][i] for i in half[r] if i in last[r]])
                          for r in reps])
        ss += float(((means - means.mean()) ** 2).sum())
        df += len(reps) - 1
    return (float(np.sqrt(ss / df)), df) if df else (None, 0)


def _ranking(rows, half_means, last_means, matrices, mode) -> dict | None:
    sign = 1 if mode == "max" else -1
    labels = [r["label"] for r in rows]
    best_half = labels[int(np.argmax(sign * np.array(half_means)))]
    best_last = labels[int(np.argmax(sign * np.array(last_means)))]
    out = {"best_half": best_half, "best_last": best_last, "best_held": best_half == best_last,
           "tau": None, "ci95": None, "resamples": 0}
    if len(rows) < 3:
        return out
    out["tau"] = _tau(half_means, last_means)
    out["ci95"], out["resamples"] = tau_interval(matrices), RESAMPLES
    return out


def _tau(a, b) -> float | None:
    tau = stats.kendalltau(a, b).statistic
    return None if np.isnan(tau) else float(tau)


def tau_interval(pairs: list[tuple[np.ndarray, np.ndarray]]) -> list[float] | None:
    """Percentile bootstrap interval of Kendall's tau between the groups' means under two
    conditions, resampling the images (columns; shared by every matrix, same count) with
    replacement. Hand-written: scipy.stats.bootstrap resamples observations of one sample,
    here one resample must pick the same images in every group's two matrices."""
    n_img = min(m.shape[1] for pair in pairs for m in pair)
    rng = np.random.default_rng(0)
    taus = []
    for _ in range(RESAMPLES):
        pick = rng.integers(0, n_img, n_img)
        a = [p[0][:, pick].mean() for p in pairs]
        b = [p[1][:, pick].mean() for p in pairs]
        tau = _tau(a, b)
        if tau is not None:
            taus.append(tau)
    if not taus:
        return None
    return [float(np.percentile(taus, 2.5)), float(np.percentile(taus, 97.5))]


def format_tau(ranking: dict | None) -> str:
    if not ranking or ranking.get("tau") is None:
        return "Kendall tau: - (fewer than 3 groups)"
    ci = ranking["ci95"]
    interval = f" [{ci[0]:+.2f}, {ci[1]:+.2f}]" if ci else ""
    return f"Kendall tau {ranking['tau']:+.2f}{interval}"


def _sentence(rows, ranking, metric) -> str:
    improving = [r for r in rows if r["learning"] == "still improving"]
    same = len({(r["half_step"], r["last_step"]) for r in rows}) == 1
    h, last = rows[0]["half_step"], rows[0]["last_step"]
    when = f"step {h} to {last}" if same else "half the steps to the end (steps vary by group)"
    lo, hi = min(r["delta"] for r in rows), max(r["delta"] for r in rows)
    unit = metric_spec(metric).unit
    parts = [f"{len(improving)} of {len(rows)} groups still improving from {when} "
             f"({metric} {lo:+.2f} to {hi:+.2f} {unit} over the last half)"]
    if ranking:
        at = f"step {h}" if same else "half the steps"
        held = "held" if ranking["best_held"] else \
            f"changed (best at {at}: {ranking['best_half']})"
        parts.append(f"ranking at {at} against the end: {format_tau(ranking)} "
                     f"({RESAMPLES} bootstrap resamples of the tiles); the best {held}")
    if improving:
        parts.append("a verdict at this budget is about how fast a variant learns: "
                     "search_spaces/fidelity.py checks it against longer budgets")
    return "; ".join(parts)


def fidelity(trials: list[dict], key: str, searched: list[str], metric: str, mode: str,
             reference: dict | None, margins: dict | None = None) -> dict | None:
    """Per value of the budget key `key`: the verdicts against the reference, the rank
    correlation with the longest budget, and which verdicts survive there."""
    name = stat_metric(metric)
    others = [k for k in searched if k != key and k != "replicate"]
    budgets = sorted({t["config"].get(key) for t in trials if t["config"].get(key) is not None})
    if len(budgets) < 2:
        return None
    ref = {k: v for k, v in (reference or {}).items() if k != key} or None
    per_budget = {}
    for b in budgets:
        sub = [{**t, "label": group_label(t["config"], others)} for t in trials
               if t["config"].get(key) == b]
        comp = compare_groups(sub, name, mode, ref, group_metrics=(), margins=margins)
        per_budget[b] = {g["label"]: g for g in comp["groups"] if name in g}
    longest = budgets[-1]
    rows = []
    for b in budgets[:-1]:
        shared = [label for label in per_budget[b] if label in per_budget[longest]]
        row = {"budget": b, "against": longest, "groups": len(shared), "tau": None,
               "ci95": None, "verdicts": []}
        if len(shared) >= 3:
            means = lambda by: [by[label][name]["mean"] for label in shared]  # noqa: E731
            row["tau"] = _tau(means(per_budget[b]), means(per_budget[longest]))
            row["ci95"] = tau_interval([_budget_pair(trials, key, b, longest, label, others,
                                                     name) for label in shared])
        for label in shared:
            short = per_budget[b][label].get("vs_reference") or {}
            long_ = per_budget[longest][label].get("vs_reference") or {}
            if short.get("self"):
                continue
            row["verdicts"].append({"label": label, "short": short.get("verdict"),
                                    "long": long_.get("verdict"),
                                    "delta_short": short.get("delta"),
                                    "delta_long": long_.get("delta"),
                                    "survives": _survives(short.get("verdict"),
                                                          long_.get("verdict"))})
        rows.append(row)
    return {"key": key, "budgets": budgets, "metric": name, "rows": rows,
            "sentence": _fidelity_sentence(key, rows)}


def _budget_pair(trials, key, short, long_, label, others, name):
    def matrix(b):
        members = [t for t in trials if t["config"].get(key) == b
                   and group_label(t["config"], others) == label]
        return cell_matrix(cells(members, name))
    a, b = matrix(short), matrix(long_)
    n = min(a.shape[1], b.shape[1])
    return a[:, :n], b[:, :n]


def _survives(short: str | None, long_: str | None) -> str:
    """`yes` (same decided verdict), `contradicted` (decided both ways), `undecided` (not
    decided at the short budget), `not decided at the long budget`."""
    decided = ("better", "worse", "equivalent")
    if short not in decided:
        return "undecided"
    if long_ not in decided:
        return "not decided at the long budget"
    return "yes" if short == long_ else "contradicted"


def _fidelity_sentence(key, rows) -> str:
    parts = []
    for r in rows:
        tau = format_tau({"tau": r["tau"], "ci95": r["ci95"]}) if r["tau"] is not None \
            else "Kendall tau: -"
        decided = [v for v in r["verdicts"] if v["survives"] != "undecided"]
        kept = sum(v["survives"] == "yes" for v in decided)
        parts.append(f"{key}={r['budget']} against {key}={r['against']}: {tau} over "
                     f"{r['groups']} groups; {kept} of {len(decided)} decided verdicts "
                     "survive")
    return "; ".join(parts)
