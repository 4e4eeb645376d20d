"""`python -m bench.evaluate`: its tables equal irn.evaluate on the same images, published
rows print with their source, bad input is one line and exit 2 with nothing written."""
import csv
import json

import numpy as np
import pytest
import torch
from PIL import Image

from bench.evaluate.command import main
from irn.checkpoint import save_model
from irn.config import from_dict
from irn.data import val_images
from irn.data.rendered import rendered_images
from irn.evaluate import evaluate_images, mean_metrics
from irn.rescale import downscale
from irn.storage import png_bits_per_pixel
from tests.model_files import random_x2_files


def _photo(rng, h, w):
    ramp = np.linspace(0, 180, w)[None, :, None] + np.linspace(0, 60, h)[:, None, None]
    return (ramp + rng.random((h, w, 3)) * 60).clip(0, 255).astype(np.uint8)


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    """Set5-named folder of small PNGs; one size x2 does not divide (mod-crop / pad)."""
    d = tmp_path_factory.mktemp("bench") / "Set5"
    d.mkdir()
    rng = np.random.default_rng(0)
    for i, (h, w) in enumerate([(32, 40), (36, 36), (33, 42)]):
        Image.fromarray(_photo(rng, h, w)).save(d / f"img{i}.png")
    return d


@pytest.fixture(scope="module")
def model_files(tmp_path_factory):
    """A random-weight x2 model as an official-layout .pth and in our format."""
    model, ours, official = random_x2_files(tmp_path_factory.mktemp("ckpt"), "IRN_x2.pth")
    return model, official, ours


def _run(args, capsys):
    rc = main([str(a) for a in args])
    return rc, capsys.readouterr()


def test_table_equals_irn_evaluate_and_prints_published_rows(folder, model_files, tmp_path,
                                                             capsys):
    model, official, _ = model_files
    out, per_image = tmp_path / "eval.json", tmp_path / "rows.csv"
    rc, cap = _run(["--checkpoint", official, "--scale", 2, "--data", f"Set5={folder}",
                    "--z", "gaussian", "--z-draws", 2, "--jpeg", "50", "--json", out,
                    "--csv", per_image], capsys)
    assert rc == 0, cap.err
    result = json.loads(out.read_text())
    ds = result["datasets"]["Set5"]
    cfg = from_dict({"scale": 2, "z_eval": "gaussian", "eval_z_draws": 2, "jpeg_eval": "50"})
    expected = mean_metrics(evaluate_images(model, val_images(folder, 2, val=folder), cfg))
    assert ds["n_images"] == 3
    for name, value in expected.items():
        assert ds["metrics"][name]["mean"] == pytest.approx(value, abs=1e-9), name
        assert ds["metrics"][name]["n"] == 3
    assert ds["metrics"]["psnr_y"]["ci95"][0] <= expected["psnr_y"] <= \
        ds["metrics"]["psnr_y"]["ci95"][1]
    assert ds["z_draws"]["draws"] == 2 and ds["z_draws"]["sd"] is not None
    assert {"lr_png_bpp", "bicubic_lr_png_bpp", "lr_jpeg50_bpp"} <= set(ds["metrics"])
    # published rows: IRN and bicubic x2 on Set5, each with its source, on stdout too
    methods = {(r["method"], r["metric"]) for r in ds["published"]}
    assert ("IRN", "psnr_y") in methods and ("Bicubic & Bicubic", "bicubic_psnr_y") in methods
    irn_row = next(r for r in ds["published"] if r["method"] == "IRN" and r["metric"] == "psnr_y")
    assert irn_row["published"] == 43.99
    assert irn_row["delta"] == pytest.approx(ds["metrics"]["psnr_y"]["mean"] - 43.99)
    text = " ".join(cap.out.split())
    assert "43.99" in text and "ECCV 2020" in text and "Table" in text
    assert "3 images" in text
    with open(per_image, newline="") as f:
        rows = list(csv.DictReader(f))
    assert [r["image"] for r in rows] == ["img0", "img1", "img2"]


