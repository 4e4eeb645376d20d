"""Search-space files: load one, validate it against the config, before anything starts.

A space file is a Python module that declares
    SPACE = {config key: value | tune.grid_search([...]) | tune.choice([...]) | tune.uniform(a, b)
             | tune.loguniform(a, b) | ...}
    TUNE = {"metric": "psnr_y", "mode": "max", "searcher": "grid|random|optuna",
            "scheduler": "fifo|asha", "num_samples": 1, "budget": "cpu",
            "seeds": 1, "reference": {searched key: value},
            "compare": ["psnr_y", "jpeg90_psnr_y"],                           # optional
            "margins": {"psnr_y": 0.1}, "fidelity": "steps"}                   # optional
`mode` defaults to the metric's direction (irn.metric_registry.METRICS); `seeds` replicates every
configuration (bench/sweep/replicates.py); `reference` picks the group every other is compared
with (default: the official recipe when the grid holds it, else the first group);
`seeds` may be "auto" (2, then one more for every group in an undecided comparison, up to
`max_seeds`, default 5: bench/sweep/rounds.py); `compare` names more per-image metrics on
which every group is also compared with the
reference (a paired difference with its 95% CI and verdict, as for the objective);
`margins` overrides metrics' equivalence margins (bench/STATISTICS.md); `fidelity` names
the searched budget key whose values are compared as budgets (bench/sweep/curves.py), and
nothing else. Every problem is one SpaceError whose message is a single line.
"""
import itertools
import math
import os
from dataclasses import dataclass, field

from ray import tune
from ray.tune.search.sample import Categorical, Domain, Float, Function, Integer

from irn.config import BUDGETS, ConfigError, from_dict, keys
from irn.metric_registry import margin_problem, metric_spec

SEARCHERS = ("grid", "random", "optuna")
SCHEDULERS = ("fifo", "asha")
TUNE_DEFAULTS = {"metric": "psnr_y", "mode": None, "searcher": None, "scheduler": "fifo",
                 "num_samples": 1, "budget": "cpu", "seeds": 1, "reference": None,
                 "profile": False, "compare": (), "margins": {}, "fidelity": None,
                 "max_seeds": 5}
PERCEPTUAL = ("lpips", "dists")
MAX_COMBINATIONS = 4096  # cross-check every discrete combination up to this many


class SpaceError(ValueError):
    """One line: what is wrong with the space file, and what is allowed."""


@dataclass
class Space:
    path: str                      # absolute path of the file
    space: dict                    # config key -> value or Ray Tune domain
    tune: dict = field(default_factory=dict)  # TUNE with defaults filled in
    source: str = ""

    @property
    def searched(self) -> list[str]:
        """The keys that vary (grid axes and sampled domains), in file order."""
        return [k for k, v in self.space.items() if _is_grid(v) or isinstance(v, Domain)]

    @property
    def grid_size(self) -> int:
        """Points of the grid (the product of the grid_search axes; 1 without any)."""
        return math.prod(len(v["grid_search"]) for v in self.space.values() if _is_grid(v))

    def fixed(self) -> dict:
        return {k: v for k, v in self.space.items() if k not in self.searched}

    def without(self, keys) -> "Space":
        """The space less some fixed keys (those `--set` overrides)."""
        return Space(self.path, {k: v for k, v in self.space.items() if k not in set(keys)},
                     self.tune, self.source)


def _is_grid(v) -> bool:
    return isinstance(v, dict) and set(v) == {"grid_search"}


