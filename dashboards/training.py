"""Training curves: the dense training losses (bench.common.tracking logs one point every log_every
steps, the mean over that window), smoothed, one panel per differently defined loss; the
evaluations (psnr_y, gain_db) as markers at the evaluation steps; the schedule and the wall
time at each report."""
import math

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from dashboards.data import Sweep
from dashboards.figures import (LAYOUT, LOSS_DEFINITION, LOSS_WEIGHT, MAX_TRACES, Section,
                                fmt, log_axis, log_ticks, trial_colors)
from irn.loss_terms import LOSS_TERMS, TOTAL
from dashboards.sections import SectionSpec

LOSS_KEYS = (TOTAL, *(t.key for t in LOSS_TERMS))  # irn/loss_terms.py (membership only)
EVAL_KEYS = ("psnr_y", "gain_db")
OTHER_KEYS = ("schedule/lr", "time/wall")
CURVE_KEYS = EVAL_KEYS + LOSS_KEYS + OTHER_KEYS
SMOOTHING = 0.6  # EMA weight of the previous smoothed value (TensorBoard's default), debiased
COLUMNS = 3
MAX_PANELS = 18
TITLES = {"schedule/lr": "schedule/lr (learning rate)", "time/wall": "time/wall (s at each report)",
          "gain_db": "gain_db (dB over bicubic)", "psnr_y": "psnr_y (dB)"}
DASHES = ("solid", "dash", "dot", "dashdot")


def ema(values, weight: float = SMOOTHING) -> np.ndarray:
    """Exponential moving average, debiased so that the first points are not pulled to 0."""
    out, acc = [], 0.0
    for i, v in enumerate(values, 1):
        acc = weight * acc + (1 - weight) * v
        out.append(acc / (1 - weight ** i))
    return np.array(out)


def per_weight(sweep: Sweep, hist: pd.DataFrame) -> pd.DataFrame:
    """The loss terms divided by their weight where the weight differs between trials (the
    effective one: lambda_guide None is scale^2), so that only the loss type separates them."""
    varying = set(sweep.varying())
    weights = sweep.runs.set_index("run_id")
    hist = hist.copy()
    for key, weight in LOSS_WEIGHT.items():
        if weight not in varying or weight not in weights:
            continue
        rows = hist["key"] == key
        w = hist.loc[rows, "run_id"].map(weights[weight]).astype(float)
        hist.loc[rows, "value"] = hist.loc[rows, "value"] / w.where(w != 0)
    return hist


def panels(sweep: Sweep, hist: pd.DataFrame) -> tuple[list[tuple[str, str, list[str]]], list]:
    """(title, metric, run ids) per panel: the evaluation metrics, then each loss term once
    per definition (the values of its LOSS_DEFINITION keys that vary), the schedule and the
    wall time; and the loss keys left out (a total defined differently across trials)."""
    runs = sweep.runs.set_index("run_id")
    varying = set(sweep.varying())
    out, left_out = [], []
    for key in CURVE_KEYS:
        ids = list(dict.fromkeys(hist.loc[hist["key"] == key, "run_id"]))
        if not ids:
            continue
        defining = [k for k in LOSS_DEFINITION.get(key, ()) if k in varying]
        weight = LOSS_WEIGHT.get(key)
        name = f"{key} / {weight}" if weight in varying else TITLES.get(key, key)
        if key == "loss/total" and defining:
            left_out.append(key)
            continue
        if not defining:
            out.append((name, key, ids))
            continue
        by_definition = {}
        for rid in ids:
            values = tuple(fmt(k, runs.at[rid, k]) for k in defining)
            by_definition.setdefault(values, []).append(rid)
        for values, members in by_definition.items():
            what = ", ".join(f"{k}={v}" for k, v in zip(defining, values))
            out.append((f"{name} · {what}", key, members))
    return out, left_out


