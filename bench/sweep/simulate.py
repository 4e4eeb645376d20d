"""`python -m bench.simulate [--sims N]`: seeded simulations of whole sweeps through
irn.stats.compare.compare_groups (and --seeds auto's rule, bench.sweep.rounds.next_points):
family-wise false alarms, `equivalent` at the margin, and the power against a true 0.1 dB
lead, at 2, 3 and 5 seeds and with seeds=auto. tests/test_verdict_simulation.py asserts the
bounds; this prints the table bench/STATISTICS.md quotes.

The noise has the shape of the main job's per-image rows (`make sweep`,
search_spaces/losses.py, cpu budget, seeds 0-1, 4 groups x 32 tiles, bf16; measured on
2026-12-07 on an Intel Xeon family 6 model 207 from its --json summary: `irn.stats.pooled` for
SEED_SD (3 df), the other spreads from the groups x seeds x tiles table's two-way means):
- IMAGE_SD: the sd of the tiles' mean psnr_y (shared by every group; pairing cancels it);
- SHARED_SEED_SD: the seed's luck shared by every group (pairing cancels it);
- SEED_SD: the pooled seed spread of one group's replicate mean (irn.stats.pooled's sigma);
- GROUP_IMAGE_SD: how much a group's gain varies from tile to tile, beyond its mean;
- CELL_SD: what is left per tile and seed.
"""
import argparse

import numpy as np

from irn.stats.compare import compare_groups

IMAGE_SD, SHARED_SEED_SD, SEED_SD, GROUP_IMAGE_SD, CELL_SD = 5.1, 0.045, 0.016, 0.031, 0.119
IMAGES = 32


class World:
    """The truth of one simulated sweep: tiles, each group's shift and tile profile, and
    the luck each seed brings to every group; `trial` draws one replicate of one group."""

    def __init__(self, rng, groups: int, deltas=None):
        self.rng, self.image = rng, rng.normal(30, IMAGE_SD, IMAGES)
        self.shape = [rng.normal(0, GROUP_IMAGE_SD, IMAGES) for _ in range(groups)]
        self.deltas = deltas or [0.0] * groups
        self.shared: dict[int, float] = {}

    def trial(self, g: int, r: int) -> dict:
        shared = self.shared.setdefault(r, self.rng.normal(0, SHARED_SEED_SD))
        values = self.image + self.shape[g] + self.deltas[g] + shared \
            + self.rng.normal(0, SEED_SD) + self.rng.normal(0, CELL_SD, IMAGES)
        return {"group": f"g{g}", "label": f"g{g}", "config": {"k": g}, "replicate": r,
                "seed": r, "status": "FINISHED",
                "per_image": [{"image": f"t{i}", "psnr_y": float(v)}
                              for i, v in enumerate(values)]}


def sweep(rng, groups: int, seeds: int, deltas=None) -> list[dict]:
    """One simulated sweep's trials; deltas: each group's true shift (default all 0)."""
    world = World(rng, groups, deltas)
    return [world.trial(g, r) for g in range(groups) for r in range(seeds)]


def auto_sweep(rng, groups: int, max_seeds: int = 5, deltas=None) -> tuple[dict, int]:
    """--seeds auto on a simulated sweep, by bench.sweep.rounds' own rule: (the last
    comparison, its seeds in all)."""
    from bench.sweep.rounds import looks, next_points
    world = World(rng, groups, deltas)
    trials = [world.trial(g, r) for g in range(groups) for r in range(2)]
    n_looks = looks({"seeds": "auto", "max_seeds": max_seeds})
    while True:
        out = compare_groups(trials, "psnr_y", "max", group_metrics=(), looks=n_looks)
        points = next_points({"groups": out["groups"], "comparison": out, "trials": trials},
                             max_seeds)
        if not points:
            return out, len(trials)
        trials += [world.trial(p["k"], p["replicate"]) for p in points]


def verdicts_of(out: dict) -> list[str]:
    return [g[k]["verdict"] for g in out["groups"] for k in ("vs_best", "vs_reference")
            if not g[k]["self"]]


def rates(sims: int, seeds, groups: int = 4, seed: int = 0) -> dict:
    """{"false_alarm", "equivalent_when_equal", "power_0.1", "mean_seeds"} of `sims` sweeps
    (seeds: an integer, or "auto")."""
    def run(rng, deltas=None):
        if seeds == "auto":
            return auto_sweep(rng, groups, deltas=deltas)
        trials = sweep(rng, groups, seeds, deltas)
        return compare_groups(trials, "psnr_y", "max", group_metrics=()), len(trials)
    rng = np.random.default_rng(seed)
    alarms, equivalent, found, used = 0, [], 0, []
    for _ in range(sims):
        out, _ = run(rng)
        said = verdicts_of(out)
        alarms += any(v in ("better", "worse") for v in said)
        equivalent.append(np.mean([v == "equivalent" for v in said]))
        out, n = run(rng, [0.0, 0.1] + [0.0] * (groups - 2))
        found += next(g for g in out["groups"] if g["label"] == "g1")["vs_reference"][
            "verdict"] == "better"
        used.append(n / groups)
    return {"false_alarm": alarms / sims, "equivalent_when_equal": float(np.mean(equivalent)),
            "power_0.1": found / sims, "mean_seeds": float(np.mean(used))}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.simulate",
                                description=__doc__.splitlines()[0])
    p.add_argument("--sims", type=int, default=200, help="sweeps per row (default 200)")
    args = p.parse_args(argv)
    print("| seeds | any false better/worse (4 groups) | equal pairs called equivalent | "
          "0.1 dB lead found better | seeds per group (with the lead) |")
    print("|---|---|---|---|---|")
    for seeds in (2, 3, 5, "auto"):
        r = rates(args.sims, seeds)
        print(f"| {seeds} | {r['false_alarm']:.1%} | {r['equivalent_when_equal']:.1%} | "
              f"{r['power_0.1']:.1%} | {r['mean_seeds']:.2f} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
