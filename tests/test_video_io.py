"""irn.video.io (PyAV): lossless round trips, frame folders in name order, one-line errors,
a real codec's rate and quality moving with the CRF, repeatable bits; `python -m irn.rescale`
on videos and frame folders."""
import os

import numpy as np
import pytest
from PIL import Image
from skimage import data

from irn.rescale import main
from irn.video import io as vio
from irn.video.clips import render_clip
from irn.video.io import VideoError
from tests.model_files import random_x2_files


def _psnr(a, b):
    mse = ((a.astype(float) - b.astype(float)) ** 2).mean()
    return 10 * np.log10(255 ** 2 / mse)


@pytest.fixture(scope="module")
def clip():
    """6 frames of 64 x 64 panning over a real photo."""
    return render_clip(data.astronaut(), 6, (64, 64), "pan", seed=0)


def _ramp_clip(frames=6, h=64, w=64):
    """Textured frames whose mean brightness rises with t (order survives a lossy codec)."""
    rng = np.random.default_rng(1)
    base = rng.integers(0, 40, (h, w, 3))
    t = np.arange(frames)[:, None, None, None]
    return np.clip(30 + 30 * t + base, 0, 255).astype(np.uint8)


def _one_line_error(exc_info, *parts):
    msg = str(exc_info.value)
    assert "\n" not in msg
    for part in parts:
        assert str(part) in msg


# ---------------------------------------------------------------- files and folders

def test_ffv1_round_trip_is_lossless(tmp_path):
    rng = np.random.default_rng(0)
    frames = rng.integers(0, 256, (6, 40, 56, 3), dtype=np.uint8)
    path = tmp_path / "clip.mkv"
    vio.write_video(frames, path, codec="ffv1", fps=30)
    back = vio.read_video(path)
    assert back.shape == frames.shape and back.dtype == np.uint8
    assert np.array_equal(back, frames)  # every pixel, every frame, in order
    assert vio.probe_video(path)["fps"] == pytest.approx(30)
    assert os.listdir(tmp_path) == ["clip.mkv"]  # no temp file left


def test_x264_crf0_yuv444_is_near_lossless_and_odd_sizes_come_back(tmp_path):
    frames = _ramp_clip(5, 33, 47)
    near = tmp_path / "near.mp4"
    vio.write_video(frames, near, codec="libx264", crf=0, pix_fmt="yuv444p")
    back = vio.read_video(near)
    assert back.shape == frames.shape
    assert np.abs(back.astype(int) - frames).max() <= 2  # RGB <-> YUV rounding only
    # 4:2:0 needs even sides: padded on write, cropped back on read from the size tag
    lossy = tmp_path / "lossy.mp4"
    vio.write_video(frames, lossy, crf=18)
    assert vio.read_video(lossy).shape == frames.shape
    assert vio.probe_video(lossy)["width"] == 47


def test_frame_folder_reads_in_name_order(tmp_path):
    folder = tmp_path / "clip"
    folder.mkdir()
    for i in [10, 2, 0, 1, 9]:  # natural order 0 1 2 9 10, not 0 1 10 2 9
        Image.fromarray(np.full((8, 12, 3), i * 20, np.uint8)).save(folder / f"f{i}.png")
    (folder / "notes.txt").write_text("not a frame")
    clip = vio.read_clip(folder)
    assert clip.shape == (5, 8, 12, 3)
    assert clip[:, 0, 0, 0].tolist() == [0, 20, 40, 180, 200]


def test_clip_folders_lists_frame_folders_and_videos_by_name(tmp_path):
    for name in ("b_clip", "a_clip"):
        (tmp_path / name).mkdir()
        Image.fromarray(np.zeros((8, 8, 3), np.uint8)).save(tmp_path / name / "00000000.png")
    (tmp_path / "empty").mkdir()
    vio.write_video(_ramp_clip(2, 16, 16), tmp_path / "c_video.mkv", codec="ffv1")
    (tmp_path / "readme.txt").write_text("x")
    assert [n for n, _ in vio.clip_folders(tmp_path)] == ["a_clip", "b_clip", "c_video"]


@pytest.mark.parametrize("case", ["corrupt", "missing", "mixed_sizes", "too_short", "no_frames",
                                  "not_video"])
