"""Reconstruction x guide losses: the official pair (Charbonnier reconstruction, L2 guide)
against an L1 + MS-SSIM reconstruction mix and an L1 guide.

Sized for the default cpu budget on 2 CPU cores: 4 trials, 2 at a time, about 13 minutes
(a trial is about 380 CPU-seconds). The full list of losses is losses_full.py (GPU budget).
"""
from ray import tune

SPACE = {
    "loss_recon": tune.grid_search(["charbonnier", "l1+0.2*ms_ssim"]),
    "loss_guide": tune.grid_search(["l2", "l1"]),
}
TUNE = {"metric": "psnr_y", "mode": "max", "searcher": "grid", "budget": "cpu"}
