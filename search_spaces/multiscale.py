"""Multi-scale latents at x8: how many stages split channels off to z, and how many.

split_ratio 0.0 splits nothing, i.e. plain IRN (so depth 1 and 2 at 0.0 are the same model:
the baseline, twice).
"""
from ray import tune

SPACE = {
    "scale": 8,
    "multiscale_depth": tune.grid_search([1, 2]),
    "split_ratio": tune.grid_search([0.0, 0.25, 0.5, 0.75]),
}
TUNE = {"metric": "psnr_y", "mode": "max", "searcher": "grid", "budget": "cpu"}
