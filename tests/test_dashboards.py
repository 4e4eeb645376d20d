"""The sweep report (dashboards/) built from real MLflow stores (tests/fixtures_mlflow.py).

`full`: one sweep with six finished trials, one failed, every metric and the crops. `edge`: an
experiment with two sweeps (the newer one small and bare: no JPEG, timing or crops), one with
only single runs, and one whose sweep finished nothing.
"""
import re
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from mlflow.tracking import MlflowClient
from plotly.offline import get_plotlyjs

from dashboards import build, figures
from dashboards.data import (DashboardError, Sweep, cast_column, cast_value, load_sweep,
                             metric, public_uri)
from tests.fixtures_mlflow import (FAILED_ERROR, QFS, TRIALS, add_empty_sweep, add_single_run,
                                   add_sweep, cached_store, new_experiment, new_store)

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def full(tmp_path_factory):
    uri, experiment, parent = cached_store(tmp_path_factory)
    return dict(uri=uri, experiment=experiment, parent=parent,
                sweep=load_sweep(experiment, uri))


@pytest.fixture(scope="module")
def edge(tmp_path_factory):
    uri = new_store(tmp_path_factory.mktemp("edge"), "plain")
    now = int(time.time() * 1000)
    old = add_sweep(uri, "plain", TRIALS[:3], start_ms=now - 7_200_000)
    new = add_sweep(uri, "plain", TRIALS[:2], start_ms=now - 3_600_000, jpeg=False,
                    profiled=False, throughput=False, timing=False, crops=False)
    new_experiment(uri, "singles")
    singles = [add_single_run(uri, "singles", i, lr=lr) for i, lr in enumerate(("1e-4", "1e-3"))]
    empty = add_empty_sweep(uri, "empty")
    new_experiment(uri, "nothing")
    return dict(uri=uri, old=old, new=new, singles=singles, empty=empty)


# --------------------------------------------------------------------------- data
@pytest.mark.parametrize("text, value", [
    ("2", 2), ("0.0005", 0.0005), ("1e-05", 1e-5), ("None", None), ("", None),
    ("True", True), ("False", False), ("charbonnier", "charbonnier"), ("50-90", "50-90")])
def test_cast_value(text, value):
    assert cast_value(text) == value and type(cast_value(text)) is type(value)


def test_cast_column_keeps_mixed_strings_and_types_numbers():
    assert cast_column(pd.Series(["2", "4", "8"])).tolist() == [2, 4, 8]
    lam = cast_column(pd.Series(["None", "0.25", "16.0"]))
    assert pd.api.types.is_float_dtype(lam) and np.isnan(lam[0]) and lam[2] == 16.0
    assert cast_column(pd.Series(["75", "50-90"])).tolist() == ["75", "50-90"]
    assert cast_column(pd.Series(["True", "False"])).tolist() == [True, False]


def test_public_uri_hides_credentials():
    assert public_uri("http://user:secret@host:5000") == "http://host:5000"
    assert public_uri("sqlite:///x.db") == "sqlite:///x.db"


def test_load_sweep_casts_params_and_sorts_by_objective(full):
    sweep = full["sweep"]
    assert sweep.parent_id == full["parent"] and (sweep.objective, sweep.mode) == ("psnr_y", "max")
    assert len(sweep.runs) == len(TRIALS) + 1
    done = sweep.finished
    assert len(done) == len(TRIALS)
    assert done[metric("psnr_y")].is_monotonic_decreasing
    assert done["scale"].dtype.kind == "i" and done["lr"].dtype.kind == "f"
    assert done["channels_last"].tolist() == [False] * len(TRIALS)
    # lambda_guide "None" is the official weight scale^2 (= 4 at scale 2)
    assert sorted(done["lambda_guide"]) == [0.0, 0.25, 1.0, 4.0, 4.0, 16.0]
    failed = sweep.failed
    assert failed["status"].tolist() == ["FAILED"] and failed["error"].tolist() == [FAILED_ERROR]
    assert set(sweep.varying()) == {"coupling", "loss_recon", "lambda_guide", "jpeg_train", "lr",
                                    "batch_size"}


