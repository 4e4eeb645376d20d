"""Seeded simulations of whole sweeps through bench.compare.compare_groups: the family-wise
false-alarm rate, equivalence at the margin, and the power against 0.1 dB
(bench/STATISTICS.md "Checks").

The noise has the shape of the main job's per-image rows (`make sweep`,
search_spaces/losses.py, cpu budget, seeds 0-1, 4 groups x 32 tiles; measured 2026-12-07 on
an Intel Xeon family 6 model 207 in bf16 from its --json summary by
`bench.pooled` and the decomposition below):
- IMAGE_SD: the sd of the tiles' mean psnr_y (shared by every group; pairing cancels it);
- SHARED_SEED_SD: the seed's luck shared by every group (pairing cancels it);
- SEED_SD: the pooled seed spread of one group's replicate mean (bench.pooled's sigma);
- GROUP_IMAGE_SD: how much a group's gain varies from tile to tile, beyond its mean;
- CELL_SD: what is left per tile and seed.
"""
import numpy as np
import pytest

from bench.compare import compare_groups

IMAGE_SD, SHARED_SEED_SD, SEED_SD, GROUP_IMAGE_SD, CELL_SD = 3.0, 0.05, 0.02, 0.06, 0.05
IMAGES = 32
SIMS = 160  # per setting; Bonferroni keeps the family-wise rate well under 5%


def sweep(rng, groups: int, seeds: int, deltas=None) -> list[dict]:
    """One simulated sweep's trials; deltas: each group's true shift (default all 0)."""
    image = rng.normal(30, IMAGE_SD, IMAGES)
    shared = rng.normal(0, SHARED_SEED_SD, seeds)
    trials = []
    for g in range(groups):
        shape = rng.normal(0, GROUP_IMAGE_SD, IMAGES)
        shift = 0.0 if deltas is None else deltas[g]
        for r in range(seeds):
            values = image + shape + shift + shared[r] + rng.normal(0, SEED_SD) \
                + rng.normal(0, CELL_SD, IMAGES)
            trials.append({"group": f"g{g}", "label": f"g{g}", "config": {"k": g},
                           "replicate": r, "seed": r, "status": "FINISHED",
                           "per_image": [{"image": f"t{i}", "psnr_y": float(v)}
                                         for i, v in enumerate(values)]})
    return trials


def verdicts_of(out: dict) -> list[str]:
    return [g[k]["verdict"] for g in out["groups"] for k in ("vs_best", "vs_reference")
            if not g[k]["self"]]


@pytest.mark.parametrize("groups", [4, 8])
@pytest.mark.parametrize("seeds", [2, 3, 5])
def test_family_wise_false_better_or_worse_at_most_5_percent(groups, seeds):
    rng = np.random.default_rng(1000 * groups + seeds)
    alarms = 0
    for _ in range(SIMS):
        out = compare_groups(sweep(rng, groups, seeds), "psnr_y", "max", group_metrics=())
        alarms += any(v in ("better", "worse") for v in verdicts_of(out))
    assert alarms / SIMS <= 0.05


@pytest.mark.parametrize("seeds", [2, 5])
def test_equivalent_is_rarely_given_when_the_true_difference_is_the_margin(seeds):
    rng = np.random.default_rng(77 + seeds)
    wrong = 0
    for _ in range(SIMS):
        out = compare_groups(sweep(rng, 4, seeds, deltas=[0.0, 0.05, 0.0, 0.0]), "psnr_y",
                             "max", group_metrics=())
        g1 = next(g for g in out["groups"] if g["label"] == "g1")
        wrong += g1["vs_reference"]["verdict"] == "equivalent"
    assert wrong / SIMS <= 0.05


def test_equal_groups_are_called_equivalent_with_enough_seeds():
    # the other half of the point: "equal within the margin" is an answer the tool can give
    rng = np.random.default_rng(5)
    said = [verdicts_of(compare_groups(sweep(rng, 4, 5), "psnr_y", "max", group_metrics=()))
            for _ in range(40)]
    assert np.mean([v == "equivalent" for vs in said for v in vs]) >= 0.5


def test_power_against_a_true_tenth_of_a_db():
    # one of 4 groups 0.1 dB ahead: found `better` than the reference in most sweeps at 3
    # seeds (bench/STATISTICS.md prints the curve over seeds)
    rng = np.random.default_rng(6)
    found = 0
    for _ in range(60):
        out = compare_groups(sweep(rng, 4, 3, deltas=[0.0, 0.1, 0.0, 0.0]), "psnr_y", "max",
                             group_metrics=())
        g1 = next(g for g in out["groups"] if g["label"] == "g1")
        found += g1["vs_reference"]["verdict"] == "better"
    assert found / 60 >= 0.5
