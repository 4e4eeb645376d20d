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
# The trial table linked to the parallel-coordinates selection: on every restyle (an axis
# dragged), the rows whose trial lies outside a constrained range are hidden. The figure's
# layout.meta holds the run id and the axis values of each line (dashboards.figures).
LINK_TABLE = """(function link() {
  if (document.readyState === 'loading') {  // the table comes later in the page
    document.addEventListener('DOMContentLoaded', link);
    return;
  }
  var gd = document.getElementById('{plot_id}');
  var table = document.querySelector('table[data-linked="parcoords"]');
  if (!gd || !table || !gd.layout.meta) { return; }
  var ids = gd.layout.meta.run_ids, values = gd.layout.meta.values;
  var count = document.querySelector('[data-linked-count]');
  function inside(v, range) {
    var ranges = Array.isArray(range[0]) ? range : [range];
    return ranges.some(function (r) { return v >= r[0] && v <= r[1]; });
  }
  function update() {
    var dims = gd.data[0].dimensions, keep = {}, n = 0;
    ids.forEach(function (id, i) {
      var ok = dims.every(function (d, k) {
        return !d.constraintrange || inside(values[k][i], d.constraintrange);
      });
      if (ok) { keep[id] = true; n += 1; }
    });
    table.querySelectorAll('tr[data-run]').forEach(function (tr) {
      tr.style.display = keep[tr.getAttribute('data-run')] ? '' : 'none';
    });
    if (count) { count.textContent = n + ' of ' + ids.length + ' trials in the selection'; }
  }
  gd.on('plotly_restyle', update);
  update();
})();"""
# Click a header to sort its table by that column (numbers as numbers, blanks last); click
# again to reverse. Ties keep their order.
SORT_TABLES = """document.addEventListener('click', function (e) {
  var th = e.target.closest('table[data-sortable] th');
  if (!th) { return; }
  var table = th.closest('table'), body = table.tBodies[0];
  var col = Array.prototype.indexOf.call(th.parentNode.children, th);
  var down = th.getAttribute('data-sorted') === 'up';
  table.querySelectorAll('th').forEach(function (h) { h.removeAttribute('data-sorted'); });
  th.setAttribute('data-sorted', down ? 'down' : 'up');
  function key(tr) {
    var cell = tr.cells[col], text = cell ? cell.textContent.trim() : '';
    var num = parseFloat(text.replace(/[^0-9eE.+-]/g, ''));
    return {blank: text === '', num: /^[-+]?[0-9.]/.test(text) ? num : NaN, text: text};
  }
  var rows = Array.from(body.rows).map(function (tr, i) { return [key(tr), i, tr]; });
  rows.sort(function (a, b) {
    if (a[0].blank !== b[0].blank) { return a[0].blank ? 1 : -1; }
    var c = !isNaN(a[0].num) && !isNaN(b[0].num) ? a[0].num - b[0].num
      : a[0].text.localeCompare(b[0].text);
    return (down ? -c : c) || a[1] - b[1];
  });
  rows.forEach(function (r) { body.appendChild(r[2]); });
});"""
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
table.sweep { border-collapse: collapse; font-size: .8em; white-space: nowrap; }
p.linked { font-size: .85em; color: #555; margin: 2px 0; }
table.sweep th, table.sweep td { border-bottom: 1px solid #e4e4e4; padding: 3px 5px;
                                 text-align: right; }
table.sweep th { background: #f4f4f4; position: sticky; top: 0; cursor: pointer; }
table.sweep th[data-sorted="up"]::after { content: " \\25B2"; }
table.sweep th[data-sorted="down"]::after { content: " \\25BC"; }
table.sweep td.text { text-align: left; }
table.numbers { white-space: normal; } table.numbers td { max-width: 22em; }
table.sweep td.name { text-align: left; white-space: normal; overflow-wrap: anywhere;
                      min-width: 10em; max-width: 16em; }
table.sweep tr.baseline td { background: #fff7d6; font-style: italic; }
table.sweep tr.failed td { color: #a33; background: #fdf0f0; }
table.sweep tr.unfinished td { color: #888; }
table.sweep td.failure { text-align: left; font-family: ui-monospace, monospace;
                         white-space: normal; }
.gallery figure { margin: 0 0 10px; border: 1px solid #e4e4e4; padding: 6px; font-size: .78em;
                  display: flex; gap: 12px; align-items: flex-start; }
.gallery figure.reference { background: #f7f7f7; }
.gallery figcaption { width: 190px; flex: none; overflow-wrap: anywhere; }
.gallery .scores { color: #555; }
.gallery .image { display: flex; gap: 3px; padding-right: 8px; border-right: 1px solid #eee; }
.gallery .image div { text-align: center; color: #666; width: 128px; font-size: .9em; }
.gallery img { width: 128px; height: 128px; image-rendering: pixelated; display: block; }
.gallery span.blank { width: 128px; height: 128px; display: block; background: #f4f4f4; }
"""


def _esc(text) -> str:
    return html.escape(str(text), quote=True)


def figure_html(section: Section) -> str:
    post = [MARK_RENDERED] + ([LINK_TABLE] if section.key == "parcoords" else [])
    body = pio.to_html(section.figure, full_html=False, include_plotlyjs=False,
                       div_id=f"fig-{section.key}", config=CONFIG, post_script=post)
    return f'<div class="figure" data-irn-figure="{_esc(section.key)}">{body}</div>'


def table_html(section: Section) -> str:
    """The trial table; a failed trial's reason fills its (empty) metric cells. Rows with a
    run id carry it as data-run (the parallel-coordinates link)."""
    table = section.table
    cols = [c for c in table.columns if not c.startswith("_")]
    text_cols = set(table.attrs.get("text_columns", ()))
    links = table.attrs.get("links", {})
    metric_cols = [c for c in table.attrs.get("metric_columns", ()) if c in cols]
    head = "".join(f"<th>{_esc(c)}</th>" for c in cols)
    rows = []
    for rec in table.to_dict("records"):
        reason = rec.get("_failure", "")
        shown = [c for c in cols if not (reason and c in metric_cols)]
        href = links.get(rec.get("_run", ""))
        cells = "".join(f'<td class="{_cell_class(c, text_cols)}">'
                        + (f'<a href="{_esc(href)}" target="_blank" rel="noopener">'
                           f'{_esc(rec[c])}</a>' if href and c == "trial" else _esc(rec[c]))
                        + "</td>" for c in shown)
        if reason:
            cells += f'<td class="failure" colspan="{len(metric_cols)}">{_esc(reason)}</td>'
        kind = rec.get("_kind", "")  # only the trial table styles and links its rows
        run = rec.get("_run", "") if kind == "trial" else ""
        link = f' data-run="{_esc(run)}"' if run else ""
        rows.append(f'<tr class="{_esc(kind)}"{link}>{cells}</tr>')
    linked = table.attrs.get("linked")
    count = '<p class="linked" data-linked-count></p>' if linked else ""
    attr = f' data-linked="{_esc(linked)}"' if linked else ""
    return (f'{count}<div class="scroll"><table class="{"sweep" if linked else "sweep numbers"}" data-sortable{attr}><thead><tr>{head}</tr>'
            f'</thead><tbody>{"".join(rows)}</tbody></table></div>')


def _cell_class(column: str, text_cols: set) -> str:
    """name: the trial column, wrapped (a LABEL|sSEED name can be long); text or num."""
    return "name" if column == "trial" else "text" if column in text_cols else "num"


def _cells(images: list[str], cells: dict) -> str:
    out = []
    for image in images:
        imgs = "".join(f'<div><img src="{uri}" alt="{_esc(label)}">{_esc(label)}</div>' if uri
                       else f'<div><span class="blank"></span>{_esc(label)}</div>'
                       for label, uri in cells.get(image, []))
        out.append(f'<div class="image" title="{_esc(image)}">{imgs}</div>')
    return "".join(out)


def gallery_html(section: Section) -> str:
    g = section.gallery
    names = ", ".join(g["images"])
    cards = [f'<figure class="reference"><figcaption><b>ground truth and bicubic</b><br>images: '
             f'{_esc(names)} (left to right)</figcaption>'
             f'{_cells(g["images"], g["reference"])}</figure>']
    for item in g["items"]:
        cards.append(
            f'<figure><figcaption><b>{_esc(item["label"])}</b><br>{_esc(item["trial"])}'
            f'<br>{_esc(item["info"])}<br><span class="scores">{_esc(item["scores"])}</span>'
            f'</figcaption>{_cells(g["images"], item["cells"])}</figure>')
    return f'<div class="gallery">{"".join(cards)}</div>'


def section_html(section: Section) -> str:
    head = f'<section id="{_esc(section.key)}"><h2>{_esc(section.title)}</h2>'
    if section.note:
        return f'{head}<p class="omitted">Left out: {_esc(section.note)}.</p></section>'
    parts = [figure_html(section) if section.figure is not None else "",
             table_html(section) if section.table is not None else "",
             gallery_html(section) if section.gallery is not None else ""]
    body = "".join(parts)  # a figure with its numbers in a table under it
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
        f"<script>{ERROR_HOOK}</script><script>{SORT_TABLES}</script>"
        # plotly.js inline, once (4.6 MB). Embedding it gzipped (2.9 MB pages) and unpacking
        # it with DecompressionStream made the page render in 2.5-3 s instead of 0.9-1.1 s
        # in headless Chromium: figures drawn after the whole page is parsed cost more.
        f'<script type="text/javascript">{get_plotlyjs()}</script></head><body>'
        f'<header><h1>{_esc(title)}</h1><dl class="meta">{rows}</dl><nav>{nav}</nav></header>'
        + "".join(section_html(s) for s in sections) + "</body></html>\n")
