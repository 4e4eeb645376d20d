"""Group statistics: intervals against scipy and an independent resampling, verdicts,
pairing, and the one-seed caveat."""
import numpy as np
import pytest
from scipy import stats

from irn.stats.compare import compare_groups, mean_ci, paired_difference, verdict
from irn.stats.verdicts import negligible
from bench.sweep.replicates import group_id, group_label, trial_config


def test_one_replicate_interval_is_scipy_bca_over_images():
    x = np.random.default_rng(1).normal(0.3, 0.5, 40)
    want = stats.bootstrap((x,), np.mean, method="BCa", n_resamples=4999, rng=0)
    got = mean_ci(x[None, :])
    assert got["mean"] == pytest.approx(x.mean())
    assert got["ci95"] == pytest.approx(list(want.confidence_interval), rel=1e-12)
    # and it is close to the t interval of the same values (a sanity anchor)
    t = stats.ttest_1samp(x, 0).confidence_interval()
    assert got["ci95"] == pytest.approx([t.low, t.high], abs=0.05)


def test_few_images_get_the_t_interval_not_a_bootstrap():
    x = np.array([31.0, 33.5, 32.2])  # 3 images: a bootstrap would be about their range
    want = stats.ttest_1samp(x, 0).confidence_interval()
    assert mean_ci(x[None, :])["ci95"] == pytest.approx([want.low, want.high], rel=1e-12)
    assert mean_ci(x[None, :])["ci95"][1] - mean_ci(x[None, :])["ci95"][0] > np.ptp(x)


def test_several_replicates_without_image_effect_is_the_t_interval_over_seeds():
    rng = np.random.default_rng(2)
    seed_means = rng.normal(0.1, 0.2, 3)
    m = np.repeat(seed_means[:, None], 20, axis=1)  # every image the same within a seed
    want = stats.ttest_1samp(seed_means, 0).confidence_interval()
    assert mean_ci(m)["ci95"] == pytest.approx([want.low, want.high], rel=1e-9)


def test_several_replicates_count_both_spreads():
    rng = np.random.default_rng(3)
    m = rng.normal(0, 0.3, (4, 1)) + rng.normal(0, 0.5, (1, 30)) + rng.normal(0, 0.1, (4, 30))
    both = mean_ci(m)["ci95"]
    images_only = mean_ci(m.mean(axis=0)[None, :])["ci95"]
    seeds_only = stats.ttest_1samp(m.mean(axis=1), 0).confidence_interval()
    assert both[0] <= m.mean() <= both[1]
    width = both[1] - both[0]
    assert width > images_only[1] - images_only[0]
    assert width >= seeds_only.high - seeds_only.low


def test_a_a_false_alarms_stay_near_5_percent_with_two_seeds():
    # Two groups of one configuration: the seed effect (training noise) dominates, as in the
    # measured A/A sweep; a percentile bootstrap over 2 seeds called such pairs "worse".
    rng = np.random.default_rng(7)
    images = rng.normal(0, 1.0, 32)
    alarms = 0
    for _ in range(400):
        a = rng.normal(0, 0.07, (2, 1)) + images + rng.normal(0, 0.03, (2, 32))
        b = rng.normal(0, 0.07, (2, 1)) + images + rng.normal(0, 0.03, (2, 32))
        d = paired_difference(_cells(a), _cells(b), "max")
        alarms += d["verdict"] in ("better", "worse")
    assert alarms / 400 <= 0.05


def test_a_clear_handicap_is_caught_with_two_seeds():
    # As measured (search_spaces/handicap.py): about -2 dB, varying 0.5-4 dB between tiles.
    rng = np.random.default_rng(8)
    images = rng.normal(0, 1.0, 32)
    effect = rng.uniform(0.5, 4.0, 32)
    caught = 0
    for _ in range(100):
        a = rng.normal(0, 0.07, (2, 1)) + images + rng.normal(0, 0.03, (2, 32))
        b = rng.normal(0, 0.07, (2, 1)) + images - effect + rng.normal(0, 0.03, (2, 32))
        caught += paired_difference(_cells(b), _cells(a), "max")["verdict"] == "worse"
    assert caught >= 95


def test_constant_and_too_small_samples():
    assert mean_ci(np.full((2, 5), 1.5)) == {"mean": 1.5, "ci95": [1.5, 1.5]}
    assert mean_ci(np.array([[3.0]]))["ci95"] is None
    assert mean_ci(np.array([[1.0, np.nan]]))["ci95"] is None


