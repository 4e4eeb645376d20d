"""Run a search space as a Ray Tune sweep; every trial is logged to MLflow.

    python -m bench.sweep SPACE.py [--budget smoke|cpu|gpu|paper] [--data embedded|PATH]
        [--set KEY=VALUE ...] [--address ADDR] [--tracking-uri URI] [--experiment NAME]
        [--storage DIR] [--num-samples N] [--max-concurrent N] [--cpus-per-trial N]
        [--gpus-per-trial F] [--max-failures N] [--profile] [--resume] [--json OUT]

The space file is loaded and validated before anything starts (bench/sweep/space.py). Without
--address a local Ray on 127.0.0.1 with this machine's CPUs/GPUs is started and stopped at the
end; with it, the sweep joins that cluster (recipe: bench/SWEEP.md). Ray's results and
checkpoints go to STORAGE/EXPERIMENT/<space>-<time>; --resume continues the latest sweep of
the same space there (finished trials are not re-run, no trial is logged twice).

Exit 0 when the sweep ran (failed trials are listed, not fatal), 2 on bad input (one line),
130 when interrupted (resume with --resume).
"""
import argparse
import dataclasses
import glob
import logging
import math
import os
import re
import shutil
import sys
import time

import psutil

PROCESS_START = psutil.Process().create_time()  # overhead is measured from the command's start

from bench.sweep import group_table  # noqa: E402
from bench.common.cli import (OneLineParser, UsageError, check_device,  # noqa: E402
                       check_json_target, check_writable_folder, fail, parse_margins,
                       write_json_atomic)
from bench.common.outbox import OUTBOX_DIR, describe  # noqa: E402
from bench.common.tracking import (DEFAULT_EXPERIMENT, TrackingError, Tracker,  # noqa: E402
                            check_tracking_reachable, config_params, default_tracking_uri,
                            host_tags, is_server, store_opening)
from dashboards.colors import group_colors  # noqa: E402
from dashboards.data import ui_url  # noqa: E402
from irn.config import BUDGETS, ConfigError, from_dict, parse_set  # noqa: E402
from irn.video.study import FRAME_TASKS  # noqa: E402
from dashboards import schema  # noqa: E402

STATE_FILE = "irn_sweep.json"
RUN_ONLY = ("space_obj", "resume", "exp_root", "exp_dir")  # SweepPlan fields not in STATE_FILE
INTERRUPTED = 130