def load_space(path: str) -> Space:
    """Read and execute a space file; SpaceError on a missing file or an error inside it."""
    path = os.path.abspath(path)
    if not os.path.isfile(path):
        raise SpaceError(f"space file not found: {path}")
    try:
        with open(path, encoding="utf-8") as f:
            source = f.read()
        code = compile(source, path, "exec")
    except SyntaxError as e:
        raise SpaceError(f"{path}:{e.lineno}: syntax error: {e.msg}") from None
    except (OSError, UnicodeDecodeError) as e:
        raise SpaceError(f"cannot read space file {path}: {e}") from None
    namespace = {"__name__": "irn_space", "__file__": path}
    try:
        exec(code, namespace)
    except Exception as e:  # noqa: BLE001 - any error in the file is the user's, reported
        tb, line = e.__traceback__, "?"
        while tb is not None:
            if tb.tb_frame.f_code.co_filename == path:
                line = tb.tb_lineno
            tb = tb.tb_next
        raise SpaceError(f"{path}:{line}: {type(e).__name__}: {e}") from None
    if "SPACE" not in namespace:
        raise SpaceError(f"{path} declares no SPACE dict")
    space, tune_cfg = namespace["SPACE"], namespace.get("TUNE", {})
    if not isinstance(space, dict) or not space:
        raise SpaceError(f"{path}: SPACE must be a non-empty dict of config keys")
    if not isinstance(tune_cfg, dict):
        raise SpaceError(f"{path}: TUNE must be a dict with keys {', '.join(TUNE_DEFAULTS)}")
    return Space(path, dict(space), _check_tune(path, tune_cfg, space), source)


def _check_tune(path: str, given: dict, space: dict) -> dict:
    unknown = sorted(set(given) - set(TUNE_DEFAULTS))
    if unknown:
        raise SpaceError(f"{path}: unknown TUNE key {unknown[0]!r}; valid: "
                         f"{', '.join(TUNE_DEFAULTS)}")
    out = {**TUNE_DEFAULTS, **given}
    has_grid = any(_is_grid(v) for v in space.values())
    if out["searcher"] is None:
        out["searcher"] = "grid" if has_grid or not any(
            isinstance(v, Domain) for v in space.values()) else "random"
    if not isinstance(out["metric"], str) or not out["metric"]:
        raise SpaceError(f"{path}: TUNE metric must be a metric name such as 'psnr_y'")
    spec = metric_spec(out["metric"])
    if out["mode"] is None:
        out["mode"] = spec.mode if spec else "max"
    elif spec and out["mode"] != spec.mode:
        raise SpaceError(f"{path}: TUNE mode {out['mode']!r} contradicts {out['metric']}, "
                         f"where {spec.mode} is better")
    checks = [("mode", ("max", "min")), ("searcher", SEARCHERS), ("scheduler", SCHEDULERS),
              ("budget", tuple(BUDGETS))]
    for key, allowed in checks:
        if out[key] not in allowed:
            raise SpaceError(f"{path}: TUNE {key} must be one of {', '.join(allowed)}; "
                             f"got {out[key]!r}")
    for key in ("num_samples", "seeds", "max_seeds"):
        n = out[key]
        if key == "seeds" and n == AUTO_SEEDS:
            continue
        low = 2 if key == "max_seeds" else 1
        if isinstance(n, bool) or not isinstance(n, int) or n < low:
            raise SpaceError(f"{path}: TUNE {key} must be an integer >= {low}"
                             + (" or 'auto'" if key == "seeds" else "") + f"; got {n!r}")
    if not isinstance(out["profile"], bool):
        raise SpaceError(f"{path}: TUNE profile must be True or False; got {out['profile']!r}")
    _check_reference(path, out["reference"], space)
    out["compare"] = check_compare(out["compare"], f"{path}: TUNE compare")
    out["margins"] = check_margins(out["margins"], f"{path}: TUNE margins")
    fid = out["fidelity"]
    if fid is not None and not (isinstance(fid, str) and _is_grid(space.get(fid))
                                and len(space[fid].get("grid_search", ())) >= 2):
        raise SpaceError(f"{path}: TUNE fidelity must name a grid_search key with 2 or more "
                         f"values (the budget, e.g. 'steps'); got {fid!r}")
    return out


AUTO_SEEDS = "auto"  # seeds added until every comparison is decided (bench/sweep/rounds.py)
FIRST_ROUND_SEEDS = 2


def first_seeds(seeds) -> int:
    """Replicates of the first (or only) round: `seeds`, or 2 for seeds=auto."""
    return FIRST_ROUND_SEEDS if seeds == AUTO_SEEDS else int(seeds)


def check_margins(margins, where: str) -> dict:
    """TUNE margins: {per-image metric: equivalence margin >= 0, finite} (in the metric's
    unit; irn.metric_registry.MARGINS has the defaults)."""
    if not isinstance(margins, dict):
        raise SpaceError(f"{where} must be a dict such as {{'psnr_y': 0.1}}")
    for name, value in margins.items():
        problem = margin_problem(name, value)
        if problem:
            raise SpaceError(f"{where}: {problem}")
    return {name: float(value) for name, value in margins.items()}


