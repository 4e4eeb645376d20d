"""The video studies' plumbing: the codec study's metrics in a rescaling trial
(irn/video/codec_study.py) and the frame tasks on real clip folders (irn/video/triples.py)."""
import math

import numpy as np
import pytest
from PIL import Image

from irn.config import ConfigError, from_dict
from irn.train import Trainer
from irn.video.codec_study import VIDEO_CRFS
from irn.video.triples import TrainTriples, val_triples

CODEC = {"blocks": 1, "gc": 8, "jpeg_eval": "", "video_eval": True, "val_max_size": 128,
         "val_tile": 0}


def test_a_rescaling_trial_measures_its_lr_through_h264():
    trainer = Trainer(from_dict(CODEC, budget="smoke"))
    first, second = list(trainer.run())
    for crf in VIDEO_CRFS:
        for prefix in ("", "bicubic_", "hr_"):
            for kind in ("psnr_y", "bpp", "flicker"):
                assert math.isfinite(first[f"{prefix}h264_crf{crf}_{kind}"]), (prefix, crf, kind)
    # more rate at a lower CRF; the bicubic and HR pipelines do not depend on the model
    assert first["h264_crf23_bpp"] > first["h264_crf35_bpp"]
    assert first["bicubic_h264_crf29_psnr_y"] == second["bicubic_h264_crf29_psnr_y"]
    assert first["hr_h264_crf35_bpp"] == second["hr_h264_crf35_bpp"]
    assert math.isfinite(first["h264_bd_vs_bicubic_db"]) and math.isfinite(first["h264_bd_vs_hr_db"])
    assert len(first["per_image"]) == 2


@pytest.mark.parametrize("values,match", [
    ({"val_tile": 64}, "video_eval renders 64-px clips"),
    ({"task": "stego", "batch_size": 2}, "video_eval is for task=rescale"),
])
def test_impossible_codec_configs_are_refused(values, match):
    with pytest.raises(ConfigError, match=match):
        from_dict({**CODEC, **values}, budget="smoke")


def _clip_folder(root, name, frames, size, shift):
    folder = root / name
    folder.mkdir(parents=True)
    base = np.random.default_rng(len(name)).integers(0, 256, (size + 2 * frames, size + 2 * frames, 3),
                                                     dtype=np.uint8)
    for t in range(frames):
        Image.fromarray(base[t * shift:t * shift + size, :size]).save(folder / f"{t:08d}.png")


def test_frame_tasks_read_real_clip_folders(tmp_path):
    for split, names in (("train", ("a", "bb")), ("val", ("c",))):
        for name in names:
            _clip_folder(tmp_path / split, name, 5, 48, shift=1)
    triples = TrainTriples(str(tmp_path), 32, seed=0)
    assert triples.kind == "clips" and triples.sample(0).shape == (9, 32, 32)
    assert triples.sample(1).equal(TrainTriples(str(tmp_path), 32, seed=0).sample(1))
    val = val_triples(str(tmp_path), 4, 48, 2)
    assert val.names == ["c#0", "c#1"] and val[0][0].shape == (1, 9, 48, 48)
    # the frames are the files' pixels: frame 1 of triple 0 is frame 0 moved by one row
    x = val[0][0][0]
    assert x[3:6, :-1].equal(x[0:3, 1:])


def test_a_clip_shorter_than_a_triple_is_refused(tmp_path):
    _clip_folder(tmp_path / "train", "a", 2, 48, shift=1)
    _clip_folder(tmp_path / "val", "b", 5, 48, shift=1)
    with pytest.raises(ValueError, match=r"has 2 frame\(s\); at least 3 needed"):
        TrainTriples(str(tmp_path), 32, seed=0)


def test_bench_train_runs_a_frame_task_on_clip_folders_and_refuses_bad_video(tmp_path):
    import subprocess
    import sys
    for split, names in (("train", ("a",)), ("val", ("c",))):
        for name in names:
            _clip_folder(tmp_path / split, name, 4, 48, shift=1)
    common = [sys.executable, "-m", "bench.train", "--budget", "smoke", "--set", "task=predict",
              "--set", "clip_size=48", "--set", "clip_frames=3", "--set", "val_tile=0",
              "--set", "jpeg_eval=", "--set", f"data={tmp_path}"]
    ok = subprocess.run(common + ["--json", str(tmp_path / "ok.json")], capture_output=True,
                        text=True)
    assert ok.returncode == 0, ok.stderr
    assert "frame_psnr_y" in (tmp_path / "ok.json").read_text()
    (tmp_path / "train" / "broken.mp4").write_bytes(b"\x00not a video" * 100)
    bad = subprocess.run(common + ["--json", str(tmp_path / "bad.json")], capture_output=True,
                         text=True)
    assert bad.returncode == 2 and len(bad.stderr.strip().splitlines()) == 1, bad.stderr
    assert "broken.mp4" in bad.stderr and not (tmp_path / "bad.json").exists()


FRAME_SPACE = '''
from ray import tune
SPACE = {"task": "interpolate", "frame_layout": tune.grid_search(["diff", "frames"]),
         "blocks": 1, "gc": 8, "jpeg_eval": "", "clip_size": 64, "clip_frames": 3,
         "val_tile": 32}
TUNE = {"metric": "frame_gain_db", "searcher": "grid", "budget": "smoke", "seeds": 1,
        "compare": ["frame_vs_flow_db"], "reference": {"frame_layout": "diff"}}
'''


def test_a_frame_sweep_runs_through_ray_mlflow_and_the_report(ray_local, tmp_path):
    import json

    from bench.sweep.command import parse_args, run_sweep
    from tests.test_sweep import sweep_args
    space = tmp_path / "frames.py"
    space.write_text(FRAME_SPACE)
    assert run_sweep(parse_args(sweep_args(tmp_path, str(space)))) == 0
    out = json.loads((tmp_path / "out.json").read_text())
    assert {g["label"] for g in out["groups"]} == {"diff", "frames"}
    assert all(t["status"] == "FINISHED" and len(t["per_image"]) == 24 for t in out["trials"])
    assert out["also"][0]["metric"] == "frame_vs_flow_db"
    html = next(p for p in (tmp_path).rglob("report.html"))
    assert "Frame prediction / interpolation" in html.read_text()