def test_pad_fit_evaluates_every_pixel_as_irn_rescale_does(folder, model_files, tmp_path,
                                                           capsys):
    from bench.evaluate.run import EvalModel
    model, _, ours = model_files
    hr = torch.from_numpy(np.array(Image.open(folder / "img2.png"))).permute(2, 0, 1)[None]
    hr = hr.float() / 255  # 33 x 42: x2 does not divide it
    fitted = EvalModel(model).for_size(33, 42)
    assert torch.equal(fitted.downscale(hr), downscale(model, hr))
    assert fitted.upscale(fitted.downscale(hr), mode="zero").shape[-2:] == (33, 42)
    out = tmp_path / "pad.json"
    rc, cap = _run(["--checkpoint", ours, "--data", f"mine={folder}", "--fit", "pad",
                    "--jpeg", "", "--json", out], capsys)
    assert rc == 0, cap.err
    ds = json.loads(out.read_text())["datasets"]["mine"]
    assert ds["n_images"] == 3 and ds["published"] == []  # no published set is called "mine"


def test_tiles_match_the_whole_frame(folder, model_files):
    from bench.evaluate.data import image_pairs, load_dataset
    from bench.evaluate.run import evaluate_pairs
    from irn.tiling import exact_overlap
    model, _, _ = model_files
    names, images = load_dataset("x", str(folder))
    pairs = image_pairs(images, names, 2, "modcrop")
    cfg = from_dict({"scale": 2, "z_eval": "zero", "jpeg_eval": ""})
    whole = evaluate_pairs(model, pairs, cfg, [])
    tiled = evaluate_pairs(model, pairs, cfg, [], tile=16, overlap=exact_overlap(model))
    for a, b in zip(whole, tiled):
        assert b["psnr_y"] == pytest.approx(a["psnr_y"], abs=1e-4)


def test_text_set_is_deterministic_and_evaluates(model_files, tmp_path, capsys):
    names, first = rendered_images()
    _, again = rendered_images()
    assert names == ["text_page", "line_art", "screenshot"]
    assert all(np.array_equal(a, b) for a, b in zip(first, again))
    assert all(im.dtype == np.uint8 and im.shape == (192, 256, 3) for im in first)
    _, _, ours = model_files
    out = tmp_path / "text.json"
    rc, cap = _run(["--checkpoint", ours, "--data", "text", "--jpeg", "", "--json", out],
                   capsys)
    assert rc == 0, cap.err
    assert json.loads(out.read_text())["datasets"]["text"]["n_images"] == 3


def test_png_bits_per_pixel_is_the_file_size():
    import io
    img = _photo(np.random.default_rng(1), 16, 24)
    buf = io.BytesIO()
    Image.fromarray(img).save(buf, format="PNG")
    x = torch.from_numpy(img).permute(2, 0, 1)[None].float() / 255
    assert png_bits_per_pixel(x) == 8 * buf.tell() / (16 * 24)


