"""`python -m bench.train`: a real single run end to end, its JSON, its checkpoint, errors."""
import json
import subprocess
import sys

import pytest

TINY = ["--budget", "smoke", "--set", "blocks=1", "--set", "gc=8", "--set", "jpeg_eval=50"]


def run(*args):
    return subprocess.run([sys.executable, "-m", "bench.train", *args], capture_output=True,
                          text=True, timeout=600)


def test_single_run_writes_metrics_and_a_usable_checkpoint(tmp_path):
    out, ckpt = tmp_path / "run.json", tmp_path / "model.pt"
    proc = run(*TINY, "--json", str(out), "--save", str(ckpt))
    assert proc.returncode == 0, proc.stderr
    assert "gain_db" in proc.stdout and "bicubic_psnr_y" in proc.stdout
    result = json.loads(out.read_text())
    assert result["config"]["steps"] == 4 and len(result["reports"]) == 2
    rows = result["final"]["per_image"]  # smoke: 64-px crops of 2 photos in 32-px tiles
    assert [r["image"] for r in rows][:2] == ["astronaut@0,0", "astronaut@0,1"]
    assert len(rows) == 8 and all(r["step"] == 4 and r["seed"] == 0 for r in rows)
    assert result["final"]["gain_db"] == pytest.approx(
        sum(r["psnr_y"] - r["bicubic_psnr_y"] for r in rows) / 8)
    for key in ("psnr_y", "bicubic_psnr_y", "jpeg50_psnr_y", "time/data", "time/compute"):
        assert key in result["final"]
    from PIL import Image
    from skimage import data
    photo, lr = tmp_path / "in.png", tmp_path / "lr.png"
    Image.fromarray(data.coffee()[:64, :64]).save(photo)
    rescale = subprocess.run([sys.executable, "-m", "irn.rescale", "down", str(photo), str(lr),
                              "--checkpoint", str(ckpt)], capture_output=True, text=True)
    assert rescale.returncode == 0, rescale.stderr
    assert Image.open(lr).size == (32, 32)


@pytest.mark.parametrize("args,message", [
    (["--set", "colour=red"], "unknown config key 'colour'"),
    (["--set", "scale=3"], "scale must be one of 2, 4, 8"),
    (["--set", "data=/no/such/dir"], "not a folder"),
    (["--set", "patch_size=30", "--set", "scale=4"], "not divisible by scale 4"),
    (["--json", "/no/such/dir/out.json"], "folder for --json does not exist"),
])
def test_bad_input_is_one_line_exit_2(args, message, tmp_path):
    proc = run(*TINY, *args)
    assert proc.returncode == 2
    assert message in proc.stderr and len(proc.stderr.strip().splitlines()) == 1


def test_corrupt_image_folder_is_reported(tmp_path):
    folder = tmp_path / "imgs"
    (folder / "train").mkdir(parents=True)
    (folder / "val").mkdir()
    (folder / "train" / "broken.png").write_bytes(b"garbage")
    proc = run(*TINY, "--set", f"data={folder}")
    lines = proc.stderr.strip().splitlines()
    assert proc.returncode == 2
    assert lines == [f"error: no readable images in {folder / 'train'} (1 unreadable: "
                     "broken.png)"]
