"""JPEG-robust training, the wider study: no JPEG, differentiable JPEG, straight-through real
JPEG, at a fixed quality (75) and at a quality drawn per batch from 30-90. Ranked by
reconstruction from a QF-50 LR (a quality no arm trains at alone), each group compared with
IRN as published (jpeg_train off) by the paired difference over seeds x validation tiles
with its 95% CI (bench/STATISTICS.md); TUNE compare adds the same at QF 30 and 90 and
lossless, where the robustness may cost.

jpeg_quality only matters when jpeg_train is on: the two `off` groups are the same model,
trained twice (an A/A check: they must agree to the digit). 2 seeds: 12 trials at the cpu
budget. The QF-75 question alone is jpeg_qf75.py (6 trials).
"""
from ray import tune

SPACE = {
    "jpeg_train": tune.grid_search(["off", "diff", "ste"]),
    "jpeg_quality": tune.grid_search(["75", "30-90"]),
    "jpeg_eval": "30,50,70,90",
}
TUNE = {"metric": "jpeg50_psnr_y", "mode": "max", "searcher": "grid", "budget": "cpu",
        "seeds": 2, "reference": {"jpeg_train": "off", "jpeg_quality": "75"},
        "compare": ["jpeg30_psnr_y", "jpeg90_psnr_y", "psnr_y"]}
