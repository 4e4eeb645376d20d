"""Open the built report in headless Chromium, offline, and check that it really renders.

Driven over the Chrome DevTools Protocol with choreographer (kaleido's own browser driver, so no
extra package): the network is switched off before the page loads, every request that is not
file:/data: is recorded, and console errors and uncaught exceptions are collected. Then each
figure must carry the page's data-irn-rendered marker, an SVG, and as many drawn traces as it
has data traces; every gallery image must have decoded; constraining a parallel-coordinates
axis must filter the linked trial table; the table must fit the page width. A full-page screenshot is saved to
$IRN_ARTIFACTS (default: the test's tmp folder). Needs Debian's `chromium` (.ci/run installs it);
skipped when no Chrome/Chromium is found. Also exports the figures as PNGs through kaleido.
"""
import asyncio
import base64
import json
import os
from pathlib import Path

import pytest

from dashboards.build import build_report, find_chrome
from tests.fixtures_mlflow import CROP_IMAGES, SEEDS, TRIALS, cached_store

pytestmark = pytest.mark.skipif(find_chrome() is None,
                                reason="no Chrome/Chromium (Debian: apt-get install chromium)")

# What the page shows, per figure: the traces Plotly was given and what it drew.
INSPECT = """JSON.stringify({
  errors: document.documentElement.getAttribute('data-irn-errors'),
  figures: Array.from(document.querySelectorAll('[data-irn-figure]')).map(function (d) {
    var gd = d.querySelector('.js-plotly-plot');
    return {key: d.getAttribute('data-irn-figure'),
            rendered: !!d.querySelector('[data-irn-rendered="1"]'),
            svgs: d.querySelectorAll('svg.main-svg').length,
            data: gd && gd.data ? gd.data.length : 0,
            types: gd && gd.data ? gd.data.map(function (t) { return t.type; }) : [],
            drawn: d.querySelectorAll('.scatterlayer .trace, .barlayer .trace, ' +
                                      '.imagelayer .im, .heatmaplayer .hm').length,
            parcoordsAxes: d.querySelectorAll('.parcoords .y-axis').length,
            parcoordsCanvases: d.querySelectorAll('.parcoords canvas, canvas.gl-canvas').length,
            points: d.querySelectorAll('.scatterlayer path.point, .barlayer path, ' +
                                       '.scatterlayer path.js-line, .imagelayer image, ' +
                                       '.heatmaplayer image').length};
  }),
  images: Array.from(document.images).map(function (i) {
    return {ok: i.complete && i.naturalWidth > 0, src: i.src.slice(0, 22)};
  }),
  height: document.documentElement.scrollHeight,
  tables: Array.from(document.querySelectorAll('table.sweep')).map(function (t) {
    return {section: t.closest('section').id, rows: t.tBodies[0].rows.length,
            fits: t.scrollWidth <= t.parentElement.clientWidth};
  })
})"""
# Select coupling = additive on the first parallel-coordinates axis; then count the table rows.
FILTER = """Plotly.restyle(document.getElementById('fig-parcoords'),
  {'dimensions[0].constraintrange': [[-0.2, 0.2]]}).then(function () {
  var rows = Array.from(document.querySelectorAll('table.sweep tr[data-run]'));
  return JSON.stringify({
    shown: rows.filter(function (r) { return r.style.display !== 'none'; })
               .map(function (r) { return r.cells[1].textContent; }),
    total: rows.length,
    count: document.querySelector('[data-linked-count]').textContent});
})"""