def parse_args(argv=None):
    p = OneLineParser(prog="python -m bench.sweep", description=__doc__,
                      formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("space", help="search-space file (search_spaces/*.py)")
    p.add_argument("--budget", choices=list(BUDGETS),
                   help="default: the space's TUNE budget, else cpu")
    p.add_argument("--data", metavar="PATH", help="embedded (default) or an image folder")
    p.add_argument("--set", dest="sets", action="append", default=[], metavar="KEY=VALUE",
                   help="fix a config key for every trial (repeatable)")
    p.add_argument("--address", metavar="ADDR",
                   help="join this Ray cluster (default: start a local one)")
    p.add_argument("--tracking-uri", metavar="URI",
                   help="MLflow tracking URI (default: sqlite:///<cwd>/mlflow.db); a "
                   "multi-node sweep needs a server")
    p.add_argument("--experiment", metavar="NAME", default=DEFAULT_EXPERIMENT,
                   help=f"MLflow experiment (default {DEFAULT_EXPERIMENT})")
    p.add_argument("--storage", metavar="DIR", default="runs",
                   help="Ray results folder (default ./runs; shared storage on a multi-node "
                   "cluster)")
    p.add_argument("--num-samples", metavar="N", type=int,
                   help="samples (repeats of the grid); default: TUNE")
    p.add_argument("--seeds", metavar="N|auto",
                   help="replicates: run every configuration with seeds base+0..N-1 and "
                   "compare groups with confidence intervals (default: TUNE seeds, else 1); "
                   "auto: 2, then one more seed for every group in an undecided comparison "
                   "with the best or the reference, until all are decided or --max-seeds")
    p.add_argument("--max-seeds", metavar="N", type=int,
                   help="the most seeds per group with --seeds auto (default: TUNE max_seeds, "
                   "else 5)")
    p.add_argument("--max-concurrent", metavar="N", type=int,
                   help="trials at once (default: as resources allow)")
    p.add_argument("--cpus-per-trial", metavar="N", type=float, default=1.0,
                   help="CPUs (and torch threads) per trial (default 1)")
    p.add_argument("--gpus-per-trial", metavar="F", type=float, default=None,
                   help="GPUs per trial, fractions allowed (default: 1 if the cluster has GPUs)")
    p.add_argument("--max-failures", metavar="N", type=int, default=2,
                   help="restarts of a crashed trial from its checkpoint (default 2)")
    p.add_argument("--profile", action="store_true",
                   help="a torch.profiler trace of a few steps per trial, logged to its MLflow "
                   "run as profile/trace.json with the top operators (default: TUNE profile)")
    p.add_argument("--resume", action="store_true", help="continue the latest interrupted sweep "
                   "of this space under --storage/--experiment, with the settings it started with")
    p.add_argument("--compare", metavar="M1,M2", help="also compare every group with the "
                   "reference on these per-image metrics (default: TUNE compare); with --resume "
                   "also for a finished sweep, whose trials are not rerun")
    p.add_argument("--margin", dest="margins", action="append", default=[],
                   metavar="METRIC=VALUE", help="equivalence margin of a per-image metric, "
                   "in its unit (repeatable; default: TUNE margins, else the metric "
                   "registry's: 0.05 dB, 0.0005 for SSIM; bench/STATISTICS.md)")
    p.add_argument("--json", metavar="OUT", help="write the final table as JSON (atomically)")
    return p.parse_args(argv)


# --------------------------------------------------------------------------- the plan

@dataclasses.dataclass(frozen=True)
class SweepPlan:
    """Everything decided before Ray starts, built once by plan_sweep and passed along; the
    resume file (STATE_FILE) holds the fields a --resume needs to rebuild it."""
    space: str                     # the space file's path
    space_obj: object              # bench.sweep.space.Space (imported lazily: it imports Ray)
    budget: str
    base: dict                     # budget preset + --set (+ --data, --profile): every trial
    tune: dict                     # TUNE with its defaults, --seeds and --num-samples applied
    study: str                     # the space file's stem: names the parent run and folder
    experiment: str
    tracking_uri: str
    max_concurrent: int | None
    max_failures: int
    total_trials: int
    default_reference: dict | None
    overridden: list
    resume: bool = False
    exp_root: str | None = None    # STORAGE/EXPERIMENT
    exp_dir: str | None = None     # this sweep's results folder, reserved once nothing refuses
    parent_run_id: str | None = None


def plan_sweep(args) -> SweepPlan:
    """Everything decided before Ray starts: the space, the base config, Tune's settings."""
    from bench.sweep.space import (AUTO_SEEDS, check_searcher, default_reference, first_seeds,
                             load_space, uses_perceptual, validate)
    check_json_target(args.json)
    seeds = _seeds_arg(args.seeds)
    if args.max_seeds is not None and not 2 <= args.max_seeds <= MAX_SEEDS:
        raise UsageError(f"--max-seeds must be 2..{MAX_SEEDS}, got {args.max_seeds}")
    check_tracking_reachable(args.tracking_uri)
    for name in ("num_samples", "max_concurrent", "max_failures"):
        value = getattr(args, name)
        if value is not None and value < (0 if name == "max_failures" else 1):
            raise UsageError(f"--{name.replace('_', '-')} must be >= "
                             f"{0 if name == 'max_failures' else 1}, got {value}")
    if not args.cpus_per_trial > 0 or (args.gpus_per_trial or 0) < 0:
        raise UsageError("--cpus-per-trial must be > 0 and --gpus-per-trial >= 0")
    _check_experiment(args.experiment)
    _check_storage(args.storage)
    root = os.path.join(os.path.abspath(args.storage), args.experiment)
    stem = os.path.splitext(os.path.basename(args.space))[0]
    if args.resume:
        exp_dir = latest_sweep(root, stem)
        saved = _read_json(os.path.join(exp_dir, STATE_FILE))
        if args.tracking_uri and args.tracking_uri != saved.get("tracking_uri"):
            raise UsageError(f"--resume continues the sweep logged to "
                             f"{saved.get('tracking_uri')}; drop --tracking-uri "
                             f"{args.tracking_uri} (a sweep is logged to one store)")
        space = load_space(os.path.join(exp_dir, "space.py"))  # exactly what ran
        space = space.without(saved.get("overridden", []))
        plan = SweepPlan(**saved, space_obj=space, exp_dir=exp_dir, resume=True)
        compare = _compare_metrics(args, plan.tune.get("compare", ()), plan.base, space)
        margins = {**plan.tune.get("margins", {}), **parse_margins(args.margins)}
        return dataclasses.replace(plan, tune={**plan.tune, "compare": compare,
                                               "margins": margins})
    space = load_space(args.space)
    tune_cfg = dict(space.tune)
    budget = args.budget or tune_cfg["budget"]
    fixed = parse_set(args.sets)
    clash = sorted(set(fixed) & set(space.searched))
    if clash:
        raise UsageError(f"--set {clash[0]} conflicts with the space, which searches it")
    overridden = sorted(set(fixed) & set(space.fixed()))  # --set beats a value the space fixes
    space = space.without(overridden)
    base = {**BUDGETS[budget], **fixed}
    if args.data is not None:
        base["data"] = args.data
    if args.profile or tune_cfg["profile"]:
        base["profile"] = True
    for key in ("data", "vgg_weights"):  # trials chdir: paths must be absolute
        if base.get(key) and base[key] != "embedded":
            base[key] = os.path.abspath(base[key])
    data = space.space.get("data", base.get("data", "embedded"))
    if isinstance(data, str) and data != "embedded" and not os.path.isdir(data):
        raise UsageError(f"data: {data} is not a folder (give --data embedded or an image "
                         "folder)")
    if uses_perceptual(space, {**base, **space.fixed()}) and not (
            base.get("vgg_weights") or space.space.get("vgg_weights")):
        weights = os.environ.get("IRN_VGG16_WEIGHTS", "")
        if not os.path.isfile(weights):
            raise UsageError(f"{space.path} uses lpips/dists, which need the VGG16 weights: "
                             "--set vgg_weights=PATH or $IRN_VGG16_WEIGHTS")
        base["vgg_weights"] = os.path.abspath(weights)  # workers may not share our env
    built = validate(space, base, fixed)
    if not args.address:  # a cluster (--address) may have the GPUs and memory this lacks
        if {**base, **space.fixed()}.get("device") == "cuda":
            check_device("cuda")
        check_memory_floor(built, space)
    check_searcher(space, tune_cfg["searcher"])
    _check_metric(tune_cfg["metric"], from_dict({**base, **space.fixed()}), space)
    tune_cfg["compare"] = _compare_metrics(args, tune_cfg["compare"], base, space)
    tune_cfg["margins"] = {**tune_cfg["margins"], **parse_margins(args.margins)}
    if args.num_samples:
        tune_cfg["num_samples"] = args.num_samples
    if seeds:
        tune_cfg["seeds"] = seeds
    if args.max_seeds:
        tune_cfg["max_seeds"] = args.max_seeds
    if tune_cfg["seeds"] != AUTO_SEEDS and tune_cfg["seeds"] > tune_cfg["max_seeds"] \
            and args.max_seeds:
        raise UsageError(f"--max-seeds {args.max_seeds} is below --seeds {tune_cfg['seeds']}")
    total = space.grid_size * tune_cfg["num_samples"] * first_seeds(tune_cfg["seeds"])
    if total > MAX_TRIALS:
        raise UsageError(f"{total} trials planned (grid x --num-samples x --seeds): more than "
                         f"{MAX_TRIALS}, refused as a likely typo")
    if first_seeds(tune_cfg["seeds"]) > 1 and tune_cfg["searcher"] != "grid":
        raise UsageError(f"--seeds {tune_cfg['seeds']} needs the grid searcher (a "
                         f"{tune_cfg['searcher']} search samples each configuration once)")
    plan = SweepPlan(
        space=space.path, space_obj=space, budget=budget, base=base, tune=tune_cfg,
        study=stem, experiment=args.experiment,
        tracking_uri=args.tracking_uri or default_tracking_uri(),
        max_concurrent=args.max_concurrent, max_failures=args.max_failures,
        total_trials=space.grid_size * tune_cfg["num_samples"] * first_seeds(tune_cfg["seeds"]),
        default_reference=default_reference(space), overridden=overridden, exp_root=root)
    from bench.sweep.levels import check_plan, level_points
    if level_points(plan):
        check_plan(plan)
    return plan


def check_memory_floor(built: list, space) -> None:
    """Refuse a config whose training cannot fit this machine's memory even at its floor
    (irn.train.training_memory_floor), before Ray starts: blocks=10**8 or gc=45063 would
    otherwise start trials that die allocating."""
    import psutil

    from irn.train import training_memory_floor
    total = psutil.virtual_memory().total
    for where, cfg in built:
        need = training_memory_floor(cfg)
        if need > total:
            searched = where.split("=")[0] in space.searched  # else: blame no space value
            raise UsageError(f"a trial of {os.path.basename(space.path)}"
                             + (f" with {where}" if searched else "")
                             + f" needs at least {need / 2**30:,.1f} GiB to train (blocks "
                             f"{cfg.blocks}, gc {cfg.gc}, batch {cfg.batch_size} x "
                             f"{cfg.patch_size} px); this machine has {total / 2**30:.1f} GiB")


MAX_TRIALS = 10_000  # a sweep larger than this is a typo (--seeds 100000), not a plan
MAX_SEEDS = 1000  # irn.config.MAX_SEED leaves this much room for replicate offsets


def _check_experiment(name: str) -> None:
    """An experiment name is a folder under --storage and an MLflow name: non-empty, no
    path separators or dot segments (it must not write outside the storage folder)."""
    if not name or not name.strip() or "/" in name or "\\" in name or name in (".", "..") \
            or name.startswith("."):
        raise UsageError(f"--experiment {name!r}: give a plain name (no '/', not empty, not "
                         "starting with '.')")




def _check_storage(storage: str) -> None:
    """--storage: an existing folder we can write in, or a path whose nearest existing
    parent is one (it is created when the sweep starts)."""
    path = os.path.abspath(storage)
    probe = path
    while not os.path.exists(probe):
        probe = os.path.dirname(probe)
    if not os.path.isdir(probe):
        raise UsageError(f"--storage {storage}: {probe} is a file, not a folder")
    check_writable_folder(probe, "--storage")


def _seeds_arg(value) -> int | str | None:
    """--seeds N (an integer >= 1) or auto."""
    if value is None or value == "auto":  # bench.sweep.space.AUTO_SEEDS (no Ray import here)
        return value
    try:
        n = int(value)
    except ValueError:
        n = 0
    if n < 1 or str(n) != value.strip() or n > MAX_SEEDS:
        raise UsageError(f"--seeds must be an integer 1..{MAX_SEEDS} or auto, got {value!r}")
    return n


def _compare_metrics(args, compare, base: dict, space) -> list[str]:
    """The compare metrics (--compare over TUNE compare), each one the evaluation computes."""
    from bench.sweep.space import check_compare
    if args.compare is not None:
        compare = check_compare(args.compare, "--compare")
    cfg = from_dict({**base, **space.fixed()})
    for name in compare:
        _check_metric(name, cfg, space, "compare metric")
    return list(compare)


def _check_metric(metric: str, cfg, space, what: str = "TUNE metric") -> None:
    """Every report must carry the objective (Tune stops the sweep otherwise), and the
    evaluation must compute every compare metric."""
    from irn.metric_registry import jpeg_qualities, metric_spec
    if metric_spec(metric) is None:
        raise UsageError(f"unknown {what} {metric!r}; e.g. psnr_y, gain_db, ssim_y, "
                         "jpeg50_psnr_y, loss/total")
    qf = re.search(r"jpeg(\d+)_", metric)
    if qf and "jpeg_eval" not in space.searched and int(qf.group(1)) not in \
            jpeg_qualities(cfg):
        raise UsageError(f"{what} {metric} needs QF {qf.group(1)} in jpeg_eval "
                         f"(now {cfg.jpeg_eval!r}); set it in SPACE or with --set")


def reserve_sweep_dir(root: str, stem: str) -> str:
    """A new folder ROOT/<space>-<YYYYmmdd-HHMMSS>[-N], created here, so two sweeps of one
    space started in the same second never share it."""
    os.makedirs(root, exist_ok=True)
    name = f"{stem}-{time.strftime('%Y%m%d-%H%M%S')}"
    for n in range(1, 1000):
        path = os.path.join(root, name if n == 1 else f"{name}-{n}")
        try:
            os.mkdir(path)
            return path
        except FileExistsError:
            continue
    raise UsageError(f"cannot create a results folder under {root}")


def latest_sweep(root: str, stem: str) -> str:
    found = sorted(d for d in glob.glob(os.path.join(root, f"{stem}-*"))
                   if os.path.isfile(os.path.join(d, STATE_FILE)))
    if not found:
        raise UsageError(f"--resume: no sweep of {stem} under {root}")
    return found[-1]


def _read_json(path):
    import json
    with open(path, encoding="utf-8") as f:
        return json.load(f)


# --------------------------------------------------------------------------- Ray

class RaySession:
    """Reuse a connected Ray; else join --address, or start a local Ray on 127.0.0.1 with
    this machine's CPUs and GPUs. Only what this context started is stopped."""

    def __init__(self, address):
        self.address, self.owned = address, False

    def __enter__(self):
        import ray
        if ray.is_initialized():
            return self
        if self.address:
            if self.address.startswith("ray://"):
                raise UsageError("ray:// (Ray Client) addresses are not supported: run the "
                                 "driver on a cluster node with --address HEAD_IP:6379")
            _check_reachable(self.address)
            try:
                ray.init(address=self.address, log_to_driver=False)
            except Exception as e:  # noqa: BLE001 - ConnectionError and friends
                raise UsageError(f"cannot connect to Ray at {self.address}: "
                                 f"{str(e).splitlines()[0] if str(e) else type(e).__name__}")
        else:
            import torch
            # address="local" always starts a new local Ray: a stale
            # /tmp/ray/ray_current_cluster left by a killed cluster is ignored.
            cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else \
                os.cpu_count()  # the CPUs this process may use (taskset, containers)
            ray.init(address="local", num_cpus=cpus,
                     num_gpus=torch.cuda.device_count(), include_dashboard=False,
                     log_to_driver=False, logging_level=logging.WARNING)  # our header says it
        self.owned = True
        return self

    def __exit__(self, *exc):
        import ray
        if self.owned:
            ray.shutdown()


def _check_reachable(address: str) -> None:
    """Ray keeps retrying an unreachable GCS for minutes; a TCP connect answers in seconds."""
    import socket
    host, sep, port = address.rpartition(":")
    if not sep or not port.isdigit():
        return  # "auto" and friends: left to ray.init
    try:
        socket.create_connection((host, int(port)), timeout=10).close()
    except OSError as e:
        raise UsageError(f"cannot reach Ray at {address}: {e.strerror or e}") from None


def trial_resources(cpus: float, gpus: float | None) -> dict:
    """{"cpu", "gpu"} per trial, refusing requests no node can meet (Tune would wait forever)."""
    import ray
    nodes = [n["Resources"] for n in ray.nodes() if n.get("Alive")]
    max_cpu = max((n.get("CPU", 0) for n in nodes), default=0)
    max_gpu = max((n.get("GPU", 0) for n in nodes), default=0)
    if gpus is None:
        gpus = 1.0 if max_gpu else 0.0
    elif gpus > 0 and not max_gpu:
        raise UsageError(f"--gpus-per-trial {gpus:g}, but the Ray cluster has no GPUs (trials "
                         "would wait forever); drop it to train on CPUs")
    elif gpus > max_gpu:
        raise UsageError(f"--gpus-per-trial {gpus:g}, but no node has more than {max_gpu:g}")
    if cpus > max_cpu:
        raise UsageError(f"--cpus-per-trial {cpus:g}, but no node has more than {max_cpu:g} "
                         "CPUs (trials would wait forever)")
    return {"cpu": cpus, "gpu": gpus}


def cluster_gpu_tag() -> str:
    import ray
    n = ray.cluster_resources().get("GPU", 0)
    local = host_tags()[schema.GPU]
    if local != "none" or not n:
        return local
    return f"{n:g} GPU(s) in the Ray cluster"


# --------------------------------------------------------------------------- running

def load_data(plan: SweepPlan):
    """Decode the training (memory loader) and validation images once, before Ray starts:
    bad data fails here as one line (exit 2), and trials share the decoded arrays."""
    from irn.data import load_images, load_named_images
    from irn.data.samples import check_patch_fits, check_val_sizes
    cfg = from_dict(plan.base)
    if cfg.task in FRAME_TASKS:  # photos render clips, or folders of real clips
        from irn.video.triples import check_frame_data
        return check_frame_data(cfg)[:2]  # the trials build their ValSet from val
    train = load_images(cfg.data, "train") if cfg.loader == "memory" else None
    if train is not None:
        from bench.sweep.levels import deepest_shrink
        shrink = deepest_shrink(plan)  # 1, or the deepest level's: the photos at 1/2^(k-1)
        check_patch_fits([(im.shape[0] // shrink, im.shape[1] // shrink) for im in train],
                         max(_patch_sizes(plan)))
    val = load_named_images(cfg.data, "val")
    # every scale and crop the space may run with: the smallest evaluated size decides
    for fixed in _val_settings(plan):
        check_val_sizes(val[1], val[0], fixed["scale"], fixed["val_max_size"] or None,
                        fixed["val_tile"])
    return train, val


def _patch_sizes(plan: SweepPlan) -> list[int]:
    """The patch sizes the sweep's trials train with (a grid's values, else the fixed one)."""
    base = {**plan.base, **plan.space_obj.fixed()}
    domain = plan.space_obj.space.get("patch_size")
    if isinstance(domain, dict) and "grid_search" in domain:
        return [int(v) for v in domain["grid_search"]]
    return [int(from_dict(base).patch_size)]


def _val_settings(plan: SweepPlan) -> list[dict]:
    """The (scale, val_max_size, val_tile) combinations a sweep's trials evaluate with."""
    import itertools
    base = {**plan.base, **plan.space_obj.fixed()}
    cfg = from_dict(base)
    axes = {k: plan.space_obj.space[k]["grid_search"] for k in ("scale", "val_max_size",
                                                                "val_tile")
            if k in plan.space_obj.searched and isinstance(plan.space_obj.space[k], dict)
            and "grid_search" in plan.space_obj.space[k]}
    own = {"scale": cfg.scale, "val_max_size": cfg.val_max_size, "val_tile": cfg.val_tile}
    return [{**own, **dict(zip(axes, combo))} for combo in itertools.product(*axes.values())]


def build_trainable(plan: SweepPlan, resources: dict, data, levels: dict | None = None):
    """The trainable with the decoded data shared through the object store; `levels`: what
    a levels cascade's trial composes (bench/sweep/levels.py)."""
    from ray import tune

    from bench.sweep.trainable import train_trial
    train, val = data
    wrapped = tune.with_parameters(train_trial, base=plan.base, metric=plan.tune["metric"],
                                   threads=max(1, int(resources["cpu"])), train_images=train,
                                   val_raw=val, levels=levels,
                                   stops_early=plan.tune["scheduler"] == "asha")
    return tune.with_resources(wrapped, resources)


def build_tuner(plan: SweepPlan, trainable, hooks):
    from ray import tune

    from bench.sweep.space import param_space
    from bench.sweep.tuner import new_tuner
    from ray.tune.schedulers import ASHAScheduler
    from ray.tune.search.basic_variant import BasicVariantGenerator
    t = plan.tune
    if plan.resume:
        return tune.Tuner.restore(plan.exp_dir, trainable, resume_unfinished=True,
                                  resume_errored=True,
                                  param_space=param_space(plan.space_obj, t["seeds"]))
    limit = plan.max_concurrent
    if t["searcher"] == "optuna":
        from ray.tune.search.optuna import OptunaSearch
        searcher = OptunaSearch(seed=0)  # Tune wraps it in a ConcurrencyLimiter for `limit`
    else:  # grid and random: Tune ignores max_concurrent_trials for this one; it takes it
        searcher, limit = BasicVariantGenerator(random_state=0, max_concurrent=limit or 0), None
    scheduler = None
    if t["scheduler"] == "asha":
        cfg = from_dict(plan.base)
        scheduler = ASHAScheduler(time_attr="step", max_t=cfg.steps,
                                  grace_period=cfg.eval_interval, reduction_factor=2)
    storage, name = os.path.split(plan.exp_dir)
    return new_tuner(plan, trainable, param_space(plan.space_obj, t["seeds"]), name=name,
                     storage=storage, hooks=hooks, search_alg=searcher, scheduler=scheduler,
                     num_samples=t["num_samples"], max_concurrent_trials=limit)


def start_parent(plan: SweepPlan, tracker: Tracker) -> str:
    from bench.sweep.space import sweep_params
    if plan.resume:
        tracker.reopen(plan.parent_run_id)
        # a parent run created while MLflow was away has its id now (bench/common/outbox.py)
        return tracker.ids.get(plan.parent_run_id, plan.parent_run_id)
    t = plan.tune
    run_id = tracker.create_run(plan.study, {
        schema.ROLE: schema.ROLE_SWEEP, schema.SPACE: plan.space, schema.BUDGET: plan.budget,
        **host_tags(), schema.GPU: cluster_gpu_tag(), schema.OBJECTIVE: t["metric"],
        schema.MODE: t["mode"], "irn.searcher": t["searcher"], "irn.scheduler": t["scheduler"],
        "irn.seeds": t["seeds"], "irn.storage": plan.exp_dir,
        "mlflow.note.content": f"Sweep of `{plan.study}` ({plan.budget} budget, "
                               f"{plan.total_trials} trials, {t['seeds']} seed(s) per "
                               "configuration): running. The group table replaces this line "
                               "when it ends."})
    tracker.log_params(run_id, config_params(sweep_params(plan.space_obj, plan.base,
                                                          t["seeds"])))
    tracker.log_file(run_id, plan.space, "space.py")
    return run_id


def save_state(plan: SweepPlan) -> None:
    os.makedirs(plan.exp_dir, exist_ok=True)
    shutil.copyfile(plan.space, os.path.join(plan.exp_dir, "space.py"))
    kept = {f.name: getattr(plan, f.name) for f in dataclasses.fields(plan)
            if f.name not in RUN_ONLY}
    write_json_atomic(os.path.join(plan.exp_dir, STATE_FILE), kept)


def ray_environment(local: bool) -> None:
    """Set before Ray is first imported (its constants read them at import time)."""
    if local:
        # Keep a local Ray on 127.0.0.1 (else it binds the machine's network address); not
        # for --address, where this driver must be reachable at its real address.
        os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")
        os.environ.setdefault("RAY_AUTH_MODE", "disabled")
    os.environ.setdefault("RAY_AIR_NEW_OUTPUT", "0")  # so verbose=0 silences Tune's tables
    # A failed trial task is one line from Progress ("restart ..." / "failed ..."); Tune's own
    # 30-line traceback stays in the trial's error.txt.
    os.environ.setdefault("TUNE_PRINT_ALL_TRIAL_ERRORS", "0")
    # A checkpoint per report makes Tune snapshot often on tiny budgets; that is expected.
    os.environ.setdefault("TUNE_WARN_EXCESSIVE_EXPERIMENT_CHECKPOINT_SYNC_THRESHOLD_S", "0")


def run_sweep(args, callbacks=(), start: float | None = None) -> int:
    """The command, minus argument parsing; `callbacks` are extra Tune callbacks (tests);
    overhead is measured from `start` (the command's process start; default: now)."""
    start = time.time() if start is None else start
    marks = {"imports": time.time()}  # start-up phases, each until its mark (startup_phases)
    from rich.console import Console

    ray_environment(local=not args.address)
    from bench.sweep.space import SpaceError
    from bench.sweep.log import Hooks, Progress, SweepLog, summarize, summary_table
    from bench.sweep.rounds import run_rounds
    console = Console(stderr=True, soft_wrap=True)  # one event per line, also in log files
    try:
        plan = plan_sweep(args)
        data = load_data(plan)  # may fail (exit 2), before anything starts
        marks["checks"] = time.time()
        with store_opening(plan.tracking_uri, plan.experiment) as store_ready, \
                RaySession(args.address):  # the MLflow store opens while Ray starts
            marks["ray"] = time.time()
            resources = trial_resources(args.cpus_per_trial, args.gpus_per_trial)
            trainable = build_trainable(plan, resources, data)
            if not plan.resume:  # reserved only once nothing can refuse the sweep any more
                plan = dataclasses.replace(
                    plan, exp_dir=reserve_sweep_dir(plan.exp_root, plan.study))
            store_ready()
            tracker = Tracker(plan.tracking_uri, plan.experiment,
                              outbox=os.path.join(plan.exp_dir, OUTBOX_DIR))
            parent = start_parent(plan, tracker)
            if not plan.resume or parent != plan.parent_run_id:
                save_state(dataclasses.replace(plan, parent_run_id=parent))
            plan = dataclasses.replace(plan, parent_run_id=parent)
            marks["mlflow"] = time.time()
            log = SweepLog(tracker, plan.parent_run_id, plan.base, plan.tune["metric"],
                           plan.space_obj.searched)
            hooks = Hooks([log, Progress(console, plan.tune["metric"],
                                         plan.space_obj.searched), *callbacks])
            console.print(f"sweep {plan.space}: budget {plan.budget}, "
                          f"{plan.tune['seeds']} seed(s) per configuration, "
                          f"{plan.tune['searcher']} search, {plan.tune['scheduler']}, "
                          f"{resources['cpu']:g} CPU + {resources['gpu']:g} GPU per trial; "
                          f"results in {plan.exp_dir}; MLflow {plan.tracking_uri} "
                          f"(parent run {plan.parent_run_id})")
            slots = _slots(plan, resources)

            def summarize_all(results, total=plan.total_trials):
                return summarize(dataclasses.replace(plan, total_trials=total), results,
                                 tracker, log, slots, start)
            try:
                levels = run_levels_first(plan, trainable, hooks, console, resources, data)
                if levels is not None:
                    if levels["interrupted"]:
                        return _interrupted_in_levels(plan, tracker, args)
                    trainable = levels["trainable"]
                results = build_tuner(plan, trainable, hooks).fit()
                if plan.tune["seeds"] == "auto":  # bench/sweep/rounds.py
                    summary = run_rounds(plan, trainable, hooks, log, summarize_all, results,
                                         console)
                else:
                    summary = summarize_all(results)
            except UsageError:  # refused (e.g. a level's checkpoint is gone): the parent
                before = tracker.reopened.get(plan.parent_run_id)  # keeps the status it had
                if before:
                    tracker.set_status(plan.parent_run_id, before)
                raise
            except BaseException:
                tracker.set_status(plan.parent_run_id, "FAILED")
                raise
    except (SpaceError, ConfigError, UsageError, TrackingError) as e:
        _drop_unused(locals().get("plan"))
        return fail(e)
    except Exception as e:  # noqa: BLE001 - e.g. a DataError while decoding the data
        from irn.data import DataError
        if isinstance(e, DataError):
            _drop_unused(locals().get("plan"))
            return fail(e)
        raise
    if levels is not None:
        summary["levels"] = levels["rows"]
    summary["overhead"]["startup_s"] = startup_phases(start, marks, log)
    summary["group_table"] = group_table.stored(summary)
    interrupted = summary["interrupted"]
    log.close()
    log_comparison(tracker, plan.parent_run_id, summary)
    tracker.set_status(plan.parent_run_id, "KILLED" if interrupted else "FINISHED")
    if tracker.offline:
        print("dashboard: not built (MLflow is not answering; after bench.sync, "
              "python -m dashboards.build builds it)", file=sys.stderr)
    else:
        attach_dashboard(plan, summary)
    not_logged = tracker.not_logged()
    if not_logged:
        summary["not_logged"] = {"outbox": tracker.outbox.folder, **not_logged}
    out = Console(width=None if sys.stdout.isatty() else 200)
    out.print(summary_table(summary))
    out.print(group_table.rich_table(summary))
    also = group_table.also_table(summary)
    if also is not None:
        out.print(also)
    print(f"verdict: {summary['comparison']['sentence']}")
    if summary.get("learning", {}).get("groups"):
        print(f"learning: {summary['learning']['sentence']}")
    if summary.get("fidelity"):
        print(f"fidelity: {summary['fidelity']['sentence']}")
    print(overhead_line(summary))
    print(f"MLflow UI: {ui_url(plan.tracking_uri, tracker.experiment_id)}"
          + (f" (serve it with: mlflow ui --backend-store-uri {plan.tracking_uri})"
             if not is_server(plan.tracking_uri) else ""))
    if args.json:
        write_json_atomic(args.json, summary)
    if not_logged:
        print(f"not logged: MLflow at {plan.tracking_uri} did not answer, so "
              f"{describe(not_logged)} "
              f"are kept in {tracker.outbox.folder}; log them with: python -m bench.sync "
              f"{tracker.outbox.folder} (or bench.sweep --resume)", file=sys.stderr)
    sys.stdout.flush()  # before Ray's exit handlers run: no duplicated output
    if interrupted:
        print(f"interrupted: continue with python -m bench.sweep {args.space} --resume",
              file=sys.stderr)
        return INTERRUPTED
    return 0


def run_levels_first(plan: SweepPlan, trainable, hooks, console, resources, data):
    """A sweep with levels cascades trains their levels first (bench/sweep/levels.py):
    None without any; else {"rows", "interrupted", "trainable" (composing them)}."""
    from bench.sweep.levels import level_map, level_points, level_rows, run_levels, unfinished
    if not level_points(plan):
        return None
    results = run_levels(plan, trainable, hooks, console)
    rows = level_rows(plan, results)
    if unfinished(rows):
        return {"rows": rows, "interrupted": True, "trainable": None}
    return {"rows": rows, "interrupted": False,
            "trainable": build_trainable(plan, resources, data, levels=level_map(results))}


def _interrupted_in_levels(plan: SweepPlan, tracker, args) -> int:
    tracker.set_status(plan.parent_run_id, "KILLED")
    print(f"interrupted while the levels trained: continue with python -m bench.sweep "
          f"{args.space} --resume", file=sys.stderr)
    return INTERRUPTED


def startup_phases(start: float, marks: dict, log) -> dict:
    """Where the time to the first metric went, in seconds, phase by phase: imports (the
    command's, from process start), checks (the plan and the data), ray (Ray started or
    joined), mlflow (the store, after Ray: it opens during Ray's start), trial_start (Tune
    until the first trial's process is set up: its process start and imports), first_report
    (that trial's steps and evaluation until the first result). NaN where a phase never
    ended (a --resume with no trial left)."""
    stamps = [start, marks["imports"], marks["checks"], marks["ray"], marks["mlflow"],
              log.first_trial_at or math.nan, log.first_result_at or math.nan]
    return {name: stamps[i + 1] - stamps[i] for i, name in enumerate(schema.STARTUP_PHASES)}


def overhead_line(summary: dict) -> str:
    """Trials, failures, and this process's wall time and overhead; a --resume of a finished
    sweep, where no trial reported, says so instead of a 100% overhead."""
    o = summary["overhead"]
    head = f"{len(summary['trials'])} trials, {len(summary['failed'])} failed; " \
           f"wall {o['wall_s']:.0f} s"
    if not o["train_s"] and math.isnan(o["time_to_first_metric_s"]):
        return head + " (no trial reported in this process: the statistics above are " \
                      "from the trials' stored results)"
    phases = o.get("startup_s", {})  # a stored summary's JSON has its keys sorted
    split = ", ".join(f"{name.replace('_', ' ')} {phases[name]:.1f}"
                      for name in schema.STARTUP_PHASES
                      if not math.isnan(phases.get(name, math.nan)))
    return head + f", first metric after {o['time_to_first_metric_s']:.1f} s" \
        + (f" ({split} s)" if split else "") + \
        f", not training {100 * o['non_training_share']:.0f}% of {o['slots']} slot(s)"


def _drop_unused(plan: SweepPlan | None) -> None:
    """Remove the results folder a refused sweep reserved but never used."""
    if plan and not plan.resume and plan.exp_dir and os.path.isdir(plan.exp_dir) \
            and not os.listdir(plan.exp_dir):
        os.rmdir(plan.exp_dir)


def log_comparison(tracker, run_id: str, summary: dict) -> None:
    """summary.json, the group table (comparison.md), summary metrics and the verdict as the
    parent run's description."""
    tracker.log_json(run_id, summary, schema.SUMMARY)
    table = group_table.markdown(summary)
    tracker.log_text(run_id, table, "comparison.md")
    scored = [g for g in summary["groups"] if "gain_db" in g]
    if scored:  # a group mean, named so (the report's best trial is one seed)
        tracker.log_metrics(run_id, {"best_group_gain_db": max(g["gain_db"]["mean"]
                                                              for g in scored)}, 0)
    # counts are tags, not metrics: they are not results to plot beside the model's
    comp = summary["comparison"]
    tracker.set_tags(run_id, {"mlflow.note.content": table,
                              "irn.groups": len(summary["groups"]),
                              "irn.trials": len(summary["trials"]),
                              "irn.best_group": comp.get("best") or "",
                              "irn.verdict": comp.get("sentence", "")[:4000]})
    tracker.log_text(run_id, group_table.metrics_legend(summary), "metrics.md")
    # MLflow's runs table colours each trial as the report colours its group
    colors = group_colors(t["label"] for t in summary["trials"])
    for t in summary["trials"]:
        if t.get("mlflow_run_id"):
            tracker.set_tags(t["mlflow_run_id"], {"mlflow.runColor": colors[t["label"]]})


def attach_dashboard(plan: SweepPlan, summary: dict) -> None:
    """Build the Plotly report of this sweep and log it to the parent run as report.html.
    A dashboard problem never fails a sweep that ran: it is one warning line."""
    import tempfile
    if len(summary["trials"]) == len(summary["failed"]):
        print("dashboard: skipped (no finished trial)", file=sys.stderr)
        return
    try:
        from dashboards.build import attach_to_run, build_report
        with tempfile.TemporaryDirectory() as tmp:
            path = build_report(plan.experiment, plan.tracking_uri, plan.parent_run_id,
                                out=os.path.join(tmp, "report.html"), log=lambda *a: None)
            attach_to_run(plan.parent_run_id, path, tracking_uri=plan.tracking_uri)
        print("dashboard: report.html logged to the sweep's parent run", file=sys.stderr)
    except Exception as exc:  # noqa: BLE001 - see docstring
        print(f"dashboard: not built ({str(exc).splitlines()[0] if str(exc) else exc!r})",
              file=sys.stderr)


def _slots(plan: SweepPlan, resources: dict) -> int:
    import ray
    cpus = ray.cluster_resources().get("CPU", 1)
    slots = max(1, math.floor(cpus / resources["cpu"]))
    return min(slots, plan.max_concurrent or slots)


def main(argv=None) -> int:
    return run_sweep(parse_args(argv), start=PROCESS_START)


if __name__ == "__main__":
    sys.exit(main())
