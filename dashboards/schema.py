"""The contract between bench (which writes MLflow runs) and dashboards (which reads them):
tag names, run roles, artifact paths and crop kinds, written once. bench imports them from
here (dashboards sits below bench); tests/fixtures_mlflow.py builds its stores with them."""

# tags on every run bench creates
ROLE = "irn.role"  # which kind of run: one of the ROLE_* values
ROLE_SWEEP, ROLE_TRIAL, ROLE_SINGLE, ROLE_EVALUATION = "sweep", "trial", "single", "evaluation"
ROLE_LEVEL = "level"  # one level of a levels cascade, trained alone (bench/sweep/levels.py)
TRIAL_ID = "irn.trial_id"  # Tune's trial id (a trial run)
STATUS = "irn.status"  # RUNNING / FINISHED / FAILED / KILLED, as bench saw it
ERROR = "irn.error"  # a failed run's one-line reason
GROUP = "irn.group"  # a trial's configuration without its seed (bench/sweep/replicates.py)
GROUP_LABEL = "irn.group_label"  # the group's readable name (searched values joined by |)
HOST, GPU, GIT_COMMIT = "irn.host", "irn.gpu", "irn.git_commit"

# tags on a sweep's parent run
OBJECTIVE = "irn.objective"  # the TUNE metric
MODE = "irn.mode"  # max | min
BUDGET = "irn.budget"
SPACE = "irn.space"

# artifacts
PER_IMAGE = "eval/per_image.json"  # every evaluation's per-image rows (image, seed, step, ...)
SUMMARY = "summary.json"  # the sweep's (or evaluation's) summary, as bench.sweep --json writes
REPORT = "report.html"  # the offline report, attached to the sweep's parent run
CROPS = ("gt", "lr", "lr_bicubic", "bicubic_up", "recon")  # crops/<image>/<kind>.png

# summary.json overhead.startup_s: the time to the first metric, phase by phase, in order
# (bench/sweep/command.py startup_phases), with the words the report uses
STARTUP_PHASES = {"imports": "imports", "checks": "input checks", "ray": "Ray start",
                  "mlflow": "MLflow store", "trial_start": "trial process start",
                  "first_report": "first interval + evaluation"}