@pytest.mark.parametrize("ci, mode, margin, want", [
    ([0.1, 0.3], "max", 0.05, "better"), ([-0.3, -0.1], "max", 0.05, "worse"),
    ([-0.1, 0.2], "max", 0.05, "undecided"), ([0.1, 0.3], "min", 0.05, "worse"),
    ([0.0, 0.3], "max", 0.05, "undecided"), (None, "max", 0.05, "undecided"),
    ([-0.04, 0.03], "max", 0.05, "equivalent"), ([-0.04, 0.03], "max", 0.0, "undecided"),
    ([-0.06, 0.03], "max", 0.05, "undecided"), ([0.01, 0.04], "max", 0.05, "better")])
def test_verdict(ci, mode, margin, want):
    assert verdict(ci, mode, margin) == want


def test_negligible_marks_a_real_difference_inside_the_margin():
    assert negligible([0.01, 0.04], 0.05) and not negligible([0.01, 0.06], 0.05)
    assert not negligible([0.01, 0.04], 0.0)


def _cells(values: np.ndarray) -> dict:
    return {r: {f"img{i}": float(v) for i, v in enumerate(row)} for r, row in enumerate(values)}


def test_pairing_cancels_image_difficulty():
    rng = np.random.default_rng(3)
    difficulty = rng.normal(30, 3, 32)  # image-to-image spread >> the 0.1 dB effect
    a = difficulty + 0.1 + rng.normal(0, 0.02, 32)
    b = difficulty + rng.normal(0, 0.02, 32)
    d = paired_difference(_cells(a[None]), _cells(b[None]), "max")
    assert d["verdict"] == "better" and d["delta"] == pytest.approx(0.1, abs=0.02)
    assert d["n_images"] == 32 and d["n_replicates"] == 1
    # unpaired, the same numbers could not tell: their intervals overlap widely
    ca, cb = mean_ci(a[None])["ci95"], mean_ci(b[None])["ci95"]
    assert ca[0] < cb[1]


def test_pairs_only_common_cells():
    a = {0: {"x": 1.0, "y": 2.0}, 1: {"x": 1.0}}
    b = {0: {"x": 0.5, "z": 9.0}}
    d = paired_difference(a, b, "max")
    assert d["n_replicates"] == 1 and d["n_images"] == 1 and d["delta"] == 0.5
    assert paired_difference(a, {2: {"x": 1.0}}, "max")["delta"] is None


def _trials(label, offset, seeds, rng, group=None):
    out = []
    for r in range(seeds):
        seed_effect = rng.normal(0, 0.05)
        rows = [{"image": f"img{i}", "psnr_y": 30 + i * 0.1 + offset + seed_effect,
                 "gain_db": 0.5 + offset + seed_effect, "ssim_y": 0.9}
                for i in range(16)]
        out.append({"group": group or label, "label": label, "config": {"loss": label},
                    "replicate": r, "seed": r, "status": "FINISHED", "per_image": rows})
    return out


def test_compare_groups_verdicts_reference_and_sentence():
    rng = np.random.default_rng(4)
    trials = _trials("good", 1.0, 3, rng) + _trials("same", 1.0, 3, rng) + \
        _trials("bad", 0.0, 3, rng)
    out = compare_groups(trials, "psnr_y", "max", reference={"loss": "bad"})
    by = {g["label"]: g for g in out["groups"]}
    assert out["reference"] == "bad" and out["seeds_known"]
    assert by["bad"]["vs_best"]["verdict"] == "worse"
    assert by["bad"]["vs_reference"]["self"]
    assert by[out["best"]]["vs_reference"]["verdict"] == "better"
    other = "same" if out["best"] == "good" else "good"
    assert by[other]["vs_best"]["verdict"] in ("undecided", "equivalent")
    assert by["good"]["n_images"] == 16 and by["good"]["seeds"] == [0, 1, 2]
    assert by["good"]["gain_db"]["ci95"][0] <= by["good"]["gain_db"]["mean"]
    assert by[other]["vs_best"]["verdict"] in out["sentence"]
    # one family of 3 pairs, the seed spread pooled over the 3 groups: 2 x 2 df
    assert out["family"] == 3 and out["correction"] == "Bonferroni"
    assert out["pooled"]["df"] == 4 and by["bad"]["vs_best"]["spread"] == "pooled"
    assert "Bonferroni over 3 comparison(s)" in out["sentence"]


def test_one_seed_says_the_seed_spread_is_unknown():
    rng = np.random.default_rng(5)
    out = compare_groups(_trials("a", 0.2, 1, rng) + _trials("b", 0.0, 1, rng), "psnr_y", "max")
    assert not out["seeds_known"] and "seed-to-seed spread is unknown" in out["sentence"]
    assert out["reference"] == "a"  # default: the first group


