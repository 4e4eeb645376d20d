"""The rescaling stamp: a frame or the corners of the LR ignore the guide
loss (irn/stamp.py), so the model may write a recipe there for its own upscaler.

stamp none / border / corners x stamp_width 1 / 2, two seeds each: 12 trials at the cpu
budget (measured: 51 minutes one trial at a time on a loaded 2-core machine). The two `none`
groups differ only by stamp_width, which does nothing without a stamp: training is
deterministic, so they must come out identical.
Read each stamp group's gain over `none` (the verdicts against the reference) beside its
capacity `stamp_bpp` (stamped LR pixels x 24 bits per HR pixel) and how far its stamp
pixels left the bicubic LR (`lr_psnr_y_stamp`).
"""
from ray import tune

SPACE = {
    "stamp": tune.grid_search(["none", "border", "corners"]),
    "stamp_width": tune.grid_search([1, 2]),
    "jpeg_eval": "",
}
TUNE = {"metric": "gain_db", "searcher": "grid", "budget": "cpu", "seeds": 2,
        "reference": {"stamp": "none", "stamp_width": 1}}
