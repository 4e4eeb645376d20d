"""Assemble the sections into one self-contained HTML page: plotly.js embedded once, crops as
data URIs, no external resource, so the page reads with no network.

Each figure's div gets `data-irn-figure`; once Plotly.newPlot resolves the page sets
`data-irn-rendered="1"` on it, and any uncaught JavaScript error is recorded in
`<html data-irn-errors>`. The browser test reads both.
"""
import datetime
import html

import plotly.io as pio
from plotly.offline import get_plotlyjs

from dashboards.figures import Section

CONFIG = {"displaylogo": False, "responsive": True,
          "toImageButtonOptions": {"format": "png", "scale": 2}}
MARK_RENDERED = "document.getElementById('{plot_id}').setAttribute('data-irn-rendered', '1');"
ERROR_HOOK = """window.addEventListener('error', function (e) {
  var el = document.documentElement;
  var seen = el.getAttribute('data-irn-errors') || '';
  el.setAttribute('data-irn-errors', seen + e.message + '\\n');
});"""
STYLE = """
body { font-family: system-ui, sans-serif; margin: 0 auto; max-width: 1400px; padding: 0 24px 48px;
       color: #222; }
header { border-bottom: 2px solid #ddd; margin-bottom: 8px; }
h1 { font-size: 1.5em; margin: 18px 0 6px; } h2 { font-size: 1.2em; margin: 28px 0 4px; }
dl.meta { display: grid; grid-template-columns: max-content 1fr; gap: 2px 14px; font-size: .9em; }
dl.meta dt { color: #666; } dl.meta dd { margin: 0; font-family: ui-monospace, monospace; }
nav { font-size: .9em; margin: 8px 0; } nav a { margin-right: 14px; }
p.blurb { color: #555; font-size: .9em; margin: 2px 0 8px; max-width: 1000px; }
p.omitted { color: #777; font-style: italic; font-size: .9em; margin: 4px 0; }
.scroll { overflow-x: auto; }
table.sweep { border-collapse: collapse; font-size: .82em; white-space: nowrap; }
table.sweep th, table.sweep td { border-bottom: 1px solid #e4e4e4; padding: 3px 8px;
                                 text-align: right; }
table.sweep th { background: #f4f4f4; position: sticky; top: 0; }
table.sweep td.text { text-align: left; }
table.sweep tr.baseline td { background: #fff7d6; font-style: italic; }
table.sweep tr.failed td { color: #a33; background: #fdf0f0; }
table.sweep tr.unfinished td { color: #888; }
table.sweep td.failure { text-align: left; font-family: ui-monospace, monospace; }
.gallery { display: flex; flex-wrap: wrap; gap: 14px; }
.gallery figure { margin: 0; border: 1px solid #e4e4e4; padding: 6px; font-size: .78em;
                  width: 272px; }
.gallery figure.reference { background: #f7f7f7; }
.gallery .pair { display: flex; gap: 4px; }
.gallery .pair div { text-align: center; color: #666; }
.gallery img { width: 132px; height: 132px; image-rendering: pixelated; display: block; }
.gallery figcaption { margin-top: 4px; } .gallery .scores { color: #555; }
"""


def _esc(text) -> str:
    return html.escape(str(text), quote=True)


def figure_html(section: Section) -> str:
    body = pio.to_html(section.figure, full_html=False, include_plotlyjs=False,
                       div_id=f"fig-{section.key}", config=CONFIG, post_script=MARK_RENDERED)
    return f'<div class="figure" data-irn-figure="{_esc(section.key)}">{body}</div>'


def table_html(section: Section) -> str:
    """The sweep table; a failed trial's reason fills its (empty) metric cells."""
    table = section.table
    cols = [c for c in table.columns if not c.startswith("_")]
    text_cols = set(table.attrs.get("text_columns", ()))
    metric_cols = [c for c in table.attrs.get("metric_columns", ()) if c in cols]
    head = "".join(f"<th>{_esc(c)}</th>" for c in cols)
    rows = []
    for rec in table.to_dict("records"):
        reason = rec.get("_failure", "")
        shown = [c for c in cols if not (reason and c in metric_cols)]
        cells = "".join(f'<td class="{"text" if c in text_cols else "num"}">{_esc(rec[c])}</td>'
                        for c in shown)
        if reason:
            cells += f'<td class="failure" colspan="{len(metric_cols)}">{_esc(reason)}</td>'
        rows.append(f'<tr class="{_esc(rec["_kind"])}">{cells}</tr>')
    return (f'<div class="scroll"><table class="sweep"><thead><tr>{head}</tr></thead>'
            f'<tbody>{"".join(rows)}</tbody></table></div>')


def _img(crops: dict, name: str, label: str) -> str:
    if name not in crops:
        return ""
    return f'<div><img src="{crops[name]}" alt="{_esc(label)}">{_esc(label)}</div>'


def gallery_html(section: Section) -> str:
    ref = section.gallery["reference"]
    cards = [f'<figure class="reference"><div class="pair">{_img(ref, "gt.png", "HR ground truth")}'
             f'{_img(ref, "lr_bicubic.png", "bicubic LR")}</div>'
             "<figcaption>reference (same crop in every trial)</figcaption></figure>"]
    for item in section.gallery["items"]:
        crops = item["crops"]
        cards.append(
            f'<figure><div class="pair">{_img(crops, "lr.png", "network LR")}'
            f'{_img(crops, "recon.png", "reconstruction")}</div>'
            f'<figcaption><b>{_esc(item["label"])}</b><br>{_esc(item["info"])}'
            f'<br><span class="scores">{_esc(item["scores"])}</span></figcaption></figure>')
    return f'<div class="gallery">{"".join(cards)}</div>'


def section_html(section: Section) -> str:
    head = f'<section id="{_esc(section.key)}"><h2>{_esc(section.title)}</h2>'
    if section.note:
        return f'{head}<p class="omitted">Left out: {_esc(section.note)}.</p></section>'
    body = (figure_html(section) if section.figure is not None else
            table_html(section) if section.table is not None else gallery_html(section))
    return f'{head}<p class="blurb">{_esc(section.blurb)}</p>{body}</section>'


def render(title: str, meta: dict, sections: list[Section]) -> str:
    """The whole page. `meta`: label -> value lines for the header."""
    now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    meta = {**meta, "generated": now}
    rows = "".join(f"<dt>{_esc(k)}</dt><dd>{_esc(v)}</dd>" for k, v in meta.items() if v)
    nav = "".join(f'<a href="#{_esc(s.key)}">{_esc(s.title)}</a>' for s in sections if not s.note)
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{_esc(title)}</title><style>{STYLE}</style>"
        f"<script>{ERROR_HOOK}</script>"
        f'<script type="text/javascript">{get_plotlyjs()}</script></head><body>'
        f'<header><h1>{_esc(title)}</h1><dl class="meta">{rows}</dl><nav>{nav}</nav></header>'
        + "".join(section_html(s) for s in sections) + "</body></html>\n")
