"""What the sweep cost, from its summary.json (bench.sweep.log.summarize): quality against
cost per group, shown only for a cost that differs between groups beyond its noise, and where
the sweep's wall time went."""
import itertools
import math

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots
from scipy import stats

from dashboards import schema
from dashboards.colors import VERDICT_COLORS, group_colors
from dashboards.figures import LAYOUT, Section, mean_interval
from dashboards.sections import SectionSpec
from dashboards.summary import Summary


def _welch_interval(a: list[float], b: list[float]) -> tuple[float, float] | None:
    """95% Welch t interval of mean(a) - mean(b) (scipy); None with fewer than 2 values a
    side."""
    if len(a) < 2 or len(b) < 2:
        return None
    if np.ptp(a) == 0 and np.ptp(b) == 0:  # no spread: scipy would warn and divide by 0
        d = float(a[0] - b[0])
        return d, d
    ci = stats.ttest_ind(a, b, equal_var=False).confidence_interval(0.95)
    return float(ci.low), float(ci.high)


def wall_times(summary) -> dict[str, list[float]]:
    """Group label -> the wall times (s) of its finished trials, one per seed."""
    out = {}
    for t in Summary.of(summary).trials:
        if t.finished and t.time_wall_s is not None:
            out.setdefault(t.label, []).append(float(t.time_wall_s))
    return out


def cost_differs(walls: dict[str, list[float]]) -> tuple[bool, str]:
    """(whether some pair of groups differs in wall time beyond the noise, why not if not)."""
    if min((len(v) for v in walls.values()), default=0) < 2:
        return False, "one seed per group, so the wall-time noise is unknown"
    for a, b in itertools.combinations(walls, 2):
        ci = _welch_interval(walls[a], walls[b])
        if ci and (ci[0] > 0 or ci[1] < 0):
            return True, ""
    every = [w for v in walls.values() for w in v]
    return False, (f"every group's wall time ({min(every):.0f}-{max(every):.0f} s per trial) "
                   "cannot be told from every other's (each 95% interval of a "
                   "difference includes 0)")


def quality_vs_cost(summary) -> Section:
    title = "Quality against cost"
    summary = Summary.of(summary)
    groups = summary.with_stat("gain_db")
    if len(groups) < 2:
        return Section("cost", title, note="needs the group statistics of two or more groups "
                                           "(the sweep's summary.json)")
    walls = wall_times(summary)
    params = {}
    for t in summary.trials:
        if t.finished and "model/params" in t.metrics:
            params.setdefault(t.label, t.metrics["model/params"])
    groups = [g for g in groups if g.label in walls]
    costs, why_not = [], []
    if len(set(params.values())) > 1:
        costs.append(("model/params", "parameters (exact)",
                      {g: (params.get(g), None, None) for g in params}))
    elif params:
        why_not.append(f"every group has {int(next(iter(params.values()))):,} parameters")
    differs, reason = cost_differs({g.label: walls[g.label] for g in groups})
    if differs:
        costs.append(("time_wall_s", "wall time per trial (s), mean and 95% CI over seeds",
                      {g: mean_interval(np.array(v)[:, None]) for g, v in walls.items()}))
    else:
        why_not.append(reason)
    if not costs:
        return Section("cost", title, note="no cost differs between groups beyond its noise: "
                                           + "; ".join(why_not))
    fig = make_subplots(rows=1, cols=len(costs), shared_yaxes=True, horizontal_spacing=0.06)
    groups = sorted(groups, key=lambda g: -g.stats["gain_db"].mean)
    colors = group_colors(g.label for g in groups)
    for g in groups:
        gain, ci = g.stats["gain_db"].mean, g.stats["gain_db"].bounds
        for c, (name, axis, by_group) in enumerate(costs, 1):
            m, lo, hi = by_group.get(g.label, (None, None, None))
            if m is None:
                continue
            fig.add_trace(go.Scatter(
                x=[m], y=[gain], mode="markers", name=g.label, legendgroup=g.label,
                showlegend=c == 1, marker=dict(size=11, color=colors[g.label],
                                               line=dict(width=2, color=VERDICT_COLORS[
                                                   g.verdict])),
                error_x=None if lo is None else dict(type="data", array=[hi - m],
                                                     arrayminus=[m - lo]),
                error_y=dict(type="data", array=[ci[1] - gain], arrayminus=[gain - ci[0]]),
                text=[g.verdict],
                hovertemplate=f"{g.label} (%{{text}})<br>{name} %{{x:.4g}}<br>"
                              "gain %{y:.3f} dB<extra></extra>"), row=1, col=c)
    for c, (_, axis, _) in enumerate(costs, 1):
        fig.update_xaxes(title_text=axis, row=1, col=c)
    fig.update_yaxes(title_text="gain over bicubic (dB), mean and 95% CI", row=1, col=1)
    fig.update_layout(**LAYOUT, height=460)
    shown_names = " and ".join(n for n, _, _ in costs).replace("time_wall_s", "wall time")
    return Section("cost", title,
                   f"Each group's gain over bicubic against {shown_names}; only a cost that "
                   "differs between groups beyond its noise is drawn (the wall time when some "
                   "pair's 95% Welch interval of the difference excludes 0)"
                   + (f"; left out: {'; '.join(why_not)}" if why_not else "")
                   + ". Marker outline: green best, grey undecided, teal equivalent, red worse (against the best); "
                   "no Pareto front is drawn: read the intervals.", figure=fig)


