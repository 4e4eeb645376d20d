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
  tableFits: (function () {
    var t = document.querySelector('table.sweep');
    return !!t && t.scrollWidth <= t.parentElement.clientWidth;
  })()
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
    assert len(images) == len(CROP_IMAGES) * (4 + 3 * len(TRIALS))
    assert all(i["ok"] and i["src"].startswith("data:image/png") for i in images)
    assert shot.stat().st_size > 50_000  # a real full-page screenshot, not a blank one
    assert state["tableFits"]  # no horizontal overflow at 1600 px
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
