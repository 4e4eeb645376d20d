"""The levels section (architecture=levels, search_spaces/levels.py): each group's quality
beside what its network costs: parameters and training wall time, and for a cascade the
levels it was composed from (each level's x2 psnr_y on the photos at 1/2^(k-1), its wall
time, and the longest and summed level times). Left out for sweeps without a cascade."""
from statistics import mean

import pandas as pd

from dashboards.costs import wall_times
from dashboards.figures import Section
from dashboards.sections import SectionSpec
from dashboards.summary import Summary


def _ci(stat) -> str:
    if stat is None:
        return ""
    lo, hi = stat.bounds
    return f"{stat.mean:.2f} [{lo:.2f}, {hi:.2f}]"


def _per_level(rows: list[dict], key: str, fmt: str) -> str:
    """Each level's mean of `key` over its seeds: "1: v1, 2: v2" ("" without levels)."""
    levels = sorted({r["level"] for r in rows if r.get(key) is not None})
    return ", ".join(f"{k}: {mean(r[key] for r in rows if r['level'] == k and r.get(key) is not None):{fmt}}"
                     for k in levels)


def cost_rows(summary) -> list[dict]:
    """What each group's network cost, means over its finished seeds: parameters, wall time
    per trial (a cascade's: its longest level plus its evaluation, the levels trained side
    by side), and a cascade's levels: summed wall time, and each level's wall time and x2
    psnr_y on the photos at 1/2^(k-1). The report's section and RESULTS.md (bench.results)
    show these rows."""
    summary = Summary.of(summary)
    walls = wall_times(summary)
    out = []
    for label in dict.fromkeys(t.label for t in summary.trials if t.finished):
        trials = [t for t in summary.trials if t.label == label and t.finished]
        sums = [t.metrics["levels/train_wall_sum_s"] for t in trials
                if "levels/train_wall_sum_s" in t.metrics]
        params = trials[0].metrics.get("model/params")
        own = [r for r in summary.levels if r["label"] == label]
        out.append({"group": label, "parameters": f"{params:,.0f}" if params else "",
                    "wall per trial (s)": f"{mean(walls[label]):.0f}" if walls.get(label) else "",
                    "levels: summed wall (s)": f"{mean(sums):.0f}" if sums else "",
                    "levels: wall per level (s)": _per_level(own, "time_wall_s", ".0f"),
                    "levels: x2 psnr_y per level (dB)": _per_level(own, "psnr_y", ".2f")})
    return out


def levels_table(summary) -> Section:
    title = "Independent levels against the joint network"
    summary = Summary.of(summary)
    if not summary.levels:
        return Section("levels", title, note="the sweep has no architecture=levels cascade")
    costs = {r["group"]: r for r in cost_rows(summary)}
    rows = [{"group": g.label, "psnr_y (dB)": _ci(g.stats.get("psnr_y")),
             "gain over bicubic (dB)": _ci(g.stats.get("gain_db")),
             "lr_psnr_y (dB)": _ci(g.stats.get("lr_psnr_y")),
             "verdict vs reference": "reference" if g.vs_reference and g.vs_reference.is_self
             else (g.vs_reference.verdict if g.vs_reference else ""),
             **costs.get(g.label, {})} for g in summary.groups]
    return Section("levels", title,
                   "Each group's own mean [95% CI] over seeds x validation tiles (the group "
                   "table above has the paired differences and verdicts), and what its network "
                   "cost, means over its seeds. A cascade's wall time is its longest level plus "
                   "its evaluation (the levels train side by side); each level's x2 psnr_y is "
                   "on the photos at 1/2^(k-1).", table=pd.DataFrame(rows))


# this module's report sections (dashboards/sections.py)
SECTIONS = [
    SectionSpec("levels", 65, lambda i: levels_table(i.summary), study=True),
]
