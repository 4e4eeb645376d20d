"""The steganography section (task=stego, search_spaces/stego.py): each group's revealing
quality (secret_psnr_y) against its concealing quality (stego_psnr_y), both with their 95% CI
over seeds x validation tiles, and the secret after real JPEG of the stego image. Left out
for sweeps that are not stego."""
import re

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from dashboards.colors import VERDICT_COLORS
from dashboards.figures import LAYOUT, Section
from irn.stats.compare import mean_ci
from dashboards.sections import SectionSpec
from dashboards.summary import Group, Stat, Summary

SECRET, STEGO = "secret_psnr_y", "stego_psnr_y"


def _from_rows(per_image: pd.DataFrame, label: str, name: str) -> Stat | None:
    """The mean and 95% CI of a group's per-image rows (seeds x images), as irn.stats.compare."""
    if name not in per_image:
        return None
    part = per_image[per_image["label"] == label].dropna(subset=[name])
    if part.empty:
        return None
    table = part.pivot_table(index="seed", columns="image", values=name, aggfunc="mean")
    stat = mean_ci(table.dropna(axis=1).to_numpy(float))
    return Stat(stat["mean"], tuple(stat["ci95"]) if stat.get("ci95") else None)


def group_stat(group: Group, per_image: pd.DataFrame, name: str) -> Stat | None:
    """The sweep summary's statistic of `name` for the group, else one from its rows."""
    return group.stats.get(name) or _from_rows(per_image, group.label, name)


def _ci_text(stat: Stat) -> str:
    ci = stat.ci95
    return f"{stat.mean:.2f} dB" + (f" [{ci[0]:.2f}, {ci[1]:.2f}]" if ci else "")


def _jpeg_text(per_image: pd.DataFrame, label: str) -> str:
    qfs = sorted(int(m.group(1)) for c in per_image
                 if (m := re.fullmatch(r"jpeg(\d+)_secret_psnr_y", c)))
    part = per_image[per_image["label"] == label]
    vals = [f"JPEG {q}: {part[f'jpeg{q}_secret_psnr_y'].mean():.2f}" for q in qfs
            if part[f"jpeg{q}_secret_psnr_y"].notna().any()]
    return f" (after {', '.join(vals)} dB)" if vals else ""


def stego_tradeoff(summary, per_image: pd.DataFrame) -> Section:
    title = "Steganography: revealing the secret against concealing it"
    groups = Summary.of(summary).with_stat(SECRET)
    if not groups:
        return Section("stego", title, note="the sweep is not a stego sweep (no group has "
                                            f"{SECRET})")
    points = [(g, group_stat(g, per_image, STEGO), g.stats[SECRET]) for g in groups]
    points = [p for p in points if p[1]]
    if not points:
        return Section("stego", title, note=f"no {STEGO} in the sweep's rows")
    xs, ys, err = [], [], {"x+": [], "x-": [], "y+": [], "y-": []}
    colors, text = [], []
    for g, stego, secret in points:
        for axis, stat, lst in (("x", stego, xs), ("y", secret, ys)):
            lo, hi = stat.bounds
            lst.append(stat.mean)
            err[axis + "+"].append(hi - stat.mean)
            err[axis + "-"].append(stat.mean - lo)
        verdict = g.verdict
        colors.append(VERDICT_COLORS.get(verdict, "#7f7f7f"))
        text.append(f"{g.label}: secret {_ci_text(secret)}"
                    f"{_jpeg_text(per_image, g.label)}, stego {_ci_text(stego)}, {verdict}")
    fig = go.Figure(go.Scatter(
        x=xs, y=ys, mode="markers+text", text=[t.split(":")[0] for t in text],
        textposition="top center", marker=dict(size=12, color=colors),
        error_x=dict(type="data", array=err["x+"], arrayminus=err["x-"], thickness=1.5),
        error_y=dict(type="data", array=err["y+"], arrayminus=err["y-"], thickness=1.5),
        customdata=text, hovertemplate="%{customdata}<extra></extra>"))
    floor = per_image["secret_floor_psnr_y"].mean() if "secret_floor_psnr_y" in per_image \
        else np.nan
    if np.isfinite(floor):
        fig.add_hline(y=floor, line=dict(color="black", dash="dot"),
                      annotation_text="the cover's own LR", annotation_position="right")
    fig.update_layout(**LAYOUT, height=480,
                      xaxis=dict(title="stego image vs cover, Y-PSNR (dB), 95% CI"),
                      yaxis=dict(title="revealed vs true secret, Y-PSNR (dB), 95% CI"))
    return Section("stego", title,
                   "Each point is a group: how close its 8-bit stego image stays to the cover "
                   "(right is less visible) against how well the secret comes back from it "
                   "(up is better), means over seeds x validation tiles with 95% CIs; colour: "
                   "the verdict on secret_psnr_y against the best group (green best, grey "
                   "undecided, teal equivalent, red worse). The dotted line is the cover's own bicubic "
                   "LR scored as the secret: a reveal must rise above it. "
                   + "; ".join(text) + ".", figure=fig)


# this module's report sections (dashboards/sections.py)
SECTIONS = [
    SectionSpec("stego", 50, lambda i: stego_tradeoff(i.summary, i.per_image), study=True),
]
