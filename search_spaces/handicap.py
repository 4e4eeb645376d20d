"""Power check of the statistics: the cpu budget's 120 steps against a quarter of them
(30). The short arm is clearly handicapped, so the harness must call it worse. 4 trials,
about 4 minutes on 2 cores.
"""
from ray import tune

SPACE = {
    "steps": tune.grid_search([120, 30]),
    "jpeg_eval": "",
}
TUNE = {"metric": "psnr_y", "searcher": "grid", "budget": "cpu", "seeds": 2}
