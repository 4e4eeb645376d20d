"""The report's lead sections, from the sweep's own statistics (bench/STATISTICS.md): each
group's gain over bicubic with its 95% CI and verdict, and the gain of each group on each
validation image, so that one outlier image cannot hide."""
import pandas as pd
import plotly.graph_objects as go

from dashboards.colors import VERDICT_COLORS, group_colors
from dashboards.figures import LAYOUT, Section
from irn.metric_registry import metric_spec
from dashboards.sections import SectionSpec
from dashboards.summary import Group, Summary


NO_GAIN = "no group has gain_db (not a rescaling sweep: task=stego has its own section)"


def reference_gains(summary, key: str, default: str) -> list[dict] | None:
    """Each group's paired gain over the reference group, as the sweep's summary has it:
    {group, delta, lo, hi, verdict ("reference" for the reference itself), color, text}.
    None when the sweep does not vary config `key` (whose unset value is `default`)."""
    groups = Summary.of(summary).with_stat("gain_db")
    if len({str(g.config.get(key, default)) for g in groups}) < 2:
        return None
    return versus_reference(groups)


def versus_reference(groups: list[Group], fmt: str = "+.3f", unit: str = " dB") -> list[dict]:
    """{group, delta, lo, hi, verdict ("reference" for the reference itself), color, text}
    per group whose summary entry has a paired difference from the reference."""
    rows = []
    for g in groups:
        vs = g.vs_reference
        if vs is None or vs.delta is None:
            continue
        delta = vs.delta
        lo, hi = vs.bounds
        verdict = "reference" if vs.is_self else vs.verdict
        rows.append({"group": g, "delta": delta, "lo": lo, "hi": hi, "verdict": verdict,
                     "color": VERDICT_COLORS.get("best" if vs.is_self else verdict,
                                                 "#7f7f7f"),
                     "text": f"{g.label}: {delta:{fmt}}{unit} [{lo:{fmt}}, {hi:{fmt}}], "
                             f"{verdict}"})
    return rows


def gain_error_bars(rows: list[dict]) -> dict:
    """Plotly error_y for reference_gains' rows: each row's 95% CI around its delta."""
    return dict(type="data", array=[r["hi"] - r["delta"] for r in rows],
                arrayminus=[r["delta"] - r["lo"] for r in rows], thickness=2)


def label_means(per_image: pd.DataFrame, column: str) -> pd.Series:
    """The mean of a per-image column per group label (empty where no row has it)."""
    if column not in per_image:
        return pd.Series(dtype=float)
    return per_image.groupby("label")[column].mean()


def group_gains(summary) -> Section:
    """The lead: a forest plot of every group's paired difference from the reference and
    from the best, with the family's intervals, the margin band and one colour per verdict;
    under it the group table (each group's own mean [95% CI] and the same differences)."""
    title = "Which group is best, and is it real?"
    summary = Summary.of(summary)
    groups = summary.with_stat("gain_db")
    if not groups:
        return Section("groups", title, note=NO_GAIN if summary.groups else
                       "the sweep's summary.json has no group statistics (no finished trial, "
                       "or a sweep from before replicates)")
    comp = summary.comparison
    metric = comp.metric
    spec = metric_spec(metric)
    unit = f" {spec.unit}" if spec and spec.unit else ""
    groups = sorted(groups, key=lambda g: (g.vs_reference and g.vs_reference.delta) or 0)
    fig = go.Figure()
    for key, name, symbol in (("vs_reference", f"minus the reference ({comp.reference})",
                               "circle"), ("vs_best", f"minus the best ({comp.best})",
                                           "diamond")):
        rows = [(g, getattr(g, key)) for g in groups if getattr(g, key) is not None
                and getattr(g, key).delta is not None and not getattr(g, key).is_self]
        if not rows:
            continue
        lo = [d.bounds[0] for _, d in rows]
        hi = [d.bounds[1] for _, d in rows]
        words = [d.verdict + (" (negligible)" if d.negligible else "") for _, d in rows]
        fig.add_trace(go.Scatter(
            x=[d.delta for _, d in rows], y=[g.label for g, _ in rows], name=name,
            mode="markers", marker=dict(size=11, symbol=symbol, color=[
                VERDICT_COLORS.get(d.verdict, "#7f7f7f") for _, d in rows]),
            error_x=dict(type="data", array=[h - d.delta for h, (_, d) in zip(hi, rows)],
                         arrayminus=[d.delta - v for v, (_, d) in zip(lo, rows)],
                         thickness=2),
            customdata=list(zip(lo, hi, words)),
            hovertemplate=f"%{{y}} {name}: %{{x:+.3f}}{unit} [%{{customdata[0]:+.3f}}, "
                          "%{customdata[1]:+.3f}] %{customdata[2]}<extra></extra>"))
    margin = comp.margin or 0
    if margin:
        fig.add_vrect(x0=-margin, x1=margin, fillcolor="#17becf", opacity=0.15, line_width=0,
                      annotation_text=f"+-{margin:g}{unit} margin",
                      annotation_position="top left")
    fig.add_vline(x=0, line=dict(color="black", dash="dot"))
    fig.update_layout(**{**LAYOUT, "margin": dict(l=200, r=20, t=40, b=50),
                         "legend": dict(orientation="h", y=-0.25)},
                      height=160 + 40 * len(groups),
                      xaxis=dict(title=f"paired difference in {metric}{unit} (same image, "
                                       "same seed), with the family's interval"),
                      yaxis=dict(automargin=True))
    how = (f"{comp.confidence:.2%} simultaneous intervals ({comp.correction} over "
           f"{comp.family} comparisons: 95% for the whole table)" if comp.family is not None
           else "95% intervals")
    return Section("groups", title,
                   f"{comp.sentence}. Each point is a paired difference (same validation "
                   f"tile, same seed) of a group from the reference (circles) or from the best "
                   f"(diamonds), with {how}; colour is its verdict: blue better, red worse, "
                   "teal equivalent (inside the shaded margin), grey undecided "
                   "(bench/STATISTICS.md). The table has the numbers, and each group's own "
                   "mean [95% CI] over seeds x tiles, which is much wider than its paired "
                   "differences: do not read a verdict off overlapping per-group intervals.",
                   figure=fig, table=_comparison_table(summary))


