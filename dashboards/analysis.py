"""The figures of `python -m bench.analyze`: one Section per analysis of irn.analysis, and the
self-contained page (dashboards.page.render). `sections(numbers, pictures)` takes what
irn.analysis.analyze returns; bench/ANALYZE.md says how to read each figure."""
import base64
import io

import numpy as np
import plotly.graph_objects as go
from PIL import Image
from plotly.subplots import make_subplots

from dashboards.figures import LAYOUT, PALETTE, Section
from dashboards.page import render
from irn.analysis.spectrum import GAIN
from irn.atomic import atomic_write


def _over(n: int) -> str:
    return f"mean over {n} image{'s' if n != 1 else ''}"


def _stage_rows(weights: dict):
    """Per stage: [(row label, subnet record)] in block order."""
    return [[(f"b{b['block']} {net['name']}", net) for b in st["blocks"] for net in b["subnets"]]
            for st in weights["stages"]]


def weight_histograms(weights: dict) -> Section:
    edges = np.asarray(weights["bin_edges"])
    centres = (edges[:-1] + edges[1:]) / 2
    stages = _stage_rows(weights)
    fig = make_subplots(rows=len(stages), cols=1, subplot_titles=[
        f"stage {i + 1}" for i in range(len(stages))], vertical_spacing=0.08)
    for i, rows in enumerate(stages, 1):
        fig.add_trace(go.Heatmap(
            x=centres, y=[label for label, _ in rows], colorscale="Viridis",
            z=[np.log10(1 + np.asarray(net["histogram"])) for _, net in rows],
            colorbar=dict(title="log10(1+n)"), hovertemplate="%{y}<br>w=%{x:.3g}<br>"
            "log10(1+count)=%{z:.2f}<extra></extra>"), row=i, col=1)
        fig.update_yaxes(autorange="reversed", row=i, col=1)
    fig.update_xaxes(title_text="conv weight value")
    fig.update_layout(**LAYOUT, height=max(300, 22 * sum(map(len, stages)) + 120))
    return Section("weights", "Weight histograms", "Conv weights of each subnet (rows: block "
                   "b, subnet as named in the model), one bin range for the whole model; colour "
                   "is log10(1 + count). Biases are not included.", figure=fig)


def block_masses(weights: dict) -> Section:
    fig = go.Figure()
    names = list(dict.fromkeys(net["name"] for rows in _stage_rows(weights) for _, net in rows))
    x = [f"s{st['stage']} b{b['block']}" for st in weights["stages"] for b in st["blocks"]]
    for k, name in enumerate(names):
        y = [next((n["mass"] for n in b["subnets"] if n["name"] == name), 0)
             for st in weights["stages"] for b in st["blocks"]]
        fig.add_trace(go.Bar(x=x, y=y, name=name, marker_color=PALETTE[k % len(PALETTE)]))
    fig.update_layout(**LAYOUT, barmode="stack", height=380, xaxis_title="stage s, block b",
                      yaxis_title="sum |W| of its convs")
    return Section("block-mass", "Weight mass per block", "Total absolute conv weight of each "
                   "coupling block, stacked by subnet: the light blocks are pruned first.",
                   figure=fig)


def channel_masses(weights: dict) -> Section:
    rows, labels = [], []
    for st in weights["stages"]:
        for b in st["blocks"]:
            for net in b["subnets"]:
                for conv in net["convs"]:
                    m = np.asarray(conv["channel_mass"])
                    rows.append(m / (m.mean() or 1))
                    labels.append(f"s{st['stage']} b{b['block']} {net['name']}.{conv['name']}")
    width = max(len(r) for r in rows)
    z = [np.pad(r, (0, width - len(r)), constant_values=np.nan) for r in rows]
    fig = go.Figure(go.Heatmap(z=z, y=labels, colorscale="Magma", colorbar=dict(title="x mean"),
                               hovertemplate="%{y}<br>input channel %{x}<br>%{z:.2f} x the "
                               "conv's mean<extra></extra>"))
    fig.update_layout(**LAYOUT, height=max(320, 11 * len(labels) + 120),
                      xaxis_title="input channel",
                      yaxis=dict(autorange="reversed", dtick=1, tickfont=dict(size=9)))
    return Section("channel-mass", "Weight mass per input channel", "For each conv, sum |W| "
                   "over outputs and kernel taps per input channel, divided by that conv's "
                   "mean: dark channels carry little of the work (dense blocks: the first "
                   "inputs are the block's input, then each earlier conv's gc outputs).",
                   figure=fig)


def _lines(curves: dict, x, reference: float, ref_name: str, x_title: str, dtick=1):
    fig = go.Figure()
    for k, (label, y) in enumerate(curves.items()):
        fig.add_trace(go.Scatter(x=x, y=y, name=label, mode="lines+markers",
                                 line_color=PALETTE[k % len(PALETTE)]))
    fig.add_hline(y=reference, line_dash="dot", line_color="#888", annotation_text=ref_name)
    fig.update_layout(**LAYOUT, height=380, xaxis=dict(title=x_title, dtick=dtick),
                      yaxis_title="Y-PSNR (dB)")
    return fig


