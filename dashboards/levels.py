"""The levels section (architecture=levels, search_spaces/levels.py): each group's quality
beside what its network costs: parameters and training wall time, and for a cascade the
levels it was composed from (each level's x2 psnr_y on the photos at 1/2^(k-1), its wall
time, and the longest and summed level times). Left out for sweeps without a cascade."""
import pandas as pd

from dashboards.figures import Section
from dashboards.sections import SectionSpec
from dashboards.summary import Summary


def _ci(stat) -> str:
    if stat is None:
        return ""
    lo, hi = stat.bounds
    return f"{stat.mean:.2f} [{lo:.2f}, {hi:.2f}]"


def levels_table(summary) -> Section:
    title = "Independent levels against the joint network"
    summary = Summary.of(summary)
    if not summary.levels:
        return Section("levels", title, note="the sweep has no architecture=levels cascade")
    walls: dict[str, list[float]] = {}
    params: dict[str, float] = {}
    for t in summary.trials:
        if t.finished and t.time_wall_s is not None:
            walls.setdefault(t.label, []).append(t.time_wall_s)
            params.setdefault(t.label, t.metrics.get("model/params"))
    rows = []
    for g in summary.groups:
        own = [r for r in summary.levels if r["label"] == g.label]
        per_level = sorted({r["level"] for r in own})
        rows.append({
            "group": g.label, "psnr_y (dB)": _ci(g.stats.get("psnr_y")),
            "gain over bicubic (dB)": _ci(g.stats.get("gain_db")),
            "lr_psnr_y (dB)": _ci(g.stats.get("lr_psnr_y")),
            "verdict vs reference": "reference" if g.vs_reference and g.vs_reference.is_self
            else (g.vs_reference.verdict if g.vs_reference else ""),
            "parameters": f"{params[g.label]:,.0f}" if params.get(g.label) else "",
            "wall per trial (s)": f"{sum(walls[g.label]) / len(walls[g.label]):.0f}"
            if walls.get(g.label) else "",
            "levels: x2 psnr_y per level (dB)": ", ".join(
                f"{k}: " + "/".join(f"{r['psnr_y']:.2f}" for r in own
                                    if r["level"] == k and r.get("psnr_y") is not None)
                for k in per_level),
            "levels: wall per level (s)": ", ".join(
                f"{k}: " + "/".join(f"{r['time_wall_s']:.0f}" for r in own
                                    if r["level"] == k and r.get("time_wall_s") is not None)
                for k in per_level)})
    return Section("levels", title,
                   "Each group's own mean [95% CI] over seeds x validation tiles (the group "
                   "table above has the paired differences and verdicts). A cascade's wall "
                   "time is its longest level plus its evaluation (the levels train side by "
                   "side); each level's x2 psnr_y is on the photos at 1/2^(k-1), one value per "
                   "seed.", table=pd.DataFrame(rows))


# this module's report sections (dashboards/sections.py)
SECTIONS = [
    SectionSpec("levels", 65, lambda i: levels_table(i.summary), study=True),
]
