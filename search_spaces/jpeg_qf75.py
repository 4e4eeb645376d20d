"""The JPEG acceptance study: does training through JPEG at QF 75 beat IRN as published
(jpeg_train off) when the LR is stored as a QF-75 JPEG? Each mode twice (seeds 0 and 1), and
each compared with `off` by the paired difference over seeds x validation tiles, with its
95% CI (bench/STATISTICS.md); TUNE compare adds the same comparison on the lossless
psnr_y and on QF 90: what the robustness costs where there is less or no JPEG.

Sized for the cpu budget on 2 CPU cores: 6 trials. The wider study, with a quality range
drawn per batch, is jpeg.py.
"""
from ray import tune

SPACE = {
    "jpeg_train": tune.grid_search(["off", "diff", "ste"]),
    "jpeg_quality": "75",
    "jpeg_eval": "75,90",
}
TUNE = {"metric": "jpeg75_psnr_y", "mode": "max", "searcher": "grid", "budget": "cpu",
        "seeds": 2, "reference": {"jpeg_train": "off"},
        "compare": ["psnr_y", "jpeg90_psnr_y"]}  # what JPEG training costs without JPEG