def test_bad_clips_are_one_line_video_errors(case, tmp_path):
    corrupt = tmp_path / "corrupt.mp4"
    corrupt.write_bytes(np.random.default_rng(0).integers(0, 256, 4096, np.uint8).tobytes())
    mixed = tmp_path / "mixed"
    mixed.mkdir()
    Image.fromarray(np.zeros((8, 8, 3), np.uint8)).save(mixed / "0.png")
    Image.fromarray(np.zeros((8, 10, 3), np.uint8)).save(mixed / "1.png")
    short = tmp_path / "short.mkv"
    vio.write_video(_ramp_clip(2, 16, 16), short, codec="ffv1")
    (tmp_path / "empty").mkdir()
    (tmp_path / "image.png").write_bytes(b"")
    path, kwargs, parts = {
        "corrupt": (corrupt, {}, ["cannot read video", corrupt]),
        "missing": (tmp_path / "nope.mp4", {}, ["not found", "nope.mp4"]),
        "mixed_sizes": (mixed, {}, ["different sizes", "1.png"]),
        "too_short": (short, {"min_frames": 3}, ["2 frame(s)", "at least 3"]),
        "no_frames": (tmp_path / "empty", {}, ["no PNG/JPEG frames"]),
        "not_video": (tmp_path / "image.png", {}, ["not a video file"]),
    }[case]
    with pytest.raises(VideoError) as exc_info:
        vio.read_clip(path, **kwargs)
    _one_line_error(exc_info, *parts)


def test_a_failed_write_leaves_nothing(tmp_path, monkeypatch):
    frames = _ramp_clip(4, 16, 16)
    with pytest.raises(ValueError):  # refused before any work
        vio.write_video(frames, tmp_path / "x.webm", codec="libx264")
    calls = []

    def broken(rgb, pix_fmt):
        calls.append(1)
        if len(calls) == 3:
            raise OSError("disk full")
        return real(rgb, pix_fmt)

    real = vio._video_frame
    monkeypatch.setattr(vio, "_video_frame", broken)
    with pytest.raises(VideoError, match="disk full"):
        vio.write_video(frames, tmp_path / "x.mp4")
    assert os.listdir(tmp_path) == []  # neither the video nor a temp file


# ---------------------------------------------------------------- the codec round trip

def test_encode_decode_rate_and_quality_follow_the_crf(clip):
    good, bits_good = vio.encode_decode(clip, crf=23)
    bad, bits_bad = vio.encode_decode(clip, crf=40)
    assert good.shape == bad.shape == clip.shape
    assert bits_bad < bits_good
    assert _psnr(bad, clip) < _psnr(good, clip)
    assert _psnr(good, clip) > 30  # a real H.264 round trip, not noise


def test_encode_decode_is_repeatable(clip):
    a, bits_a = vio.encode_decode(clip, crf=28)
    b, bits_b = vio.encode_decode(clip, crf=28)
    assert bits_a == bits_b
    assert np.array_equal(a, b)


def test_encode_decode_counts_the_stream_not_the_x264_banner():
    # one flat grey frame codes to a few dozen bytes; x264's options SEI alone is ~700
    flat = np.full((1, 64, 64, 3), 128, np.uint8)
    _, bits = vio.encode_decode(flat, crf=23)
    assert bits < 8 * 300


# ---------------------------------------------------------------- python -m irn.rescale

@pytest.fixture(scope="module")
def ckpt(tmp_path_factory):
    return random_x2_files(tmp_path_factory.mktemp("ckpt"))[1]


def test_rescale_video_round_trip_keeps_count_size_and_order(ckpt, tmp_path, capsys):
    frames = _ramp_clip()
    src, lr, hr = tmp_path / "in.mp4", tmp_path / "lr.mp4", tmp_path / "hr.mkv"
    vio.write_video(frames, src, crf=0, pix_fmt="yuv444p")
    assert main(["down", str(src), str(lr), "--checkpoint", str(ckpt)]) == 0
    assert main(["up", str(lr), str(hr), "--checkpoint", str(ckpt), "--codec", "ffv1"]) == 0
    low, high = vio.read_video(lr), vio.read_video(hr)
    assert low.shape == (6, 32, 32, 3) and high.shape == (6, 64, 64, 3)
    for clip in (low, high):
        means = clip.reshape(6, -1).mean(axis=1)
        assert np.all(np.diff(means) > 10)  # frame order kept (means rise by ~30 per frame)
    # a frame folder out (and back in): 00000000.png ...
    out = str(tmp_path / "frames") + "/"
    assert main(["up", str(lr), out, "--checkpoint", str(ckpt), "--z", "gaussian"]) == 0
    assert sorted(os.listdir(out)) == [f"{i:08d}.png" for i in range(6)]
    assert main(["down", out, str(tmp_path / "lr2.mkv"), "--checkpoint", str(ckpt),
                 "--codec", "ffv1"]) == 0
    assert vio.read_video(tmp_path / "lr2.mkv").shape == (6, 32, 32, 3)
    assert "6 frames" in capsys.readouterr().out


