"""What the LR hides, across a sweep of `lambda_guide` (search_spaces/guide.py): per group, the
model's LR minus the bicubic LR, amplified, its 2-D spectrum and its radial power profile,
from the crops each group's first trial saved (irn.crops.visual_crops; the computations
are irn.analysis.spectrum's, the same as `bench.analyze`'s)."""
import io

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from PIL import Image
from plotly.subplots import make_subplots

from dashboards.colors import group_colors
from dashboards.figures import LAYOUT, Section
from irn.analysis.spectrum import GAIN, difference_spectrum, hidden_picture
from dashboards.sections import SectionSpec

TITLE = "What the LR hides"
HIGH = 0.25  # cycles per LR pixel: the upper half of the band up to Nyquist (0.5)


def _rgb(png: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(png)).convert("RGB"))


def _group_spectra(sweep, crops: dict) -> list[dict]:
    done = sweep.finished.set_index("run_id")
    out = []
    for rid, images in crops.items():
        if rid not in done.index or not images:
            continue
        row = done.loc[rid]
        scale = int(row.get("scale", 2))
        pairs = [(_rgb(k["lr"]), _rgb(k["lr_bicubic"])) for k in images.values()]
        spec = difference_spectrum([a for a, _ in pairs], [b for _, b in pairs], nearest=scale)
        freq, power = spec["radial_frequency"], spec["radial_power"]
        high = float(power[freq >= HIGH].sum() / power.sum()) if power.sum() > 0 else 0.0
        out.append({"label": str(row.get("group_label", rid)), "seed": row.get("seed"),
                    "spectrum": spec, "high_share": high,
                    "picture": hidden_picture(*pairs[0], nearest=scale),
                    "first_image": next(iter(images))})
    return out


def lr_hidden(sweep, crops: dict) -> list[Section]:
    """The pictures-and-spectra section and the radial-profile section; none unless the
    sweep varies lambda_guide and its trials saved crops."""
    if "lambda_guide" not in sweep.varying():
        return []
    groups = _group_spectra(sweep, crops)
    if not groups:
        return []
    n = len(groups)
    fig = make_subplots(rows=2, cols=n, subplot_titles=[g["label"] for g in groups],
                        vertical_spacing=0.08, horizontal_spacing=0.02)
    for i, g in enumerate(groups, start=1):
        fig.add_trace(go.Image(z=g["picture"], hoverinfo="skip"), row=1, col=i)
        spec = g["spectrum"]
        fig.add_trace(go.Heatmap(z=spec["log_magnitude"], x=spec["freq_x"], y=spec["freq_y"],
                                 coloraxis="coloraxis", name=g["label"]), row=2, col=i)
    fig.update_xaxes(showticklabels=False)
    fig.update_yaxes(showticklabels=False)
    fig.update_layout(**LAYOUT, height=560, coloraxis=dict(
        colorscale="Viridis", colorbar=dict(title="log10(1+|F|)")))
    table = pd.DataFrame([{
        "group": g["label"], "seed": g["seed"], "crops": g["spectrum"]["n_images"],
        "mean Y difference (levels)": f"{np.mean(g['spectrum']['mean']):+.2f}",
        "RMS Y difference (levels)": f"{np.mean(g['spectrum']['rms']):.2f}",
        f"power above {HIGH} cycles/px": f"{g['high_share']:.0%}"} for g in groups])
    pictures = Section(
        "hidden", TITLE,
        f"Top: the model's LR minus the bicubic LR on {groups[0]['first_image']}, {GAIN}x "
        "around mid-grey (grey = no difference). Bottom: the 2-D spectrum of the Y difference "
        "(Hann window, brightness offset removed, zero frequency in the middle), averaged over "
        "the group's saved crops. One trial per group (its first seed), so this shows what a "
        "model does, not a measured difference between groups: for that read lr_psnr_y in the "
        "group table. A model free of the guide (lambda_guide 0) writes more, and higher-"
        "frequency, detail into its LR.", figure=fig, table=table)
    prof = go.Figure()
    colors = group_colors(g["label"] for g in groups)
    for g in groups:
        spec = g["spectrum"]
        prof.add_trace(go.Scatter(x=spec["radial_frequency"][1:], y=spec["radial_power"][1:],
                                  mode="lines", name=g["label"],
                                  line=dict(color=colors[g["label"]])))
    prof.update_layout(**LAYOUT, height=420, xaxis=dict(title="frequency (cycles per LR pixel)"),
                       yaxis=dict(title="mean power of the Y difference (levels^2)", type="log"))
    profile = Section("hidden_profile", "What the LR hides: power by frequency",
                      "The radially averaged power of the LR minus the bicubic LR (Y, 8-bit "
                      "levels), per group: where in frequency each model departs from bicubic.",
                      figure=prof)
    return [pictures, profile]


# this module's report sections (dashboards/sections.py)
SECTIONS = [
    SectionSpec("lr_hidden", 90, lambda i: lr_hidden(i.sweep, i.crops)),
]
