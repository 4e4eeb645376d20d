"""Does a multiscale latent help? At x8 (three Haar stages), the first d stages send
split_ratio x their high-frequency channels straight to z, and the later stages work on
fewer channels: depth 0 (plain IRN, the reference), 1 and 2 at split_ratio 0.5, two seeds
each: 6 trials at the cpu budget, each compared with depth 0 by the paired difference over
seeds x validation tiles with its 95% CI (bench/STATISTICS.md); TUNE compare adds ssim_y.
x8 trials are the slowest of the cpu budget (11.1M parameters at depth 0).

`--set split_ratio=0.25` (or 0.75) asks the same question at another split.
"""
from ray import tune

SPACE = {
    "scale": 8,
    "multiscale_depth": tune.grid_search([0, 1, 2]),
    "split_ratio": 0.5,
    "jpeg_eval": "",
}
TUNE = {"metric": "psnr_y", "mode": "max", "searcher": "grid", "budget": "cpu", "seeds": 2,
        "reference": {"multiscale_depth": 0}, "compare": ["ssim_y"]}
