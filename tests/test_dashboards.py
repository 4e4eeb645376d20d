"""The sweep report (dashboards/) built from real MLflow stores (tests/fixtures_mlflow.py).

`full`: one sweep of six groups x two seeds, one failed trial, every metric the producers log,
the crops and summary.json. `edge`: an experiment with two sweeps (the newer one small and
bare: one seed, no JPEG, timing or crops), one with only single runs, and one whose sweep
finished nothing.
"""
import re
import subprocess
import os
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from mlflow.tracking import MlflowClient
from plotly.offline import get_plotlyjs

from dashboards import build, costs, figures, gallery, groups, hidden, training
from dashboards.data import (DashboardError, Sweep, cast_column, cast_value,
                             effective_guide_weight, load_crops, load_histories,
                             load_json_artifact, load_per_image, load_sweep, metric, public_uri)
from irn.config import Config
from tests.fixtures_mlflow import (CROP_IMAGES, FAILED_ERROR, QFS, SEEDS, TRIALS,
                                   add_empty_sweep, add_single_run, add_sweep, cached_store,
                                   new_experiment, new_store)

N = len(TRIALS) * len(SEEDS)  # finished trials of the full sweep

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def full(tmp_path_factory):
    uri, experiment, parent = cached_store(tmp_path_factory)
    sweep = load_sweep(experiment, uri)
    return dict(uri=uri, experiment=experiment, parent=parent, sweep=sweep,
                summary=load_json_artifact(sweep.client, parent, "summary.json"),
                per_image=load_per_image(sweep))


@pytest.fixture(scope="module")
def edge(tmp_path_factory):
    uri = new_store(tmp_path_factory.mktemp("edge"), "plain")
    now = int(time.time() * 1000)
    old = add_sweep(uri, "plain", TRIALS[:3], start_ms=now - 7_200_000)
    new = add_sweep(uri, "plain", TRIALS[:2], start_ms=now - 3_600_000, jpeg=False,
                    timing=False, crops=False, seeds=(0,))
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
    assert len(sweep.runs) == N + 1
    done = sweep.finished
    assert len(done) == N and done["group"].nunique() == len(TRIALS)
    assert done[metric("psnr_y")].is_monotonic_decreasing
    assert done["scale"].dtype.kind == "i" and done["lr"].dtype.kind == "f"
    assert done["channels_last"].tolist() == [False] * N
    # trials are named by their run name (LABEL|sSEED), not by Tune's trial id
    assert all(t.endswith(("|s0", "|s1")) for t in done["trial"])
    # lambda_guide "None" is the official weight scale^2 (= 4 at scale 2)
    assert sorted(done["lambda_guide"].unique()) == [0.0, 0.25, 1.0, 4.0, 16.0]
    failed = sweep.failed
    assert failed["status"].tolist() == ["FAILED"] and failed["error"].tolist() == [FAILED_ERROR]
    assert set(sweep.varying()) == {"coupling", "loss_recon", "lambda_guide", "jpeg_train", "lr",
                                    "batch_size", "loss_guide", "seed"}
    # the new metric names; step is no metric; constants logged once
    assert {"schedule/lr", "model/params"} <= {c[2:] for c in sweep.metric_cols()}
    assert not {"m:lr", "m:params", "m:step"} & set(sweep.runs.columns)


def test_lambda_guide_none_is_the_effective_weight_everywhere(full):
    # one source: irn.config.Config.guide_weight (scale^2 when None)
    assert effective_guide_weight(None, 4) == Config(scale=4).guide_weight == 16.0
    assert effective_guide_weight(float("nan"), 2) == 4.0
    # a sweep that never sets it: the whole column is the string "None" (cast_column keeps it)
    assert cast_column(pd.Series(["None", "None"])).tolist() == ["None", "None"]
    assert effective_guide_weight("None", 2) == 4.0
    assert effective_guide_weight(0.25, 8) == 0.25
    sweep = full["sweep"]
    assert not sweep.runs["lambda_guide"].isna().any()
    table = figures.sweep_table(sweep).table
    assert "None" not in set(table["lambda_guide"]) and "4" in set(table["lambda_guide"])
    crops = load_crops(sweep, gallery.pick_runs(sweep))
    info = " ".join(i["info"] for i in gallery.gallery(sweep, crops).gallery["items"])
    assert "lambda_guide=None" not in info and "lambda_guide=4" in info


