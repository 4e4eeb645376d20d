"""Perceptual reconstruction losses mixed into the official Charbonnier term.

LPIPS and DISTS need local VGG16 weights (nothing is downloaded): give the file with
`--set vgg_weights=PATH` or $IRN_VGG16_WEIGHTS.
"""
from ray import tune

SPACE = {
    "loss_recon": tune.grid_search(["charbonnier", "charbonnier+0.1*lpips",
                                    "charbonnier+0.1*dists", "l1+0.1*lpips"]),
}
TUNE = {"metric": "psnr_y", "mode": "max", "searcher": "grid", "budget": "cpu", "seeds": 2}
