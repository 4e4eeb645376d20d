"""The report's learning section: which groups were still improving over the last half of
training, whether the ranking held, and (TUNE fidelity) whether a short budget ranks like a
long one, all from the sweep summary (bench/sweep/curves.py)."""
import pandas as pd
import plotly.graph_objects as go

from dashboards.colors import group_colors
from dashboards.figures import LAYOUT, Section
from dashboards.sections import SectionSpec
from dashboards.summary import Summary


def _interval(d: dict) -> str:
    ci = d.get("ci95")
    return f"{d['delta']:+.3f}" + (f" [{ci[0]:+.3f}, {ci[1]:+.3f}]" if ci else "")


def group_curves(summary, metric: str) -> go.Figure | None:
    """Each group's mean `metric` over its seeds at every evaluation step, with a band from
    its lowest to its highest seed; None without at least 2 evaluations."""
    rows = pd.DataFrame([{"label": t.label, "seed": t.seed, "step": p["step"],
                          "value": p.get(metric)}
                         for t in Summary.of(summary).trials for p in t.curve])
    if rows.empty or rows["value"].isna().all() or rows["step"].nunique() < 2:
        return None
    colors = group_colors(rows["label"])
    fig = go.Figure()
    for label, part in rows.dropna(subset=["value"]).groupby("label", sort=True):
        by_step = part.groupby("step")["value"].agg(["mean", "min", "max", "count"])
        color = colors[label]
        if by_step["count"].max() > 1:
            fig.add_trace(go.Scatter(  # the band: min, then max in reverse, filled
                x=[*by_step.index, *by_step.index[::-1]],
                y=[*by_step["min"], *by_step["max"][::-1]], fill="toself", fillcolor=color,
                opacity=0.2, line=dict(width=0), legendgroup=label, showlegend=False,
                hoverinfo="skip"))
        fig.add_trace(go.Scatter(
            x=by_step.index, y=by_step["mean"], mode="lines+markers", name=label,
            legendgroup=label, line=dict(color=color, width=2),
            customdata=by_step[["min", "max", "count"]].to_numpy(),
            hovertemplate=f"{label}<br>step %{{x}}: mean %{{y:.3f}} over %{{customdata[2]}} "
                          "seed(s), range [%{customdata[0]:.3f}, %{customdata[1]:.3f}]"
                          "<extra></extra>"))
    fig.update_layout(**LAYOUT, height=420, xaxis=dict(title="training step"),
                      yaxis=dict(title=f"{metric}, mean over seeds (band: lowest to highest "
                                       "seed)"))
    return fig


def learning(summary) -> Section:
    title = "Was training done? Still improving, ranking held"
    summary = Summary.of(summary)
    learn = summary.learning
    if not learn.get("groups"):
        return Section("learning", title, note="one evaluation per trial, or a summary from "
                       "before learning curves: nothing to say about the trend")
    rows = [{"group": g["label"],
             f"{learn['metric']} step {g['half_step']} -> {g['last_step']}": _interval(g),
             "verdict": g["learning"], "seeds x images": f"{g['n_replicates']} x {g['n_images']}"}
            for g in learn["groups"]]
    blurb = (f"{learn['sentence']}. Each row is a group's paired change (same image, same "
             f"seed) over the last half of training, with {learn['confidence']:.2%} "
             f"simultaneous intervals ({learn['correction']} over {learn['family']} groups); "
             "`still improving` means the interval lies above 0: the verdicts of this sweep "
             "rank how fast variants learn at this budget, which may not be how they end.")
    fid = summary.fidelity
    table = pd.DataFrame(rows)
    if fid:
        blurb += f" Budgets ({fid['key']}): {fid['sentence']}."
        table = pd.concat([table, pd.DataFrame(
            [{"group": v["label"], "verdict": f"{fid['key']}={r['budget']}: {v['short']}; "
              f"{fid['key']}={r['against']}: {v['long']} (survives: {v['survives']})"}
             for r in fid["rows"] for v in r["verdicts"]])], ignore_index=True).fillna("")
    metric = "gain_db" if any("gain_db" in p for t in summary.trials
                              for p in t.curve) else learn["metric"]
    fig = group_curves(summary, metric)
    if fig is not None:
        blurb += (f" The figure: each group's {metric} at every evaluation, the mean over its "
                  "seeds, with a band from its lowest to its highest seed; the table under it "
                  "has the numbers.")
    return Section("learning", title, blurb, figure=fig, table=table)


# this module's report sections (dashboards/sections.py)
SECTIONS = [
    SectionSpec("learning", 20, lambda i: learning(i.summary), study=True),
]
