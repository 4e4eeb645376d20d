"""Independent levels (irn/levels.py, bench/sweep/levels.py): the cascade is exactly
invertible, composes trained x2 levels stage by stage, refuses what it cannot be, and a levels
sweep trains its levels as trials of their own, then composes and evaluates them, also after
an interrupt and --resume."""
import json
import os
import signal
import subprocess
import sys

import pytest
import torch

from irn.config import ConfigError, from_dict
from irn.levels import compose, level_config, n_levels
from irn.model import build_model
from tests.test_model import perturbed

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.mark.parametrize("scale", [4, 8])
def test_cascade_round_trip_is_exact_and_equals_its_levels_chained(scale):
    cfg = from_dict({"scale": scale, "architecture": "levels", "blocks": 2, "gc": 8})
    levels = [perturbed(build_model(**level_config(cfg, k).arch()), seed=k)
              for k in range(1, n_levels(scale) + 1)]
    model = compose(cfg, [m.state_dict() for m in levels]).eval()
    x = torch.rand(2, 3, 64, 64)
    with torch.no_grad():
        y, _ = model(x)
        back, _ = model(y, rev=True)
        assert (back - x).abs().max() < 1e-5  # fp32
        h, latents = x, []
        for level in levels:  # level k maps level k-1's LR
            out, _ = level(h)
            h, z = out[:, :3], out[:, 3:]
            latents.append(z)
    assert y.shape == (2, 3 * scale ** 2, 64 // scale, 64 // scale)
    assert torch.allclose(y[:, :3], h, atol=1e-6)  # the cascade's LR is the last level's
    assert torch.allclose(y[:, 3:12], latents[-1], atol=1e-6)


def test_level_configs_train_x2_on_the_shrunk_photos_for_their_share_of_steps():
    cfg = from_dict({"scale": 8, "architecture": "levels", "steps": 100})
    assert [level_config(cfg, k).downsample for k in (1, 2, 3)] == [1, 2, 4]
    assert {level_config(cfg, k).scale for k in (1, 2, 3)} == {2}
    assert level_config(cfg, 1).steps == 34  # split: the cascade's total >= the joint's 100
    assert level_config(cfg.replace(level_steps="each"), 2).steps == 100


@pytest.mark.parametrize("values, message", [
    ({"architecture": "levels", "scale": 2}, "needs scale 4 or 8"),
    ({"architecture": "levels", "scale": 4, "multiscale_depth": 1}, "leave multiscale_depth"),
    ({"architecture": "levels", "scale": 4, "level": 3}, "level=3 names a level"),
    ({"scale": 4, "level": 1}, "got architecture=joint"),
    ({"downsample": 3}, "power of 2"),
])
def test_impossible_levels_configs_are_refused(values, message):
    with pytest.raises(ConfigError, match=message):
        from_dict(values)


def _cli(*args, cwd):
    p = subprocess.run([sys.executable, *args], capture_output=True, text=True, cwd=cwd,
                       timeout=300)
    return p.returncode, p.stderr.strip().splitlines()


def test_level_checkpoints_compose_into_a_model_file_and_bad_ones_are_one_line(tmp_path):
    for k in (1, 2):
        code, _ = _cli("-m", "bench.train", "--budget", "smoke", "--set", "architecture=levels",
                       "--set", "scale=4", "--set", f"level={k}", "--set", "blocks=1",
                       "--set", "gc=8", "--save", str(tmp_path / f"L{k}.pt"), cwd=tmp_path)
        assert code == 0
    code, _ = _cli("-m", "irn.levels", str(tmp_path / "C.pt"), str(tmp_path / "L1.pt"),
                   str(tmp_path / "L2.pt"), cwd=tmp_path)
    assert code == 0
    from irn.checkpoint import load_model
    model = load_model(tmp_path / "C.pt")
    assert model.scale == 4 and model.architecture == "levels"
    for args, message in [((tmp_path / "L1.pt", tmp_path / "missing.pt"), "checkpoint not found"),
                          ((tmp_path / "L2.pt", tmp_path / "L1.pt"), "level 2 needs 1/4"),
                          ((tmp_path / "L1.pt",), "2 (x4) or 3 (x8) levels")]:
        code, err = _cli("-m", "irn.levels", str(tmp_path / "D.pt"), *map(str, args), cwd=tmp_path)
        assert code == 2 and len(err) == 1 and message in err[0], err
    assert not (tmp_path / "D.pt").exists()
    code, err = _cli("-m", "bench.train", "--set", "architecture=levels", "--set", "scale=2",
                     cwd=tmp_path)
    assert code == 2 and len(err) == 1 and "needs scale 4 or 8" in err[0]


LEVELS_SPACE = ("from ray import tune\n"
                "SPACE = {'blocks': 1, 'gc': 8, 'scale': 4,\n"
                "         'architecture': tune.grid_search(['joint', 'levels'])}\n"
                "TUNE = {'budget': 'smoke'}\n")


def test_levels_sweep_composes_after_an_interrupt_and_resume(ray_local, tmp_path):
    from mlflow.tracking import MlflowClient

    from bench.sweep.command import parse_args, run_sweep
    from tests.test_sweep import InterruptAfterFirst, Recorder, sweep_args
    space = tmp_path / "levels.py"
    space.write_text(LEVELS_SPACE)
    first = InterruptAfterFirst()  # Ctrl+C once the first level has finished
    assert run_sweep(parse_args(sweep_args(tmp_path, str(space), "--max-concurrent", "1")),
                     callbacks=[first]) == 130
    [sweep_dir] = [os.path.join(r, d) for r, ds, _ in os.walk(tmp_path / "runs") for d in ds
                   if d.startswith("levels")][:1]
    plan = json.loads(open(os.path.join(sweep_dir, "irn_levels.json")).read())
    assert plan["points"] == [{"architecture": "levels", "level": 1},
                              {"architecture": "levels", "level": 2}]
    again = Recorder()
    assert run_sweep(parse_args(sweep_args(tmp_path, str(space), "--resume")),
                     callbacks=[again]) == 0
    assert first.started[0] not in again.started  # the finished level is not trained again
    out = json.loads((tmp_path / "out.json").read_text())
    assert [(r["level"], r["status"]) for r in out["levels"]] == [(1, "FINISHED"),
                                                                 (2, "FINISHED")]
    trials = {t["label"]: t for t in out["trials"]}
    assert set(trials) == {"joint", "levels"}
    assert all(t["status"] == "FINISHED" and len(t["per_image"]) == 8 for t in trials.values())
    composed = trials["levels"]["metrics"]
    assert composed["levels/train_wall_sum_s"] >= composed["levels/train_wall_max_s"] > 0
    assert trials["levels"]["step"] == 4  # the cascade's steps: 2 per level
    assert {g["label"] for g in out["groups"]} == {"joint", "levels"}
    from dashboards.levels import levels_table
    section = levels_table(out)  # the report's levels section, from this summary
    rows = section.table.set_index("group")
    assert rows.loc["levels", "levels: x2 psnr_y per level (dB)"].startswith("1: ")
    assert rows.loc["joint", "levels: wall per level (s)"] == ""
    assert levels_table({"groups": out["groups"]}).note  # no cascade: left out
    client = MlflowClient(f"sqlite:///{tmp_path}/mlflow.db")
    exp = client.get_experiment_by_name("t")
    level_runs = client.search_runs([exp.experiment_id], "tags.`irn.role` = 'level'")
    assert sorted(r.info.run_name for r in level_runs) == ["levels|s0|level1",
                                                           "levels|s0|level2"]
    assert len(client.search_runs([exp.experiment_id], "tags.`irn.role` = 'trial'")) == 2
    # a finished level whose checkpoint is gone: one line, exit 2, before composing again
    ckpt = next(os.path.join(r, f) for r, _, fs in os.walk(os.path.join(sweep_dir, "levels"))
                for f in fs if f == "trainer.pt")
    os.remove(ckpt)
    assert run_sweep(parse_args(sweep_args(tmp_path, str(space), "--resume"))) == 2
    [parent] = client.search_runs([exp.experiment_id], "tags.`irn.role` = 'sweep'")
    assert parent.info.status == "FINISHED"  # the refusal leaves the finished sweep as it was
