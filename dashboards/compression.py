"""The rate-distortion section (search_spaces/compression.py): each model as a codec (its LR
stored as PNG or JPEG, then upscaled) against the bicubic LR through the same codecs and
against plain JPEG of the HR image, in Y-PSNR against payload bits per HR pixel.

At each model point the gain over plain JPEG is taken at the same rate: on each tile, the
Y-PSNR of plain JPEG at the model's rate is interpolated (linearly in bits, between the two
HR QFs around it) on that tile's own JPEG curve, so the pairing cancels tile difficulty; a
rate outside the tile's JPEG curve leaves the tile out. The 95% CI over seeds x tiles is
irn.stats.compare's, as for every comparison of the sweep."""
import re

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from irn.stats.compare import mean_ci, verdict
from irn.metric_registry import MARGINS
from dashboards.colors import group_colors
from dashboards.figures import LAYOUT, Section
from dashboards.sections import SectionSpec

TITLE = "Rescaling as compression: rate against distortion"


def _hr_qualities(frame: pd.DataFrame) -> list[int]:
    return sorted(int(m.group(1)) for c in frame.columns
                  if (m := re.fullmatch(r"hr_jpeg(\d+)_rate", c)) and frame[c].notna().any())


def codecs(frame: pd.DataFrame) -> list[tuple[str, str, str]]:
    """(codec name, rate column, Y-PSNR column) of the model's LR codecs the rows carry;
    the bicubic LR's columns are the same names with a bicubic_ prefix."""
    out = [("PNG", "rate_png", "psnr_y")] if "rate_png" in frame else []
    qfs = sorted(int(m.group(1)) for c in frame.columns
                 if (m := re.fullmatch(r"rate_jpeg(\d+)", c)) and f"jpeg{m.group(1)}_psnr_y" in frame)
    return out + [(f"JPEG {q}", f"rate_jpeg{q}", f"jpeg{q}_psnr_y") for q in qfs]


def plain_jpeg_at(frame: pd.DataFrame, rate: pd.Series) -> pd.Series:
    """Per row: plain JPEG's Y-PSNR at `rate`, interpolated on that row's HR JPEG curve
    (NaN outside it)."""
    qs = _hr_qualities(frame)
    rates = frame[[f"hr_jpeg{q}_rate" for q in qs]].to_numpy(float)
    psnrs = frame[[f"hr_jpeg{q}_psnr_y" for q in qs]].to_numpy(float)
    out = []
    for r, xs, ys in zip(rate.to_numpy(float), rates, psnrs):
        order = np.argsort(xs)
        xs, ys = xs[order], ys[order]
        out.append(float(np.interp(r, xs, ys)) if xs[0] <= r <= xs[-1] else np.nan)
    return pd.Series(out, index=frame.index)


def _matrix(rows: pd.DataFrame, column: str) -> np.ndarray:
    """seeds x tiles of one column, over the tiles every seed has."""
    grid = rows.pivot_table(index="seed", columns="image", values=column, aggfunc="mean")
    return grid.dropna(axis=1).to_numpy(float)


def _point(rows: pd.DataFrame, who: str, codec: str, rate: str, psnr: str) -> dict:
    rows = rows.assign(_jpeg=plain_jpeg_at(rows, rows[rate]))
    rows = rows.assign(_gain=rows[psnr] - rows["_jpeg"])
    gain = mean_ci(_matrix(rows.dropna(subset=["_gain"]), "_gain")) \
        if rows["_gain"].notna().any() else {"mean": float("nan"), "ci95": None}
    return {"model": who, "codec": codec, "rate": float(rows[rate].mean()),
            "psnr_y": mean_ci(_matrix(rows, psnr)), "gain": gain,
            "verdict": verdict(gain["ci95"], "max", MARGINS["dB"]), "seeds": int(rows["seed"].nunique()),
            "tiles": int(rows["_gain"].notna().groupby(rows["image"]).any().sum())}


def rate_gains(per_image: pd.DataFrame) -> list[dict]:
    """One dict per (model group or bicubic, codec): mean rate, Y-PSNR with CI, and the gain
    over plain JPEG at that rate with its CI, verdict and the seeds x tiles behind it."""
    if not _hr_qualities(per_image) or not codecs(per_image):
        return []
    out = []
    for label, rows in per_image.groupby("label", sort=False):
        out += [_point(rows, str(label), *c) for c in codecs(rows)]
    one = per_image[per_image["run_id"] == per_image["run_id"].iloc[0]]  # bicubic: constant
    out += [_point(one, "bicubic", name, "bicubic_" + rate,
                   "bicubic_psnr_y" if psnr == "psnr_y" else "bicubic_" + psnr)
            for name, rate, psnr in codecs(one)]
    return out


