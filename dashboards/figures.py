"""One function per report section. Each takes the loaded Sweep (and, where needed, metric
histories or crops) and returns a Section: a Plotly figure, a table or a gallery, or, when the
sweep has no data for it, only a one-line note saying why the section is left out.
"""
import math
import re
from dataclasses import dataclass

import numpy as np
import pandas as pd
import plotly.express as px
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from dashboards.data import KEY_PARAMS, NOT_FACTORS, Sweep, metric
from irn.evaluate import metric_spec

TABLE_METRICS = ("psnr_y", "gain_db", "ssim_y", "psnr_rgb", "lr_psnr_y", "sr_psnr_y", "psnr_y_zero",
                 "params", "throughput_mps", "time/wall", "data_fraction")
CURVE_KEYS = ("loss/total", "loss/recon", "loss/guide", "loss/distr", "psnr_y",
              "lr")  # lr: the metric, the schedule's learning rate at each report
PROFILE_KEYS = ("time/h2d", "time/forward", "time/reverse", "time/backward", "time/optimizer")
MAX_TRACES = 12  # curves and JPEG lines: the best N trials; more is unreadable
MAX_GALLERY = 24
PALETTE = px.colors.qualitative.Plotly + px.colors.qualitative.D3 + px.colors.qualitative.Dark24
LAYOUT = dict(template="plotly_white", margin=dict(l=60, r=20, t=40, b=50),
              font=dict(size=12), legend=dict(font=dict(size=11)))


@dataclass
class Section:
    key: str
    title: str
    blurb: str = ""
    figure: go.Figure | None = None
    table: pd.DataFrame | None = None  # display strings; column "_kind" styles the row
    gallery: dict | None = None
    note: str = ""  # non-empty: the section is left out, and this line says why