# Every figure's traces as Plotly holds them after rendering (the real-sweep test reads them).
TRACES = """(function () {
  function arr(v) {  // plotly 6 ships numpy arrays as typed arrays ({bdata, _inputArray})
    if (v && v._inputArray) { v = v._inputArray; }
    return v && ArrayBuffer.isView(v) ? Array.from(v) : v;
  }
  return JSON.stringify(Object.fromEntries(
  Array.from(document.querySelectorAll('[data-irn-figure]')).map(function (d) {
    var gd = d.querySelector('.js-plotly-plot');
    return [d.getAttribute('data-irn-figure'), (gd && gd.data || []).map(function (t) {
      return {name: t.name, meta: t.meta, x: arr(t.x), y: arr(t.y), mode: t.mode, fill: t.fill,
              legendgroup: t.legendgroup, line: t.line && t.line.color,
              marker: t.marker && t.marker.color, fillcolor: t.fillcolor,
              error_x: t.error_x && {plus: arr(t.error_x.array),
                                     minus: arr(t.error_x.arrayminus)},
              customdata: t.customdata};
    })];
  })));
})()"""


async def _inspect(page: Path, screenshot: Path) -> dict:
    from choreographer import Browser

    errors, requests = [], []

    async def on_exception(msg):
        details = msg["params"]["exceptionDetails"]
        errors.append(details.get("exception", {}).get("description") or details.get("text"))

    async def on_console(msg):
        if msg["params"]["type"] in ("error", "assert"):
            errors.append(" ".join(str(a.get("value", a.get("description")))
                                   for a in msg["params"]["args"]))

    async def on_log(msg):
        if msg["params"]["entry"]["level"] == "error":
            errors.append(msg["params"]["entry"]["text"])

    async def on_request(msg):
        url = msg["params"]["request"]["url"]
        if not url.startswith(("file:", "data:", "about:")):
            requests.append(url)

    async with Browser(headless=True) as browser:
        tab = await browser.create_tab("about:blank")
        await tab.send_command("Emulation.setDeviceMetricsOverride", {
            "width": 1600, "height": 1000, "deviceScaleFactor": 1, "mobile": False})
        for event, callback in (("Runtime.exceptionThrown", on_exception),
                                ("Runtime.consoleAPICalled", on_console),
                                ("Log.entryAdded", on_log),
                                ("Network.requestWillBeSent", on_request)):
            tab.subscribe(event, callback)
        for domain in ("Runtime", "Log", "Network", "Page"):
            await tab.send_command(f"{domain}.enable")
        await tab.send_command("Network.emulateNetworkConditions", {
            "offline": True, "latency": 0, "downloadThroughput": -1, "uploadThroughput": -1})
        loaded = tab.subscribe_once("Page.loadEventFired")
        await tab.send_command("Page.navigate", {"url": page.as_uri()})
        await asyncio.wait_for(loaded, 120)
        for _ in range(300):  # Plotly.newPlot resolves after load; wait for every marker
            reply = await tab.send_command("Runtime.evaluate", {"expression": INSPECT})
            state = json.loads(reply["result"]["result"]["value"])
            if all(f["rendered"] for f in state["figures"]):
                break
            await asyncio.sleep(0.1)
        await asyncio.sleep(0.5)  # let WebGL (parcoords) and the gallery images settle
        reply = await tab.send_command("Runtime.evaluate", {"expression": INSPECT})
        state = json.loads(reply["result"]["result"]["value"])
        if state["figures"] and any(f["key"] == "parcoords" for f in state["figures"]):
            reply = await tab.send_command("Runtime.evaluate", {"expression": FILTER,
                                                                "awaitPromise": True})
            state["filtered"] = json.loads(reply["result"]["result"]["value"])
        reply = await tab.send_command("Runtime.evaluate", {"expression": TRACES})
        state["traces"] = json.loads(reply["result"]["result"]["value"])
        shot = await tab.send_command("Page.captureScreenshot", {
            "format": "png", "captureBeyondViewport": True,
            "clip": {"x": 0, "y": 0, "width": 1600, "height": state["height"], "scale": 1}})
        screenshot.write_bytes(base64.b64decode(shot["result"]["data"]))
    return {**state, "console_errors": errors, "requests": requests}


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    uri, experiment, parent = cached_store(tmp_path_factory)
    out = tmp_path_factory.mktemp("browser") / "report.html"
    return build_report(experiment, tracking_uri=uri, out=out, log=lambda line: None)