def test_default_parent_is_the_latest_sweep(edge):
    latest = load_sweep("plain", edge["uri"])
    assert latest.parent_id == edge["new"] and len(latest.finished) == 2
    older = load_sweep("plain", edge["uri"], parent=edge["old"])
    assert older.parent_id == edge["old"] and len(older.finished) == 3 * len(SEEDS)


def test_experiment_without_sweep_shows_its_single_runs(edge):
    sweep = load_sweep("singles", edge["uri"])
    assert sweep.parent_id is None
    assert set(sweep.runs["run_id"]) == set(edge["singles"])
    assert sweep.varying() == ["lr"]


# --------------------------------------------------------------------------- figures
def test_sweep_table_has_baseline_failure_and_no_constant_columns(full):
    section = figures.sweep_table(full["sweep"])
    table = section.table
    kinds = table["_kind"].tolist()
    # every trial beats bicubic in the fixture: the baseline row ranks after them
    assert kinds == ["trial"] * N + ["baseline", "failed"]
    assert table["psnr_y"].iloc[N] == "29.10" and table["gain_db"].iloc[N] == "0.00"
    assert table["_failure"].iloc[-1] == FAILED_ERROR
    cols = [c for c in table.columns if not c.startswith("_")]
    assert {"coupling", "loss_recon", "lambda_guide", "jpeg_train", "lr", "batch_size",
            "loss_guide", "psnr_y", "gain_db", "lr_psnr_y", "model/params", "time/wall"} <= set(cols)
    trials = table[table["_kind"] == "trial"]
    for c in cols[3:]:  # every column after #, trial and status tells trials apart
        assert trials[c].nunique() > 1, c
    assert not {"scale", "blocks", "seed", "lr_schedule", "step"} & set(cols)
    assert "the same in every trial: scale=2" in section.blurb
    assert set(trials["_run"]) == set(full["sweep"].finished["run_id"])  # linked rows


def test_parallel_coordinates_show_categories_and_link_the_table(full):
    fig = figures.parallel_coordinates(full["sweep"]).figure
    dims = {d.label: d for d in fig.data[0].dimensions}
    assert list(dims)[-1] == "psnr_y"
    assert set(dims["coupling"].ticktext) == {"enhanced", "affine", "additive"}
    assert set(dims["jpeg_train"].ticktext) == {"off", "diff", "ste"}
    assert fig.data[0].line.colorbar.title.text == "psnr_y"
    first = fig.data[0].dimensions[0]
    assert fig.layout.margin.l >= 7 * max(len(t) for t in first.ticktext)  # labels not clipped
    meta = fig.layout.meta
    assert len(meta["run_ids"]) == N and len(meta["values"]) == len(dims)
    assert all(len(v) == N for v in meta["values"])


def test_anova_shares_find_the_factor_and_the_seed():
    """A balanced 2x2 design with 2 seeds: the factor that moves y and the seed that shifts
    every group get the shares their sums of squares give; the idle factor gets none."""
    rows = [{"a": a, "b": b, "seed": s, "y": 1.0 * (a == "x") + 0.5 * s}
            for a in ("x", "y") for b in ("p", "q") for s in (0, 1)]
    frame = pd.DataFrame(rows)
    frame.loc[0, "y"] += 0.01  # a little residual, so the F tests exist
    shares = figures.anova_shares(frame, ["a", "b", "seed"], "y").set_index("term")
    assert shares.loc["a", "share"] == pytest.approx(0.8, abs=0.01)  # 2 / (2 + 0.5)
    assert shares.loc["seed", "share"] == pytest.approx(0.2, abs=0.01)
    assert shares.loc["b", "share"] < 0.001 and shares.loc["b", "p"] > 0.05
    assert shares.loc["a", "p"] < 0.001 and list(shares.index)[-1] == "residual"


def test_importance_ranks_every_factor_and_the_seed(full):
    fig = figures.importance(full["sweep"]).figure
    # issue 31: the seed is a factor; the fixture's keys were varied together (6 trials,
    # 7 keys), so they cannot be told apart and count as one term
    assert set(fig.data[0].y) == {"seed (replicates)", "residual",
                                  "configuration (keys varied together)"}
    assert all(0 <= v <= 1 for v in fig.data[0].x)
    assert sum(fig.data[0].x) == pytest.approx(1.0)  # a balanced design: the shares add up


