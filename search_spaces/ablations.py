"""Ablations of IRN's objective: is the distribution term needed, and does training with
z = 0 work as well as z ~ N(0, 1)? lambda_distr 1 / 0 x z_train gaussian / zero, two seeds
each: 8 trials at the cpu budget, each compared with the published objective (lambda_distr
1, gaussian z) by the paired difference over seeds x validation tiles with its 95% CI
(bench/STATISTICS.md).

Evaluated as published, with z ~ N(0, 1) (`z_eval=gaussian`: psnr_y is the mean over the
draws); TUNE compare adds the same comparison at z = 0 (psnr_y_zero), where a model trained
with z = 0 is at home. The guide term's ablation is guide.py: without it the LR leaves the
8-bit range and every coupling collapses at this budget (measured there), so it is not
spent again here.
"""
from ray import tune

SPACE = {
    "lambda_distr": tune.grid_search([1.0, 0.0]),
    "z_train": tune.grid_search(["gaussian", "zero"]),
    "z_eval": "gaussian",
    "jpeg_eval": "",
}
TUNE = {"metric": "psnr_y", "mode": "max", "searcher": "grid", "budget": "cpu", "seeds": 2,
        "reference": {"lambda_distr": 1.0, "z_train": "gaussian"},
        "compare": ["psnr_y_zero"]}
