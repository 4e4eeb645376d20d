"""bench.versus: two sweeps' summaries paired by group, seed and image (the statistics on
made-up summaries with known answers; a real sweep's summary in tests/test_sweep.py)."""
import json

import numpy as np
import pytest

from bench.sweep.versus import main

IMAGES = [f"img{i}" for i in range(16)]


def summary(shift=0.0, seed_shift=None, amp="off", labels=("l1", "l2"), seeds=(0, 1),
            noise=0.05, time_s=100.0, wall=500.0, drop_per_image=False):
    """A sweep summary whose psnr_y is image difficulty + group + seed effects + noise,
    moved by `shift` dB (and per seed by `seed_shift[seed]`)."""
    rng = np.random.default_rng(0)
    difficulty = rng.normal(30, 2, len(IMAGES))
    trials = []
    for g, label in enumerate(labels):
        for seed in seeds:
            cell_noise = np.random.default_rng(100 * g + seed).normal(0, noise, len(IMAGES))
            extra = (seed_shift or {}).get(seed, 0.0)
            values = difficulty + 0.3 * g + 0.1 * seed + cell_noise + shift + extra
            rows = [{"image": im, "seed": seed, "step": 10, "psnr_y": float(v),
                     "ssim_y": 0.9} for im, v in zip(IMAGES, values)]
            trials.append({"label": label, "seed": seed, "status": "FINISHED",
                           "time_wall_s": time_s, "precision": "bf16" if amp != "off" else
                           "fp32", "layout": "channels_last",
                           "per_image": [] if drop_per_image else rows})
    return {"objective": "psnr_y", "trials": trials, "overhead": {"wall_s": wall},
            "base_config": {"amp": amp, "steps": 10}}


def write(tmp_path, name, data):
    path = tmp_path / name
    path.write_text(json.dumps(data))
    return str(path)


def run(tmp_path, before, after, *extra):
    out = tmp_path / "versus.json"
    rc = main([write(tmp_path, "a.json", before), write(tmp_path, "b.json", after),
               "--json", str(out), *extra])
    return rc, (json.loads(out.read_text()) if rc == 0 else None)


def test_a_sweep_against_itself_is_a_zero_difference(tmp_path, capsys):
    rc, res = run(tmp_path, summary(), summary())
    assert rc == 0
    (m,) = res["metrics"]
    # the same numbers: equivalent within the margin, not just "no difference found"
    assert m["pooled"]["delta"] == 0 and m["pooled"]["verdict"] == "equivalent"
    assert m["family"] == 3 and m["margin"] == 0.1
    assert m["pooled"]["n_trial_pairs"] == 4 and m["pooled"]["n_images"] == 16
    assert res["config_changes"] == {}
    assert "base config changes (before -> after): none recorded" in capsys.readouterr().out


def test_a_uniform_shift_is_found_exactly_with_its_direction(tmp_path, capsys):
    rc, res = run(tmp_path, summary(), summary(shift=-0.2, amp="auto", time_s=50, wall=300))
    assert rc == 0
    m = res["metrics"][0]
    for g in m["groups"]:
        assert g["delta"] == pytest.approx(-0.2) and g["verdict"] == "worse"
        assert g["n_replicates"] == 2 and g["n_images"] == 16
        assert g["seed_spread_before"] == pytest.approx(0.1, abs=0.05)
    assert m["pooled"]["delta"] == pytest.approx(-0.2)
    assert res["config_changes"] == {"amp": ["off", "auto"]}
    assert res["paths_before"] == ["fp32, channels_last"]
    assert res["paths_after"] == ["bf16, channels_last"]
    t = res["time"]
    assert t["wall_ratio"] == pytest.approx(0.6) and t["trial_ratio_geomean"] == pytest.approx(0.5)
    out = capsys.readouterr().out
    assert "amp=off -> auto" in out and "sweep wall time: 500 s -> 300 s (0.60x)" in out


def test_a_shift_that_one_seed_contradicts_is_inside_the_noise(tmp_path):
    # seed 0 gains 0.3 dB, seed 1 loses 0.2: with 2 seeds that is seed luck, not a result
    rc, res = run(tmp_path, summary(), summary(seed_shift={0: 0.3, 1: -0.2}))
    assert rc == 0
    for g in res["metrics"][0]["groups"]:
        assert g["delta"] == pytest.approx(0.05) and g["verdict"] == "undecided"


def test_groups_are_matched_by_label_and_seeds_by_seed(tmp_path):
    before = summary(labels=("l1", "l2", "huber"))
    after = summary(labels=("l2", "l1"), seeds=(1, 2), shift=0.5)
    rc, res = run(tmp_path, before, after)
    assert rc == 0
    groups = {g["label"]: g for g in res["metrics"][0]["groups"]}
    assert set(groups) == {"l1", "l2"}  # huber ran only before
    assert all(g["n_replicates"] == 1 for g in groups.values())  # seed 1 only in both
    assert res["metrics"][0]["pooled"]["n_trial_pairs"] == 2


@pytest.mark.parametrize("make, message", [
    (lambda p: write(p, "x.json", summary(drop_per_image=True)), "has no per-image rows"),
    (lambda p: write(p, "x.json", {"rows": []}), "is not a sweep summary"),
    (lambda p: (p / "x.json").write_text("{not json") and str(p / "x.json"), "is not JSON"),
    (lambda p: str(p / "missing.json"), "cannot read"),
])
def test_bad_summaries_are_one_line_and_exit_2(tmp_path, capsys, make, message):
    good = write(tmp_path, "good.json", summary())
    out = tmp_path / "versus.json"
    assert main([good, make(tmp_path), "--json", str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error:") and message in err and "\n" not in err
    assert not out.exists()


def test_no_common_group_and_unknown_metric_exit_2(tmp_path, capsys):
    a = write(tmp_path, "a.json", summary(labels=("l1",)))
    b = write(tmp_path, "b.json", summary(labels=("l2",)))
    assert main([a, b]) == 2
    assert "no group has finished trials with psnr_y in both" in capsys.readouterr().err
    assert main([a, a, "--metric", "time/wall"]) == 2
    assert "not a per-image metric" in capsys.readouterr().err
