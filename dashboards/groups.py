"""The report's lead sections, from the sweep's own statistics (bench/STATISTICS.md): each
group's gain over bicubic with its 95% CI and verdict, and the gain of each group on each
validation image, so that one outlier image cannot hide."""
import pandas as pd
import plotly.graph_objects as go

from dashboards.figures import LAYOUT, PALETTE, Section


def _ci_bar(stat: dict) -> tuple[float, float]:
    lo, hi = stat.get("ci95") or (stat["mean"], stat["mean"])
    return hi - stat["mean"], stat["mean"] - lo


def group_gains(summary: dict | None) -> Section:
    title = "Which group is best, and is it real?"
    groups = [g for g in (summary or {}).get("groups", []) if "gain_db" in g]
    if not groups:
        return Section("groups", title, note="the sweep's summary.json has no group statistics "
                       "(no finished trial, or a sweep from before replicates)")
    comp = summary["comparison"]
    groups = sorted(groups, key=lambda g: g["gain_db"]["mean"])
    up, down = zip(*[_ci_bar(g["gain_db"]) for g in groups])
    verdicts = ["best" if g["vs_best"].get("self") else g["vs_best"]["verdict"] for g in groups]
    colors = {"best": "#2ca02c", "indistinguishable": "#7f7f7f", "worse": "#d62728",
              "better": "#1f77b4"}
    fig = go.Figure(go.Scatter(
        x=[g["gain_db"]["mean"] for g in groups], y=[g["label"] for g in groups],
        mode="markers", marker=dict(size=12, color=[colors[v] for v in verdicts]),
        error_x=dict(type="data", array=list(up), arrayminus=list(down), thickness=2),
        text=[f"{v}; seeds {', '.join(map(str, g['seeds']))}; {g['n_images']} images"
              for g, v in zip(groups, verdicts)],
        hovertemplate="%{y}: %{x:.3f} dB (%{text})<extra></extra>"))
    fig.add_vline(x=0, line=dict(color="black", dash="dot"),
                  annotation_text="bicubic", annotation_position="top")
    fig.update_layout(**{**LAYOUT, "margin": dict(l=200, r=20, t=40, b=50)},
                      height=140 + 40 * len(groups),
                      xaxis=dict(title="gain over bicubic, Y-PSNR (dB), mean and 95% CI"),
                      yaxis=dict(automargin=True))
    return Section("groups", title,
                   f"{comp['sentence']}. Each point is a group (the trials that differ only by "
                   "seed): mean gain over bicubic down/up with its 95% confidence interval over "
                   "seeds x validation tiles; colour: green best, grey indistinguishable from "
                   "it, red worse (paired difference, same image and seed).", figure=fig)


def per_image_gains(rows: pd.DataFrame) -> Section:
    """rows: label, image, gain_db (the last evaluation of each finished trial)."""
    title = "Gain on each validation image"
    if rows.empty:
        return Section("per_image", title, note="no trial logged eval/per_image.json")
    mean = rows.groupby(["label", "image"], sort=False)["gain_db"].mean().reset_index()
    images = list(dict.fromkeys(mean["image"]))
    fig = go.Figure()
    for i, (label, part) in enumerate(mean.groupby("label", sort=False)):
        part = part.set_index("image").reindex(images)
        fig.add_trace(go.Scatter(x=images, y=part["gain_db"], mode="lines+markers", name=label,
                                 line=dict(color=PALETTE[i % len(PALETTE)], width=1.5)))
    fig.add_hline(y=0, line=dict(color="black", dash="dot"))
    fig.update_layout(**LAYOUT, height=420, xaxis=dict(title="validation image (tile)",
                                                      tickangle=-60),
                      yaxis=dict(title="gain over bicubic (dB), mean over seeds"))
    return Section("per_image", title,
                   "The gain of each group on each validation image, averaged over its seeds; "
                   "the dotted line is bicubic. Lines that cross mean the ranking depends on "
                   "the image.", figure=fig)