def summary_of(groups_, walls, params=None):
    """A summary.json with the given groups (label -> (gain mean, ci)) and wall times."""
    return {"groups": [{"label": g, "config": {}, "gain_db": {"mean": m, "ci95": ci},
                        "vs_best": {"self": i == 0, "verdict": "indistinguishable"}}
                       for i, (g, (m, ci)) in enumerate(groups_.items())],
            "trials": [{"label": g, "status": "FINISHED", "time_wall_s": w,
                        "metrics": {"model/params": (params or {}).get(g, 1000)}}
                       for g, ws in walls.items() for w in ws]}


def test_quality_vs_cost_shows_only_costs_beyond_their_noise(full):
    section = costs.quality_vs_cost(full["summary"])
    fig = section.figure
    # the fixture's couplings differ in size, and additive is twice as fast (beyond noise)
    assert {t.xaxis for t in fig.data} == {"x", "x2"}
    assert all(t.error_y.array is not None for t in fig.data)
    walls = [t for t in fig.data if t.xaxis == "x2"]
    assert all(t.error_x.array is not None for t in walls)  # the wall time's CI over seeds
    assert not any("Pareto" in str(t.name) for t in fig.data)
    # wall times within noise and one parameter count: no cost comparison at all
    gains = {"a": (1.0, [0.8, 1.2]), "b": (0.9, [0.7, 1.1])}
    flat = costs.quality_vs_cost(summary_of(gains, {"a": [263, 283], "b": [270, 276]}))
    assert flat.figure is None and "cannot be told from" in flat.note
    assert "1,000 parameters" in flat.note
    one = costs.quality_vs_cost(summary_of(gains, {"a": [263], "b": [283]}))
    assert one.figure is None and "noise is unknown" in one.note
    sized = costs.quality_vs_cost(summary_of(gains, {"a": [263], "b": [283]},
                                             params={"a": 10, "b": 20}))
    assert sized.figure is not None and {t.xaxis for t in sized.figure.data} == {"x"}


def test_jpeg_section_draws_groups_with_intervals_bicubic_and_untrained(full):
    section = figures.jpeg_robustness(full["sweep"], full["per_image"])
    names = [t.name for t in section.figure.data]
    assert "bicubic" in names and len(names) == len(TRIALS) + 1
    assert sum("(no JPEG training)" in n for n in names) == 2
    assert all(list(t.x) == list(QFS) for t in section.figure.data)
    assert all(t.error_y.array is not None for t in section.figure.data if t.name != "bicubic")
    assert "Showing" not in section.blurb


def test_jpeg_section_shows_every_group_when_none_trained_with_jpeg(full):
    """The "3 of 4 trials" defect: four groups, none trained with JPEG, all four drawn."""
    sweep, _ = synthetic_sweep(4)
    sweep.runs["jpeg_train"] = "off"
    rows = pd.DataFrame([{"label": f"g{i}", "seed": s, "image": f"im{j}",
                          **{f"jpeg{q}_psnr_y": 20 + i + q / 10 + j + s for q in QFS}}
                         for i in range(4) for s in (0, 1) for j in range(3)])
    section = figures.jpeg_robustness(sweep, rows)
    assert len(section.figure.data) == 4 and "Showing" not in section.blurb


def test_curves_never_mix_loss_definitions_and_label_log_axes(full):
    sweep = full["sweep"]
    hist = load_histories(sweep, sweep.finished["run_id"], training.CURVE_KEYS)
    guide = hist[hist["key"] == "loss/guide"]
    assert guide.groupby("run_id").size().min() == 20  # dense: every log_every = 2 steps
    fig = training.curves(sweep, hist).figure
    titles = [a.text for a in fig.layout.annotations]
    guide_panels = [t for t in titles if t.startswith("loss/guide")]
    assert sorted(guide_panels) == ["loss/guide / lambda_guide · loss_guide=l1",
                                    "loss/guide / lambda_guide · loss_guide=l2"]
    assert not any(t.startswith("loss/total") for t in titles)  # defined differently
    loss_guide = sweep.runs.set_index("trial")["loss_guide"]
    by_axis = {}
    for t in fig.data:
        by_axis.setdefault(t.yaxis, set()).add(loss_guide[t.name])
    guide_axes = ["y" if i == 0 else f"y{i + 1}" for i, a in enumerate(titles)
                  if a.startswith("loss/guide")]
    assert all(len(by_axis[a]) == 1 for a in guide_axes)  # l1 and l2 never on one axis
    for axis in fig.layout:  # a log axis carries its labels written out, all distinct
        if axis.startswith("yaxis") and fig.layout[axis].type == "log":
            labels = list(fig.layout[axis].ticktext)
            assert len(labels) == len(set(labels)) >= 2
    evals = [t for t in fig.data if t.yaxis == "y"]  # the first panel: psnr_y at evaluations
    assert titles[0].startswith("psnr_y") and all("markers" in t.mode for t in evals)
    assert "exponential moving average" in training.curves(sweep, hist).blurb


