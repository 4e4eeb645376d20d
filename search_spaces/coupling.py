"""Which coupling block? IRN's enhanced affine coupling against the FrEIA alternatives:
affine (GLOW), additive (NICE, volume preserving), all-in-one (AllInOneBlock with a soft
permutation) and i-ResNet (a contractive residual, reversed by fixed-point iteration).

Each twice (seeds 0 and 1), each compared with `enhanced`, the published block, by the
paired difference over seeds x validation tiles with its 95% CI (bench/STATISTICS.md);
TUNE compare adds the same comparison on ssim_y. No JPEG rows: this study ranks the
lossless reconstruction. 10 trials at the cpu budget.
"""
from ray import tune

SPACE = {
    "coupling": tune.grid_search(["enhanced", "affine", "additive", "allinone", "iresnet"]),
    "jpeg_eval": "",
}
TUNE = {"metric": "psnr_y", "mode": "max", "searcher": "grid", "budget": "cpu", "seeds": 2,
        "reference": {"coupling": "enhanced"}, "compare": ["ssim_y"]}