def _comparison_table(summary: Summary) -> pd.DataFrame | None:
    """The sweep's group table as the terminal printed it (bench.sweep.group_table stores it in
    summary.json as `group_table`: header and rows of display strings); None for a summary
    from before it was stored."""
    table = summary.group_table
    if not table:
        return None
    return pd.DataFrame(table["rows"], columns=table["header"])


def per_image_gains(rows: pd.DataFrame) -> Section:
    """rows: label, image, gain_db (the last evaluation of each finished trial)."""
    title = "Gain on each validation image"
    if rows.empty:
        return Section("per_image", title, note="no trial logged eval/per_image.json")
    if rows["gain_db"].isna().all():
        return Section("per_image", title, note=NO_GAIN)
    mean = rows.groupby(["label", "image"], sort=False)["gain_db"].mean().reset_index()
    images = list(dict.fromkeys(mean["image"]))
    fig = go.Figure()
    colors = group_colors(mean["label"])
    for label, part in mean.groupby("label", sort=False):
        part = part.set_index("image").reindex(images)
        fig.add_trace(go.Scatter(x=images, y=part["gain_db"], mode="lines+markers", name=label,
                                 line=dict(color=colors[label], width=1.5)))
    fig.add_hline(y=0, line=dict(color="black", dash="dot"))
    fig.update_layout(**LAYOUT, height=420, xaxis=dict(title="validation image (tile)",
                                                      tickangle=-60),
                      yaxis=dict(title="gain over bicubic (dB), mean over seeds"))
    return Section("per_image", title,
                   "The gain of each group on each validation image, averaged over its seeds; "
                   "the dotted line is bicubic. Lines that cross mean the ranking depends on "
                   "the image.", figure=fig)


def varying_keys(groups: list[Group]) -> list[str]:
    """The config keys whose value differs between the groups."""
    keys = list(dict.fromkeys(k for g in groups for k in g.config))
    return [k for k in keys if len({str(g.config.get(k)) for g in groups}) > 1]


