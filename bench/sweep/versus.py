"""`python -m bench.versus BEFORE.json AFTER.json`: did a change to a sweep's base config
(an `--set`, a new default) move its results, and what did it do to its time?

BEFORE and AFTER are two sweeps' `--json` summaries, normally of the same space. Groups are
matched by label (the searched values), trials by seed, cells by image: every difference is
AFTER - BEFORE on the same image of the same seed of the same group, the pairing that
cancels image difficulty and seed luck (bench/STATISTICS.md). Per group and pooled over
every matched trial pair (rows: group x seed, columns: images), the mean with the 95%
interval of irn.stats.compare and a verdict; beside it each BEFORE group's seed spread (the
range of its seeds' means), the yardstick a change "within the noise" is read against.
Time: the two sweeps' wall times, and each matched trial pair's wall-time ratio. The base
configs' differences and the arithmetic / layout each trial ran in are printed first, so a
reader sees what changed.
"""
import json
import math
import sys

import numpy as np

from bench.common.cli import OneLineParser, UsageError, check_json_target, fail, write_json_atomic
from irn.stats import verdicts
from irn.stats.compare import cell_matrix, cells, mean_ci, paired_difference, verdict
from irn.metric_registry import equivalence_margin, metric_spec


def load_summary(path: str) -> dict:
    """A sweep's `--json` summary, refused (UsageError) unless it has per-image rows."""
    try:
        with open(path, encoding="utf-8") as f:
            summary = json.load(f)
    except OSError as exc:
        raise UsageError(f"cannot read {path}: {exc.strerror or exc}") from exc
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise UsageError(f"{path} is not JSON: {exc}") from exc
    if not isinstance(summary, dict) or not isinstance(summary.get("trials"), list):
        raise UsageError(f"{path} is not a sweep summary (bench.sweep --json)")
    if not any(t.get("per_image") for t in summary["trials"]):
        raise UsageError(f"{path} has no per-image rows: rebuild it with "
                         "`bench.sweep SPACE --resume --json OUT` (this version keeps them)")
    return summary


def seed_cells(summary: dict, metric: str) -> dict:
    """{label: {seed: {image: value}}} of the finished trials that have `metric`."""
    by_label: dict = {}
    for t in summary["trials"]:
        by_label.setdefault(t["label"], []).append(t)
    out = {label: cells(trials, metric, key="seed") for label, trials in by_label.items()}
    return {label: {s: v for s, v in c.items() if v} for label, c in out.items()
            if any(c.values())}


def seed_spread(c: dict) -> float | None:
    """The range of a group's seed means over the images every seed has (None: 1 seed)."""
    return float(np.ptp(cell_matrix(c).mean(axis=1))) if len(c) >= 2 else None


def compare_metric(before: dict, after: dict, metric: str) -> dict:
    spec = metric_spec(metric)
    if spec is None or not spec.per_image:
        raise UsageError(f"--metric {metric}: not a per-image metric (irn.metric_registry)")
    mode = spec.mode
    a, b = seed_cells(after, metric), seed_cells(before, metric)
    labels = [label for label in b if label in a]
    if not labels:
        raise UsageError(f"no group has finished trials with {metric} in both sweeps "
                         f"(before: {sorted(b) or 'none'}; after: {sorted(a) or 'none'})")
    groups, pooled_a, pooled_b = [], {}, {}
    # one family: every group's difference and the pooled one
    family, margin = len(labels) + 1, equivalence_margin(metric)
    for label in labels:
        d = paired_difference(a[label], b[label], mode, margin, family)
        groups.append({"label": label, **d, "seed_spread_before": seed_spread(b[label])})
        for seed in set(a[label]) & set(b[label]):
            pooled_a[(label, seed)], pooled_b[(label, seed)] = a[label][seed], b[label][seed]
    keys = sorted(pooled_a)
    if not keys:
        raise UsageError(f"{metric}: the matched groups share no seed")
    images = sorted(set.intersection(*[set(pooled_a[k]) & set(pooled_b[k]) for k in keys]))
    if not images:
        raise UsageError(f"{metric}: the matched trials share no validation image")
    diff = np.array([[pooled_a[k][i] - pooled_b[k][i] for i in images] for k in keys])
    stat = mean_ci(diff, verdicts.level(family))
    spreads = [g["seed_spread_before"] for g in groups if g["seed_spread_before"] is not None]
    return {"metric": metric, "mode": mode, "groups": groups, "margin": margin,
            "family": family, "correction": verdicts.CORRECTION,
            "confidence": verdicts.level(family),
            "pooled": {"delta": stat["mean"], "ci95": stat["ci95"],
                       "verdict": verdict(stat["ci95"], mode, margin),
                       "negligible": verdict(stat["ci95"], mode, margin) in ("better", "worse")
                       and verdicts.negligible(stat["ci95"], margin),
                       "n_trial_pairs": len(keys), "n_images": len(images)},
            "largest_seed_spread_before": max(spreads) if spreads else None}


