"""JPEG-robust training: no JPEG, differentiable JPEG, straight-through real JPEG, at a fixed
quality and at a quality range drawn per batch. Ranked by reconstruction from a QF-50 LR.

jpeg_quality only matters when jpeg_train is on (the two "off" trials are the same model).
"""
from ray import tune

SPACE = {
    "jpeg_train": tune.grid_search(["off", "diff", "ste"]),
    "jpeg_quality": tune.grid_search(["75", "30-90"]),
    "jpeg_eval": "30,50,70,90",
}
TUNE = {"metric": "jpeg50_psnr_y", "mode": "max", "searcher": "grid", "budget": "cpu"}