def test_report_renders_offline_without_errors(report, tmp_path):
    shots = Path(os.environ.get("IRN_ARTIFACTS", tmp_path))
    shots.mkdir(parents=True, exist_ok=True)
    shot = shots / "dashboard_screenshot.png"
    state = asyncio.run(_inspect(report, shot))

    assert state["console_errors"] == []
    assert state["errors"] is None  # the page's own window.onerror record
    assert state["requests"] == []  # nothing but the file itself: plotly.js and images inline
    figures = {f["key"]: f for f in state["figures"]}
    assert set(figures) == {"groups", "per_image", "parcoords", "importance", "by_param",
                            "curves", "cost", "jpeg", "time", "hidden", "hidden_profile"}
    for key, fig in figures.items():
        assert fig["rendered"], key
        assert fig["svgs"] >= 1, key
        assert fig["data"] >= 1, key
        if fig["types"] == ["parcoords"]:
            assert fig["parcoordsAxes"] == 8, key  # 7 searched keys + the objective
            assert fig["parcoordsCanvases"] >= 1, key
        else:
            assert fig["drawn"] == fig["data"], key  # one drawn trace per data trace
            assert fig["points"] > 0, key
    trials = len(TRIALS) * len(SEEDS)
    assert figures["curves"]["data"] >= 5 * trials  # psnr, gain, recon, distr, lr per trial
    images = state["images"]
    # per image: GT, bicubic LR, bicubic up, its error; then LR, recon, error per group
    assert len(images) == len(CROP_IMAGES) * (4 + 4 * len(TRIALS) - 1)  # no self-difference
    assert all(i["ok"] and i["src"].startswith("data:image/png") for i in images)
    assert shot.stat().st_size > 50_000  # a real full-page screenshot, not a blank one
    # every table (the trial table, and the numbers under figures) fits 1600 px
    assert state["tables"] and all(t["fits"] for t in state["tables"]), state["tables"]
    filtered = state["filtered"]  # the table follows the parallel-coordinates selection
    assert filtered["total"] == trials and len(filtered["shown"]) == len(SEEDS)
    assert all(name.startswith("additive|") for name in filtered["shown"])
    assert filtered["count"] == f"{len(SEEDS)} of {trials} trials in the selection"


def test_the_check_catches_errors_and_network_use(tmp_path):
    """Control: the same inspection flags a JS error and a page that reaches for the network."""
    from dashboards.page import ERROR_HOOK

    page = tmp_path / "broken.html"
    page.write_text(f"<html><head><script>{ERROR_HOOK}</script></head><body>"
                    '<img src="http://example.invalid/x.png"><script>noSuchFunction();</script>'
                    "</body></html>")
    state = asyncio.run(_inspect(page, tmp_path / "broken.png"))
    assert any("noSuchFunction" in e for e in state["console_errors"])
    assert "noSuchFunction" in state["errors"]
    assert state["requests"] == ["http://example.invalid/x.png"]
    assert [i["ok"] for i in state["images"]] == [False]


def test_png_export_writes_every_figure(tmp_path):
    """kaleido through the same Chromium: one PNG per figure section."""
    import plotly.graph_objects as go

    from dashboards.build import export_pngs
    from dashboards.figures import Section

    sections = [Section("a", "A", figure=go.Figure(go.Scatter(x=[1, 2], y=[3, 4]))),
                Section("b", "B", figure=go.Figure(go.Parcoords(
                    dimensions=[dict(label="x", values=[1, 2]), dict(label="y", values=[2, 1])]))),
                Section("c", "C", note="left out")]
    paths = export_pngs(sections, tmp_path / "png", log=lambda line: None)
    assert [p.name for p in paths] == ["a.png", "b.png"]
    for p in paths:
        assert p.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and p.stat().st_size > 5_000
    assert sorted(os.listdir(tmp_path / "png")) == ["a.png", "b.png"]  # no temp folder left