def test_failed_trials_are_left_out():
    rng = np.random.default_rng(6)
    trials = _trials("a", 0.0, 2, rng)
    trials[1]["status"] = "FAILED"
    out = compare_groups(trials + [{**trials[0], "group": "b", "label": "b", "status": "FAILED"}],
                         "psnr_y", "max")
    a, b = out["groups"]
    assert a["seeds"] == [0] and a["trials"] == 2 and a["finished"] == 1
    assert "psnr_y" not in b and b["finished"] == 0


def test_replicate_seeds_and_groups():
    base = {"blocks": 1, "seed": 10}
    cfg0, r0 = trial_config(base, {"loss_recon": "l1"})
    cfg1, r1 = trial_config(base, {"loss_recon": "l1", "replicate": 1})
    other, _ = trial_config(base, {"loss_recon": "l2", "replicate": 1})
    assert (cfg0.seed, r0, cfg1.seed, r1) == (10, 0, 11, 1)
    assert group_id(cfg0, r0) == group_id(cfg1, r1) != group_id(other, 1)
    assert len(group_id(cfg0, 0)) == 8
    assert group_label({"a": "l1", "b": 0.5, "replicate": 1}, ["a", "b", "replicate"]) == "l1|0.5"
    assert group_label({}, []) == "all"


def test_pooled_spread_is_the_two_way_residual_variance():
    # a full groups x replicates table: OLS residuals of y ~ group + replicate are the
    # double-centred table, with (G - 1)(R - 1) degrees of freedom
    from irn.stats.pooled import pool
    y = np.random.default_rng(9).normal(0, 0.1, (4, 3)) + np.arange(4)[:, None]
    resid = y - y.mean(axis=1, keepdims=True) - y.mean(axis=0, keepdims=True) + y.mean()
    got = pool({f"g{g}": {r: y[g, r] for r in range(3)} for g in range(4)})
    assert got.df == 6 and got.sigma == pytest.approx(np.sqrt((resid ** 2).sum() / 6))
    assert got.out_of_line == {}


def test_a_group_out_of_line_is_left_out_of_the_pool_and_uses_its_own_spread():
    # the coupling study's `allinone`: its seeds 2.5 dB apart, the others' 0.02 dB
    rng = np.random.default_rng(10)
    trials = []
    for k, label in enumerate(["a", "b", "c", "d", "wild"]):
        trials += _trials(label, 0.01 * k, 3, rng)
    for t in trials:
        if t["label"] == "wild":
            shift = [-1.25, 1.25, 0.0][t["replicate"]]
            t["per_image"] = [{**r, "psnr_y": r["psnr_y"] + shift} for r in t["per_image"]]
    out = compare_groups(trials, "psnr_y", "max", reference={"loss": "a"})
    by = {g["label"]: g for g in out["groups"]}
    assert list(out["pooled"]["out_of_line"]) == ["wild"]
    assert "wild" not in out["pooled"]["groups"] and out["pooled"]["df"] == 6
    assert by["wild"]["vs_reference"]["spread"] == "own"
    assert by["wild"]["vs_reference"]["df_seed"] == 2
    assert by["b"]["vs_reference"]["spread"] == "pooled"


def test_pooling_gives_every_comparison_the_sweeps_degrees_of_freedom():
    # 2 seeds: alone, each comparison's seed part has 1 df (t = 12.7); pooled over 6 groups
    # it has 5, so the intervals are narrower and no longer hostage to two seeds agreeing
    rng = np.random.default_rng(11)
    trials = [t for k in range(6) for t in _trials(f"g{k}", 0.0, 2, rng)]
    out = compare_groups(trials, "psnr_y", "max")
    own = [paired_difference(cells_of(trials, f"g{k}"), cells_of(trials, "g0"), "max",
                             family=out["family"]) for k in range(1, 6)]
    pooled = [g["vs_reference"] for g in out["groups"][1:]]
    assert all(p["df_seed"] == 5 and o["df_seed"] == 1 for p, o in zip(pooled, own))
    widths = lambda ds: np.array([d["ci95"][1] - d["ci95"][0] for d in ds])  # noqa: E731
    assert widths(pooled).mean() < widths(own).mean()
    assert np.ptp(widths(pooled)) < np.ptp(widths(own))


def cells_of(trials, label):
    from irn.stats.compare import cells
    return cells([t for t in trials if t["label"] == label], "psnr_y")