def pruning(numbers: dict) -> list[Section]:
    bic = numbers["evaluation"]["mean"]["bicubic_psnr_y"]
    ch, bl = numbers["channel_pruning"], numbers["block_pruning"]
    identity = {True: "each silenced block is the identity",
                False: "a silenced AllInOne block keeps its permutation and global affine",
                None: ""}[bl["silenced_is_identity"]]
    return [
        Section("prune-channels", "Pruning sensitivity: channels", f"Round-trip Y-PSNR (z = 0, "
                f"{_over(ch['n_images'])}) with the lightest k% input channels of every conv "
                "of one stage zeroed; 0% is the unpruned model.",
                figure=_lines(ch["curves"], ch["percents"], bic, "bicubic",
                              "channels zeroed per conv (%)", dtick=10)),
        Section("prune-blocks", "Pruning sensitivity: blocks", f"Round-trip Y-PSNR (z = 0, "
                f"{_over(bl['n_images'])}) with the n lightest coupling blocks of one stage "
                f"silenced (last conv of each subnet zeroed; {identity}).",
                figure=_lines(bl["curves"], list(range(len(next(iter(bl["curves"].values()))))),
                              bic, "bicubic", "blocks silenced"))]


def drift(numbers: dict) -> Section:
    rep = numbers["repeat"]
    fig = _lines({"model (z = 0)": rep["psnr_y"], "bicubic down + up": rep["bicubic_psnr_y"]},
                 rep["n"], rep["psnr_y"][0], "one round trip", "round trips N")
    return Section("drift", "Repeated application", f"Y-PSNR against the HR after N round "
                   f"trips, each reconstruction rounded to 8 bits ({_over(rep['n_images'])}).",
                   figure=fig)


def x2_twice(numbers: dict) -> Section:
    t = numbers["x2_twice"]
    title = "x2 applied twice against bicubic x4"
    if not t:
        return Section("x2-twice", title, note="only for an x2 model")
    fig = go.Figure(go.Bar(x=["model x2 twice", "bicubic x4"], y=[t["psnr_y"],
                           t["bicubic_x4_psnr_y"]], marker_color=PALETTE[:2],
                           text=[f"{t['psnr_y']:.2f}", f"{t['bicubic_x4_psnr_y']:.2f}"]))
    fig.update_layout(**LAYOUT, height=340, yaxis_title="Y-PSNR (dB), 4 px crop")
    return Section("x2-twice", title, f"HR -> LR -> LR2 and back up twice (z = 0), against "
                   f"bicubic x4 ({_over(t['n_images'])}); LR2 against the bicubic x4 LR: "
                   f"{t['lr2_psnr_y']:.2f} dB.", figure=fig)


def _data_uri(img: np.ndarray) -> str:
    buf = io.BytesIO()
    Image.fromarray(img).save(buf, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode()


def hidden(pictures: dict, gain: int = GAIN) -> Section:
    pics = pictures["hidden"]
    fig = make_subplots(rows=1, cols=len(pics), subplot_titles=list(pics))
    for i, img in enumerate(pics.values(), 1):
        fig.add_trace(go.Image(source=_data_uri(img)), row=1, col=i)
    fig.update_xaxes(showticklabels=False)
    fig.update_yaxes(showticklabels=False)
    fig.update_layout(**LAYOUT, height=360)
    return Section("lr-hidden", "What the LR hides", f"The model's LR minus the bicubic LR, "
                   f"x{gain} around mid-grey, per image: whatever is not grey is what the LR "
                   "carries beyond a plain downscale.", figure=fig)


def spectrum(pictures: dict) -> Section:
    spec = pictures["spectrum"]
    fig = make_subplots(rows=1, cols=2, column_widths=[0.5, 0.5], subplot_titles=[
        "log10(1 + |FFT|) of the Y difference", "radial power profile"])
    fig.add_trace(go.Heatmap(z=spec["log_magnitude"], x=spec["freq_x"], y=spec["freq_y"],
                             colorscale="Inferno", colorbar=dict(x=0.45)), row=1, col=1)
    fig.add_trace(go.Scatter(x=spec["radial_frequency"][1:], y=spec["radial_power"][1:],
                             mode="lines", name="power", line_color=PALETTE[0]), row=1, col=2)
    fig.update_xaxes(title_text="cycles / LR pixel")
    fig.update_yaxes(title_text="cycles / LR pixel", scaleanchor="x", row=1, col=1)
    fig.update_yaxes(title_text="mean |F|^2 (levels^2)", type="log", row=1, col=2)
    fig.update_layout(**LAYOUT, height=460, showlegend=False)
    return Section("spectrum", "Spectrum of LR minus bicubic LR", f"2-D spectrum of the "
                   f"Hann-windowed Y difference (zero frequency centred) and its power in "
                   f"rings, {_over(spec['n_images'])}; each image's mean offset is removed "
                   "first and the zero ring left out of the profile.", figure=fig)


def sections(numbers: dict, pictures: dict) -> list[Section]:
    w = numbers["weights"]
    return [weight_histograms(w), block_masses(w), channel_masses(w), *pruning(numbers),
            drift(numbers), x2_twice(numbers), hidden(pictures), spectrum(pictures)]


def write_page(path, title: str, meta: dict, numbers: dict, pictures: dict) -> None:
    """The whole page, written atomically."""
    with atomic_write(path, encoding="utf-8") as f:
        f.write(render(title, meta, sections(numbers, pictures)))
