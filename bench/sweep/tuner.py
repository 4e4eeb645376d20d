"""One Tuner for every run of trials a sweep makes (the main grid, a levels cascade's levels,
each --seeds auto round): the same MLflow hooks, failure handling, checkpoint retention,
trial folder names and actor reuse, so a setting cannot differ between them."""
from ray import tune

from bench.sweep.replicates import trial_dirname


def new_tuner(plan, trainable, space: dict, *, name: str, storage: str, hooks, search_alg,
              scheduler=None, num_samples: int = 1, max_concurrent_trials=None):
    """A fresh Tuner of `trainable` over `space`, writing to storage/name.

    reuse_actors: a trial process that has finished runs the next trial (Tune resets it
    with the new config; the trainable function sets every seed itself). Without it every
    trial started a process and imported torch, irn and ray.tune again, about 4-6 s on 2
    cores, and the main job lost 5-10% of its slot time between trials (bench/SWEEP.md,
    Overhead). All trials of a sweep ask for the same resources, which reuse requires."""
    t = plan.tune
    return tune.Tuner(
        trainable, param_space=space,
        tune_config=tune.TuneConfig(metric=t["metric"], mode=t["mode"], search_alg=search_alg,
                                    scheduler=scheduler, num_samples=num_samples,
                                    max_concurrent_trials=max_concurrent_trials,
                                    trial_dirname_creator=trial_dirname, reuse_actors=True),
        run_config=tune.RunConfig(
            name=name, storage_path=storage, callbacks=[hooks], verbose=0,
            failure_config=tune.FailureConfig(max_failures=plan.max_failures),
            checkpoint_config=tune.CheckpointConfig(num_to_keep=1)))