def test_undecided_says_how_many_seeds_would_decide_it():
    rng = np.random.default_rng(12)
    trials = _trials("a", 0.0, 2, rng) + _trials("b", 0.15, 2, rng) + _trials("c", 0.0, 2, rng)
    out = compare_groups(trials, "psnr_y", "max")
    d = next(g for g in out["groups"] if g["label"] == "b")["vs_reference"]
    assert d["verdict"] == "undecided" and d["margin"] == 0.1 and d["family"] == 3
    assert d["seeds_to_decide"] == 5  # t(98.33%, 2 df) = 7.6 at 2 seeds; at 5, t(8 df) = 3.0
    assert "about 5 seeds per group would decide it" in out["sentence"]


def test_a_wider_margin_turns_undecided_into_equivalent():
    rng = np.random.default_rng(13)
    trials = _trials("a", 0.0, 3, rng) + _trials("b", 0.0, 3, rng) + _trials("c", 0.0, 3, rng)
    strict = compare_groups(trials, "psnr_y", "max", margins={"psnr_y": 0.0})
    loose = compare_groups(trials, "psnr_y", "max", margins={"psnr_y": 1.0})
    b = lambda out: next(g for g in out["groups"] if g["label"] == "b")["vs_reference"]  # noqa: E731
    assert b(strict)["verdict"] == "undecided" and b(loose)["verdict"] == "equivalent"
    assert b(loose)["margin"] == 1.0 and loose["margin"] == 1.0


def test_validation_tiles_are_called_tiles():
    # issue 31: "32 images" were 16 tiles x 2 photos
    rng = np.random.default_rng(14)
    trials = _trials("a", 0.0, 2, rng) + _trials("b", 0.3, 2, rng)
    for t in trials:
        t["per_image"] = [{**r, "image": f"photo@{r['image']}"} for r in t["per_image"]]
    out = compare_groups(trials, "psnr_y", "max")
    assert out["image_unit"] == "tiles" and "2 seed(s) x 16 tiles" in out["sentence"]
    assert compare_groups(_trials("a", 0.0, 2, rng), "psnr_y", "max")["image_unit"] == "images"


def _tiled(label, seed_shifts, tile_sd, rng):
    """Trials whose seeds shift the group by seed_shifts and move each tile by tile_sd."""
    out = []
    for r, shift in enumerate(seed_shifts):
        rows = [{"image": f"img{i}", "psnr_y": 30 + i * 0.1 + shift + rng.normal(0, tile_sd),
                 "gain_db": 0.5, "ssim_y": 0.9} for i in range(32)]
        out.append({"group": label, "label": label, "config": {"loss": label},
                    "replicate": r, "seed": r, "status": "FINISHED", "per_image": rows})
    return out


def test_two_collapsed_groups_do_not_mask_each_other():
    # the guide study: both lambda_guide=0 groups collapsed, seeds 9 and 4 dB apart, and
    # each kept the other in line; their seeds also differ tile by tile by dB, where the
    # healthy groups' seeds differ by a uniform few hundredths
    from irn.stats.pooled import pool
    from irn.stats.compare import cells, replicate_means
    rng = np.random.default_rng(11)
    trials = []
    for k, label in enumerate(["a", "b", "c", "d"]):
        trials += _tiled(label, rng.normal(0.01 * k, 0.02, 2), 0.05, rng)
    trials += _tiled("x", [-4.5, 4.5], 2.0, rng) + _tiled("y", [-2.0, 2.0], 2.0, rng)
    by = {}
    for t in trials:
        by.setdefault(t["group"], []).append(t)
    c = {g: cells(ts, "psnr_y") for g, ts in by.items()}
    masked = pool(replicate_means(c))  # seed-level evidence alone: 1 df per group
    assert masked.out_of_line == {} and masked.sigma > 1
    out = compare_groups(trials, "psnr_y", "max", reference={"loss": "a"})
    pooled = out["pooled"]
    assert set(pooled["out_of_line"]) == {"x", "y"} == set(pooled["by_tiles"])
    assert min(pooled["by_tiles"].values()) > 100 and pooled["sd"] < 0.1
    b = {g["label"]: g for g in out["groups"]}["b"]["vs_reference"]
    assert b["spread"] == "pooled" and b["ci95"][1] - b["ci95"][0] < 1.0


def test_noisier_tiles_alone_keep_a_group_in_the_pool():
    # a group whose tiles are noisier (the stego study's zero-latent groups) but whose
    # seeds agree as well as the others' is screened by its tiles and not confirmed
    rng = np.random.default_rng(12)
    trials = []
    for label in ["a", "b", "c", "d"]:
        trials += _tiled(label, rng.normal(0, 0.05, 2), 0.05, rng)
    trials += _tiled("noisy", [0.0, 0.03], 0.5, rng)
    out = compare_groups(trials, "psnr_y", "max", reference={"loss": "a"})
    assert out["pooled"]["out_of_line"] == {} and "noisy" in out["pooled"]["groups"]
