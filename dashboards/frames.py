"""The frame tasks' section (search_spaces/predict.py, interpolate.py): each group's
predicted or interpolated frame, Y-PSNR with its 95% CI, against the baselines on the same
frames (repeat / neighbours' mean, and DIS optical flow: irn/video/baselines.py), and the
reverse direction's by-product with z = 0 and z ~ N(0, 1)."""
import plotly.graph_objects as go

from dashboards.colors import group_colors
from dashboards.figures import LAYOUT, Section, mean_interval
from dashboards.sections import SectionSpec

BASELINES = (("simple_psnr_y", "simple baseline (repeat / mean)", "dot"),
             ("flow_psnr_y", "DIS optical flow", "dash"))


def _stat(per_image, label: str, metric: str):
    """(mean, lo, hi) of one group's metric over seeds x images: the group table's interval."""
    part = per_image[per_image["label"] == label]
    cells = part.pivot_table(index="seed", columns="image", values=metric, aggfunc="mean")
    return mean_interval(cells.dropna(axis=1).to_numpy())


def _fmt(mean, lo, hi) -> str:
    return f"{mean:+.2f} [{lo:+.2f}, {hi:+.2f}] dB" if lo is not None else f"{mean:+.2f} dB"


def frame_section(summary, per_image) -> Section:
    title = "Frame prediction / interpolation against repeat, mean and optical flow"
    if "frame_psnr_y" not in per_image or not per_image["frame_psnr_y"].notna().any():
        return Section("frames", title, note="no trial of task=predict or task=interpolate")
    labels = list(dict.fromkeys(per_image.loc[per_image["frame_psnr_y"].notna(), "label"]))
    colors = group_colors(labels)
    fig = go.Figure()
    for metric, name, symbol in (("frame_psnr_y", "the network's frame", "circle"),
                                 ("reverse_psnr_y", "reverse by-product, z = 0", "diamond"),
                                 ("reverse_gauss_psnr_y", "reverse, z ~ N(0, 1)", "x")):
        stats = [_stat(per_image, label, metric) for label in labels]
        fig.add_trace(go.Scatter(
            x=labels, y=[m for m, _, _ in stats], mode="markers", name=name,
            marker=dict(size=12, symbol=symbol, color=[colors[g] for g in labels]),
            error_y=dict(type="data", array=[(hi - m) if hi is not None else 0
                                             for m, _, hi in stats],
                         arrayminus=[(m - lo) if lo is not None else 0 for m, lo, _ in stats],
                         thickness=2)))
    for metric, name, dash in BASELINES:
        if metric in per_image and per_image[metric].notna().any():
            fig.add_hline(y=float(per_image[metric].mean()), line=dict(color="black", dash=dash),
                          annotation_text=name, annotation_position="top left")
    fig.update_layout(**LAYOUT, height=460, yaxis=dict(title="Y-PSNR (dB), 95% CI"),
                      xaxis=dict(title="group"))
    lines = [f"{label}: vs simple {_fmt(*_stat(per_image, label, 'frame_gain_db'))}, vs flow "
             f"{_fmt(*_stat(per_image, label, 'frame_vs_flow_db'))}" for label in labels]
    return Section("frames", title,
                   "Each group's frame (the predicted frame n+2 or the interpolated frame n+1 "
                   "of camera-motion clips rendered from the validation photos), Y-PSNR with "
                   "its 95% CI over seeds x tiles, beside the baselines on the same frames "
                   "(lines: their mean) and the reverse pass from the true frame (the other "
                   "direction, z = 0 and z drawn). Paired differences from the baselines, "
                   "same tiles: " + "; ".join(lines) + ".", fig)


SECTIONS = [SectionSpec("frames", 55, lambda i: frame_section(i.summary, i.per_image),
                        study=True)]
