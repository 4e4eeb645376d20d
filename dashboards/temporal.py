"""The temporal-stability section (search_spaces/temporal.py): each group's flicker on the
synthetic camera motion (irn/temporal.py) against its Y-PSNR, both with 95% CIs, beside the
bicubic and ground-truth flicker. Flicker alone rewards blur, hence the second axis."""
import numpy as np
import pandas as pd
import plotly.graph_objects as go

from dashboards.colors import group_colors
from dashboards.figures import LAYOUT, Section, mean_interval
from dashboards.sections import SectionSpec
from dashboards.summary import Summary


def _cells(rows: pd.DataFrame, label: str, column: str = "flicker") -> pd.DataFrame:
    """seeds x images of one group's values."""
    part = rows[rows["label"] == label]
    return part.pivot_table(index="seed", columns="image", values=column, aggfunc="mean")


def _fmt(mean, lo, hi, unit: str) -> str:
    return f"{mean:.3f} [{lo:.3f}, {hi:.3f}] {unit}" if lo is not None else f"{mean:.3f} {unit}"


def temporal_flicker(summary, per_image: pd.DataFrame) -> Section:
    title = "Temporal stability: flicker against Y-PSNR"
    if "flicker" not in per_image or not per_image["flicker"].notna().any():
        return Section("temporal", title, note="no trial measured flicker (temporal_eval)")
    summary = Summary.of(summary)
    groups = [g for g in summary.with_stat("psnr_y") if g.label in set(per_image["label"])]
    if not groups:
        return Section("temporal", title, note="the sweep's summary.json has no group "
                                               "statistics for the trials with flicker")
    ref = summary.comparison.reference
    ref_cells = _cells(per_image, ref) if ref in set(per_image["label"]) else None
    xs, ys, x_err, y_err, text = [], [], ([], []), ([], []), []
    for g in groups:
        cells = _cells(per_image, g.label)
        mean, lo, hi = mean_interval(cells.dropna(axis=1).to_numpy())
        psnr = g.stats["psnr_y"]
        p_lo, p_hi = psnr.bounds
        xs.append(mean)
        ys.append(psnr.mean)
        x_err[0].append((hi - mean) if hi is not None else 0)
        x_err[1].append((mean - lo) if lo is not None else 0)
        y_err[0].append(p_hi - psnr.mean)
        y_err[1].append(psnr.mean - p_lo)
        line = (f"{g.label}: flicker {_fmt(mean, lo, hi, 'levels')}, Y-PSNR "
                f"{psnr.mean:.2f} [{p_lo:.2f}, {p_hi:.2f}] dB")
        if ref_cells is not None and g.label != ref:
            both = cells.columns.intersection(ref_cells.columns)
            seeds = cells.index.intersection(ref_cells.index)
            diff = (cells.loc[seeds, both] - ref_cells.loc[seeds, both]).dropna(axis=1)
            d, d_lo, d_hi = mean_interval(diff.to_numpy())
            line += f", flicker vs {ref} {d:+.3f}" + (
                f" [{d_lo:+.3f}, {d_hi:+.3f}]" if d_lo is not None else "")
        text.append(line)
    colors = group_colors(g.label for g in groups)
    fig = go.Figure(go.Scatter(
        x=xs, y=ys, mode="markers+text", text=[g.label for g in groups],
        textposition="top center",
        marker=dict(size=12, color=[colors[g.label] for g in groups]),
        error_x=dict(type="data", array=x_err[0], arrayminus=x_err[1], thickness=2),
        error_y=dict(type="data", array=y_err[0], arrayminus=y_err[1], thickness=2),
        customdata=text, hovertemplate="%{customdata}<extra></extra>"))
    for column, name in (("bicubic_flicker", "bicubic"), ("gt_flicker", "ground truth")):
        if column in per_image and per_image[column].notna().any():
            fig.add_vline(x=float(np.nanmean(per_image[column])),
                          line=dict(color="black", dash="dot"), annotation_text=name,
                          annotation_position="top")
    fig.update_layout(**LAYOUT, height=460,
                      xaxis=dict(title="flicker: mean |Y difference| of aligned consecutive "
                                       "frames (8-bit levels), 95% CI"),
                      yaxis=dict(title="Y-PSNR (dB), 95% CI"))
    return Section("temporal", title,
                   "Each point is a group: its flicker on 5-frame pans and zooms of the "
                   "validation tiles (downscale, uint8, upscale with z = 0, aligned back to "
                   "the first frame; lower is steadier) against its Y-PSNR, each with its "
                   "95% CI over seeds x tiles. The dotted lines are bicubic down/up and the "
                   "ground-truth frames through the same alignment (what the interpolation "
                   "leaves; a blurrier output can go below it). " + "; ".join(text) + ".",
                   figure=fig)


# this module's report sections (dashboards/sections.py)
SECTIONS = [
    SectionSpec("temporal", 70, lambda i: temporal_flicker(i.summary, i.per_image), study=True),
]
