"""Does a cheap budget rank like a long one? The main job's 4 groups (losses.py) at 1x, 4x and
8x the cpu budget's 120 steps, 2 seeds each: the rank correlation of each budget's groups
with the longest's, and whether a 120-step verdict against the reference survives at 960
steps (bench/sweep/curves.py `fidelity`). The cpu budget's eval_points keeps 6 evaluations at
every length. 24 trials; about 13x the main job's training (the 960-step trials dominate).
"""
from ray import tune

SPACE = {
    "loss_recon": tune.grid_search(["charbonnier", "l1+0.2*ms_ssim"]),
    "loss_guide": tune.grid_search(["l2", "l1"]),
    "steps": tune.grid_search([120, 480, 960]),
    "jpeg_eval": "",
}
TUNE = {"metric": "psnr_y", "searcher": "grid", "budget": "cpu", "seeds": 2,
        "reference": {"loss_recon": "charbonnier", "loss_guide": "l2", "steps": 960},
        "fidelity": "steps"}
