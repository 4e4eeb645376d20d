"""Does a cascade of independently trained x2 levels (Wavelet Flow's recipe, irn/levels.py)
match the joint IRN network, and at what cost? At x4: the joint network (the reference)
against the levels cascade at equal total training steps (level_steps=split: each of the two
levels trains half the steps). The sweep trains the levels as trials of their own first, then
composes and evaluates each cascade (bench/sweep/levels.py); the group table compares psnr_y,
TUNE compare adds the gain over bicubic and the LR's fidelity, and the report's levels
section sets parameters and wall time beside them. Two seeds, cpu budget: 4 joint and
cascade trials plus 4 level trials.

`--set scale=8` asks at x8 (three levels). `--set level_steps=each` gives every level the
full budget: equal wall time when the levels train side by side on 2 workers. `--set
patch_size=192 --set batch_size=1 --set steps=30` trains on 192-px patches with the pixels
the 48-px budget sees (48 x 48 x 4 x 120 = 192 x 192 x 1 x 30), compared with the 48-px sweep
by `bench.versus`; irn/memory.py's modes keep even 768-px patches within 3 GB.
"""
from ray import tune

SPACE = {
    "scale": 4,
    "architecture": tune.grid_search(["joint", "levels"]),
    "jpeg_eval": "",
}
TUNE = {"metric": "psnr_y", "mode": "max", "searcher": "grid", "budget": "cpu", "seeds": 2,
        "reference": {"architecture": "joint"}, "compare": ["gain_db", "lr_psnr_y"]}
