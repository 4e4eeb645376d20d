"""bench.sweep.curves: learning curves in the summary, still improving, ranking held, and the
budget-fidelity comparison (made-up trials with known answers)."""
import numpy as np
import pytest

from bench.sweep.curves import curve_fields, fidelity, learning, tau_interval

IMAGES = [f"t{i}" for i in range(16)]


def rows_for(value_at, steps=(20, 40, 60, 80, 100, 120)):
    """Every evaluation's per-image rows; value_at(step, image index) -> psnr_y."""
    return [{"image": im, "step": s, "psnr_y": value_at(s, i), "gain_db": value_at(s, i) - 30}
            for s in steps for i, im in enumerate(IMAGES)]


def trial(label, replicate, value_at, config=None):
    rows = rows_for(value_at)
    last = [r for r in rows if r["step"] == 120]
    return {"group": label, "label": label, "config": config or {"loss": label},
            "replicate": replicate, "seed": replicate, "status": "FINISHED", "step": 120,
            "per_image": last, **curve_fields(rows, "psnr_y")}


def test_curve_fields_keep_every_evaluation_and_the_half_way_rows():
    out = curve_fields(rows_for(lambda s, i: 30 + s / 100), "psnr_y")
    assert [p["step"] for p in out["curve"]] == [20, 40, 60, 80, 100, 120]
    assert out["curve"][-1]["psnr_y"] == pytest.approx(31.2)
    assert {r["step"] for r in out["per_image_half"]} == {60} and len(out["per_image_half"]) == 16
    assert curve_fields(rows_for(lambda s, i: 30, steps=(120,)), "psnr_y")["per_image_half"] == []


def test_still_improving_flat_and_the_ranking_that_changed():
    rng = np.random.default_rng(0)
    noise = {(g, r): rng.normal(0, 0.002, 16) for g in "abc" for r in (0, 1, 2)}
    # a: slow start, +1 dB over the last half, ends best; b: led at step 60, flat after;
    # c: last throughout
    shapes = {"a": lambda s: 30 + (s - 60) / 60 if s >= 60 else 30,
              "b": lambda s: 30.5, "c": lambda s: 29.5}
    trials = [trial(g, r, lambda s, i, g=g, r=r: shapes[g](s) + 0.1 * i + noise[g, r][i])
              for g in "abc" for r in (0, 1, 2)]
    out = learning(trials, "psnr_y", "max")
    by = {g["label"]: g for g in out["groups"]}
    assert by["a"]["learning"] == "still improving" and by["a"]["delta"] == pytest.approx(1, abs=0.01)
    assert by["b"]["learning"] == "flat" and by["c"]["learning"] == "flat"
    assert out["family"] == 3 and by["a"]["half_step"] == 60
    # one seed spread for all groups' changes: 3 groups x (3 - 1) degrees of freedom
    assert by["a"]["spread"] == "pooled" and by["a"]["df_seed"] == 6
    rank = out["ranking"]
    assert rank["best_half"] == "b" and rank["best_last"] == "a" and not rank["best_held"]
    assert rank["tau"] == pytest.approx(1 / 3)  # b > a > c became a > b > c: one swap of 3
    assert "1 of 3 groups still improving" in out["sentence"]
    assert "best changed (best at step 60: b)" in out["sentence"]
    assert "ranking at step 60 against the end: Kendall tau +0.33" in out["sentence"]


def test_tau_interval_resamples_images_in_every_group_alike():
    rng = np.random.default_rng(1)
    # 4 groups whose order is the same under both conditions on every image: tau 1 always
    base = [rng.normal(k, 0.01, (2, 16)) for k in range(4)]
    assert tau_interval([(m, m + 0.5) for m in base]) == [1.0, 1.0]
    # a second condition of pure noise (sd 2 per cell): the order is anyone's, the interval wide
    noisy = [(m, rng.normal(0, 2, (2, 16))) for m in base]
    lo, hi = tau_interval(noisy)
    assert hi - lo >= 1


def test_fidelity_ranks_budgets_and_checks_which_verdicts_survive():
    rng = np.random.default_rng(2)
    # at 120 steps x < ref < z < y; at 960 z has overtaken y: one swap of 6 pairs, yet
    # every verdict against the reference (x worse, y and z better) survives
    effect = {120: {"ref": 0, "x": -0.5, "y": 0.5, "z": 0.2},
              960: {"ref": 0, "x": -0.4, "y": 1.0, "z": 1.2}}
    trials = []
    for steps, groups in effect.items():
        for label, e in groups.items():
            for r in (0, 1, 2):
                shift = rng.normal(0, 0.01)
                trials.append(trial(f"{label}|{steps}", r,
                                    lambda s, i, e=e, shift=shift: 30 + e + 0.1 * i + shift,
                                    config={"loss": label, "steps": steps}))
    out = fidelity(trials, "steps", ["loss", "steps"], "psnr_y", "max",
                   {"loss": "ref", "steps": 960})
    (row,) = out["rows"]
    assert row["budget"] == 120 and row["against"] == 960 and row["groups"] == 4
    assert row["tau"] == pytest.approx(2 / 3)  # y and z swap places
    v = {x["label"]: x for x in row["verdicts"]}
    assert v["x"]["short"] == v["x"]["long"] == "worse" and v["x"]["survives"] == "yes"
    assert v["y"]["survives"] == v["z"]["survives"] == "yes"
    assert "steps=120 against steps=960: Kendall tau +0.67" in out["sentence"]
    assert "3 of 3 decided verdicts survive" in out["sentence"]
    assert fidelity(trials, "loss", ["loss", "steps"], "psnr_y", "max", None) is not None