def test_sweep_best_trial_and_mlflow_run(folder, model_files, tmp_path, capsys):
    """A bench.sweep results folder (TRIAL/checkpoint_*/trainer.pt + result.json), and the
    evaluation logged to a real MLflow store."""
    import mlflow
    model, _, _ = model_files
    sweep = tmp_path / "sweep"
    for trial, gain in (("t_low", 0.1), ("t_high", 0.9)):
        (sweep / trial / "checkpoint_000001").mkdir(parents=True)
        save_model(sweep / trial / "checkpoint_000001" / "trainer.pt", model,
                   {"scale": 2, "blocks": 2, "gc": 8})
        (sweep / trial / "result.json").write_text(json.dumps({"gain_db": gain}) + "\n")
    rc, cap = _run(["--sweep", sweep, "--data", f"Set5={folder}"], capsys)
    assert rc == 2 and "--best" in cap.err
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    out = tmp_path / "sweep.json"
    rc, cap = _run(["--sweep", sweep, "--best", "--data", f"Set5={folder}", "--jpeg", "",
                    "--json", out, "--tracking-uri", uri, "--experiment", "ev"], capsys)
    assert rc == 0, cap.err
    assert json.loads(out.read_text())["source"]["trial"] == "t_high"
    runs = mlflow.MlflowClient(uri).search_runs(
        [mlflow.MlflowClient(uri).get_experiment_by_name("ev").experiment_id])
    assert len(runs) == 1 and runs[0].data.tags["irn.role"] == "evaluation"
    assert runs[0].data.tags["irn.source_trial"] == "t_high"
    assert "Set5/psnr_y" in runs[0].data.metrics
    names = {a.path for a in mlflow.MlflowClient(uri).list_artifacts(runs[0].info.run_id)}
    assert {"per_image.csv", "table.txt", "summary.json"} <= names
    # --run: a sweep's trial run, found through its parent's results folder (irn.storage)
    from bench.common.tracking import Tracker
    tracker = Tracker(uri, "ev")
    parent = tracker.create_run("sweep", {"irn.role": "sweep", "irn.storage": str(sweep)})
    child, _ = tracker.trial_run(parent, "t_low")
    single = tracker.create_run("single", {"irn.role": "single"})
    out = tmp_path / "run.json"
    rc, cap = _run(["--run", child, "--tracking-uri", uri, "--data", f"Set5={folder}",
                    "--jpeg", "", "--json", out], capsys)
    assert rc == 0, cap.err
    assert json.loads(out.read_text())["source"]["trial"] == "t_low"
    rc, cap = _run(["--run", single, "--tracking-uri", uri, "--data", f"Set5={folder}"], capsys)
    assert rc == 2 and "not a sweep trial" in cap.err


