"""Smoke sweep for tests and CI: two tiny trials (l1 vs charbonnier reconstruction)."""
from ray import tune

SPACE = {
    "blocks": 1,
    "gc": 8,
    "loss_recon": tune.grid_search(["l1", "charbonnier"]),
}
TUNE = {"metric": "psnr_y", "mode": "max", "searcher": "grid", "budget": "smoke"}