STARTUP_COLORS = ("#fecb52", "#ffa15a", "#ab63fa", "#19d3f3", "#ff6692", "#b6e880")


def _first_metric_parts(phases: dict | None, first: float) -> list[tuple[str, float, str]]:
    """The wall time to the first metric as bars: one per start-up phase when the summary
    has them all (bench.sweep since 2026-12-08), else one bar."""
    def finite(v):  # a phase that never ended is NaN, or null in some JSON writers
        return isinstance(v, (int, float)) and math.isfinite(v)
    if phases and all(finite(phases.get(k)) for k in schema.STARTUP_PHASES):
        return [(label, float(phases[k]), color) for (k, label), color
                in zip(schema.STARTUP_PHASES.items(), STARTUP_COLORS)]
    return [("start-up to the first metric", first, "#ffa15a")]


def time_breakdown(summary) -> Section:
    title = "Where the sweep's time went"
    summary = Summary.of(summary)
    o = summary.overhead
    if not o.wall_s or not o.slots:
        return Section("time", title, note="the sweep's summary.json has no overhead figures")
    wall, slots = float(o.wall_s), int(o.slots)
    total = wall * slots
    train, evaluation = float(o.train_s), float(o.eval_s)
    if o.data_s is not None and o.compute_s is not None:
        data, compute, how = float(o.data_s), float(o.compute_s), "measured"
    else:  # split the training time by the trials' data fraction (their last interval)
        fractions = [t.metrics["data_fraction"] for t in summary.trials
                     if "data_fraction" in t.metrics]
        share = float(np.mean(fractions)) if fractions else 0.0
        data, compute, how = train * share, train * (1 - share), "split by the data fraction"
    other = max(total - train - evaluation, 0.0)
    first = o.time_to_first_metric_s
    parts = [("training: waiting for data", data, "#ef553b"),
             ("training: compute", compute, "#636efa"),
             ("evaluation", evaluation, "#00cc96"),
             ("start-up, scheduling, logging, idle slots", other, "#c8c8c8")]
    first_parts = _first_metric_parts(o.startup_s, first) \
        if first is not None and math.isfinite(first) else []
    phases = "" if len(first_parts) < 2 else f"; first metric after {first:.1f} s: " + \
        ", ".join(f"{name} {value:.1f}" for name, value, _ in first_parts) + " s"
    fig = make_subplots(rows=2, cols=1, vertical_spacing=0.35,
                        subplot_titles=[f"wall time: {wall:.0f} s{phases}",
                                        f"slot time: {wall:.0f} s x {slots} slot(s) = "
                                        f"{total:.0f} slot-seconds"])
    if first_parts:
        for name, value, color in (*first_parts,
                                   ("the rest of the sweep", max(wall - first, 0), "#e5e5e5")):
            fig.add_trace(go.Bar(y=["wall"], x=[value], name=name, orientation="h",
                                 marker_color=color, showlegend=False,
                                 text=[f"{name}: {value:.0f} s" if value > 0.06 * wall else ""],
                                 textposition="inside",
                                 hovertemplate=f"{name}: %{{x:.1f}} s<extra></extra>"),
                          row=1, col=1)
    for name, value, color in parts:
        fig.add_trace(go.Bar(
            y=["slots"], x=[value], name=name, orientation="h", marker_color=color,
            text=[f"{value:.0f} s ({value / total:.0%})"], textposition="inside",
            hovertemplate=f"{name}: %{{x:.1f}} slot-s<extra></extra>"), row=2, col=1)
    fig.update_layout(**{**LAYOUT, "legend": dict(orientation="h", y=-0.35, yanchor="top")},
                      barmode="stack", height=320)
    fig.update_xaxes(title_text="seconds", row=1, col=1)
    fig.update_xaxes(title_text="slot-seconds", row=2, col=1)
    return Section("time", title,
                   f"The sweep ran {wall:.0f} s on {slots} trial slot(s). Top: the wall time "
                   "before the first metric arrived (process, Ray and trial start-up plus the "
                   "first training interval and its evaluation; where the sweep recorded its "
                   "start-up phases, each has its own colour, in the order of the title). Bottom: how the slot-seconds were spent: "
                   f"training steps (waiting for data and compute, {how}), evaluation, and "
                   "the rest (start-up, scheduling, MLflow logging, slots left idle).",
                   figure=fig)


# this module's report sections (dashboards/sections.py)
SECTIONS = [
    SectionSpec("quality_vs_cost", 170, lambda i: quality_vs_cost(i.summary)),
    SectionSpec("time", 190, lambda i: time_breakdown(i.summary)),
]
