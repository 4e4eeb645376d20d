"""One function per report section. Each takes the loaded Sweep (and, where needed, metric
histories, crops or the sweep's summary.json) and returns a Section: a Plotly figure, a table
or a gallery, or, when the sweep has no data for it, only a one-line note saying why the
section is left out. Here: the shared helpers, the trial table, parallel coordinates, which
parameters matter, the objective against each parameter, and JPEG robustness; training.py,
costs.py, groups.py and gallery.py hold the others.
"""
import math
import re
import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd
import plotly.express as px
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from dashboards.colors import group_colors
from dashboards.data import KEY_PARAMS, NOT_FACTORS, Sweep, metric, ui_url
from irn.metric_registry import metric_spec
from irn.stats.compare import mean_ci
from irn.loss_terms import LOSS_TERMS, TOTAL, TOTAL_DEFINED_BY
from dashboards.sections import SectionSpec

# Final values shown per trial, when they differ between trials (a constant column is noise).
TABLE_METRICS = ("psnr_y", "gain_db", "ssim_y", "lr_psnr_y", "sr_psnr_y", "psnr_y_zero",
                 "model/params", "time/wall")
MAX_TRACES = 12  # curves and JPEG lines: the best N trials / groups; more is unreadable
# What defines each training loss term's value and its weight: irn/loss_terms.py's registry.
LOSS_DEFINITION = {t.key: t.defined_by for t in LOSS_TERMS} | {TOTAL: TOTAL_DEFINED_BY}
LOSS_WEIGHT = {t.key: t.weight for t in LOSS_TERMS}
PALETTE = px.colors.qualitative.Plotly + px.colors.qualitative.D3 + px.colors.qualitative.Dark24
LAYOUT = dict(template="plotly_white", margin=dict(l=60, r=20, t=40, b=50),
              font=dict(size=12), legend=dict(font=dict(size=11)))


@dataclass
class Section:
    key: str
    title: str
    blurb: str = ""
    figure: go.Figure | None = None
    table: pd.DataFrame | None = None  # display strings; column "_kind" styles the row,
    # "_run" (a run id) links the row to the parallel-coordinates selection
    gallery: dict | None = None
    note: str = ""  # non-empty: the section is left out, and this line says why


def fmt(key: str, value) -> str:
    """A value as the table shows it."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, float, np.number)):
        return str(value)
    spec = metric_spec(key)  # the metric registry's display format
    if spec:
        return spec.format(float(value))
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
    """run_id -> its group's colour (dashboards.colors: the same in every section)."""
    runs = pd.concat([sweep.finished, sweep.failed])
    colors = group_colors(runs["group_label"])
    return {rid: colors[str(label)] for rid, label in zip(runs["run_id"], runs["group_label"])}


def constant_keys(sweep: Sweep) -> dict:
    """KEY_PARAMS that are the same in every trial: said once in a blurb, not a column."""
    runs = sweep.runs
    return {k: runs[k].iloc[0] for k in KEY_PARAMS
            if k in runs and runs[k].astype(str).nunique(dropna=False) == 1}


def category_axis(values: pd.Series) -> bool:
    return not pd.api.types.is_numeric_dtype(values) or values.dropna().empty


def log_axis(values: pd.Series) -> bool:
    v = values.dropna()
    return (not category_axis(values) and len(v) > 1 and (v > 0).all()
            and v.max() / v.min() >= 20)


def log_ticks(lo: float, hi: float) -> tuple[list[float], list[str]]:
    """Tick values 1, 2, 5 x 10^k within [lo, hi] and their labels written out in full
    (0.5, 5, 50: never the bare mantissas plotly puts on a log axis)."""
    vals = [m * 10.0 ** e for e in range(math.floor(math.log10(lo)), math.ceil(math.log10(hi)) + 1)
            for m in (1, 2, 5) if lo <= m * 10.0 ** e <= hi]
    return vals, [f"{v:g}" for v in vals]


