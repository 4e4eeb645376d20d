"""`python -m bench.analyze` and irn.analysis: the page builds offline, the unpruned and
single-round-trip numbers are irn.evaluate's, silenced blocks are the identity, the
spectrum reads saved crops, bad input is one line and exit 2 with nothing written."""
import json
import subprocess
import sys

import numpy as np
import pytest
import torch

from bench.analyze.command import main
from irn.couplings import COUPLINGS
from irn.analysis.pruning import (silenced_is_identity, mean_psnr, prune_blocks, prune_channels,
                                  silence_block)
from irn.analysis.spectrum import difference_spectrum, hidden_picture
from irn.analysis.weights import channel_mass, convs, coupling_blocks, subnets
from irn.config import from_dict
from irn.data import val_images
from irn.evaluate import evaluate
from irn.model import build_model
from tests.model_files import random_x2_files
from tests.test_bench_evaluate import folder  # noqa: F401 - the shared fixture

CFG = from_dict({"scale": 2, "z_eval": "zero", "jpeg_eval": ""})
TITLES = ("Weight histograms", "Weight mass per block", "Weight mass per input channel",
          "Pruning sensitivity: channels", "Pruning sensitivity: blocks",
          "Repeated application", "x2 applied twice against bicubic x4", "What the LR hides",
          "Spectrum of LR minus bicubic LR")


@pytest.fixture(scope="module")
def random_model(tmp_path_factory):
    model, ours, _ = random_x2_files(tmp_path_factory.mktemp("ckpt"))
    return model, ours


@pytest.fixture(scope="module")
def analysed(random_model, tmp_path_factory):
    """One CLI run on the embedded photos, cropped to 64 px."""
    _, ours = random_model
    d = tmp_path_factory.mktemp("analysis")
    rc = main(["--checkpoint", str(ours), "--data", "embedded", "--max-size", "64",
               "--out", str(d / "out"), "--json", str(d / "copy.json")])
    assert rc == 0
    return d


def _perturbed(coupling: str, blocks: int = 2):
    torch.manual_seed(1)
    model = build_model(scale=2, coupling=coupling, blocks=blocks, gc=8)
    with torch.no_grad():
        for p in model.parameters():
            if p.requires_grad:
                p.add_(torch.randn_like(p) * 0.01)
    return model.eval()


def test_page_builds_offline_with_every_figure(analysed):
    page = (analysed / "out" / "analysis.html").read_text()
    for title in TITLES:
        assert title in page
    assert "<script src=" not in page and 'src="http' not in page
    assert page.count("data-irn-figure=") == len(TITLES)
    copy = json.loads((analysed / "copy.json").read_text())
    assert copy == json.loads((analysed / "out" / "analysis.json").read_text())


def test_unpruned_and_single_round_trip_equal_irn_evaluate(analysed, random_model):
    model, _ = random_model
    numbers = json.loads((analysed / "copy.json").read_text())
    expected = evaluate(model, val_images("embedded", 2, max_size=64), CFG)["psnr_y"]
    assert numbers["n_images"] == 2
    assert numbers["evaluation"]["mean"]["psnr_y"] == expected
    assert numbers["channel_pruning"]["curves"]["stage 1"][0] == expected
    assert numbers["block_pruning"]["curves"]["stage 1"][0] == expected
    assert numbers["repeat"]["psnr_y"][0] == expected
    assert numbers["repeat"]["bicubic_psnr_y"][0] == numbers["evaluation"]["mean"][
        "bicubic_psnr_y"]
    all_silenced = numbers["block_pruning"]["curves"]["stage 1"][-1]
    assert len(numbers["block_pruning"]["curves"]["stage 1"]) == 3 and np.isfinite(all_silenced)
    twice = numbers["x2_twice"]
    assert twice["n_images"] == 2 and np.isfinite(twice["psnr_y"])
    assert np.isfinite(twice["bicubic_x4_psnr_y"])
    weights = numbers["weights"]["stages"][0]["blocks"]
    assert [n["name"] for n in weights[0]["subnets"]] == ["F", "G", "H"]


@pytest.mark.parametrize("coupling", sorted(COUPLINGS))
def test_silenced_block_is_the_identity_where_documented(coupling):
    # the module docstring's claim, per coupling; the analysis measures it the same way
    model = _perturbed(coupling, blocks=1)
    block = coupling_blocks(model)[0][0]
    x = torch.rand(1, 12, 8, 8)
    silence_block(block)
    with torch.no_grad():
        (y,), _ = block((x,), jac=False)
        (back,), _ = block((y,), rev=True, jac=False)
    assert silenced_is_identity(model) == torch.equal(y, x)  # what the analysis reports
    documented = {"enhanced": True, "affine": True, "additive": True, "iresnet": True,
                  "allinone": False}  # pruning.py's docstring; a new coupling is measured
    assert documented.get(coupling, torch.equal(y, x)) == torch.equal(y, x)
    assert torch.allclose(back, x, atol=1e-4)  # invertible either way