@pytest.fixture(scope="module")
def real_sweep(ray_local, tmp_path_factory):
    """A real sweep (Ray Tune, SQLite MLflow, the smoke budget stretched to 12 steps with 6
    evaluations and the learning rate logged every 2 steps), 2 groups x 2 seeds, and its
    report as the sweep attached it to the parent run."""
    from bench.sweep.command import parse_args, run_sweep
    from tests.test_sweep import runs, sweep_args, tiny_space

    tmp = tmp_path_factory.mktemp("real_sweep")
    space = tiny_space(tmp, "'loss_recon': tune.grid_search(['l1', 'charbonnier'])",
                       ", 'reference': {'loss_recon': 'charbonnier'}")
    assert run_sweep(parse_args(sweep_args(
        tmp, space, "--seeds", "2", "--set", "steps=12", "--set", "eval_points=6",
        "--set", "log_every=2", "--set", "warmup=4", "--set", "schedule=cosine"))) == 0
    client, (parent,) = runs(tmp, "sweep")
    page = Path(client.download_artifacts(parent.info.run_id, "report.html", str(tmp)))
    summary = json.loads((tmp / "out.json").read_text())
    return page, summary, tmp


def test_real_sweep_report_shows_the_evidence(real_sweep, tmp_path):
    """Issue 31's browser acceptance, on a real sweep's store: the first figure is the paired
    differences with the summary's numbers and verdict colours; the curves have one point per
    evaluation (6) and the learning rate one per log_every window; a group has one colour in
    every section; no console error."""
    from dashboards.colors import VERDICT_COLORS, group_colors

    page, summary, _ = real_sweep
    state = asyncio.run(_inspect(page, Path(os.environ.get("IRN_ARTIFACTS", tmp_path))
                                 / "real_sweep_report.png"))
    assert state["console_errors"] == [] and state["errors"] is None
    assert state["requests"] == []
    keys = [f["key"] for f in state["figures"]]
    assert keys[0] == "groups" and all(f["rendered"] for f in state["figures"])
    traces = state["traces"]  # (JSON.stringify drops a trace's unset attributes)
    # 1. the lead: each group's paired difference from the reference, as summary.json has it
    groups = {g["label"]: g for g in summary["groups"]}
    lead = [t for t in traces["groups"] if t["name"].startswith("minus the reference")][0]
    assert lead["y"] == ["l1"]  # the reference itself is not drawn
    vs = groups["l1"]["vs_reference"]
    assert lead["x"] == [vs["delta"]]
    assert lead["error_x"]["plus"] == [pytest.approx(vs["ci95"][1] - vs["delta"])]
    assert lead["error_x"]["minus"] == [pytest.approx(vs["delta"] - vs["ci95"][0])]
    assert lead["marker"] == [VERDICT_COLORS[vs["verdict"]]]
    assert vs["verdict"] in lead["customdata"][0][2]
    # 2. learning curves: every group's mean at the 6 evaluations, in its group colour
    colors = group_colors(groups)
    means = [t for t in traces["learning"] if t.get("mode") == "lines+markers"]
    assert {t["name"] for t in means} == set(groups)
    assert all(t["x"] == [2, 4, 6, 8, 10, 12] for t in means), means
    # 3. the learning rate: one point per log_every window (12 steps / 2)
    lr = [t for t in traces["curves"] if t.get("meta") == "schedule/lr"]
    assert len(lr) == 4 and all(t["x"] == [2, 4, 6, 8, 10, 12] for t in lr)
    assert len({tuple(t["y"]) for t in lr}) == 1 and lr[0]["y"][1] > lr[0]["y"][-1]  # cosine
    # 4. one colour per group, in every section that draws groups
    seen = {}
    for t in means + [t for t in traces["learning"] if t.get("fill") == "toself"]:
        seen.setdefault(t["legendgroup"], set()).add(t.get("line") or t["fillcolor"])
    for t in traces["per_image"]:
        seen.setdefault(t["name"], set()).add(t["line"])
    for t in traces["curves"]:  # trial names: LABEL|sSEED
        seen.setdefault(t["name"].rsplit("|s", 1)[0], set()).add(t["line"])
    assert seen == {label: {color} for label, color in colors.items()}
    assert not set(colors.values()) & set(VERDICT_COLORS.values())  # never a verdict's


