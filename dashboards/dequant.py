"""The dequantization section (search_spaces/quantization.py): what each `quantization` mode
buys, as its gain over the reference group with the 95% CI from the sweep's summary, beside
how far the variational q moved from uniform noise (`dequant_bpd`)."""
import pandas as pd
import plotly.graph_objects as go

from dashboards.figures import LAYOUT, Section
from dashboards.groups import gain_error_bars, label_means, reference_gains
from dashboards.sections import SectionSpec
from dashboards.summary import Summary


def dequant_gains(summary, per_image: pd.DataFrame) -> Section:
    title = "Dequantization: what each mode buys"
    rows = reference_gains(summary, "quantization", "ste")
    if rows is None:
        return Section("dequant", title, note="the sweep does not vary `quantization`")
    bpd = label_means(per_image, "dequant_bpd")
    text = []
    for r in rows:
        q = bpd.get(r["group"].label)
        text.append(r["text"] + (f", q {q:.4f} bits per LR element from uniform"
                                 if pd.notna(q) else ""))
    fig = go.Figure(go.Scatter(
        x=[r["group"].label for r in rows], y=[r["delta"] for r in rows], mode="markers",
        marker=dict(size=12, color=[r["color"] for r in rows]),
        error_y=gain_error_bars(rows),
        customdata=text, hovertemplate="%{customdata}<extra></extra>"))
    fig.add_hline(y=0, line=dict(color="black", dash="dot"))
    fig.update_layout(**LAYOUT, height=420, xaxis=dict(title="group"),
                      yaxis=dict(title="gain over the reference group (dB), 95% CI"))
    ref = Summary.of(summary).comparison.reference or "the reference"
    return Section("dequant", title,
                   f"Each group's Y-PSNR gain over {ref} (paired, same image and seed, 95% CI "
                   "over seeds x validation tiles). Evaluation upscales the real uint8 LR in "
                   "every group, so this is what the training change buys. "
                   + "; ".join(text) + ".", figure=fig)


# this module's report sections (dashboards/sections.py)
SECTIONS = [
    SectionSpec("dequant", 80, lambda i: dequant_gains(i.summary, i.per_image), study=True),
]
