"""Coupling blocks: IRN's enhanced affine coupling against the FrEIA alternatives."""
from ray import tune

SPACE = {
    "coupling": tune.grid_search(["enhanced", "affine", "additive", "allinone", "iresnet"]),
}
TUNE = {"metric": "psnr_y", "mode": "max", "searcher": "grid", "budget": "cpu"}