def curves(sweep: Sweep, hist: pd.DataFrame) -> Section:
    title = "Training curves"
    shown = set(sweep.finished["run_id"][:MAX_TRACES])
    hist = per_weight(sweep, hist[hist["run_id"].isin(shown)]) if not hist.empty else hist
    found, left_out = panels(sweep, hist) if not hist.empty else ([], [])
    if not found:
        return Section("curves", title, note="no loss or evaluation history was logged")
    cut = len(found) > MAX_PANELS
    found = found[:MAX_PANELS]
    rows = math.ceil(len(found) / COLUMNS)
    fig = make_subplots(rows=rows, cols=COLUMNS, subplot_titles=[t for t, _, _ in found],
                        horizontal_spacing=0.07, vertical_spacing=0.5 / rows)
    colors = trial_colors(sweep)
    names = sweep.runs.set_index("run_id")["trial"]
    seed_rank, counts = {}, {}  # 0 for a group's first trial, 1 for its second, ...
    for rid, group in zip(sweep.finished["run_id"], sweep.finished["group"]):
        seed_rank[rid] = counts.get(group, 0)
        counts[group] = seed_rank[rid] + 1
    legend = set()
    for i, (_, key, ids) in enumerate(found):
        r, c = i // COLUMNS + 1, i % COLUMNS + 1
        part = hist[(hist["key"] == key) & hist["run_id"].isin(ids)]
        for rid in [x for x in sweep.finished["run_id"] if x in ids]:
            pts = part[part["run_id"] == rid].sort_values("step")
            if pts.empty:
                continue
            loss = key in LOSS_KEYS
            y = ema(pts["value"].to_numpy()) if loss and len(pts) > 2 else pts["value"]
            fig.add_trace(go.Scatter(
                x=pts["step"], y=y, customdata=pts["value"],
                mode="lines" if loss or key == "schedule/lr" else "lines+markers",
                name=names[rid], legendgroup=rid, showlegend=rid not in legend, meta=key,
                line=dict(color=colors[rid], width=1.6,
                          dash=DASHES[seed_rank[rid] % len(DASHES)]),
                marker=dict(size=8 if key in EVAL_KEYS else 5),
                hovertemplate=f"{names[rid]}<br>step %{{x}}<br>{key} "
                              + ("smoothed %{y:.4g}, window mean %{customdata:.4g}" if loss
                                 else "%{y:.4g}") + "<extra></extra>"), row=r, col=c)
            legend.add(rid)
        values = part["value"]
        if key in LOSS_KEYS and log_axis(values):  # this panel spans >= 20x
            ticks, labels = log_ticks(values.min(), values.max())
            fig.update_yaxes(type="log", tickvals=ticks, ticktext=labels, row=r, col=c)
        fig.update_xaxes(title_text="step" if i >= len(found) - COLUMNS else None, row=r, col=c)
    fig.update_annotations(font=dict(size=11))
    fig.update_layout(**LAYOUT, height=80 + 260 * rows)
    fig.update_layout(legend=dict(orientation="h", y=-0.25 / rows, yanchor="top"))
    n = len(sweep.finished)
    cap = f" Showing the {MAX_TRACES} best of {n} finished trials." if n > MAX_TRACES else ""
    cap += f" Only the first {MAX_PANELS} panels are drawn." if cut else ""
    cap += (" loss/total is not drawn: the trials define it differently (its terms are)."
            if left_out else "")
    return Section("curves", title,
                   "Training losses as logged (the mean of each log_every-step window), drawn "
                   f"as an exponential moving average (weight {SMOOTHING} on the previous "
                   "value, debiased; the window mean is in the hover). A term whose weight "
                   "differs between trials is divided by it (\"/ lambda_...\"), and one whose "
                   "loss type differs gets a panel per type, so values on one axis are "
                   "comparable. A loss axis is "
                   "logarithmic only where it spans 20x or more. Evaluations (psnr_y, "
                   "gain_db) are markers at the evaluation steps. Colour: group; dash: "
                   "seed. Click a legend entry to hide a trial in every panel." + cap,
                   figure=fig)


# this module's report sections (dashboards/sections.py)
SECTIONS = [
    SectionSpec("curves", 160, lambda i: curves(i.sweep, i.hist)),
]
