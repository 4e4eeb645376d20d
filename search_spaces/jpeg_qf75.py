"""The JPEG acceptance study: does training through JPEG at QF 75 beat IRN as published
(jpeg_train off) when the LR is stored as a QF-75 JPEG? Same budget and seed for all three;
the QF-90 and lossless columns show the off model's drop (SAIN's finding, on our data).

Sized for the cpu budget on 2 CPU cores: 3 trials, about 10 minutes. The wider study,
with a quality range drawn per batch, is jpeg.py.
"""
from ray import tune

SPACE = {
    "jpeg_train": tune.grid_search(["off", "diff", "ste"]),
    "jpeg_quality": "75",
    "jpeg_eval": "75,90",
}
TUNE = {"metric": "jpeg75_psnr_y", "mode": "max", "searcher": "grid", "budget": "cpu"}
