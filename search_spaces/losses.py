"""The main job. Reconstruction x guide losses: the official pair (Charbonnier
reconstruction, L2 guide) against an L1 + MS-SSIM reconstruction mix and an L1 guide, each
configuration twice (seeds 0 and 1), compared with 95% confidence intervals over seeds x
validation tiles (bench/STATISTICS.md), ranked by psnr_y and also compared on ssim_y
(TUNE compare), the metric the MS-SSIM term aims at. The JPEG rows are left out: this
study ranks the lossless reconstruction, and the JPEG evaluations would double the
evaluation time.

Sized for the default cpu budget on 2 CPU cores: 8 trials, 2 at a time, under 15 minutes.
The full list of losses is losses_full.py (GPU budget).
"""
from ray import tune

SPACE = {
    "loss_recon": tune.grid_search(["charbonnier", "l1+0.2*ms_ssim"]),
    "loss_guide": tune.grid_search(["l2", "l1"]),
    "jpeg_eval": "",
}
TUNE = {"metric": "psnr_y", "mode": "max", "searcher": "grid", "budget": "cpu", "seeds": 2,
        "compare": ["ssim_y"]}  # does the MS-SSIM term at least buy structural similarity?