def time_comparison(before: dict, after: dict) -> dict:
    """Sweep wall times and the per-trial wall-time ratios (after / before) of matched
    trials (same label, same seed)."""
    def times(s):
        return {(t["label"], t["seed"]): t["time_wall_s"] for t in s["trials"]
                if t.get("status") == "FINISHED" and t.get("time_wall_s")}
    tb, ta = times(before), times(after)
    ratios = [ta[k] / tb[k] for k in sorted(set(ta) & set(tb))]
    wall_b = before.get("overhead", {}).get("wall_s")
    wall_a = after.get("overhead", {}).get("wall_s")
    out = {"wall_s_before": wall_b, "wall_s_after": wall_a,
           "wall_ratio": wall_a / wall_b if wall_a and wall_b else None,
           "trial_pairs": len(ratios)}
    if ratios:
        out.update(trial_ratio_geomean=float(math.exp(np.mean(np.log(ratios)))),
                   trial_ratio_min=min(ratios), trial_ratio_max=max(ratios))
    return out


def config_changes(before: dict, after: dict) -> dict:
    """{key: [before, after]} of the base configs' differing keys."""
    b, a = before.get("base_config") or {}, after.get("base_config") or {}
    return {k: [b.get(k), a.get(k)] for k in sorted(set(a) | set(b)) if a.get(k) != b.get(k)}


def paths_ran(summary: dict) -> list[str]:
    """The distinct "precision, layout" pairs the finished trials reported."""
    seen = {f"{t.get('precision') or '?'}, {t.get('layout') or '?'}" for t in summary["trials"]
            if t.get("status") == "FINISHED"}
    return sorted(seen)


def render(result: dict) -> list[str]:
    lines = []
    changes = result["config_changes"]
    lines.append("base config changes (before -> after): " + (", ".join(
        f"{k}={v[0]} -> {v[1]}" for k, v in changes.items()) or "none recorded"))
    lines.append(f"ran in: before {'; '.join(result['paths_before'])}; "
                 f"after {'; '.join(result['paths_after'])}")
    for m in result["metrics"]:
        spec = metric_spec(m["metric"])
        f = spec.fmt
        unit = f" {spec.unit}" if spec.unit else ""
        lines.append(f"{m['metric']} after - before, paired by group, seed and image "
                     f"({m['confidence']:.2%} intervals, {m['correction']} over {m['family']} "
                     f"comparisons; margin +-{m['margin']:g}{unit}):")
        width = max(len(g["label"]) for g in m["groups"])
        for g in m["groups"]:
            ci = g["ci95"]
            spread = g["seed_spread_before"]
            lines.append(
                f"  {g['label']:<{width}}  {_num(g['delta'], f)} "
                f"[{_num(ci and ci[0], f)}, {_num(ci and ci[1], f)}] {_word(g)}"
                f"  ({g['n_replicates']} seeds x {g['n_images']} images; seed spread "
                f"before {_num(spread, f, '')})")
        p = m["pooled"]
        ci = p["ci95"]
        lines.append(f"  pooled: {_num(p['delta'], f)} [{_num(ci and ci[0], f)}, "
                     f"{_num(ci and ci[1], f)}] {_word(p)} over {p['n_trial_pairs']} "
                     f"trial pairs x {p['n_images']} images; largest seed spread before "
                     f"{_num(m['largest_seed_spread_before'], f, '')}")
    t = result["time"]
    if t.get("wall_ratio"):
        lines.append(f"sweep wall time: {t['wall_s_before']:.0f} s -> {t['wall_s_after']:.0f} s "
                     f"({t['wall_ratio']:.2f}x)")
    if t.get("trial_pairs"):
        lines.append(f"trial wall time after / before: geometric mean "
                     f"{t['trial_ratio_geomean']:.2f}x (range {t['trial_ratio_min']:.2f}-"
                     f"{t['trial_ratio_max']:.2f}) over {t['trial_pairs']} trial pairs; "
                     "trials share the machine, so one pair's ratio is noisy")
    return lines


def _word(d: dict) -> str:
    return d["verdict"] + (" (negligible)" if d.get("negligible") else "")


def _num(v, fmt, sign="+") -> str:
    """`v` in the metric's format; a nonzero value that would print as 0 gets 2 digits."""
    if v is None:
        return "-"
    text = f"{v:{sign}{fmt}}"
    return f"{v:{sign}.2g}" if v and float(text) == 0 else text


def parse_args(argv):
    p = OneLineParser(prog="python -m bench.versus", description=__doc__.splitlines()[0])
    p.add_argument("before", help="the first sweep's --json summary")
    p.add_argument("after", help="the second sweep's --json summary")
    p.add_argument("--metric", metavar="M1,M2", help="per-image metrics to pair (default: "
                   "the sweeps' objective, psnr_y for a non-image objective)")
    p.add_argument("--json", metavar="OUT", help="write the comparison as JSON (atomically)")
    return p.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    try:
        check_json_target(args.json)
        before, after = load_summary(args.before), load_summary(args.after)
        objective = before.get("objective") or "psnr_y"
        default = objective if (metric_spec(objective) and metric_spec(objective).per_image) \
            else "psnr_y"
        names = [m.strip() for m in (args.metric or default).split(",") if m.strip()]
        if not names:
            raise UsageError("--metric: name at least one metric")
        result = {"before": args.before, "after": args.after,
                  "config_changes": config_changes(before, after),
                  "paths_before": paths_ran(before), "paths_after": paths_ran(after),
                  "metrics": [compare_metric(before, after, m) for m in names],
                  "time": time_comparison(before, after)}
    except UsageError as exc:
        return fail(exc)
    print("\n".join(render(result)))
    if args.json:
        write_json_atomic(args.json, result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
