"""The frame tasks (irn/video/): rendered clips, the prediction / interpolation networks,
their baselines, data, training and evaluation."""
import math
import subprocess
import sys

import numpy as np
import pytest
import torch

from irn.checkpoint import load_model
from irn.config import ConfigError, from_dict
from irn.couplings import COUPLINGS
from irn.data import load_named_images
from irn.metric_registry import evaluation_metrics, metric_spec
from irn.metrics import psnr_y
from irn.train import Trainer
from irn.video import baselines
from irn.video.clips import MOTIONS, render_clip, rendered_clips
from irn.video.frames import FrameNetwork, build_frame_model, net_inputs, run_reverse
from irn.video.triples import TrainTriples, val_triples
from tests.test_model import perturbed

TINY = {"blocks": 1, "gc": 8, "jpeg_eval": "", "clip_size": 64, "clip_frames": 3,
        "val_tile": 32}


@pytest.fixture(scope="module")
def photo():
    return load_named_images("embedded", "val")[1][0]


@pytest.mark.parametrize("motion", MOTIONS)
def test_a_rendered_clip_is_reproducible_from_its_seed(photo, motion):
    a = render_clip(photo, 4, (32, 40), motion, seed=7)
    assert a.shape == (4, 32, 40, 3) and a.dtype == np.uint8
    assert np.array_equal(a, render_clip(photo, 4, (32, 40), motion, seed=7))
    assert not np.array_equal(a, render_clip(photo, 4, (32, 40), motion, seed=8))
    # the camera moves every frame, by less than the frame: consecutive frames differ
    # but stay close
    for t in range(3):
        d = np.abs(a[t + 1].astype(int) - a[t]).mean()
        assert 0.1 < d < 40, (motion, t, d)


def test_clips_are_resampled_from_the_photo_not_shifted_frames(photo):
    """A pan of a whole-pixel speed would repeat pixels exactly; sub-pixel steps never do."""
    clip = render_clip(photo, 3, (32, 32), "pan", seed=3)
    assert not any(np.array_equal(clip[1][:, 1:], clip[0][:, :-1]) for _ in [0])
    with pytest.raises(ValueError, match="needs a photo of at least"):
        render_clip(photo[:40, :40], 20, (32, 32), "pan", seed=0)
    with pytest.raises(ValueError, match="unknown motion"):
        render_clip(photo, 3, (32, 32), "dolly", seed=0)
    names, clips = rendered_clips([photo], ["p"], 3, (32, 32), seed=0)
    assert names == [f"p/{m}" for m in MOTIONS] and len(clips) == 3


@pytest.mark.parametrize("coupling", sorted(COUPLINGS))
@pytest.mark.parametrize("scale", [2, 4])
def test_frame_networks_are_exactly_invertible(coupling, scale):
    torch.manual_seed(0)
    model = perturbed(build_frame_model(scale=scale, coupling=coupling, blocks=2, gc=8)).eval()
    a, b = torch.rand(2, 3, 16, 24), torch.rand(2, 3, 16, 24) - 0.5
    with torch.no_grad():
        (y, z), log_det = model(a, b)
        (a2, b2), log_det_rev = model(y, z, rev=True)
    tol = 1e-3 if coupling == "iresnet" else 1e-5
    assert (a2 - a).abs().max() < tol and (b2 - b).abs().max() < tol
    assert torch.allclose(log_det, -log_det_rev, rtol=1e-5, atol=1e-3)
    assert (y - a).abs().max() > 1e-4  # the couplings did something


@pytest.mark.parametrize("task,layout", [("predict", "frames"), ("predict", "diff"),
                                         ("interpolate", "diff"), ("interpolate", "frames")])
def test_layouts_start_near_the_notes_default(task, layout):
    """With default weights the output frame is the first input (the later frame) nearly
    unchanged, and the reverse gives the inputs back."""
    torch.manual_seed(0)
    model = FrameNetwork(2, "enhanced", 2, "dense", 8).eval()
    f = [torch.rand(1, 3, 16, 16) for _ in range(3)]
    a, b, target = net_inputs(task, layout, *f)
    assert torch.equal(a, f[1] if task == "predict" else f[2])
    assert torch.equal(target, f[2] if task == "predict" else f[1])
    assert torch.allclose(b, a - f[0]) if layout == "diff" else torch.equal(b, f[0])
    with torch.no_grad():
        (y, z), _ = model(a, b)
        first, earlier = run_reverse(model, layout, y, z)
    assert (y - a).abs().mean() < 0.1
    assert torch.allclose(first, a, atol=1e-5) and torch.allclose(earlier, f[0], atol=1e-5)