def test_log_ticks_and_ema():
    values, labels = figures.log_ticks(0.4, 60)
    assert labels == ["0.5", "1", "2", "5", "10", "20", "50"]
    assert values == [0.5, 1, 2, 5, 10, 20, 50]
    assert training.ema([2.0, 2.0, 2.0]).tolist() == pytest.approx([2.0, 2.0, 2.0])
    noisy = np.array([1.0, 3.0] * 10)
    assert training.ema(noisy)[5:].std() < noisy.std() / 2


def test_time_section_splits_the_sweeps_wall_time(full):
    fig = costs.time_breakdown(full["summary"]).figure
    o = full["summary"]["overhead"]
    slots = [t for t in fig.data if t.y == ("slots",)]
    assert [t.name for t in slots] == ["training: waiting for data", "training: compute",
                                       "evaluation", "start-up, scheduling, logging, idle slots"]
    assert sum(t.x[0] for t in slots) == pytest.approx(o["wall_s"] * o["slots"])
    assert slots[2].x[0] == pytest.approx(o["eval_s"])
    walls = [t for t in fig.data if t.y == ("wall",)]
    assert walls[0].x[0] == pytest.approx(o["time_to_first_metric_s"])
    assert costs.time_breakdown({"groups": []}).note
    # a sweep that recorded its start-up phases: one bar each, in order, then the rest
    phases = {"checks": 1.0, "first_report": 18.0, "imports": 5.0, "mlflow": 0.5, "ray": 4.0,
              "trial_start": 1.5}  # as the JSON stores them: keys sorted
    split = {**full["summary"], "overhead": {**o, "startup_s": phases}}
    fig = costs.time_breakdown(split).figure
    walls = [t for t in fig.data if t.y == ("wall",)]
    assert "first metric after 30.0 s: imports 5.0, input checks 1.0, Ray start 4.0" in \
        fig.layout.annotations[0].text
    assert [t.name for t in walls] == ["imports", "input checks", "Ray start", "MLflow store",
                                       "trial process start", "first interval + evaluation",
                                       "the rest of the sweep"]
    assert sum(t.x[0] for t in walls[:-1]) == pytest.approx(o["time_to_first_metric_s"])
    assert walls[3].text == ("",)  # too narrow a bar for its words: hover shows them
    unfinished = {**split, "overhead": {**o, "startup_s": {**phases, "first_report": None}}}
    walls = [t for t in costs.time_breakdown(unfinished).figure.data if t.y == ("wall",)]
    assert walls[0].name == "start-up to the first metric"


def test_interaction_heatmap_for_two_factor_grids(full):
    """Colour is the paired difference from the reference (issue 31: a 0.11 dB spread of
    group means once read as yellow against purple), on a scale symmetric around 0."""
    assert "not two-factor" in groups.interaction(full["summary"]).note
    grid = {"comparison": {"metric": "psnr_y", "reference": "charbonnier|l1"}, "groups": [
        {"label": f"{a}|{b}", "config": {"loss_recon": a, "loss_guide": b},
         "gain_db": {"mean": m, "ci95": [m - 0.1, m + 0.1]},
         "vs_reference": {"self": m == 1.3, "delta": round(m - 1.3, 3),
                          "ci95": [m - 1.35, m - 1.25], "verdict": "worse"}}
        for (a, b), m in {("l1", "l2"): 1.0, ("l1", "l1"): 1.1, ("charbonnier", "l2"): 1.2,
                          ("charbonnier", "l1"): 1.3}.items()]}
    heat = groups.interaction(grid).figure.data[0]
    assert list(heat.y) == ["l1", "charbonnier"] and list(heat.x) == ["l2", "l1"]
    assert heat.z[1][1] == 0 and heat.text[1][1].startswith("reference")
    assert heat.z[0][0] == -0.3 and "[-0.350, -0.250]" in heat.text[0][0]
    assert "worse" in heat.text[0][0]
    assert heat.zmid == 0 and heat.zmin == -heat.zmax == -0.3  # symmetric, spans the data
    assert "+-0.30" in heat.colorbar.title.text


