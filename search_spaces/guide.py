"""What the guide loss does to the LR, and for which coupling: lambda_guide (the published x2
weight scale^2 = 4 against 0: no guide) x coupling (IRN's enhanced coupling, which also
transforms the LR half x1, against plain affine coupling, which leaves x1 to the other half's
subnets), two seeds each: 8 trials at the cpu budget (compression.py has the weights between).

The research notes expect the guide to matter only for enhanced coupling. Read the interaction
of the two factors (the report's heatmap and group table, gain_db and lr_psnr_y) and the
report's section on what the LR hides: the LR minus the bicubic LR, amplified, with its 2-D
spectrum, per group (from the trials' saved crops). `python -m bench.analyze --run ID` looks
into one trial's weights.
"""
from ray import tune

SPACE = {
    "lambda_guide": tune.grid_search([4.0, 0.0]),
    "coupling": tune.grid_search(["enhanced", "affine"]),
    "jpeg_eval": "",
}
TUNE = {"metric": "gain_db", "searcher": "grid", "budget": "cpu", "seeds": 2,
        "reference": {"lambda_guide": 4.0, "coupling": "enhanced"}}
