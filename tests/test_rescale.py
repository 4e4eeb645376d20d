"""`python -m irn.rescale` on a real photo: valid files, sizes, padding, clear errors."""
import os
import subprocess
import sys

import numpy as np
import pytest
import torch
from PIL import Image
from skimage import data

from irn.rescale import main, read_rgb
from tests.model_files import random_x2_files
from tests.test_bench_evaluate import CRAFTED, _crafted


@pytest.fixture(scope="module")
def photo(tmp_path_factory):
    # a real photograph, cut to a size that x2 does not divide (exercises reflect padding)
    path = tmp_path_factory.mktemp("img") / "astronaut.png"
    Image.fromarray(data.astronaut()[100:199, 150:252]).save(path)
    return path


@pytest.fixture(scope="module")
def ckpt(tmp_path_factory):
    return random_x2_files(tmp_path_factory.mktemp("ckpt"))


def test_down_then_up_on_a_real_photo(photo, ckpt, tmp_path):
    model, ours, _ = ckpt
    lr_path, hr_path = tmp_path / "lr.png", tmp_path / "hr.png"
    assert main(["down", str(photo), str(lr_path), "--checkpoint", str(ours)]) == 0
    with Image.open(lr_path) as im:
        assert im.format == "PNG" and im.size == (51, 50)  # ceil(102/2), ceil(99/2)
    # the written LR is the model's quantised LR of the reflect-padded image
    hr = read_rgb(photo)
    padded = torch.nn.functional.pad(hr, (0, 0, 0, 1), mode="reflect")
    with torch.no_grad():
        expected = model.downscale(padded)
    assert torch.allclose(read_rgb(lr_path), expected, atol=1e-6)
    assert main(["up", str(lr_path), str(hr_path), "--checkpoint", str(ours)]) == 0
    with Image.open(hr_path) as im:
        assert im.size == (102, 100)
        up = np.asarray(im.convert("RGB")).astype(float)
    # near-identity weights: the round trip is close to the photo (well above chance)
    orig = np.asarray(Image.open(photo).convert("RGB")).astype(float)
    mse = ((up[:99] - orig) ** 2).mean()
    assert 10 * np.log10(255 ** 2 / mse) > 20


def test_official_checkpoint_via_cli(photo, ckpt, tmp_path):
    _, ours, official = ckpt
    a, b = tmp_path / "a.png", tmp_path / "b.png"
    assert main(["down", str(photo), str(a), "--checkpoint", str(ours)]) == 0
    assert main(["down", str(photo), str(b), "--checkpoint", str(official), "--scale", "2"]) == 0
    assert np.array_equal(np.asarray(Image.open(a)), np.asarray(Image.open(b)))


@pytest.mark.parametrize("case,message", [
    ("missing_image", "input image not found"),
    ("corrupt_image", "cannot read image"),
    ("wrong_scale", "not x4"),
    ("official_wrong_scale", "not x4"),
    ("missing_ckpt", "checkpoint not found"),
    ("missing_out_folder", "output folder does not exist"),
    ("float_image", "mode F"),
])
def test_bad_input_is_one_line_and_exit_2(case, message, photo, ckpt, tmp_path):
    _, ours, official = ckpt
    corrupt = tmp_path / "corrupt.png"
    corrupt.write_bytes(b"\x89PNG garbage")
    out = tmp_path / "out.png"
    Image.fromarray(np.ones((16, 16), np.float32)).save(tmp_path / "float.tif")
    args = {
        "missing_out_folder": ["down", str(photo), str(tmp_path / "no" / "out.png"),
                               "--checkpoint", str(ours)],
        "float_image": ["down", str(tmp_path / "float.tif"), str(out), "--checkpoint", str(ours)],
        "missing_image": ["down", str(tmp_path / "nope.png"), str(out), "--checkpoint", str(ours)],
        "corrupt_image": ["down", str(corrupt), str(out), "--checkpoint", str(ours)],
        "wrong_scale": ["down", str(photo), str(out), "--checkpoint", str(ours), "--scale", "4"],
        "official_wrong_scale": ["down", str(photo), str(out), "--checkpoint", str(official),
                                 "--scale", "4"],
        "missing_ckpt": ["down", str(photo), str(out), "--checkpoint", str(tmp_path / "x.pt")],
    }[case]
    proc = subprocess.run([sys.executable, "-m", "irn.rescale", *args], capture_output=True,
                          text=True)
    assert proc.returncode == 2
    assert message in proc.stderr and len(proc.stderr.strip().splitlines()) == 1
    assert not out.exists()


def test_16_bit_input_is_scaled_not_clipped(tmp_path):
    from irn.rescale import read_rgb
    ramp = (np.arange(64 * 64, dtype=np.uint16).reshape(64, 64) * 16)  # 0 .. 65520
    Image.fromarray(ramp).save(tmp_path / "deep.png")
    with Image.open(tmp_path / "deep.png") as im:
        assert im.mode.startswith("I")  # Pillow opens a 16-bit grey PNG as I;16 or I
    x = read_rgb(tmp_path / "deep.png")
    want = torch.from_numpy(np.round(ramp / 257)).float() / 255
    assert torch.equal(x[0, 0], want) and torch.equal(x[0, 1], x[0, 2])
    assert (x == 1).float().mean() < 0.01  # convert("RGB") left 99.6% of the pixels at 255


class _Evil:
    def __reduce__(self):
        return (print, ("this must never run",))


class _Shell:
    """Unpickling it runs a shell command (torch blocks the whole os module)."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


@pytest.mark.parametrize("kind, message", [
    ("pickle", "holds Python objects other than tensors"),
    ("shell", "holds Python objects other than tensors and plain containers (posix.system)"),
    ("truncated", "truncated or not a torch checkpoint"),
    ("garbage", "truncated or not a torch checkpoint"),
    ("empty", "truncated or not a torch checkpoint"),
])
def test_bad_checkpoints_are_one_clean_line(kind, message, ckpt, photo, tmp_path):
    _, ours, _ = ckpt
    bad = tmp_path / "bad.pt"
    if kind == "pickle":
        torch.save({"format": "irn-bench/1", "x": _Evil()}, bad)
    elif kind == "shell":
        torch.save({"model": _Shell(tmp_path / "ran")}, bad)
    elif kind == "truncated":
        bad.write_bytes(ours.read_bytes()[:2000])
    elif kind == "garbage":
        bad.write_bytes(b"not a checkpoint at all" * 10)
    else:
        bad.write_bytes(b"")
    proc = subprocess.run([sys.executable, "-m", "irn.rescale", "down", str(photo),
                           str(tmp_path / "o.png"), "--checkpoint", str(bad)],
                          capture_output=True, text=True)
    assert proc.returncode == 2 and message in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1  # no torch UserWarning before it
    assert "\x1b[" not in proc.stderr and "this must never run" not in proc.stdout
    assert not (tmp_path / "ran").exists()


@pytest.mark.parametrize("kind, message", CRAFTED)
def test_crafted_checkpoints_are_one_clean_line(kind, message, ckpt, photo, tmp_path):
    _, ours, _ = ckpt
    bad = _crafted(kind, ours, tmp_path / "bad.pt")
    out = tmp_path / "o.png"
    proc = subprocess.run([sys.executable, "-m", "irn.rescale", "down", str(photo), str(out),
                           "--checkpoint", str(bad)], capture_output=True, text=True)
    assert proc.returncode == 2 and message in proc.stderr, proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1 and not out.exists()
