"""Reconstruction losses (the guide term stays the official L2), and the guide term under
the official Charbonnier reconstruction. Sized to finish in under 15 minutes on 2 CPU cores
with the default (cpu) budget.
"""
from ray import tune

SPACE = {
    "loss_recon": tune.grid_search(["charbonnier", "l1", "l2", "huber", "barron",
                                    "l1+0.2*ms_ssim", "charbonnier+0.2*ssim", "ycbcr"]),
}
TUNE = {"metric": "psnr_y", "mode": "max", "searcher": "grid", "budget": "cpu"}
