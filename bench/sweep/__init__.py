"""The main job: `python -m bench.sweep SPACE` fans a search space's trials out with Ray
Tune, logs them to MLflow and prints the group table with its verdicts (command.py).
Around it: the space (space.py), the Tune trainable (trainable.py), the seed rounds
(rounds.py), MLflow callbacks and the summary (log.py), replicates and the group table,
and the commands that re-read stored sweeps: restat, results, versus, simulate, sync,
share, train (one config, no Ray).
"""