def test_default_parent_is_the_latest_sweep(edge):
    latest = load_sweep("plain", edge["uri"])
    assert latest.parent_id == edge["new"] and len(latest.finished) == 2
    older = load_sweep("plain", edge["uri"], parent=edge["old"])
    assert older.parent_id == edge["old"] and len(older.finished) == 3


def test_experiment_without_sweep_shows_its_single_runs(edge):
    sweep = load_sweep("singles", edge["uri"])
    assert sweep.parent_id is None
    assert set(sweep.runs["run_id"]) == set(edge["singles"])
    assert sweep.varying() == ["lr"]


# --------------------------------------------------------------------------- figures
def test_sweep_table_has_baseline_failure_and_only_informative_columns(full):
    section = figures.sweep_table(full["sweep"])
    table = section.table
    kinds = table["_kind"].tolist()
    # every trial beats bicubic (28.5 dB) in the fixture: the baseline row ranks after them
    assert kinds == ["trial"] * len(TRIALS) + ["baseline", "failed"]
    assert table["psnr_y"].iloc[0] == "33.50" and table["psnr_y"].iloc[len(TRIALS)] == "28.50"
    assert table["_failure"].iloc[-1] == FAILED_ERROR
    cols = set(table.columns)
    assert {"coupling", "loss_recon", "lambda_guide", "jpeg_train", "lr", "batch_size",
            "scale", "loss_guide"} <= cols  # varying keys plus the key ones
    assert not {"blocks", "gc", "seed", "patch_size"} & cols  # constant, not key ones
    assert {"psnr_y", "ssim_y", "lr_psnr_y", "params", "throughput_mps"} <= cols


def test_parallel_coordinates_show_categories_by_name(full):
    fig = figures.parallel_coordinates(full["sweep"]).figure
    dims = {d.label: d for d in fig.data[0].dimensions}
    assert list(dims)[-1] == "psnr_y"
    assert set(dims["coupling"].ticktext) == {"enhanced", "affine", "additive"}
    assert set(dims["jpeg_train"].ticktext) == {"off", "diff", "ste"}
    assert fig.data[0].line.colorbar.title.text == "psnr_y"


def test_strength_measures():
    y = pd.Series([1.0, 2.0, 3.0, 4.0])
    assert figures._strength(pd.Series([1, 2, 3, 4]), y) == (pytest.approx(1.0), "ρ")
    assert figures._strength(pd.Series([4, 3, 2, 1]), y) == (pytest.approx(-1.0), "ρ")
    # a category that splits the objective cleanly explains most of the spread
    strong = figures._strength(pd.Series(["a", "a", "b", "b"]), y)[0]
    weak = figures._strength(pd.Series(["a", "b", "a", "b"]), y)[0]
    assert strong > 0.85 and weak < 0.5


def test_importance_ranks_every_factor(full):
    fig = figures.importance(full["sweep"]).figure
    assert set(fig.data[0].y) == set(full["sweep"].varying())
    assert all(0 <= v <= 1 for v in fig.data[0].x)


def test_pareto_front():
    x = np.array([1.0, 2.0, 3.0, 2.0])
    y = np.array([10.0, 12.0, 11.0, 9.0])
    assert pareto(x, y).tolist() == [True, True, False, False]


def pareto(x, y):  # fewer parameters and higher PSNR are better
    return figures.pareto(x, y, "min", "max")


def test_quality_vs_cost_marks_the_pareto_front(full):
    fig = figures.quality_vs_cost(full["sweep"]).figure
    fronts = [t for t in fig.data if t.name == "Pareto front"]
    assert len(fronts) == 2  # parameters and throughput panels
    # fixture: additive has 20k params at 31.3 dB, the best affine 30k at 33.5 dB
    assert list(fronts[0].x) == [20_000, 30_000] and list(fronts[0].y) == [31.3, 33.5]


def test_jpeg_section_draws_bicubic_and_untrained_curves(full):
    fig = figures.jpeg_robustness(full["sweep"]).figure
    names = [t.name for t in fig.data]
    assert "bicubic" in names
    assert sum("(no JPEG training)" in n for n in names) == 2
    assert all(list(t.x) == list(QFS) for t in fig.data)