def test_gallery_shows_every_image_bicubic_and_amplified_errors(full):
    sweep = full["sweep"]
    crops = load_crops(sweep, gallery.pick_runs(sweep))
    assert len(crops) == len(TRIALS)  # one trial per group
    section = gallery.gallery(sweep, crops, full["summary"])
    g = section.gallery
    assert g["images"] == list(CROP_IMAGES)
    assert [label for label, _ in g["reference"]["chelsea"]][:3] == [
        "ground truth", "bicubic LR", "bicubic down/up"]
    reference = full["summary"]["comparison"]["reference"]
    for item in g["items"]:
        assert set(item["cells"]) == set(CROP_IMAGES)
        # issue 31: 4 panels per row, as the top row; the 4th is the difference from the
        # reference group's reconstruction (the reference's own row: a labelled blank)
        cells = item["cells"]["astronaut"]
        assert len(cells) == len(g["reference"]["astronaut"]) == 4
        assert [label.split(" ")[0] for label, _ in cells[:3]] == [
            "network", "reconstruction", "error"]
        if item["label"] == reference:
            assert cells[3] == ("the reference", None)
        else:
            assert cells[3][0].startswith("minus the reference") and cells[3][1]
        for key in ("coupling", "loss_recon", "lambda_guide", "jpeg_train", "lr", "batch_size",
                    "loss_guide"):  # every searched key
            assert f"{key}=" in item["info"]
        assert "gain " in item["scores"] and "[" in item["scores"]
    assert f"times {gallery.AMPLIFY}" in section.blurb
    import io
    from PIL import Image
    a = np.full((4, 4, 3), 100, np.uint8)
    png = [io.BytesIO() for _ in range(2)]
    Image.fromarray(a).save(png[0], format="PNG")
    Image.fromarray(a + 2).save(png[1], format="PNG")
    err = np.asarray(Image.open(io.BytesIO(gallery.error_map(png[1].getvalue(),
                                                             png[0].getvalue()))))
    assert (err == 2 * gallery.AMPLIFY).all()


def test_bare_sweep_leaves_sections_out_with_a_note(edge, tmp_path):
    out = build.build_report("plain", tracking_uri=edge["uri"], out=tmp_path / "r.html",
                             log=lambda line: None)
    page = without_plotlyjs(out.read_text())
    for key in ("jpeg", "gallery", "importance", "cost", "interaction"):
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
    # nothing fetched from a network (the trial table's <a href> links to MLflow's UI are
    # followed only when clicked)
    assert not re.search(r'(src|<link[^>]*href)="(https?:)?//', page)
    assert "cdn.plot.ly" not in page
    # per image: 4 reference crops, then LR + reconstruction + error map per group
    images = len(CROP_IMAGES) * (4 + 4 * len(TRIALS) - 1)  # the reference: no self-difference
    assert page.count('src="data:image/png;base64,') == images
    figs = re.findall(r'data-irn-figure="(\w+)"', page)
    assert figs == ["groups", "hidden", "hidden_profile", "per_image", "parcoords",
                    "importance", "by_param", "curves", "cost", "jpeg", "time"]
    assert page.count('class="omitted"') == 1  # the interaction: not a two-factor grid
    assert page.count("data-run=") == N and 'data-linked="parcoords"' in page
    assert FAILED_ERROR in page and "bicubic baseline" in page
    assert re.search(r"<title>test: sweep report", page)
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
    ("png is a file", "exists and is not a folder"),
    ("png under a file", "is a file, so the folder cannot be made"),
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
        "png is a file": ["--experiment", "plain", "--tracking-uri", edge["uri"],
                          "--png", str(tmp_path / "a_file")],
        "png under a file": ["--experiment", "plain", "--tracking-uri", edge["uri"],
                             "--png", str(tmp_path / "a_file" / "png")],
        "bad flag": ["--experiment", "plain", "--colour"],
    }[case]
    (tmp_path / "a_file").write_text("not a folder")
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
        "group": [f"g{i}" for i in range(n)], "group_label": [f"g{i}" for i in range(n)],
        "status": "FINISHED", "error": "", "start_ms": 0,
        "coupling": rng.choice(["enhanced", "affine"], n), "lr": rng.choice([1e-4, 1e-3], n),
        "jpeg_train": ["off" if i % 4 == 0 else "diff" for i in range(n)],
        metric("loss/total"): rng.uniform(0.1, 1, n)})
    sweep = Sweep(client=None, experiment="big", tracking_uri="", parent_id="p", parent_name="p",
                  parent_tags={}, objective="loss/total", mode="min", runs=runs,
                  config_keys=["coupling", "lr", "jpeg_train"])
    hist = pd.DataFrame([(f"r{i}", "loss/total", s, 1 / s)
                         for i in range(n) for s in range(1, 6)],
                        columns=["run_id", "key", "step", "value"])
    return sweep, hist