def _ci_text(stat: dict, sign: bool = True) -> str:
    ci = stat.get("ci95")
    f = "{:+.2f}" if sign else "{:.2f}"
    return f.format(stat["mean"]) + (f" [{f.format(ci[0])}, {f.format(ci[1])}]" if ci else "")


def rate_distortion(per_image: pd.DataFrame) -> Section:
    points = rate_gains(per_image)
    if not points:
        return Section("compression", TITLE, note="the sweep has no rate metrics "
                       "(storage_eval=true: search_spaces/compression.py)")
    fig = go.Figure()
    qs = _hr_qualities(per_image)
    one = per_image[per_image["run_id"] == per_image["run_id"].iloc[0]]
    fig.add_trace(go.Scatter(
        x=[one[f"hr_jpeg{q}_rate"].mean() for q in qs],
        y=[one[f"hr_jpeg{q}_psnr_y"].mean() for q in qs], mode="lines+markers",
        name="plain JPEG of the HR", line=dict(color="black"), text=[f"QF {q}" for q in qs],
        hovertemplate="plain JPEG %{text}: %{x:.3f} bpp, %{y:.2f} dB<extra></extra>"))
    colors = group_colors(p["model"] for p in points)
    for who in dict.fromkeys(p["model"] for p in points):
        mine = sorted((p for p in points if p["model"] == who), key=lambda p: p["rate"])
        ci = [p["psnr_y"].get("ci95") or [p["psnr_y"]["mean"]] * 2 for p in mine]
        ys = [p["psnr_y"]["mean"] for p in mine]
        fig.add_trace(go.Scatter(
            x=[p["rate"] for p in mine], y=ys, mode="lines+markers", name=who,
            line=dict(color="#7f7f7f" if who == "bicubic" else colors[who],
                      dash="dash" if who == "bicubic" else "solid"),
            error_y=dict(type="data", array=[c[1] - y for c, y in zip(ci, ys)],
                         arrayminus=[y - c[0] for c, y in zip(ci, ys)]),
            text=[f"{p['codec']}: {_ci_text(p['gain'])} dB over plain JPEG, {p['verdict']}"
                  for p in mine],
            hovertemplate="%{text}<br>%{x:.3f} bpp, %{y:.2f} dB<extra>" + who + "</extra>"))
    # the axis spans the means: a diverged group's wide interval would flatten every curve
    means = [y for trace in fig.data for y in trace.y if np.isfinite(y)]
    fig.update_layout(**LAYOUT, height=520,
                      xaxis=dict(title="payload bits per HR pixel", type="log"),
                      yaxis=dict(title="Y-PSNR of the decoded HR (dB), 95% CI",
                                 range=[min(means) - 1, max(means) + 1]))
    table = pd.DataFrame([{
        "model": p["model"], "LR codec": p["codec"], "bits per HR px": f"{p['rate']:.3f}",
        "Y-PSNR (dB)": _ci_text(p["psnr_y"], sign=False),
        "over plain JPEG at this rate (dB)": _ci_text(p["gain"]) if p["tiles"] else "outside",
        "verdict": p["verdict"] if p["tiles"] else "", "seeds x tiles": f"{p['seeds']} x {p['tiles']}"}
        for p in points])
    wins = [f"{p['model']} {p['codec']} ({p['rate']:.2f} bpp)" for p in points
            if p["tiles"] and p["verdict"] == "better"]
    verdict_line = ("Beats plain JPEG at the same rate: " + ", ".join(wins) + "." if wins else
                    "No model point and no bicubic point beats plain JPEG at its rate.")
    return Section("compression", TITLE,
                   "Each model of the sweep as a codec: its LR stored losslessly (PNG) or as "
                   "JPEG at each QF, then upscaled, against the bicubic LR through the same "
                   "codecs (dashed) and plain JPEG of the HR image (black). Rates are payload "
                   "bits (the coded data without the file's container) per HR pixel, the mean "
                   "over tiles; the gain over plain JPEG is paired per tile at the model's rate "
                   "(95% CI over seeds x tiles). " + verdict_line, figure=fig, table=table)


# this module's report sections (dashboards/sections.py)
SECTIONS = [
    SectionSpec("compression", 60, lambda i: rate_distortion(i.per_image), study=True),
]