def test_bare_sweep_leaves_sections_out_with_a_note(edge, tmp_path):
    out = build.build_report("plain", tracking_uri=edge["uri"], out=tmp_path / "r.html",
                             log=lambda line: None)
    page = without_plotlyjs(out.read_text())
    for key in ("jpeg", "time", "gallery", "importance"):
        assert f'data-irn-figure="{key}"' not in page
        section = re.search(rf'<section id="{key}">.*?</section>', page).group(0)
        assert section.count('class="omitted"') == 1 and "Left out: " in section
    assert "no jpeg{QF}_psnr_y metrics were logged" in page
    assert 'data-irn-figure="curves"' in page and 'src="data:image/png' not in page


# --------------------------------------------------------------------------- CLI
def without_plotlyjs(page: str) -> str:
    return page.replace(get_plotlyjs(), "")


def run_cli(*args):
    return build.main(list(args))


def test_cli_builds_a_self_contained_page(full, tmp_path, capsys):
    out = tmp_path / "report.html"
    assert run_cli("--experiment", full["experiment"], "--tracking-uri", full["uri"],
                   "--out", str(out)) == 0
    assert f"wrote {out}" in capsys.readouterr().out
    page = out.read_text()
    assert page.count(get_plotlyjs()) == 1  # the library, embedded exactly once
    page = without_plotlyjs(page)  # (its source mentions URLs and data URIs of its own)
    assert "plotly.js v" not in page
    assert not re.search(r'(src|href)="(https?:)?//', page)  # nothing fetched from a network
    assert "cdn.plot.ly" not in page
    # GT + bicubic LR once, then LR + reconstruction per trial, as data URIs
    assert page.count('src="data:image/png;base64,') == 2 + 2 * len(TRIALS)
    figs = re.findall(r'data-irn-figure="(\w+)"', page)
    assert figs == ["parcoords", "importance", "by_param", "curves", "cost", "jpeg", "time"]
    # the hand-made store has no sweep statistics: only the two group sections are left out
    # (a real sweep's report is checked in tests/test_sweep.py)
    assert page.count("no group statistics") == 1 and page.count("eval/per_image.json") == 1
    assert FAILED_ERROR in page and "bicubic baseline" in page
    assert [p.name for p in tmp_path.iterdir()] == ["report.html"]  # no temp file left


def test_cli_help():
    with pytest.raises(SystemExit) as e:
        run_cli("--help")
    assert e.value.code == 0


@pytest.mark.parametrize("case, message", [
    ("unknown experiment", "experiment 'nope' not found"),
    ("no finished runs", "has no finished runs"),
    ("no runs at all", "has no finished runs"),
    ("missing database", "no MLflow database at"),
    ("unknown parent", "parent run 'feedbeef' not found"),
    ("parent elsewhere", "is not in experiment"),
    ("missing out folder", "folder for --out does not exist"),
    ("bad flag", "unrecognized arguments"),
])
def test_cli_bad_input_is_one_line_and_exit_2(edge, tmp_path, capsys, case, message):
    out = str(tmp_path / "r.html")
    args = {
        "unknown experiment": ["--experiment", "nope", "--tracking-uri", edge["uri"]],
        "no finished runs": ["--experiment", "empty", "--tracking-uri", edge["uri"]],
        "no runs at all": ["--experiment", "nothing", "--tracking-uri", edge["uri"]],
        "missing database": ["--experiment", "plain", "--tracking-uri",
                             f"sqlite:///{tmp_path / 'none.db'}"],
        "unknown parent": ["--experiment", "plain", "--tracking-uri", edge["uri"],
                           "--parent", "feedbeef"],
        "parent elsewhere": ["--experiment", "plain", "--tracking-uri", edge["uri"],
                             "--parent", edge["empty"]],
        "missing out folder": ["--experiment", "plain", "--tracking-uri", edge["uri"],
                               "--out", str(tmp_path / "no" / "r.html")],
        "bad flag": ["--experiment", "plain", "--colour"],
    }[case]
    if "--out" not in args:
        args += ["--out", out]
    try:
        code = run_cli(*args)
    except SystemExit as e:  # argparse
        code = e.code
    err = capsys.readouterr().err
    assert code == 2
    assert err.count("\n") == 1 and message in err, err
    assert not (tmp_path / "r.html").exists() and not (tmp_path / "none.db").exists()


