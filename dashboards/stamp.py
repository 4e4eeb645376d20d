"""The rescaling-stamp section (search_spaces/stamp.py): what each stamp buys, in gain over
the reference group with its 95% CI, against what it could carry (stamp_bpp, the information
bound in bits per HR pixel)."""
import pandas as pd
import plotly.graph_objects as go

from dashboards.figures import LAYOUT, Section
from dashboards.groups import gain_error_bars, label_means, reference_gains
from dashboards.sections import SectionSpec
from dashboards.summary import Summary


def stamp_gains(summary, per_image: pd.DataFrame) -> Section:
    title = "The rescaling stamp: gain against capacity"
    rows = reference_gains(summary, "stamp", "none")
    if rows is None:
        return Section("stamp", title, note="the sweep does not vary `stamp`")
    bpp = label_means(per_image, "stamp_bpp")
    capacity = [bpp.get(r["group"].label, 0.0) for r in rows]
    xs = [float(c) if pd.notna(c) else 0.0 for c in capacity]
    text = [r["text"] for r in rows]
    fig = go.Figure(go.Scatter(
        x=xs, y=[r["delta"] for r in rows], mode="markers+text",
        text=[r["group"].label for r in rows], textposition="top center",
        marker=dict(size=12, color=[r["color"] for r in rows]),
        error_y=gain_error_bars(rows),
        customdata=text, hovertemplate="%{customdata}<br>capacity %{x:.3f} bits per HR "
                                       "pixel<extra></extra>"))
    fig.add_hline(y=0, line=dict(color="black", dash="dot"),
                  annotation_text="reference", annotation_position="right")
    fig.update_layout(**LAYOUT, height=460,
                      xaxis=dict(title="stamp capacity: stamped LR pixels x 24 bits per HR pixel"),
                      yaxis=dict(title="gain over the reference group (dB), 95% CI"))
    ref = Summary.of(summary).comparison.reference or "the reference"
    return Section("stamp", title,
                   f"Each point is a group: its Y-PSNR gain over {ref} (paired, same image and "
                   "seed, 95% CI over seeds x validation tiles) against the information bound "
                   "of its stamp. A gain inside the noise is grey; a stamp the model could use "
                   "would rise with its capacity. " + "; ".join(text) + ".", figure=fig)


# this module's report sections (dashboards/sections.py)
SECTIONS = [
    SectionSpec("stamp", 40, lambda i: stamp_gains(i.summary, i.per_image), study=True),
]