def test_flow_baselines_follow_a_sub_pixel_pan(photo):
    clip = render_clip(photo, 3, (64, 64), "pan", seed=1)
    f0, f1, f2 = (torch.from_numpy(c).permute(2, 0, 1)[None].float() / 255 for c in clip)
    repeat = psnr_y(baselines.simple("predict", f0, f1, f2), f2, 4)
    flow = psnr_y(baselines.flow("predict", f0, f1, f2), f2, 4)
    mean = psnr_y(baselines.simple("interpolate", f0, f1, f2), f1, 4)
    middle = psnr_y(baselines.flow("interpolate", f0, f1, f2), f1, 4)
    assert flow > repeat + 3 and middle > mean + 3, (repeat, flow, mean, middle)


def test_triples_are_a_function_of_seed_and_sample():
    a, b = TrainTriples("embedded", 32, seed=3), TrainTriples("embedded", 32, seed=3)
    assert a.sample(5).shape == (9, 32, 32)
    assert torch.equal(a.sample(5), b.sample(5)) and not torch.equal(a.sample(5), a.sample(6))
    x, empty = next(a.batches(2, start_batch=1))
    assert torch.equal(x[1], a.sample(3)) and empty.shape == (2, 0, 32, 32)
    val = val_triples("embedded", 4, 48, 2, tile=24)
    # 2 photos x 3 motions x 2 triples x 4 tiles
    assert len(val) == 48 and val.names[0] == "astronaut/pan#0@0,0"
    assert val[0][0].shape == (1, 9, 24, 24)


@pytest.mark.parametrize("task", ["predict", "interpolate"])
def test_smoke_training_gives_the_frame_metrics_only(tmp_path, task):
    cfg = from_dict({"task": task, "frame_layout": "diff", **TINY}, budget="smoke")
    trainer = Trainer(cfg)
    report = next(trainer.run())
    assert set(report) >= {"loss/recon", "loss/distr"} and "loss/guide" not in report
    names = {m.name for m in evaluation_metrics(cfg)}
    assert names == {"frame_psnr_y", "frame_gain_db", "frame_vs_flow_db", "frame_ssim_y",
                     "simple_psnr_y", "simple_ssim_y", "flow_psnr_y", "reverse_psnr_y",
                     "reverse_gauss_psnr_y", "reverse_repeat_psnr_y"}
    for name in names:
        assert math.isfinite(report[name]) and metric_spec(name) is not None, name
    assert "psnr_y" not in report and "gain_db" not in report
    assert report["frame_gain_db"] == pytest.approx(report["frame_psnr_y"]
                                                    - report["simple_psnr_y"], abs=1e-6)
    assert len(report["per_image"]) == 6 * 4  # 2 photos x 3 motions x 1 triple x 4 tiles
    trainer.save(tmp_path / "f.pt")
    model = load_model(tmp_path / "f.pt", task=task)
    a = torch.rand(1, 3, 16, 16)
    assert torch.equal(model(a, a)[0][0], trainer.model.eval()(a, a)[0][0])


@pytest.mark.parametrize("values,match", [
    ({"frame_layout": "stack"}, "frame_layout must be one of"),
    ({"clip_frames": 2}, "clip_frames must be at least 3"),
    ({"clip_size": 18}, "clip_size 18 must be"),
    ({"stamp": "border"}, "supports stamp=none only"),
    ({"temporal_eval": True}, "supports temporal_eval=False only"),
])
def test_impossible_frame_configs_are_refused(values, match):
    with pytest.raises(ConfigError, match=match):
        from_dict({"task": "predict", **TINY, **values}, budget="smoke")


def test_a_bad_frame_config_exits_2_with_one_line(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "bench.train", "--budget", "smoke",
                           "--set", "task=predict", "--set", "clip_frames=2",
                           "--json", str(tmp_path / "x")], capture_output=True, text=True)
    assert proc.returncode == 2, proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1 and "clip_frames" in proc.stderr
    assert not (tmp_path / "x").exists()


def test_the_report_section_shows_each_group_against_the_baselines():
    import pandas as pd
    from dashboards.frames import frame_section
    rows = [{"label": label, "seed": seed, "image": f"t{i}", "frame_psnr_y": 30 + gain + i,
             "frame_gain_db": gain, "frame_vs_flow_db": gain - 5, "simple_psnr_y": 30 + i,
             "flow_psnr_y": 35 + i, "reverse_psnr_y": 29.0, "reverse_gauss_psnr_y": 20.0}
            for label, gain in (("diff", 1.5), ("frames", 0.2)) for seed in (0, 1)
            for i in range(3)]
    section = frame_section(None, pd.DataFrame(rows))
    assert not section.note and len(section.figure.data) == 3
    assert "diff: vs simple +1.50 [+1.50, +1.50] dB, vs flow -3.50 [-3.50, -3.50] dB" in section.blurb
    empty = frame_section(None, pd.DataFrame([{"label": "a", "seed": 0, "image": "x",
                                               "psnr_y": 30.0}]))
    assert empty.note