def test_large_sweep_caps_the_line_plots():
    sweep, hist = synthetic_sweep(30)
    assert sweep.finished[metric("loss/total")].is_monotonic_increasing  # min: lowest first
    curves = training.curves(sweep, hist)
    assert len(curves.figure.data) == figures.MAX_TRACES
    assert f"the {figures.MAX_TRACES} best of 30" in curves.blurb
    rows = pd.DataFrame([{"label": f"g{i}", "seed": 0, "image": f"im{j}",
                          **{f"jpeg{q}_psnr_y": 20 + i + j for q in QFS}}
                         for i in range(30) for j in range(2)])
    jpeg = figures.jpeg_robustness(sweep, rows).figure
    assert len(jpeg.data) == figures.MAX_TRACES  # no bicubic metrics in this sweep
    assert sum("(no JPEG training)" in t.name for t in jpeg.data) == 3


def test_what_the_lr_hides_grows_as_the_guide_weakens(full):
    sweep = full["sweep"]
    sections = hidden.lr_hidden(sweep, load_crops(sweep, gallery.pick_runs(sweep)))
    assert [s.key for s in sections] == ["hidden", "hidden_profile"]
    table = sections[0].table
    assert len(table) == len(TRIALS) and (table["crops"] == len(CROP_IMAGES)).all()
    done = sweep.finished.drop_duplicates("group_label")
    guide = {g: effective_guide_weight(lam, 2) for g, lam in
             zip(done["group_label"], done["lambda_guide"])}
    rms = table.set_index("group")["RMS Y difference (levels)"].astype(float)
    order = sorted(rms.index, key=lambda g: guide[g])  # the fixture: noise sd 60/(1+guide)
    assert rms[order[0]] > rms[order[-1]] * 3
    assert len(sections[1].figure.data) == len(TRIALS)
    plain = synthetic_sweep(4)[0]  # varies no lambda_guide: no section
    assert hidden.lr_hidden(plain, {}) == []


def test_also_section_draws_each_compare_metric_against_the_reference():
    from dashboards.groups import also_gains

    def group(label, delta, ci, verdict, self_=False):
        return {"label": label, "seeds": [0, 1], "n_images": 32, "stat": {"mean": 1.0},
                "vs_reference": {"delta": delta, "ci95": ci, "verdict": verdict, "self": self_}}
    summary = {"also": [
        {"metric": "psnr_y", "reference": "off", "groups": [
            group("ste", -0.46, [-0.60, -0.32], "worse"), group("diff", -0.03, [-0.14, 0.07],
                                                               "indistinguishable"),
            group("off", 0.0, [0.0, 0.0], "indistinguishable", self_=True)]},
        {"metric": "ssim_y", "reference": "off", "groups": [
            group("ste", 0.001, [-0.002, 0.004], "indistinguishable"),
            group("off", 0.0, [0.0, 0.0], "indistinguishable", self_=True)]}]}
    section = also_gains(summary)
    assert not section.note and len(section.figure.data) == 2  # one panel per metric
    first = section.figure.data[0]
    assert list(first.x) == ["ste", "diff"]  # the reference itself is not drawn
    assert list(first.error_y.arrayminus) == pytest.approx([0.14, 0.11])
    assert "ste: -0.46 [-0.6, -0.32], worse (2 seeds x 32 images)" in section.blurb
    assert also_gains({"groups": []}).note and also_gains(None).note