@pytest.fixture(scope="module")
def mlflow_ui(real_sweep):
    """`mlflow server` (the pinned 3.17) on the real sweep's store, 127.0.0.1, a free port."""
    from tests.mlflow_server import Server
    _, _, tmp = real_sweep
    server = Server(tmp, artifacts=False)
    try:
        server.start()
    except RuntimeError as exc:
        pytest.fail(str(exc))
    try:
        yield server.uri, tmp
    finally:
        server.stop()


UI_STATE = """JSON.stringify({url: location.href, text: document.body.innerText,
  tables: Array.from(document.querySelectorAll('table')).map(function (t) {
    return {head: t.querySelectorAll('thead th').length,
            cells: t.tBodies[0] && t.tBodies[0].rows[0] ? t.tBodies[0].rows[0].cells.length : 0,
            italics: t.querySelectorAll('em').length};
  })})"""


async def _ui_page(url: str, ready, screenshot: Path) -> dict:
    """Open `url` in headless Chromium; poll until ready(state) (60 s at most)."""
    from choreographer import Browser

    async with Browser(headless=True) as browser:
        tab = await browser.create_tab("about:blank")
        await tab.send_command("Emulation.setDeviceMetricsOverride", {
            "width": 1600, "height": 1200, "deviceScaleFactor": 1, "mobile": False})
        await tab.send_command("Page.enable")
        await tab.send_command("Page.navigate", {"url": url})
        for _ in range(240):
            await asyncio.sleep(0.25)
            reply = await tab.send_command("Runtime.evaluate", {"expression": UI_STATE})
            state = json.loads(reply["result"]["result"].get("value") or "{}")
            if state and ready(state):
                break
        await asyncio.sleep(1)  # let the rest of the page settle for the screenshot
        reply = await tab.send_command("Runtime.evaluate", {"expression": UI_STATE})
        state = json.loads(reply["result"]["result"]["value"])
        shot = await tab.send_command("Page.captureScreenshot", {"format": "png"})
        screenshot.write_bytes(base64.b64decode(shot["result"]["data"]))
    return state


def test_mlflow_ui_opens_the_runs_table_and_renders_the_verdict_table(mlflow_ui, tmp_path):
    """Issue 31: MLflow 3.17 opens an experiment on its GenAI overview ("Traces 0, No data"),
    whatever the experiment's kind tag says; the link the sweep prints and writes into the
    experiment's description opens the runs table. The parent run's description (the group
    table, with `|` and `*` in group names) renders with as many cells as headers."""
    from mlflow.tracking import MlflowClient

    from dashboards.data import ui_url

    base, tmp = mlflow_ui
    shots = Path(os.environ.get("IRN_ARTIFACTS", tmp_path))
    client = MlflowClient(f"sqlite:///{tmp}/mlflow.db")
    exp = client.get_experiment_by_name("t")
    link = ui_url(base, exp.experiment_id)
    assert link in exp.tags["mlflow.note.content"].replace("127.0.0.1:5000", base[7:])
    plain = asyncio.run(_ui_page(f"{base}/#/experiments/{exp.experiment_id}",
                                 lambda s: "/experiments/1/" in s["url"],  # redirected
                                 shots / "mlflow_experiment_default.png"))
    assert "/overview" in plain["url"]  # the control: what a user gets without the link
    runs = asyncio.run(_ui_page(link, lambda s: "tiny" in s["text"],
                                shots / "mlflow_experiment_runs.png"))
    assert "/runs" in runs["url"] and "Run Name" in runs["text"] and "tiny" in runs["text"]
    (parent,) = client.search_runs([exp.experiment_id], "tags.`irn.role` = 'sweep'")
    page = asyncio.run(_ui_page(ui_url(base, exp.experiment_id, parent.info.run_id),
                                lambda s: any(t["head"] >= 6 for t in s["tables"]),
                                shots / "mlflow_parent_run.png"))
    verdicts = [t for t in page["tables"] if t["head"] >= 6]
    assert verdicts and all(t["cells"] == t["head"] and t["italics"] == 0 for t in verdicts)