@pytest.mark.parametrize("case, message", [
    ("missing", "does not exist"),
    ("empty", "no PNG/JPEG"),
    ("corrupt", "unreadable"),
    ("unknown", "unknown dataset"),
    ("tiny", "too small for x2"),
    ("scale", "not x4"),
    ("ours_scale", "not x4"),
    pytest.param("no_cuda", "no CUDA device here", marks=pytest.mark.skipif(
        torch.cuda.is_available(), reason="a CUDA device is here")),
])
def test_bad_input_is_one_line_exit_2_nothing_written(case, message, folder, model_files,
                                                      tmp_path, capsys):
    _, official, ours = model_files
    (tmp_path / "empty").mkdir()
    bad = tmp_path / "corrupt"
    bad.mkdir()
    Image.fromarray(_photo(np.random.default_rng(2), 16, 16)).save(bad / "good.png")
    (bad / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n not really")
    (tmp_path / "tiny").mkdir()
    Image.fromarray(_photo(np.random.default_rng(3), 4, 8)).save(tmp_path / "tiny" / "t.png")
    data = {"missing": f"Set5={tmp_path / 'nope'}", "empty": f"Set5={tmp_path / 'empty'}",
            "corrupt": f"Set5={bad}", "unknown": "Set5",
            "tiny": f"Set5={tmp_path / 'tiny'}"}.get(case, f"Set5={folder}")
    ckpt = ["--checkpoint", ours, "--scale", "4"] if case == "ours_scale" else \
        ["--checkpoint", official, "--scale", "4" if case == "scale" else "2"]
    out = tmp_path / "out.json"
    device = ["--device", "cuda"] if case == "no_cuda" else []
    rc, cap = _run(ckpt + device + ["--data", data, "--json", out, "--csv", tmp_path / "r.csv"],
                   capsys)
    assert rc == 2
    lines = cap.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error:") and message in lines[0], cap.err
    assert not out.exists() and not (tmp_path / "r.csv").exists()


def test_checkpoint_links_the_evaluation_to_the_run_that_trained_it(folder, tmp_path, capsys):
    import mlflow
    from bench.sweep.train import main as train
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    ckpt = tmp_path / "trained.pt"
    assert train(["--budget", "smoke", "--set", "blocks=1", "--set", "gc=8", "--tracking-uri",
                  uri, "--experiment", "tr", "--save", str(ckpt)]) == 0
    client = mlflow.MlflowClient(uri)
    (trained,) = client.search_runs([client.get_experiment_by_name("tr").experiment_id])
    rc, cap = _run(["--checkpoint", ckpt, "--data", f"Set5={folder}", "--jpeg", "",
                    "--tracking-uri", uri, "--experiment", "ev2"], capsys)
    assert rc == 0, cap.err
    (evaluation,) = client.search_runs([client.get_experiment_by_name("ev2").experiment_id])
    assert evaluation.data.tags["irn.source_run"] == trained.info.run_id


def test_published_rows_get_family_wise_verdicts_from_our_images():
    from bench.evaluate.published import comparison, published_rows
    row = next(r for r in published_rows() if r["dataset"] == "Set5" and r["scale"] == 4
               and r["qf"] is None and r["method"].startswith("IRN"))
    pub = row["psnr_y"]
    ours = [{"psnr_y": pub + d, "ssim_y": row["ssim_y"] or 0.9}
            for d in (0.30, 0.32, 0.28, 0.31, 0.29)]  # 0.3 dB above the paper, tightly
    from bench.evaluate.run import summarize
    from irn.metric_registry import METRICS
    summary = summarize(ours, [METRICS["psnr_y"], METRICS["ssim_y"]])
    out = {(r["method"], r["metric"]): r for r in comparison("set5", 4, summary, ours)}
    got = out[(row["method"], "psnr_y")]
    assert got["verdict"] == "better" and got["family"] == len(out) > 1
    assert got["delta"] == pytest.approx(0.30, abs=1e-9) and got["correction"] == "Bonferroni"
    # the interval is the family's, wider than the 95% one the summary holds
    lo95 = summary["psnr_y"]["ci95"][0] - pub
    assert got["delta_ci95"][0] < lo95


def _crafted(kind, ours, path):
    """A file in our format, edited the way a hostile or broken writer would."""
    obj = torch.load(ours, weights_only=True)
    if kind == "no_arch":
        del obj["arch"]
    elif kind == "arch_list":
        obj["arch"] = list(obj["arch"].values())
    elif kind == "unknown_key":
        obj["arch"] = {**obj["arch"], "depth_of_field": 3}
    elif kind == "scale_3":
        obj["arch"] = {**obj["arch"], "scale": 3}
    elif kind == "nan":
        name = next(k for k, v in obj["model"].items() if v.is_floating_point())
        obj["model"][name] = torch.full_like(obj["model"][name], float("nan"))
    torch.save(obj, path)
    return path


CRAFTED = [("no_arch", "has no architecture"), ("arch_list", "'arch' must be a dict"),
           ("unknown_key", "unknown keys depth_of_field"),
           ("scale_3", "impossible architecture: scale must be one of"),
           ("nan", "non-finite weights")]


@pytest.mark.parametrize("kind, message", CRAFTED)
def test_crafted_checkpoints_are_refused_before_evaluating(kind, message, folder, model_files,
                                                           tmp_path, capsys):
    # issue 32.3: these ended in tracebacks (exit 1), and NaN weights evaluated to "-" (exit 0)
    _, _, ours = model_files
    bad = _crafted(kind, ours, tmp_path / "bad.pt")
    out = tmp_path / "out.json"
    rc, cap = _run(["--checkpoint", bad, "--data", f"Set5={folder}", "--json", out], capsys)
    lines = cap.err.strip().splitlines()
    assert rc == 2 and len(lines) == 1 and message in lines[0], cap.err
    assert not out.exists()