def check_compare(names, where: str) -> list[str]:
    """The metrics of TUNE compare / --compare: a list (or a comma-separated string) of
    per-image metric names."""
    if isinstance(names, str):
        names = [n.strip() for n in names.split(",") if n.strip()]
    if not isinstance(names, (list, tuple)) or not all(isinstance(n, str) for n in names):
        raise SpaceError(f"{where} must be a list of metric names such as ['psnr_y']")
    for name in names:
        spec = metric_spec(name)
        if spec is None or not spec.per_image:
            raise SpaceError(f"{where}: {name!r} is not a per-image evaluation metric "
                             "(e.g. psnr_y, ssim_y, lr_psnr_y, jpeg90_psnr_y)")
    return list(dict.fromkeys(names))


def _check_reference(path: str, reference, space: dict) -> None:
    """TUNE reference: {searched key: one of its grid values}."""
    if reference is None:
        return
    if not isinstance(reference, dict) or not reference:
        raise SpaceError(f"{path}: TUNE reference must be a dict of searched keys and values")
    for key, value in reference.items():
        axis = space.get(key)
        if not _is_grid(axis):
            raise SpaceError(f"{path}: TUNE reference key {key!r} is not a grid_search key "
                             "of SPACE")
        if str(value) not in [str(v) for v in axis["grid_search"]]:
            raise SpaceError(f"{path}: TUNE reference {key}={value!r} is not in its grid "
                             f"({', '.join(map(str, axis['grid_search']))})")


def check_searcher(space: Space, searcher: str) -> None:
    """Grid axes need a searcher that enumerates them; Optuna and random search sample."""
    grid = [k for k, v in space.space.items() if _is_grid(v)]
    if grid and searcher != "grid":
        raise SpaceError(f"{space.path}: searcher {searcher!r} cannot take tune.grid_search "
                         f"(key {grid[0]!r}); use tune.choice([...]) or searcher 'grid'")
    if searcher == "optuna":
        bad = [k for k, v in space.space.items() if isinstance(v, Function)]
        if bad:
            raise SpaceError(f"{space.path}: searcher 'optuna' cannot take tune.sample_from "
                             f"(key {bad[0]!r})")


def _candidates(key: str, value, path: str) -> list:
    """Concrete values to validate for one SPACE entry."""
    if _is_grid(value):
        values = value["grid_search"]
        if not isinstance(values, (list, tuple)) or not values:
            raise SpaceError(f"{path}: SPACE[{key!r}] grid_search needs a non-empty list")
        return list(values)
    if isinstance(value, Categorical):
        return list(value.categories)
    if isinstance(value, Float):
        return [value.lower, value.upper]
    if isinstance(value, Integer):
        return [value.lower, value.upper - 1]  # randint's upper bound is exclusive
    if isinstance(value, Function):
        return []  # sample_from: opaque, checked when the trial builds its config
    if isinstance(value, Domain):
        raise SpaceError(f"{path}: SPACE[{key!r}] uses an unsupported domain "
                         f"{type(value).__name__}")
    if isinstance(value, (dict, list, set, tuple)):
        raise SpaceError(f"{path}: SPACE[{key!r}] must be a value or a tune domain, got a "
                         f"{type(value).__name__} (wrap lists in tune.grid_search or tune.choice)")
    return [value]


def validate(space: Space, base: dict, sets: dict | None = None) -> list[tuple[str, object]]:
    """Every value of every key, and every discrete combination, must build a Config on top
    of `base` (defaults + budget + fixed overrides). SpaceError otherwise; one that the
    command line's `sets` (--set, inside `base`) cause is blamed on them, not on the file.
    Returns the configs built, each with where it came from, for further checks."""
    valid = set(keys())
    for key in space.space:
        if key not in valid:
            raise SpaceError(f"{space.path}: unknown config key {key!r} in SPACE; valid keys: "
                             f"{', '.join(keys())}")
    cands = {k: _candidates(k, v, space.path) for k, v in space.space.items()}
    first = {k: c[0] for k, c in cands.items() if c}  # fixed values and each axis's first
    _check_sets(sets or {}, {**base, **first})
    built = []
    for key, values in cands.items():
        for v in values:
            built.append((f"{key}={v!r}",
                          _build(space.path, {**base, **first, key: v}, f"{key}={v!r}")))
    built.append(("the base config", _build(space.path, {**base, **first}, "the base config")))
    discrete = {k: c for k, c in cands.items()
                if len(c) > 1 and not isinstance(space.space[k], (Float, Integer))}
    if math.prod(len(c) for c in discrete.values()) <= MAX_COMBINATIONS:
        for combo in itertools.product(*discrete.values()):
            point = dict(zip(discrete, combo))
            where = " with ".join(f"{k}={v!r}" for k, v in point.items())
            built.append((where, _build(space.path, {**base, **first, **point}, where)))
    return built