def fmt(key: str, value) -> str:
    """A value as the table shows it."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, float, np.number)):
        return str(value)
    spec = metric_spec(key)  # the metric registry's display format
    if spec and spec.per_image:
        return spec.format(float(value))
    if key == "params":
        return f"{int(value):,}"
    if float(value).is_integer() and abs(value) < 1e6:
        return str(int(value))
    return f"{value:.4g}"


def has(frame: pd.DataFrame, name: str) -> bool:
    return metric(name) in frame and frame[metric(name)].notna().any()


def factors(sweep: Sweep) -> list[str]:
    return [k for k in sweep.varying() if k not in NOT_FACTORS]


def trial_labels(sweep: Sweep) -> dict[str, str]:
    """run_id -> 'trial · value · value' naming what differs between trials."""
    keys = [k for k in sweep.varying(sweep.runs) if k not in NOT_FACTORS][:4]
    out = {}
    for row in sweep.runs.to_dict("records"):
        parts = [fmt(k, row[k]) for k in keys]
        values = [f"{k}={p}" if k.startswith(("lambda", "lr", "batch")) else p
                  for k, p in zip(keys, parts) if p]
        out[row["run_id"]] = " · ".join([str(row["trial"]), *values])
    return out


def trial_colors(sweep: Sweep) -> dict[str, str]:
    """One colour per trial, the same in every figure (best trial first)."""
    ids = list(sweep.finished["run_id"]) + list(sweep.failed["run_id"])
    return {rid: PALETTE[i % len(PALETTE)] for i, rid in enumerate(ids)}


def category_axis(values: pd.Series) -> bool:
    return not pd.api.types.is_numeric_dtype(values) or values.dropna().empty


def log_axis(values: pd.Series) -> bool:
    v = values.dropna()
    return (not category_axis(values) and len(v) > 1 and (v > 0).all()
            and v.max() / v.min() >= 20)


def pareto(x: np.ndarray, y: np.ndarray, x_better: str, y_better: str) -> np.ndarray:
    """Mask of the points no other point beats on both axes ('max' or 'min' per axis)."""
    sx = 1 if x_better == "max" else -1
    sy = 1 if y_better == "max" else -1
    keep = np.ones(len(x), bool)
    for i in range(len(x)):
        better = (sx * x >= sx * x[i]) & (sy * y >= sy * y[i])
        strictly = (sx * x > sx * x[i]) | (sy * y > sy * y[i])
        keep[i] = not (better & strictly).any()
    return keep


# --------------------------------------------------------------------------- sections
def sweep_table(sweep: Sweep) -> Section:
    obj = sweep.objective
    varying = set(sweep.varying(sweep.runs))
    config = [k for k in sweep.config_keys if k in varying or k in KEY_PARAMS]
    names = [obj] + [m for m in TABLE_METRICS if m != obj and has(sweep.runs, m)]
    done = sweep.finished.assign(_kind="trial")
    done.insert(0, "rank", range(1, len(done) + 1))
    baselines = []
    if has(done, "bicubic_psnr_y"):
        groups = done.groupby("scale") if "scale" in done else [(None, done)]
        for scale, group in groups:
            baselines.append({"trial": "bicubic baseline", "status": "baseline",
                              "_kind": "baseline",
                              **({"scale": scale} if scale is not None else {}),
                              metric("psnr_y"): group[metric("bicubic_psnr_y")].mean(),
                              metric("ssim_y"): group.get(metric("bicubic_ssim_y"),
                                                          pd.Series(dtype=float)).mean()})
    rows = pd.concat([done, pd.DataFrame(baselines)], ignore_index=True)
    if obj in ("psnr_y", "ssim_y"):  # the baseline ranks among the trials it is comparable to
        rows = rows.sort_values(metric(obj), ascending=sweep.mode == "min", kind="stable")
    other = sweep.failed.assign(_kind=np.where(sweep.failed["status"] == "FAILED", "failed",
                                               "unfinished"))
    rows = pd.concat([rows, other], ignore_index=True)
    table = pd.DataFrame({
        "#": [fmt("rank", v) for v in rows.get("rank", pd.Series([None] * len(rows)))],
        "trial": rows["trial"], "status": rows["status"],
        **{k: [fmt(k, v) for v in rows[k]] for k in config},
        **{m: [fmt(m, v) for v in rows.get(metric(m), [None] * len(rows))] for m in names},
        "_kind": rows["_kind"], "_failure": rows["error"].fillna("")})
    # page.py: text columns are left-aligned; a failed row shows its reason across the metrics
    table.attrs["text_columns"] = ["trial", "status",
                                   *[k for k in config if category_axis(sweep.runs[k])]]
    table.attrs["metric_columns"] = names
    n_fail = int((rows["_kind"] == "failed").sum())
    n_open = int((rows["_kind"] == "unfinished").sum())
    blurb = (f"{len(done)} finished trial(s), {n_fail} failed"
             + (f", {n_open} unfinished" if n_open else "") + f"; sorted by {obj} "
             f"({'higher' if sweep.mode == 'max' else 'lower'} is better), final values. "
             "Config columns: the keys that vary across trials, plus the key ones.")
    return Section("table", "Sweep table", blurb, table=table)


def parallel_coordinates(sweep: Sweep) -> Section:
    done, obj = sweep.finished, sweep.objective
    keys = factors(sweep)
    title = "Parallel coordinates"
    if not has(done, obj) or len(done) < 2 or not keys:
        return Section("parcoords", title, note="needs two or more finished trials that differ "
                                                f"in config and report {obj}")
    done = done[done[metric(obj)].notna()]
    dims = []
    for k in keys:
        col = done[k]
        if category_axis(col) or col.dropna().map(type).eq(bool).all():
            names = sorted(col.astype(str).unique())
            codes = col.astype(str).map({n: i for i, n in enumerate(names)})
            dims.append(dict(label=k, values=codes, tickvals=list(range(len(names))),
                             ticktext=names))
        elif log_axis(col):  # parcoords has no log axis: plot log10, label with real values
            ticks = sorted(col.dropna().unique())[:10]
            dims.append(dict(label=f"{k} (log)", values=np.log10(col),
                             tickvals=np.log10(ticks).tolist(),
                             ticktext=[fmt(k, t) for t in ticks]))
        else:
            dims.append(dict(label=k, values=col.fillna(col.min())))
    dims.append(dict(label=obj, values=done[metric(obj)]))
    fig = go.Figure(go.Parcoords(
        dimensions=dims, labelangle=-20,
        line=dict(color=done[metric(obj)], colorscale="Viridis", showscale=True,
                  reversescale=sweep.mode == "min", colorbar=dict(title=dict(text=obj)))))
    fig.update_layout(**LAYOUT, height=420)
    fig.update_layout(margin=dict(l=70, r=70, t=70, b=30))
    return Section("parcoords", title,
                   f"One line per finished trial, coloured by {obj}. Categorical keys are shown "
                   "by name. Drag along an axis to filter.", figure=fig)


def _strength(x: pd.Series, y: pd.Series) -> tuple[float, str]:
    """Spearman rank correlation for numeric keys (signed), the correlation ratio eta for
    categorical ones (0: the objective does not depend on the category, 1: fully determined)."""
    ok = x.notna() & y.notna()
    x, y = x[ok], y[ok]
    if x.astype(str).nunique() < 2 or y.nunique() < 2:
        return 0.0, "constant"
    if not category_axis(x) and not x.map(type).eq(bool).all():
        return float(x.rank().corr(y.rank())), "ρ"
    groups = y.groupby(x.astype(str))
    between = (groups.size() * (groups.mean() - y.mean()) ** 2).sum()
    return float(np.sqrt(between / ((y - y.mean()) ** 2).sum())), "η"


def importance(sweep: Sweep) -> Section:
    done, obj = sweep.finished, sweep.objective
    title = "Which parameters matter"
    keys = factors(sweep)
    if not has(done, obj) or done[metric(obj)].notna().sum() < 3 or not keys:
        return Section("importance", title, note=f"needs three or more finished trials with {obj} "
                                                 "that differ in config")
    scores = []
    for k in keys:
        value, kind = _strength(done[k], done[metric(obj)])
        scores.append((k, abs(value), value, kind))
    scores.sort(key=lambda s: s[1])
    fig = go.Figure(go.Bar(
        y=[s[0] for s in scores], x=[s[1] for s in scores], orientation="h",
        text=[f"{s[3]}={s[2]:+.2f}" if s[3] == "ρ" else f"{s[3]}={s[2]:.2f}" for s in scores],
        textposition="auto",
        marker_color=["#636efa" if s[3] == "ρ" else "#ef553b" for s in scores]))
    fig.update_layout(**LAYOUT, height=120 + 28 * len(scores),
                      xaxis=dict(title=f"strength of association with {obj}", range=[0, 1.05]))
    return Section("importance", title,
                   f"Numeric keys: Spearman rank correlation ρ with {obj} (blue; the sign is the "
                   "direction). Categorical keys: correlation ratio η (red; share of the spread "
                   f"explained by the category). {int(done[metric(obj)].notna().sum())} trials: an "
                   "indication, not a significance test; keys varied together confound.",
                   figure=fig)


def by_parameter(sweep: Sweep) -> Section:
    """The objective and the final total loss against each varying key (the seeds ask for loss
    against batch size, learning rate and schedule)."""
    done, obj = sweep.finished, sweep.objective
    title = "Objective and loss against each parameter"
    keys = factors(sweep)[:8]
    ys = [m for m in (obj, "loss/total") if has(done, m)]
    if not keys or not ys:
        return Section("by_param", title, note="no config key varies across finished trials")
    labels = trial_labels(sweep)
    fig = make_subplots(rows=len(ys), cols=len(keys), shared_yaxes=True,
                        horizontal_spacing=0.02 if len(keys) > 4 else 0.04,
                        vertical_spacing=0.12)
    for r, m in enumerate(ys, 1):
        for c, k in enumerate(keys, 1):
            x = done[k].astype(str) if category_axis(done[k]) else done[k]
            fig.add_trace(go.Scatter(
                x=x, y=done[metric(m)], mode="markers", showlegend=False,
                marker=dict(size=9, color="#636efa", opacity=0.8),
                text=[labels[r_] for r_ in done["run_id"]],
                hovertemplate=f"%{{text}}<br>{k}=%{{x}}<br>{m}=%{{y:.4g}}<extra></extra>"),
                row=r, col=c)
            fig.update_xaxes(title_text=k if r == len(ys) else None, row=r, col=c,
                             type="log" if log_axis(done[k]) else
                             ("category" if category_axis(done[k]) else None))
        fig.update_yaxes(title_text=m, row=r, col=1)
    fig.update_layout(**LAYOUT, height=140 + 260 * len(ys))
    return Section("by_param", title,
                   f"Each point is a finished trial's final value. Rows: {', '.join(ys)}.",
                   figure=fig)


def curves(sweep: Sweep, hist: pd.DataFrame) -> Section:
    title = "Training curves"
    keys = [k for k in CURVE_KEYS if not hist.empty and (hist["key"] == k).any()]
    if not keys:
        return Section("curves", title, note="no loss or PSNR history was logged")
    shown = list(sweep.finished["run_id"][:MAX_TRACES])
    labels, colors = trial_labels(sweep), trial_colors(sweep)
    fig = make_subplots(rows=len(keys), cols=2, horizontal_spacing=0.08, vertical_spacing=0.04,
                        shared_xaxes="columns")
    for r, key in enumerate(keys, 1):
        part = hist[hist["key"] == key]
        for rid in shown:
            pts = part[part["run_id"] == rid].sort_values("step")
            if pts.empty:
                continue
            for c, x in enumerate(("step", "wall"), 1):
                fig.add_trace(go.Scatter(
                    x=pts[x], y=pts["value"], mode="lines+markers" if len(pts) < 30 else "lines",
                    name=labels[rid], legendgroup=rid, showlegend=(r == 1 and c == 1),
                    line=dict(color=colors[rid], width=1.5), marker=dict(size=4),
                    hovertemplate=f"{labels[rid]}<br>{x}=%{{x:.4g}}<br>{key}=%{{y:.4g}}"
                                  "<extra></extra>"), row=r, col=c)
        logy = key.startswith("loss/") and log_axis(part["value"])  # spans >= 20x
        name = "lr (schedule)" if key == "lr" else key
        fig.update_yaxes(title_text=name + (" (log)" if logy else ""), row=r, col=1,
                         type="log" if logy else None)
        fig.update_yaxes(row=r, col=2, type="log" if logy else None)
    fig.update_xaxes(title_text="step", row=len(keys), col=1)
    fig.update_xaxes(title_text="wall time (s since trial start)", row=len(keys), col=2)
    fig.update_layout(**LAYOUT, height=120 + 210 * len(keys))
    fig.update_layout(legend=dict(orientation="h", y=-0.04 - 0.25 / len(keys), yanchor="top"))
    n = len(sweep.finished)
    cap = f" Showing the {MAX_TRACES} best of {n} finished trials." if n > MAX_TRACES else ""
    return Section("curves", title,
                   "Loss terms, PSNR and the learning-rate schedule against step (left) and wall "
                   "time (right); losses are means over each report interval. Click a legend "
                   "entry to hide a trial in every panel." + cap, figure=fig)


def quality_vs_cost(sweep: Sweep) -> Section:
    done, obj = sweep.finished, sweep.objective
    title = "Quality against cost"
    costs = []
    if has(done, "params"):
        costs.append(("params", done[metric("params")], "parameters", "min"))
    if has(done, "throughput_mps"):
        costs.append(("throughput", done[metric("throughput_mps")], "throughput (MP/s)", "max"))
    elif has(done, "time/wall") and {"steps", "batch_size", "patch_size"} <= set(done):
        mps = done["steps"] * done["batch_size"] * done["patch_size"] ** 2 / 1e6
        costs.append(("throughput", mps / done[metric("time/wall")],
                      "training throughput (MP/s, steps·batch·patch² / wall time)", "max"))
    if not has(done, obj) or not costs:
        return Section("cost", title, note="no params or throughput metric was logged")
    labels = trial_labels(sweep)
    fig = make_subplots(rows=1, cols=len(costs), shared_yaxes=True, horizontal_spacing=0.06)
    for c, (name, x, axis, better) in enumerate(costs, 1):
        y = done[metric(obj)]
        ok = (x.notna() & y.notna()).to_numpy()
        xs, ys = x.to_numpy()[ok], y.to_numpy()[ok]
        text = [labels[r] for r in done["run_id"].to_numpy()[ok]]
        front = pareto(xs, ys, better, sweep.mode)
        fig.add_trace(go.Scatter(x=xs, y=ys, mode="markers", text=text, name="trial",
                                 showlegend=c == 1, legendgroup="trial",
                                 marker=dict(size=9, color="#636efa", opacity=0.7),
                                 hovertemplate=f"%{{text}}<br>{name}=%{{x:.4g}}<br>{obj}=%{{y:.3f}}"
                                               "<extra></extra>"), row=1, col=c)
        order = np.argsort(xs[front])
        fig.add_trace(go.Scatter(x=xs[front][order], y=ys[front][order], mode="lines+markers",
                                 name="Pareto front", legendgroup="front", showlegend=c == 1,
                                 line=dict(color="#ef553b", shape="hv" if better == "min" else "vh",
                                           dash="dot"),
                                 marker=dict(size=13, symbol="star", color="#ef553b"),
                                 text=[text[i] for i in np.flatnonzero(front)[order]],
                                 hovertemplate="Pareto: %{text}<extra></extra>"), row=1, col=c)
        fig.update_xaxes(title_text=axis, type="log" if log_axis(x) else None, row=1, col=c)
    fig.update_yaxes(title_text=obj, row=1, col=1)
    fig.update_layout(**LAYOUT, height=420)
    return Section("cost", title,
                   f"{obj} against model size and speed; red stars: the Pareto front (no other "
                   "trial is both cheaper and better).", figure=fig)


def jpeg_robustness(sweep: Sweep) -> Section:
    done = sweep.finished
    title = "JPEG robustness"
    qfs = sorted({int(m.group(1)) for c in done.columns
                  if (m := re.fullmatch(r"m:jpeg(\d+)_psnr_y", c)) and done[c].notna().any()})
    if not qfs:
        return Section("jpeg", title, note="no jpeg{QF}_psnr_y metrics were logged")
    cols = [metric(f"jpeg{q}_psnr_y") for q in qfs]
    ranked = done.assign(_mean=done[cols].mean(axis=1)).sort_values("_mean", ascending=False)
    trained = ranked["jpeg_train"].astype(str) != "off" if "jpeg_train" in ranked else \
        pd.Series(False, index=ranked.index)
    shown = pd.concat([ranked[trained][:MAX_TRACES - 3], ranked[~trained][:3]])
    labels, colors = trial_labels(sweep), trial_colors(sweep)
    fig = go.Figure()
    for row in shown.to_dict("records"):
        off = str(row.get("jpeg_train", "off")) == "off"
        rid = row["run_id"]
        fig.add_trace(go.Scatter(
            x=qfs, y=[row[c] for c in cols],
            mode="lines+markers", name=labels[rid] + (" (no JPEG training)" if off else ""),
            line=dict(color=colors[rid], dash="dash" if off else "solid", width=2)))
    base = [metric(f"bicubic_jpeg{q}_psnr_y") for q in qfs]
    if all(c in done for c in base):
        fig.add_trace(go.Scatter(x=qfs, y=[done[c].mean() for c in base], mode="lines+markers",
                                 name="bicubic", line=dict(color="black", dash="dot", width=3)))
    fig.update_layout(**LAYOUT, height=440,
                      xaxis=dict(title="JPEG quality of the LR", tickvals=qfs),
                      yaxis=dict(title="PSNR-Y of the reconstruction (dB)"))
    cap = f" Showing {len(shown)} of {len(done)} trials (best mean JPEG PSNR)." \
        if len(shown) < len(done) else ""
    return Section("jpeg", title,
                   "PSNR-Y after the LR is JPEG-compressed at each quality, then upscaled. Solid: "
                   "trials trained with JPEG in the loop; dashed: no JPEG training; dotted black: "
                   "bicubic down/up through the same JPEG." + cap, figure=fig)


def time_breakdown(sweep: Sweep) -> Section:
    done = sweep.finished
    title = "Where time goes"
    parts = [k for k in ("time/data", "time/compute") if has(done, k)]
    if not parts:
        return Section("time", title, note="no time/data or time/compute metric was logged")
    profile = [k for k in PROFILE_KEYS if has(done, k)]
    labels = trial_labels(sweep)
    x = [labels[r] for r in done["run_id"]]
    titles = ["data vs compute"] + (["profiled phases"] if profile else [])
    fig = make_subplots(rows=len(titles), cols=1, vertical_spacing=0.12, shared_xaxes=True,
                        subplot_titles=titles)
    frac = done.get(metric("data_fraction"))
    share = "<br>data fraction %{customdata:.1%}" if frac is not None else ""
    for k, color in zip(parts, ("#ef553b", "#636efa")):
        fig.add_trace(go.Bar(x=x, y=done[metric(k)], name=k, marker_color=color, customdata=frac,
                             hovertemplate=f"%{{x}}<br>{k}=%{{y:.4g}} s{share}<extra></extra>"),
                      row=1, col=1)
    for k, color in zip(profile, px.colors.qualitative.Pastel):
        fig.add_trace(go.Bar(x=x, y=done[metric(k)], name=k, marker_color=color,
                             hovertemplate=f"%{{x}}<br>{k}=%{{y:.4g}} s<extra></extra>"),
                      row=2, col=1)
    fig.update_layout(**LAYOUT, barmode="stack", height=360 + 280 * bool(profile))
    fig.update_yaxes(title_text="seconds per step", row=1, col=1)
    if profile:
        fig.update_yaxes(title_text="seconds (as logged)", row=2, col=1)
    fig.update_xaxes(tickangle=-30)
    return Section("time", title,
                   "Seconds per training step spent waiting for data (time/data) and computing "
                   "(time/compute), means over the last report interval, per trial" +
                   ("; below, the profiled phases." if profile else ".") +
                   " Trials in objective order.", figure=fig)


def gallery(sweep: Sweep, crops: dict) -> Section:
    title = "What the network does to the LR"
    done = sweep.finished[sweep.finished["run_id"].isin(crops)][:MAX_GALLERY]
    if done.empty:
        return Section("gallery", title, note="no crops/*.png artifacts were logged")
    by_guide = "lambda_guide" in sweep.varying(done)
    if by_guide:  # the seeds: how the LR changes as the guide weight decreases
        done = done.sort_values("lambda_guide", ascending=False, kind="stable")
    reference = next(crops[r] for r in done["run_id"])
    items = []
    for row in done.to_dict("records"):
        info = [f"{k}={fmt(k, row[k])}" for k in ("lambda_guide", "coupling", "loss_guide")
                if k in row]
        scores = [f"{m} {fmt(m, row[metric(m)])}" for m in ("lr_psnr_y", "psnr_y")
                  if metric(m) in row]
        items.append(dict(label=str(row["trial"]), info=", ".join(info),
                          scores=", ".join(scores), crops=crops[row["run_id"]]))
    more = f" Showing {len(done)} of {len(sweep.finished)} trials." \
        if len(sweep.finished) > len(done) and len(done) == MAX_GALLERY else ""
    order = ("ordered by guide weight (strongest first): as lambda_guide falls, the LR is free "
             "to drift from the bicubic reference and hide detail for the upscaler"
             if by_guide else f"in {sweep.objective} order")
    return Section("gallery", title,
                   f"The network's LR and its reconstruction for each trial, {order}. "
                   "lr_psnr_y: the LR against the bicubic LR." + more,
                   gallery=dict(reference=reference, items=items))


def build_sections(sweep: Sweep, hist: pd.DataFrame, crops: dict) -> list[Section]:
    return [sweep_table(sweep), parallel_coordinates(sweep), importance(sweep),
            by_parameter(sweep), curves(sweep, hist), quality_vs_cost(sweep),
            jpeg_robustness(sweep), time_breakdown(sweep), gallery(sweep, crops)]