def interaction(summary) -> Section:
    """A two-factor grid: one cell per group, coloured by its paired difference from the
    reference group (the verdict's evidence), with its interval and verdict as text."""
    title = "Interaction of the two factors"
    summary = Summary.of(summary)
    groups = summary.with_stat("gain_db")
    if not groups and summary.groups:
        return Section("interaction", title, note=NO_GAIN)
    keys = varying_keys(groups)
    if len(keys) != 2:
        return Section("interaction", title, note=f"the grid is not two-factor ({len(keys)} "
                                                  "config key(s) vary between the groups)")
    a, b = keys
    comp = summary.comparison
    rows = list(dict.fromkeys(str(g.config[a]) for g in groups))
    cols = list(dict.fromkeys(str(g.config[b]) for g in groups))
    z = [[None] * len(cols) for _ in rows]
    text = [[""] * len(cols) for _ in rows]
    for g in groups:
        i, j = rows.index(str(g.config[a])), cols.index(str(g.config[b]))
        vs = g.vs_reference
        if vs is not None and vs.is_self:
            z[i][j], text[i][j] = 0.0, f"reference<br>gain {g.stats['gain_db'].mean:.3f} dB"
        elif vs is not None and vs.delta is not None:
            lo, hi = vs.bounds
            z[i][j] = vs.delta
            text[i][j] = f"{vs.delta:+.3f}<br>[{lo:+.3f}, {hi:+.3f}]<br>{vs.verdict}"
    span = max([abs(v) for r in z for v in r if v is not None] + [1e-9])
    fig = go.Figure(go.Heatmap(
        z=z, x=cols, y=rows, text=text, texttemplate="%{text}", colorscale="RdBu",
        zmid=0, zmin=-span, zmax=span, xgap=2, ygap=2,
        colorbar=dict(title=dict(text=f"dB vs<br>reference<br>(span +-{span:.2f})")),
        hovertemplate=f"{a}=%{{y}}, {b}=%{{x}}<br>%{{text}}<extra></extra>"))
    fig.update_layout(**LAYOUT, height=160 + 70 * len(rows),
                      xaxis=dict(title=b, type="category"),
                      yaxis=dict(title=a, type="category", automargin=True))
    return Section("interaction", title,
                   f"Each cell is one combination of {a} (rows) and {b} (columns): its paired "
                   f"difference in {comp.metric} from the reference "
                   f"({comp.reference or 'the reference group'}; same tiles, same seeds), "
                   "with the family's interval and verdict, as in the lead figure. The colour "
                   "scale is symmetric around 0 and spans the largest difference (its span is "
                   "on the colour bar): red below the reference, blue above, white equal. "
                   "Parallel rows or columns mean the factors do not interact.", figure=fig)


def also_gains(summary) -> Section:
    """TUNE compare: each group's paired difference from the reference on every extra
    metric, one panel per metric (their units differ), 95% CI error bars."""
    from plotly.subplots import make_subplots
    blocks = [(b, rows) for b in Summary.of(summary).also
              if (rows := versus_reference(b.groups, fmt="+.3g", unit=""))]
    title = "The other metrics: what each group gains or costs against the reference"
    if not blocks:
        return Section("also", title, note="the sweep compares no further metrics "
                                           "(TUNE compare / --compare)")
    fig = make_subplots(rows=len(blocks), cols=1, vertical_spacing=0.5 / len(blocks),
                        subplot_titles=[f"{b.metric} minus {b.reference}"
                                        for b, _ in blocks])
    lines = []
    for i, (block, rows) in enumerate(blocks, 1):
        rows = [r for r in rows if r["verdict"] != "reference"]  # the reference is not drawn
        text = [f"{r['text']} ({len(r['group'].seeds)} seeds x {r['group'].n_images} "
                "images)" for r in rows]
        fig.add_trace(go.Scatter(
            x=[r["group"].label for r in rows], y=[r["delta"] for r in rows],
            mode="markers", name=block.metric, showlegend=False,
            marker=dict(size=12, color=[r["color"] for r in rows]),
            error_y=gain_error_bars(rows), customdata=text,
            hovertemplate="%{customdata}<extra></extra>"), row=i, col=1)
        fig.add_hline(y=0, line=dict(color="black", dash="dot"), row=i, col=1)
        spec = metric_spec(block.metric)
        fig.update_yaxes(title_text=f"{spec.unit + ', ' if spec and spec.unit else ''}95% CI",
                         row=i, col=1)
        lines.append(f"{block.metric}: " + "; ".join(text))
    fig.update_layout(**LAYOUT, height=320 * len(blocks))
    return Section("also", title,
                   "Paired differences from the reference group (same image and seed), 95% "
                   "CI over seeds x validation images; the group table ranks by the "
                   "objective, these say what the same choice does elsewhere. "
                   + " | ".join(lines) + ".", figure=fig)


# this module's report sections (dashboards/sections.py)
SECTIONS = [
    SectionSpec("group_gains", 10, lambda i: group_gains(i.summary)),
    SectionSpec("interaction", 30, lambda i: interaction(i.summary)),
    SectionSpec("per_image", 100, lambda i: per_image_gains(i.per_image)),
    SectionSpec("also", 110, lambda i: also_gains(i.summary), study=True),
]
