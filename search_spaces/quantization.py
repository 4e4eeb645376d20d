"""Dequantization of the 8-bit LR in training (irn/dequantization.py): the reverse pass sees
the rounded LR with a straight-through gradient (ste, the official IRN), plus uniform noise
of one level (uniform), or plus noise from a conditional flow q(u | LR) trained with the
model under lambda_dequant * KL(q || uniform) (variational).

quantization ste / uniform / variational, two seeds each: 6 trials at the cpu budget.
Evaluation upscales the real uint8 LR in every arm, so each group's gain over ste (the
verdicts against the reference) is what the training change buys; `dequant_bpd` says how far
the variational q moved from uniform noise (bits per LR element).
"""
from ray import tune

SPACE = {
    "quantization": tune.grid_search(["ste", "uniform", "variational"]),
    "jpeg_eval": "",
}
TUNE = {"metric": "gain_db", "searcher": "grid", "budget": "cpu", "seeds": 2,
        "reference": {"quantization": "ste"}}
