"""The dequantization section (search_spaces/quantization.py): what each `quantization` mode
buys, as its gain over the reference group with the 95% CI from the sweep's summary, beside
how far the variational q moved from uniform noise (`dequant_bpd`)."""
import pandas as pd
import plotly.graph_objects as go

from dashboards.figures import LAYOUT, Section
from dashboards.groups import VERDICT_COLORS


def dequant_gains(summary: dict | None, per_image: pd.DataFrame) -> Section:
    title = "Dequantization: what each mode buys"
    groups = [g for g in (summary or {}).get("groups", []) if "gain_db" in g]
    if len({str(g.get("config", {}).get("quantization", "ste")) for g in groups}) < 2:
        return Section("dequant", title, note="the sweep does not vary `quantization`")
    bpd = (per_image.groupby("label")["dequant_bpd"].mean()
           if "dequant_bpd" in per_image else pd.Series(dtype=float))
    labels, ys, up, down, colors, text = [], [], [], [], [], []
    for g in groups:
        vs = g.get("vs_reference") or {}
        if vs.get("delta") is None:
            continue
        lo, hi = vs.get("ci95") or (vs["delta"], vs["delta"])
        verdict = "reference" if vs.get("self") else vs.get("verdict", "indistinguishable")
        extra = (f", q {bpd[g['label']]:.4f} bits per LR element from uniform"
                 if pd.notna(bpd.get(g["label"])) else "")
        labels.append(g["label"])
        ys.append(vs["delta"])
        up.append(hi - vs["delta"])
        down.append(vs["delta"] - lo)
        colors.append(VERDICT_COLORS.get("best" if vs.get("self") else verdict, "#7f7f7f"))
        text.append(f"{g['label']}: {vs['delta']:+.3f} dB [{lo:+.3f}, {hi:+.3f}], {verdict}"
                    + extra)
    fig = go.Figure(go.Scatter(
        x=labels, y=ys, mode="markers", marker=dict(size=12, color=colors),
        error_y=dict(type="data", array=up, arrayminus=down, thickness=2),
        customdata=text, hovertemplate="%{customdata}<extra></extra>"))
    fig.add_hline(y=0, line=dict(color="black", dash="dot"))
    fig.update_layout(**LAYOUT, height=420, xaxis=dict(title="group"),
                      yaxis=dict(title="gain over the reference group (dB), 95% CI"))
    ref = (summary or {}).get("comparison", {}).get("reference", "the reference")
    return Section("dequant", title,
                   f"Each group's Y-PSNR gain over {ref} (paired, same image and seed, 95% CI "
                   "over seeds x validation tiles). Evaluation upscales the real uint8 LR in "
                   "every group, so this is what the training change buys. "
                   + "; ".join(text) + ".", figure=fig)