# --------------------------------------------------------------------------- sections
def sweep_table(sweep: Sweep) -> Section:
    obj = sweep.objective
    constant = constant_keys(sweep)
    config = [k for k in sweep.varying(sweep.runs) if k != "seed"]  # the name has the seed
    done = sweep.finished.assign(_kind="trial")
    done.insert(0, "rank", range(1, len(done) + 1))
    baselines = []
    if has(done, "bicubic_psnr_y"):
        groups = done.groupby("scale") if "scale" in done else [(None, done)]
        for scale, group in groups:
            baselines.append({"trial": "bicubic baseline", "status": "baseline",
                              "_kind": "baseline", "run_id": "",
                              **({"scale": scale} if scale is not None else {}),
                              metric("psnr_y"): group[metric("bicubic_psnr_y")].mean(),
                              metric("gain_db"): 0.0,
                              metric("ssim_y"): group.get(metric("bicubic_ssim_y"),
                                                          pd.Series(dtype=float)).mean()})
    rows = pd.concat([done, pd.DataFrame(baselines)], ignore_index=True)
    if obj in ("psnr_y", "ssim_y", "gain_db"):  # the baseline ranks among the trials
        rows = rows.sort_values(metric(obj), ascending=sweep.mode == "min", kind="stable")
    other = sweep.failed.assign(_kind=np.where(sweep.failed["status"] == "FAILED", "failed",
                                               "unfinished"))
    rows = pd.concat([rows, other], ignore_index=True)
    candidates = [obj] + [m for m in TABLE_METRICS if m != obj and has(sweep.runs, m)]
    names = [m for m in candidates if m == obj or done[metric(m)].nunique() > 1]
    table = pd.DataFrame({
        "#": [fmt("rank", v) for v in rows.get("rank", pd.Series([None] * len(rows)))],
        "trial": rows["trial"],
        **({"status": rows["status"]} if rows["status"].nunique() > 1 else {}),
        **{k: [fmt(k, v) for v in rows[k]] for k in config},
        **{m: [fmt(m, v) for v in rows.get(metric(m), [None] * len(rows))] for m in names},
        "_kind": rows["_kind"], "_failure": rows["error"].fillna(""),
        "_run": rows["run_id"].fillna("")})
    # page.py: text columns are left-aligned; a failed row shows its reason across the metrics
    table.attrs["text_columns"] = ["trial", "status",
                                   *[k for k in config if category_axis(sweep.runs[k])]]
    table.attrs["metric_columns"] = names
    table.attrs["linked"] = "parcoords"
    exp = sweep.client.get_experiment_by_name(sweep.experiment)
    table.attrs["links"] = {rid: ui_url(sweep.tracking_uri, exp.experiment_id, rid)
                            for rid in done["run_id"]} if exp else {}
    n_fail = int((rows["_kind"] == "failed").sum())
    n_open = int((rows["_kind"] == "unfinished").sum())
    same = ", ".join(f"{k}={fmt(k, v)}" for k, v in constant.items())
    dropped = [m for m in candidates if m not in names]
    blurb = (f"{len(done)} finished trial(s), {n_fail} failed"
             + (f", {n_open} unfinished" if n_open else "") + f"; sorted by {obj} "
             f"({'higher' if sweep.mode == 'max' else 'lower'} is better), final values of "
             "single trials (the group means with their intervals are at the top). Columns: "
             "the keys and metrics that differ between trials"
             + (f"; the same in every trial: {same}" if same else "")
             + (f"; {', '.join(dropped)} equal in every trial" if dropped else "")
             + ". Dragging along a parallel-coordinates axis above filters these rows; a "
             "click on a column's header sorts by it; a trial's name opens its run in the "
             f"MLflow UI ({ui_url(sweep.tracking_uri, '…').split('/#/')[0]}, served by "
             "`mlflow ui --backend-store-uri` with this sweep's tracking URI where the store "
             "is a file).")
    return Section("table", "Trials", blurb, table=table)


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
    # room for the first axis' tick labels (drawn to its left) and every axis title
    first_ticks = max((len(t) for t in dims[0].get("ticktext", [])), default=6)
    longest_label = max(len(d["label"]) for d in dims)
    steep = longest_label * 7 > 1300 / len(dims)  # titles wider than the axis spacing
    fig = go.Figure(go.Parcoords(
        dimensions=dims, labelangle=-25 if steep else 0, labelside="top",
        labelfont=dict(size=12), tickfont=dict(size=11),
        line=dict(color=done[metric(obj)], colorscale="Viridis", showscale=True,
                  reversescale=sweep.mode == "min", colorbar=dict(title=dict(text=obj)))))
    fig.update_layout(**LAYOUT, height=460)
    fig.update_layout(margin=dict(l=max(70, 7 * first_ticks + 20), r=110,
                                  t=40 + (5 * longest_label if steep else 30), b=30),
                      # read by the page's script that filters the trial table
                      meta=dict(run_ids=done["run_id"].tolist(),
                                values=[np.asarray(d["values"], float).tolist() for d in dims]))
    return Section("parcoords", title,
                   f"One line per finished trial, coloured by {obj}. Categorical keys are shown "
                   "by name. Drag along an axis to select a range: the trial table below shows "
                   "only the selected trials.", figure=fig)


NAMES = {"seed": "seed (replicates)", "configuration": "configuration (keys varied together)"}
MAX_LEVELS = 8  # a numeric key with more distinct values is a linear term, not a category


