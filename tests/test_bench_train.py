"""`python -m bench.train`: a real single run end to end, its JSON, its checkpoint, errors.

Two tests start an interpreter (the real process: its exit status and its whole stderr);
the other errors are checked in-process through bench.sweep.train.main, which the command runs.
"""
import json
import subprocess
import sys

import pytest

from bench.sweep import train
from irn import rescale

TINY = ["--budget", "smoke", "--set", "blocks=1", "--set", "gc=8", "--set", "jpeg_eval=50"]


def run_process(*args):
    return subprocess.run([sys.executable, "-m", "bench.train", *args], capture_output=True,
                          text=True, timeout=600)


def run_in_process(args, capsys):
    """(exit status, stderr lines) of bench.sweep.train.main(args)."""
    try:
        code = train.main(list(args))
    except SystemExit as exc:  # argparse errors
        code = exc.code
    return code, capsys.readouterr().err.strip().splitlines()


def test_single_run_writes_metrics_and_a_usable_checkpoint(tmp_path, capsys):
    out, ckpt = tmp_path / "run.json", tmp_path / "model.pt"
    proc = run_process(*TINY, "--json", str(out), "--save", str(ckpt))
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
    assert rescale.main(["down", str(photo), str(lr), "--checkpoint", str(ckpt)]) == 0, \
        capsys.readouterr().err
    assert Image.open(lr).size == (32, 32)


def test_bad_input_from_the_real_process_is_one_line_exit_2():
    proc = run_process(*TINY, "--set", "colour=red")
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: unknown config key 'colour'; valid")


@pytest.mark.parametrize("args,message", [
    (["--set", "colour=red"], "unknown config key 'colour'"),
    (["--set", "scale=3"], "scale must be one of 2, 4, 8"),
    (["--set", "data=/no/such/dir"], "not a folder"),
    (["--set", "patch_size=30", "--set", "scale=4"], "not divisible by scale 4"),
    (["--json", "/no/such/dir/out.json"], "folder for --json does not exist"),
])
def test_bad_input_is_one_line_exit_2(args, message, capsys):
    code, lines = run_in_process([*TINY, *args], capsys)
    assert code == 2
    assert len(lines) == 1 and lines[0].startswith("error: ") and message in lines[0]


def test_corrupt_image_folder_is_reported(tmp_path, capsys):
    folder = tmp_path / "imgs"
    (folder / "train").mkdir(parents=True)
    (folder / "val").mkdir()
    (folder / "train" / "broken.png").write_bytes(b"garbage")
    code, lines = run_in_process([*TINY, "--set", f"data={folder}"], capsys)
    assert code == 2
    assert lines == [f"error: no readable images in {folder / 'train'} (1 unreadable: "
                     "broken.png)"]