def test_rescale_odd_lr_sizes_survive_the_video(ckpt, tmp_path):
    frames = _ramp_clip(3, 30, 42)  # x2 -> 15 x 21: odd, padded in 4:2:0 and cropped back
    src, lr = tmp_path / "in.mkv", tmp_path / "lr.mp4"
    vio.write_video(frames, src, codec="ffv1")
    assert main(["down", str(src), str(lr), "--checkpoint", str(ckpt)]) == 0
    assert vio.read_video(lr).shape == (3, 15, 21, 3)


@pytest.mark.parametrize("case,message", [
    ("missing_video", "input video not found"),
    ("corrupt_video", "cannot read video"),
    ("image_out", "goes to a video file"),
    ("unsupported_out", "goes to a video file"),
    ("missing_out_folder", "output folder does not exist"),
    ("codec_container", "holds libvpx-vp9"),
    ("crf_range", "CRF must be an integer in 0..51"),
    ("full_out_folder", "output folder is not empty"),
    ("empty_frame_folder", "no PNG/JPEG frames"),
    ("crf_for_image", "are for a video input"),
])
def test_rescale_bad_video_input_is_one_line_exit_2_and_writes_nothing(case, message, tmp_path,
                                                                         capsys):
    good = tmp_path / "in.mkv"
    vio.write_video(_ramp_clip(2, 16, 16), good, codec="ffv1")
    corrupt = tmp_path / "bad.mp4"
    corrupt.write_bytes(b"\x00\x00\x00\x18ftypmp42 garbage" * 50)
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "keep.png").write_bytes(b"x")
    (tmp_path / "empty").mkdir()
    Image.fromarray(np.zeros((8, 8, 3), np.uint8)).save(tmp_path / "photo.png")
    before = sorted(os.listdir(tmp_path))
    args = {
        "missing_video": [tmp_path / "nope.mp4", tmp_path / "o.mp4"],
        "corrupt_video": [corrupt, tmp_path / "o.mp4"],
        "image_out": [good, tmp_path / "o.png"],
        "unsupported_out": [good, tmp_path / "o.xyz"],
        "missing_out_folder": [good, tmp_path / "no" / "o.mp4"],
        "codec_container": [good, tmp_path / "o.webm", "--codec", "libx264"],
        "crf_range": [good, tmp_path / "o.mp4", "--crf", "99"],
        "full_out_folder": [good, tmp_path / "full"],
        "empty_frame_folder": [tmp_path / "empty", tmp_path / "o.mp4"],
        "crf_for_image": [tmp_path / "photo.png", tmp_path / "o.png", "--crf", "20"],
    }[case]
    # the checkpoint does not exist: every input error must come before the model loads
    rc = main(["down", *map(str, args), "--checkpoint", str(tmp_path / "missing.pt")])
    err = capsys.readouterr().err
    assert rc == 2
    assert err.startswith("error: ") and err.count("\n") == 1 and message in err
    assert sorted(os.listdir(tmp_path)) == before
    assert os.listdir(tmp_path / "empty") == []


def test_rescale_up_draws_frame_i_z_with_seed_plus_i(ckpt, tmp_path):
    lr = tmp_path / "lr"
    lr.mkdir()
    for i, frame in enumerate(_ramp_clip(5, 16, 16)):
        Image.fromarray(frame).save(lr / f"{i:08d}.png")
    out = str(tmp_path / "up") + "/"
    assert main(["up", str(lr), out, "--checkpoint", str(ckpt), "--z", "gaussian",
                 "--seed", "5"]) == 0
    one = tmp_path / "one.png"  # the image path, frame 3 with seed 5 + 3
    assert main(["up", str(lr / "00000003.png"), str(one), "--checkpoint", str(ckpt),
                 "--z", "gaussian", "--seed", "8"]) == 0
    frames = vio.read_clip(out)
    assert np.array_equal(frames[3], np.asarray(Image.open(one)))
    assert not np.array_equal(frames[2], np.asarray(Image.open(one)))