def anova_shares(frame: pd.DataFrame, keys: list[str], y: str) -> pd.DataFrame:
    """The ANOVA decomposition of `y` over the trials (statsmodels OLS, anova_lm with type II
    sums of squares): one row per term (each key, the seed as a blocking factor, the
    residual) with its share of the total sum of squares (eta squared), its degrees of
    freedom and the F test's p value. When keys were varied together (a design matrix short
    of full rank) their effects cannot be told apart: they become one term, "configuration",
    the trial's group."""
    import numpy as np
    import statsmodels.formula.api as smf
    from statsmodels.stats.anova import anova_lm

    def columns(names):
        data, terms = pd.DataFrame({"y": frame[y].astype(float).to_numpy()}), {}
        for i, key in enumerate(names):
            values = frame[key] if key in frame else frame["group_label"]
            numeric = not category_axis(values) and not values.map(type).eq(bool).all()
            linear = numeric and values.nunique() > MAX_LEVELS
            data[f"x{i}"] = (values.astype(float) if linear else values.astype(str)).to_numpy()
            terms[f"x{i}" if linear else f"C(x{i})"] = key
        return data, terms

    data, terms = columns(keys)
    with warnings.catch_warnings():  # a rank-deficient design is handled just below
        warnings.simplefilter("ignore")
        fit = smf.ols("y ~ " + " + ".join(terms), data=data).fit()
    if np.linalg.matrix_rank(fit.model.exog) < fit.model.exog.shape[1]:
        data, terms = columns(["configuration"] + [k for k in keys if k == "seed"])
        fit = smf.ols("y ~ " + " + ".join(terms), data=data).fit()
    table = anova_lm(fit, typ=2)
    total = float(((data["y"] - data["y"].mean()) ** 2).sum())
    return pd.DataFrame([{"term": terms.get(term, "residual"),
                          "share": float(row["sum_sq"]) / total, "df": int(row["df"]),
                          "p": float(row.get("PR(>F)", float("nan")))}
                         for term, row in table.iterrows()])


def importance(sweep: Sweep) -> Section:
    done, obj = sweep.finished, sweep.objective
    title = "Which parameters matter"
    done = done[done[metric(obj)].notna()] if metric(obj) in done else done.iloc[:0]
    keys = [k for k in factors(sweep) if done[k].astype(str).nunique() > 1]
    seeds = "seed" in done and done["seed"].astype(str).nunique() > 1
    if len(done) < 3 or not keys or len(done) <= 1 + len(keys) + seeds:
        return Section("importance", title, note=f"needs more finished trials with {obj} "
                                                 "than terms in the decomposition")
    shares = anova_shares(done, keys + (["seed"] if seeds else []), metric(obj))
    shares = shares.iloc[::-1]  # residual at the bottom, as plotly draws bars upwards
    text = [f"{r.share:.0%}" + ("" if pd.isna(r.p) else f", p={r.p:.2g}") + f" ({r.df} df)"
            for r in shares.itertuples()]
    fig = go.Figure(go.Bar(
        y=[NAMES.get(t, t) for t in shares["term"]],
        x=shares["share"], orientation="h", text=text, textposition="auto",
        marker_color=["#c7c7c7" if t in ("seed", "residual") else "#9edae5"
                      for t in shares["term"]]))
    fig.update_layout(**LAYOUT, height=140 + 28 * len(shares),
                      xaxis=dict(title=f"share of {obj}'s sum of squares over the trials "
                                       "(eta squared)", range=[0, 1.05], tickformat=".0%"))
    return Section("importance", title,
                   f"An ANOVA decomposition of the {len(done)} finished trials' {obj} "
                   "(statsmodels OLS, type II sums of squares): each searched key as a "
                   "factor (a numeric key with more than "
                   f"{MAX_LEVELS} values as a linear term), the seed as a blocking factor "
                   "(replicates share their seed across groups), and what is left. A share "
                   "is that term's sum of squares over the total (eta squared); p is its F "
                   "test against the residual. Keys varied together cannot be told apart: "
                   "they are then one term, the configuration. Whether a group is really better is the "
                   "paired verdict at the top, not this.", figure=fig)


def by_parameter(sweep: Sweep) -> Section:
    """The objective and the final total loss against each varying key (the seeds ask for loss
    against batch size, learning rate and schedule)."""
    done, obj = sweep.finished, sweep.objective
    title = "Objective and loss against each parameter"
    keys = factors(sweep)[:8]
    # the final total loss only where every trial defines it the same way
    same_loss = not set(LOSS_DEFINITION["loss/total"]) & set(sweep.varying(done))
    ys = [m for m in (obj, *(["loss/total"] if same_loss else [])) if has(done, m)]
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
                   f"Each point is a finished trial's final value (seeds are separate points, "
                   f"so their spread is the noise). Rows: {', '.join(ys)}"
                   + ("" if same_loss else "; the total loss is left out: trials define it "
                      "differently") + ".",
                   figure=fig)


