"""Steganography on the invertible core (task=stego, irn/stego.py): each 48-px training
patch hides the next patch's bicubic LR (x2: 3 x 24 x 24 values, 6 bits per cover pixel);
each 64-px validation tile hides the next tile's.

coupling enhanced / affine / additive x z gaussian / zero (z_train and z_eval together, as
the rescaling budgets do), two seeds each: 12 trials at the cpu budget. The objective is the
revealed secret's Y-PSNR; read it beside the stego image's (stego_psnr_y: the price in
visibility) and the secret after real JPEG of the stego image (jpeg50/jpeg90_secret_psnr_y).
Reference: IRN's enhanced coupling with gaussian z (HiNet's choice of z at reveal time).
"""
from ray import tune

SPACE = {
    "task": "stego",
    "coupling": tune.grid_search(["enhanced", "affine", "additive"]),
    "z_train": tune.grid_search(["gaussian", "zero"]),
    "z_eval": tune.sample_from(lambda config: config["z_train"]),  # evaluated as trained
    "jpeg_eval": "50,90",
}
TUNE = {"metric": "secret_psnr_y", "mode": "max", "searcher": "grid", "budget": "cpu",
        "seeds": 2, "reference": {"coupling": "enhanced", "z_train": "gaussian"}}
