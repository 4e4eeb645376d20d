"""Temporal consistency (irn/temporal.py): the transform-invariance term
lambda_temporal * [L1(LR(T x), T LR(x)) + L1(up(LR(T x)), T up(LR(x)))] for a small random
transform T per batch, against none.

lambda_temporal 0 / 0.5 / 2, two seeds each: 6 trials at the cpu budget. The weights were
set from the term's measured size: along the lambda = 0 trajectory at this budget the
unweighted term is 0.51x the reconstruction term (0.55x over the first 60 steps, 0.46x
over the last 60; one seed, 2026-12-01), so 0.5 makes it a quarter of the reconstruction
term and 2 about equal to it. Every arm measures flicker (`temporal_eval`): 5-frame pans
and zooms of each validation tile; the report plots flicker against Y-PSNR per group.
The term costs one more forward and reverse per step: the positive arms take longer.
Flicker costs 9 round trips per tile: one evaluation took 76 s with it against 9 s without
(32 tiles, loaded 2-core machine), and the cpu budget evaluates twice per trial.
"""
from ray import tune

SPACE = {
    "lambda_temporal": tune.grid_search([0.0, 0.5, 2.0]),
    "temporal_eval": True,
    "jpeg_eval": "",
}
TUNE = {"metric": "gain_db", "searcher": "grid", "budget": "cpu", "seeds": 2,
        "reference": {"lambda_temporal": 0.0}}