def mean_interval(matrix: np.ndarray) -> tuple[float, float | None, float | None]:
    """(mean, lo, hi) of a seeds x images matrix by irn.stats.compare.mean_ci, the interval of
    the sweep's group table (so a plotted bar and the table's CI agree); lo, hi None when
    there is no interval (a single value)."""
    stat = mean_ci(matrix)
    lo, hi = stat["ci95"] or (None, None)
    return stat["mean"], lo, hi


def jpeg_robustness(sweep: Sweep, per_image: pd.DataFrame) -> Section:
    """per_image: the last evaluation's rows of every finished trial (label, seed, image and
    every per-image metric; dashboards.data.load_per_image)."""
    title = "JPEG robustness"
    qfs = sorted({int(m.group(1)) for c in per_image.columns
                  if (m := re.fullmatch(r"jpeg(\d+)_psnr_y", c)) and per_image[c].notna().any()})
    if not qfs:
        return Section("jpeg", title, note="no jpeg{QF}_psnr_y metrics were logged")
    cols = [f"jpeg{q}_psnr_y" for q in qfs]
    off = dict(zip(sweep.finished["group_label"], sweep.finished["jpeg_train"].astype(str)
                   == "off")) if "jpeg_train" in sweep.finished else {}
    by_run = trial_colors(sweep)
    colors = {g: by_run[r] for g, r in zip(sweep.finished["group_label"], sweep.finished["run_id"])}
    stats_by_group = {}
    for label, part in per_image.groupby("label", sort=False):
        if not all(part[c].notna().any() for c in cols):
            continue  # a group evaluated without (some of) these QFs (jpeg_eval searched)
        cells = part.pivot_table(index="seed", columns="image", values=cols, aggfunc="mean")
        stats_by_group[label] = [mean_interval(cells[c].dropna(axis=1).to_numpy()) for c in cols]
    ranked = sorted(stats_by_group, key=lambda g: -np.mean([m for m, _, _ in stats_by_group[g]]))
    if len(ranked) > MAX_TRACES:  # keep a few untrained groups as the reference
        untrained = [g for g in ranked if off.get(g)][:3]
        ranked = [g for g in ranked if g in untrained or not off.get(g)][:MAX_TRACES]
    fig = go.Figure()
    for label in ranked:
        mean, lo, hi = zip(*stats_by_group[label])
        bars = None if lo[0] is None else dict(
            type="data", array=[h - m for m, h in zip(mean, hi)],
            arrayminus=[m - low for m, low in zip(mean, lo)], thickness=1.5)
        fig.add_trace(go.Scatter(
            x=qfs, y=mean, error_y=bars, mode="lines+markers",
            name=label + (" (no JPEG training)" if off.get(label) else ""),
            line=dict(color=colors.get(label), dash="dash" if off.get(label) else "solid",
                      width=2)))
    base = [f"bicubic_jpeg{q}_psnr_y" for q in qfs]
    if all(c in per_image for c in base):
        fig.add_trace(go.Scatter(x=qfs, y=[per_image[c].mean() for c in base],
                                 mode="lines+markers", name="bicubic",
                                 line=dict(color="black", dash="dot", width=3)))
    fig.update_layout(**LAYOUT, height=440,
                      xaxis=dict(title="JPEG quality of the LR", tickvals=qfs),
                      yaxis=dict(title="PSNR-Y of the reconstruction (dB)"))
    n = len(stats_by_group)
    cap = f" Showing {len(ranked)} of {n} groups (best mean JPEG PSNR)." if len(ranked) < n else ""
    return Section("jpeg", title,
                   "PSNR-Y after the LR is JPEG-compressed at each quality, then upscaled: each "
                   "group's mean over its seeds and validation images, error bars the 95% t "
                   "interval of the per-seed means (over images with one seed; overlapping "
                   "bars decide nothing by themselves). Solid: trained with JPEG in the loop; dashed: no "
                   "JPEG training; dotted black: bicubic down/up through the same JPEG." + cap,
                   figure=fig)


# this module's report sections (dashboards/sections.py)
SECTIONS = [
    SectionSpec("parallel", 120, lambda i: parallel_coordinates(i.sweep)),
    SectionSpec("table", 130, lambda i: sweep_table(i.sweep)),
    SectionSpec("importance", 140, lambda i: importance(i.sweep)),
    SectionSpec("by_parameter", 150, lambda i: by_parameter(i.sweep)),
    SectionSpec("jpeg", 180, lambda i: jpeg_robustness(i.sweep, i.per_image)),
]
