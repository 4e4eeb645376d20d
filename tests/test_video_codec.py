"""irn.video.codec (flicker, BD-PSNR, the rate-distortion points of the model, bicubic and
HR-direct pipelines) and `python -m bench.evaluate --video` end to end."""
import json
import os

import numpy as np
import pytest
from skimage import data

from bench.evaluate.command import main
from irn.video.clips import render_clip
from irn.video.codec import PIPELINES, bd_psnr, clip_bd, flicker, rd_points, y_psnr_frames
from tests.model_files import random_x2_files


@pytest.fixture(scope="module")
def clip():
    return render_clip(data.astronaut(), 4, (64, 64), "pan", seed=0)


@pytest.fixture(scope="module")
def model_files(tmp_path_factory):
    return random_x2_files(tmp_path_factory.mktemp("ckpt"))


def test_flicker_is_zero_for_the_truth_and_grows_with_per_frame_noise(clip):
    assert flicker(clip, clip) == 0
    rng = np.random.default_rng(0)
    noisy = np.clip(clip + rng.normal(0, 3, clip.shape), 0, 255).astype(np.uint8)
    noisier = np.clip(clip + rng.normal(0, 9, clip.shape), 0, 255).astype(np.uint8)
    assert 0 < flicker(noisy, clip) < flicker(noisier, clip)
    # the same error in every frame does not flicker (y_psnr sees it)
    shifted = np.clip(clip.astype(int) + 10, 0, 255).astype(np.uint8)
    assert flicker(shifted[:, 8:-8, 8:-8], clip[:, 8:-8, 8:-8]) < 0.05
    assert y_psnr_frames(shifted, clip, 2) < 30
    assert y_psnr_frames(clip, clip, 2) == float("inf")


def test_bd_psnr_of_a_curve_shifted_by_one_db_is_one():
    rate = np.array([100.0, 180.0, 330.0, 600.0, 1100.0])
    psnr = 30 + 4 * np.log10(rate) - 0.3 * np.log10(rate) ** 2
    assert bd_psnr(rate, psnr + 1, rate, psnr) == pytest.approx(1.0, abs=1e-6)
    assert bd_psnr(rate, psnr, rate, psnr + 1) == pytest.approx(-1.0, abs=1e-6)
    # curve b on other rates, same underlying curve: 0 over the overlap
    rate_b = rate * 1.3
    psnr_b = 30 + 4 * np.log10(rate_b) - 0.3 * np.log10(rate_b) ** 2
    assert bd_psnr(rate, psnr, rate_b, psnr_b) == pytest.approx(0.0, abs=1e-6)
    assert bd_psnr(rate, psnr, rate * 100, psnr) is None  # no common rate range
    assert bd_psnr(rate[:2], psnr[:2] + 2, rate[:2], psnr[:2]) == pytest.approx(2.0)  # linear


def test_rd_points_cover_every_pipeline_and_rate_falls_with_crf(clip, model_files):
    model = model_files[0]
    crfs = [23, 33, 43]
    points = rd_points(clip, model, 2, crfs)
    assert sorted({p["pipeline"] for p in points}) == sorted(PIPELINES)
    assert len(points) == 3 * len(crfs)
    for pipeline in PIPELINES:
        curve = sorted((p for p in points if p["pipeline"] == pipeline), key=lambda p: p["crf"])
        bpp = [p["bpp"] for p in curve]
        assert all(a > b for a, b in zip(bpp, bpp[1:])), (pipeline, bpp)
        assert all(np.isfinite(p["y_psnr"]) and p["flicker"] > 0 for p in curve)
    hr = [p for p in points if p["pipeline"] == "hr"]
    assert [p["codec_crf"] for p in hr] == [29, 39, 49]  # crf + 6 log2(2)
    assert all(p["bpp"] == p["bits"] / (4 * 64 * 64) for p in points)
    bd = clip_bd(points)
    assert set(bd) == {"model_vs_bicubic", "model_vs_hr"}


def test_bench_evaluate_video_end_to_end(model_files, tmp_path, capsys):
    out = tmp_path / "video.json"
    rc = main(["--video", "--checkpoint", str(model_files[1]), "--frames", "4", "--size", "64",
               "--crf", "23,33", "--json", str(out)])
    text = capsys.readouterr().out
    assert rc == 0
    assert "BD-PSNR model vs bicubic" in text and "BD-PSNR model vs hr" in text
    result = json.loads(out.read_text())
    assert result["setup"]["n_clips"] == 6 and result["setup"]["n_frames"] == 24
    assert len(result["clips"]) == 6
    assert {(r["pipeline"], r["crf"]) for r in result["summary"]} == {
        (p, c) for p in PIPELINES for c in (23, 33)}
    for key in ("model_vs_bicubic", "model_vs_hr"):
        stat = result["bd_psnr"][key]
        assert stat["n_clips"] == 6 and stat["ci95"][0] <= stat["mean"] <= stat["ci95"][1]
    assert all(len(c["points"]) == 6 for c in result["clips"])


def test_bench_evaluate_video_reads_a_clip_folder(model_files, tmp_path, capsys):
    from irn.video.io import write_video
    clips = tmp_path / "clips"
    clips.mkdir()
    write_video(render_clip(data.astronaut(), 3, (40, 52), "zoom", 1), clips / "a.mkv",
                codec="ffv1")
    out = tmp_path / "v.json"
    assert main(["--video", "--checkpoint", str(model_files[1]), "--clips", str(clips),
                 "--crf", "30,40", "--json", str(out)]) == 0
    capsys.readouterr()
    (only,) = json.loads(out.read_text())["clips"]
    assert (only["name"], only["frames"], only["height"], only["width"]) == ("a", 3, 40, 52)


@pytest.mark.parametrize("extra,message", [
    (["--crf", "23,abc"], "give integers"),
    (["--crf", "99"], "CRF must be an integer in 0..51"),
    (["--crf", ""], "at least one CRF"),
    (["--codec", "ffv1"], "choose a lossy codec"),
    (["--frames", "1"], "--frames must be >= 2"),
    (["--preset", "warp9"], "unknown preset 'warp9'"),
    (["--data", "embedded"], "not --data"),
    (["--clips", "/nonexistent/clips"], "clips not found"),
])
def test_bench_evaluate_video_bad_input_is_exit_2(extra, message, model_files, tmp_path, capsys):
    out = tmp_path / "v.json"
    rc = main(["--video", "--checkpoint", str(model_files[1]), "--json", str(out), *extra])
    err = capsys.readouterr().err
    assert rc == 2 and err.startswith("error: ") and err.count("\n") == 1 and message in err
    assert not os.path.exists(out)
