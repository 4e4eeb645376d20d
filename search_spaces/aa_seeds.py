"""A/A check of the statistics: one configuration (the official recipe at the cpu budget)
under two disjoint seed sets, 0-1 and 100-101. Nothing differs but chance, so a trustworthy
harness must never call them better or worse: `equivalent` (within the 0.05 dB margin) or
`undecided` (too few seeds to tell) are the right answers. 4 trials, about 6 minutes on 2
cores.
"""
from ray import tune

SPACE = {
    "seed": tune.grid_search([0, 100]),
    "jpeg_eval": "",
}
TUNE = {"metric": "psnr_y", "searcher": "grid", "budget": "cpu", "seeds": 2}
