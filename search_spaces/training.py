"""Optimisation: batch size x learning rate x schedule, sampled by Optuna; ASHA stops poor
trials at the first evaluation."""
from ray import tune

SPACE = {
    "batch_size": tune.choice([2, 4, 8]),
    "lr": tune.loguniform(1e-4, 2e-3),
    "schedule": tune.choice(["cosine", "multistep", "constant"]),
}
TUNE = {"metric": "psnr_y", "mode": "max", "searcher": "optuna", "scheduler": "asha",
        "num_samples": 8, "budget": "cpu"}