def test_pruning_copies_and_zeroes_the_lightest():
    model = _perturbed("enhanced")
    before = {k: v.clone() for k, v in model.state_dict().items()}
    val = val_images("embedded", 2, max_size=32)
    same = prune_blocks(model, 0, 0)
    assert all(torch.equal(v, same.state_dict()[k]) for k, v in before.items())
    assert mean_psnr(same, val, CFG) == evaluate(model, val, CFG)["psnr_y"]
    assert np.isfinite(mean_psnr(prune_blocks(model, 0, 2), val, CFG))  # Haar alone
    half = prune_channels(model, 50)
    _, conv = convs(subnets(coupling_blocks(half)[0][0])[0][1])[1]  # F.conv2, 17 inputs
    _, original = convs(subnets(coupling_blocks(model)[0][0])[0][1])[1]
    zeroed = (conv.weight.abs().sum(dim=(0, 2, 3)) == 0).nonzero().flatten()
    assert len(zeroed) == 17 * 50 // 100
    assert set(zeroed.tolist()) == set(channel_mass(original).argsort()[:8].tolist())
    assert all(torch.equal(v, model.state_dict()[k]) for k, v in before.items())  # untouched


def test_spectrum_reads_saved_crops_uint8_or_tensor():
    h = w = 32
    rng = np.random.default_rng(0)
    bic = rng.integers(60, 190, (h, w, 3), dtype=np.uint8)
    wave = np.round(6 * np.cos(2 * np.pi * 0.25 * np.arange(w)))[None, :, None]  # 0.25 c/px
    lr = (bic + wave).astype(np.uint8)
    plain = difference_spectrum([lr], [bic])
    peak = plain["radial_frequency"][np.argmax(plain["radial_power"][1:]) + 1]
    assert peak == pytest.approx(0.25, abs=1 / 32)
    nearest = [np.repeat(np.repeat(x, 2, 0), 2, 1) for x in (lr, bic)]  # as the sweep saves
    tensors = [torch.from_numpy(x).permute(2, 0, 1)[None].float() / 255 for x in (lr, bic)]
    for a, b, s in (nearest + [2], tensors + [1]):
        np.testing.assert_allclose(difference_spectrum([a], [b], s)["log_magnitude"],
                                   plain["log_magnitude"])
    assert (hidden_picture(bic, bic) == 128).all()
    assert not difference_spectrum([bic], [bic])["log_magnitude"].any()


def _trained_checkpoint(path):
    """A real 4-step smoke training (1 block, gc 8), saved as a sweep trial's trainer.pt."""
    from irn.train import Trainer
    cfg = from_dict({"steps": 4, "batch_size": 2, "patch_size": 32, "eval_every": 4,
                     "log_every": 2, "blocks": 1, "gc": 8, "val_max_size": 32,
                     "jpeg_eval": "", "z_eval": "zero"})
    trainer = Trainer(cfg, device="cpu")
    for _ in trainer.run():
        pass
    path.parent.mkdir(parents=True)
    trainer.save(path)


def test_run_attaches_page_and_numbers(folder, tmp_path, capsys):  # noqa: F811
    import mlflow

    from bench.common.tracking import Tracker
    sweep = tmp_path / "sweep"
    _trained_checkpoint(sweep / "t0" / "checkpoint_000001" / "trainer.pt")
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    tracker = Tracker(uri, "an")
    parent = tracker.create_run("sweep", {"irn.role": "sweep", "irn.storage": str(sweep)})
    child, _ = tracker.trial_run(parent, "t0")
    rc = main(["--run", child, "--tracking-uri", uri, "--data", f"Set5={folder}",
               "--max-size", "32", "--out", str(tmp_path / "out")])
    cap = capsys.readouterr()
    assert rc == 0, cap.err
    assert "over 3 images" in " ".join(cap.out.split())
    arts = mlflow.MlflowClient(uri).list_artifacts(child, "analysis")
    assert {a.path for a in arts} == {"analysis/analysis.html", "analysis/analysis.json"}
    rc = main(["--run", "0" * 32, "--tracking-uri", uri, "--out", str(tmp_path / "none")])
    lines = capsys.readouterr().err.strip().splitlines()
    assert rc == 2 and len(lines) == 1 and "no MLflow run" in lines[0], lines


@pytest.mark.parametrize("case, message", [
    ("no_checkpoint", "checkpoint not found"),
    ("corrupt", "cannot read checkpoint"),
    ("no_folder", "does not exist"),
    ("size", "not divisible by the scale 2"),
    ("no_store", "no MLflow database"),
    pytest.param("no_cuda", "no CUDA device here", marks=pytest.mark.skipif(
        torch.cuda.is_available(), reason="a CUDA device is here")),
])
def test_bad_input_is_one_line_exit_2_nothing_written(case, message, random_model, tmp_path,
                                                      capsys):
    _, ours = random_model
    bad = tmp_path / "bad.pt"
    bad.write_bytes(b"not a checkpoint")
    src = {"no_checkpoint": ["--checkpoint", tmp_path / "nope.pt"],
           "corrupt": ["--checkpoint", bad],
           "no_store": ["--run", "0" * 32, "--tracking-uri", f"sqlite:///{tmp_path / 'm.db'}"]
           }.get(case, ["--checkpoint", ours])
    data = ["--data", f"x={tmp_path / 'missing'}"] if case == "no_folder" else []
    size = ["--max-size", "63" if case == "size" else "32"]
    device = ["--device", "cuda"] if case == "no_cuda" else []
    out, js = tmp_path / "out", tmp_path / "n.json"
    rc = main([str(a) for a in src + data + size + device + ["--out", out, "--json", js]])
    lines = capsys.readouterr().err.strip().splitlines()
    assert rc == 2
    assert len(lines) == 1 and lines[0].startswith("error:") and message in lines[0], lines
    assert not out.exists() and not js.exists()


def test_irn_analysis_imports_no_harness_packages():
    code = ("import sys, irn.analysis\nprint(','.join(m for m in ('bench', 'dashboards', "
            "'ray', 'mlflow', 'plotly') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""