def test_cli_process_exit_code(edge, tmp_path):
    proc = subprocess.run([sys.executable, "-m", "dashboards.build", "--experiment", "nope",
                           "--tracking-uri", edge["uri"], "--out", str(tmp_path / "r.html")],
                          cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == [
        "dashboards.build: error: experiment 'nope' not found in the MLflow store"]


def test_failed_build_keeps_the_previous_report(full, tmp_path, monkeypatch):
    out = tmp_path / "report.html"
    out.write_text("previous report")

    def broken(*args):
        raise RuntimeError("render failed")

    monkeypatch.setattr(build, "render", broken)
    with pytest.raises(RuntimeError):
        build.build_report(full["experiment"], full["uri"], out=out, log=lambda line: None)
    assert out.read_text() == "previous report"
    assert [p.name for p in tmp_path.iterdir()] == ["report.html"]


def test_attach_to_run_logs_the_report(edge, tmp_path):
    out = build.build_report("plain", edge["uri"], out=tmp_path / "report.html",
                             log=lambda line: None)
    build.attach_to_run(edge["new"], out, tracking_uri=edge["uri"])
    names = [f.path for f in MlflowClient(edge["uri"]).list_artifacts(edge["new"])]
    assert "report.html" in names


def test_png_export_is_skipped_in_one_line_without_chrome(monkeypatch, tmp_path):
    monkeypatch.setattr(build, "find_chrome", lambda: None)
    lines = []
    section = figures.Section("a", "A", figure=figures.go.Figure())
    assert build.export_pngs([section], tmp_path / "png", log=lines.append) == []
    assert len(lines) == 1 and lines[0].startswith("PNG export skipped")
    assert not (tmp_path / "png").exists()


def test_default_tracking_uri_never_creates_a_database(edge, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    with pytest.raises(DashboardError, match=r"no MLflow database at .*mlflow.db \(the default"):
        build.build_report("plain", out=tmp_path / "r.html", log=lambda line: None)
    assert list(tmp_path.iterdir()) == []
    monkeypatch.setenv("MLFLOW_TRACKING_URI", edge["uri"])
    assert build.build_report("plain", out=tmp_path / "r.html", log=lambda line: None).is_file()


def synthetic_sweep(n: int) -> tuple[Sweep, pd.DataFrame]:
    """A large sweep built in memory (figures never touch MLflow): n trials, objective to
    minimise, so the caps and the 'min' direction are exercised."""
    rng = np.random.default_rng(0)
    runs = pd.DataFrame({
        "run_id": [f"r{i}" for i in range(n)], "trial": [f"t{i}" for i in range(n)],
        "status": "FINISHED", "error": "", "start_ms": 0,
        "coupling": rng.choice(["enhanced", "affine"], n), "lr": rng.choice([1e-4, 1e-3], n),
        "jpeg_train": ["off" if i % 4 == 0 else "diff" for i in range(n)],
        metric("loss/total"): rng.uniform(0.1, 1, n), metric("params"): rng.integers(1e4, 1e5, n),
        **{metric(f"jpeg{q}_psnr_y"): rng.uniform(20, 30, n) for q in QFS}})
    sweep = Sweep(client=None, experiment="big", tracking_uri="", parent_id="p", parent_name="p",
                  parent_tags={}, objective="loss/total", mode="min", runs=runs,
                  config_keys=["coupling", "lr", "jpeg_train"])
    hist = pd.DataFrame([(f"r{i}", "loss/total", s, 1 / s, s * 0.1)
                         for i in range(n) for s in range(1, 6)],
                        columns=["run_id", "key", "step", "value", "wall"])
    return sweep, hist


def test_large_sweep_caps_the_line_plots():
    sweep, hist = synthetic_sweep(30)
    assert sweep.finished[metric("loss/total")].is_monotonic_increasing  # min: lowest first
    curves = figures.curves(sweep, hist)
    assert len(curves.figure.data) == 2 * figures.MAX_TRACES
    assert f"the {figures.MAX_TRACES} best of 30" in curves.blurb
    jpeg = figures.jpeg_robustness(sweep).figure
    assert len(jpeg.data) == figures.MAX_TRACES  # no bicubic metrics in this sweep
    front = [t for t in figures.quality_vs_cost(sweep).figure.data if t.name == "Pareto front"][0]
    assert list(front.y) == sorted(front.y, reverse=True)  # more params buy a lower loss
