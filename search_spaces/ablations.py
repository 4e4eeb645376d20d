"""Ablations of IRN's objective: drop the distribution term, drop the guide term, and train
with z = 0 instead of z ~ N(0, 1) (all combinations; lambda_guide None = scale^2, official)."""
from ray import tune

SPACE = {
    "lambda_distr": tune.grid_search([1.0, 0.0]),
    "lambda_guide": tune.grid_search([None, 0.0]),
    "z_train": tune.grid_search(["gaussian", "zero"]),
}
TUNE = {"metric": "psnr_y", "mode": "max", "searcher": "grid", "budget": "cpu"}