def test_the_lead_chart_draws_the_paired_differences_it_colours(full):
    # issue 31: the first chart coloured groups by paired differences it never showed
    from dashboards.colors import VERDICT_COLORS
    from dashboards.groups import group_gains
    summary = full["summary"]
    section = group_gains(summary)
    by_label = {g["label"]: g for g in summary["groups"] if "gain_db" in g}
    traces = {t.name.split(" (")[0]: t for t in section.figure.data}
    assert set(traces) == {"minus the reference", "minus the best"}
    for name, key in (("minus the reference", "vs_reference"), ("minus the best", "vs_best")):
        t = traces[name]
        for label, x, color, hi in zip(t.y, t.x, t.marker.color, t.error_x.array):
            d = by_label[label][key]
            assert x == d["delta"] and color == VERDICT_COLORS[d["verdict"]]
            assert x + hi == pytest.approx(d["ci95"][1])
    margin = summary["comparison"]["margin"]
    (band,) = [s for s in section.figure.layout.shapes if s.type == "rect"]
    assert (band.x0, band.x1) == (-margin, margin)
    # the numbers under it: the terminal's group table, one row per group
    assert len(section.table) == len(summary["groups"])
    assert "Bonferroni" in section.blurb and summary["comparison"]["sentence"] in section.blurb


def test_learning_section_shows_the_trend_and_the_budgets():
    from dashboards.learning import learning
    group = {"label": "a", "half_step": 60, "last_step": 120, "delta": 0.8, "ci95": [0.6, 1.0],
             "learning": "still improving", "n_replicates": 2, "n_images": 32}
    summary = {"learning": {"metric": "psnr_y", "groups": [group], "confidence": 0.95,
                            "correction": "Bonferroni", "family": 1,
                            "sentence": "1 of 1 groups still improving"},
               "fidelity": {"key": "steps", "sentence": "steps=120 against steps=960: tau",
                            "rows": [{"budget": 120, "against": 960, "verdicts": [
                                {"label": "a", "short": "worse", "long": "worse",
                                 "survives": "yes"}]}]}}
    section = learning(summary)
    assert not section.note and "+0.800 [+0.600, +1.000]" in section.table.iloc[0].tolist()
    assert "steps=120: worse; steps=960: worse (survives: yes)" in \
        section.table["verdict"].tolist()
    assert "Budgets (steps)" in section.blurb
    assert learning({"learning": {"groups": []}}).note and learning(None).note


def test_report_sections_come_from_the_registry(tmp_path, monkeypatch):
    # issue 33.3: a study's section is one file with SECTIONS; build.py keeps no list
    from dashboards import sections
    specs = sections.registered()
    keys = [s.key for s in specs]
    assert keys[0] == "group_gains" and keys[-1] == "gallery"
    assert {"stamp", "stego", "temporal", "dequant", "compression"} <= {
        s.key for s in specs if s.study}
    assert [s.order for s in specs] == sorted(s.order for s in specs)
    # a module that declares a section is found without being named anywhere
    import dashboards
    (tmp_path / "zz_probe.py").write_text(
        "from dashboards.figures import Section\nfrom dashboards.sections import SectionSpec\n"
        "SECTIONS = [SectionSpec('zz_probe', 5, lambda i: Section('zz', 'probe'))]\n")
    monkeypatch.setattr(dashboards, "__path__", [*dashboards.__path__, str(tmp_path)])
    assert sections.registered()[0].key == "zz_probe"
    monkeypatch.delitem(sys.modules, "dashboards.zz_probe", raising=False)


def test_the_cli_keeps_its_short_mlflow_retries_to_itself(edge, tmp_path, capsys, monkeypatch):
    # a sweep in the same process rides out a server restart on MLflow's default retries
    monkeypatch.delenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", raising=False)
    run_cli("--experiment", "plain", "--tracking-uri", edge["uri"], "--out",
            str(tmp_path / "r.html"))
    assert "MLFLOW_HTTP_REQUEST_MAX_RETRIES" not in os.environ
