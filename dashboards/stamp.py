"""The rescaling-stamp section (search_spaces/stamp.py): what each stamp buys, in gain over
the reference group with its 95% CI, against what it could carry (stamp_bpp, the information
bound in bits per HR pixel)."""
import pandas as pd
import plotly.graph_objects as go

from dashboards.figures import LAYOUT, Section
from dashboards.groups import VERDICT_COLORS


def stamp_gains(summary: dict | None, per_image: pd.DataFrame) -> Section:
    title = "The rescaling stamp: gain against capacity"
    groups = [g for g in (summary or {}).get("groups", []) if "gain_db" in g]
    if len({str(g.get("config", {}).get("stamp", "none")) for g in groups}) < 2:
        return Section("stamp", title, note="the sweep does not vary `stamp`")
    bpp = (per_image.groupby("label")["stamp_bpp"].mean()
           if "stamp_bpp" in per_image else pd.Series(dtype=float))
    xs, ys, up, down, colors, text = [], [], [], [], [], []
    for g in groups:
        vs = g.get("vs_reference") or {}
        if "delta" not in vs:
            continue
        lo, hi = vs.get("ci95") or (vs["delta"], vs["delta"])
        xs.append(float(bpp.get(g["label"], 0.0)) if pd.notna(bpp.get(g["label"], 0.0))
                  else 0.0)
        ys.append(vs["delta"])
        up.append(hi - vs["delta"])
        down.append(vs["delta"] - lo)
        verdict = "best" if vs.get("self") else vs.get("verdict", "indistinguishable")
        colors.append(VERDICT_COLORS.get(verdict, "#7f7f7f"))
        text.append(f"{g['label']}: {vs['delta']:+.3f} dB [{lo:+.3f}, {hi:+.3f}], "
                    f"{'reference' if vs.get('self') else verdict}")
    fig = go.Figure(go.Scatter(
        x=xs, y=ys, mode="markers+text", text=[t.split(":")[0] for t in text],
        textposition="top center", marker=dict(size=12, color=colors),
        error_y=dict(type="data", array=up, arrayminus=down, thickness=2),
        customdata=text, hovertemplate="%{customdata}<br>capacity %{x:.3f} bits per HR "
                                       "pixel<extra></extra>"))
    fig.add_hline(y=0, line=dict(color="black", dash="dot"),
                  annotation_text="reference", annotation_position="right")
    fig.update_layout(**LAYOUT, height=460,
                      xaxis=dict(title="stamp capacity: stamped LR pixels x 24 bits per HR pixel"),
                      yaxis=dict(title="gain over the reference group (dB), 95% CI"))
    ref = (summary or {}).get("comparison", {}).get("reference", "the reference")
    return Section("stamp", title,
                   f"Each point is a group: its Y-PSNR gain over {ref} (paired, same image and "
                   "seed, 95% CI over seeds x validation tiles) against the information bound "
                   "of its stamp. A gain inside the noise is grey; a stamp the model could use "
                   "would rise with its capacity. " + "; ".join(text) + ".", figure=fig)