def _check_sets(sets: dict, values: dict) -> None:
    """SpaceError naming the --set values when `values` fails to build but builds without
    them (their defaults instead); a failure that remains is the space's, for validate."""
    try:
        from_dict(values)
        return
    except ConfigError as e:
        error = e
    try:
        from_dict({k: v for k, v in values.items() if k not in sets})
    except ConfigError:
        return
    given = " ".join(f"{k}={v}" for k, v in sets.items())
    raise SpaceError(f"--set {given}: {error}")


def _build(path: str, values: dict, where: str):
    try:
        return from_dict(values)
    except ConfigError as e:
        raise SpaceError(f"{path}: bad value ({where}): {e}") from None


def uses_perceptual(space: Space, base: dict) -> bool:
    specs = [base.get("loss_recon", ""), base.get("loss_guide", "")]
    for key in ("loss_recon", "loss_guide"):
        if key in space.space:
            specs += [str(v) for v in _candidates(key, space.space[key], space.path)]
    return any(name in str(s).lower() for s in specs for name in PERCEPTUAL)


def param_space(space: Space, seeds=1) -> dict:
    """The dict handed to Ray Tune: the searched and fixed keys of the file, and with
    seeds > 1 the replicate axis (bench/sweep/replicates.py); seeds=auto: the first round's."""
    from bench.sweep.replicates import REPLICATE
    seeds = first_seeds(seeds)
    out = {}
    for k, v in space.space.items():
        out[k] = tune.grid_search(list(v["grid_search"])) if _is_grid(v) else v
    if seeds > 1:
        out[REPLICATE] = tune.grid_search(list(range(seeds)))
    return out


def default_reference(space: Space) -> dict | None:
    """The official recipe's values of the searched grid keys (Config defaults), when the
    grid holds all of them; else None (the first group is the reference)."""
    from irn.config import Config
    official = Config.__dataclass_fields__
    ref = {}
    for key in space.searched:
        axis = space.space[key]
        default = official[key].default
        if not _is_grid(axis) or str(default) not in [str(v) for v in axis["grid_search"]]:
            return None
        ref[key] = default
    return ref or None


def sweep_params(space: Space, base: dict, seeds=1) -> dict:
    """Every config key as the sweep runs it, for the parent run's params: the value every
    trial shares (defaults < budget < --set < the space's fixed keys), and for a searched key
    what is searched ("grid: l1, l2" or "uniform 1e-05..0.001"); `seed` says the replicates
    ("0 + replicates 0-1": trial seeds 0 and 1; "auto" for --seeds auto)."""
    from irn.config import Config
    params = {k: f.default for k, f in Config.__dataclass_fields__.items()}
    params.update(base)
    params.update(space.fixed())
    for key in space.searched:
        params[key] = _describe_domain(space.space[key])
    if seeds == AUTO_SEEDS:
        params["seed"] = f"{params['seed']} + replicates 0-1, more while undecided (auto)"
    elif int(seeds) > 1 and "seed" not in space.searched:
        params["seed"] = f"{params['seed']} + replicates 0-{int(seeds) - 1}"
    return params


def _describe_domain(value) -> str:
    if _is_grid(value):
        return "grid: " + ", ".join(map(str, value["grid_search"]))
    if hasattr(value, "categories"):
        return "choice: " + ", ".join(map(str, value.categories))
    if hasattr(value, "lower") and hasattr(value, "upper"):
        sampler = type(getattr(value, "sampler", None)).__name__.lower().strip("_")
        return f"{sampler or 'range'} {value.lower:g}..{value.upper:g}"
    return str(value)
