"""The one flat trial config. Its keys are the same everywhere: search spaces, `--set KEY=VALUE`,
MLflow params, dashboard axes. Defaults reproduce the official IRN recipe (x2); budgets are
named presets over the optimisation keys.

Precedence: defaults < budget preset < explicit values (space file, --set).

Each default is written once, in irn/config_fields.py: irn.build_model and irn.data take theirs
from `default` there, below this module's validation, which imports their registries.
The allowed values of a key come from the registry that implements them (`choices`).
"""
import dataclasses
import functools
import inspect
import math
import os
import types
import typing
from dataclasses import dataclass, fields

from irn.config_fields import ConfigFields, default  # noqa: F401  (default: re-exported)
from irn.data.samples import LOADERS
from irn.dequantization import QUANTIZATIONS
from irn.memory import MEMORY_MODES
from irn.jpeg import JPEG_MODES, parse_quality
from irn.latent import Z_MODES
from irn.layout import LAYOUT_MODES
from irn.losses import parse_spec  # names and syntax only; weights files load at build
from irn.model import ARCHITECTURES, SCALES, build_model, check_architecture
from irn.stamp import STAMPS
from irn.stego import GUIDE_TARGETS, TASKS
from irn.stego import check_config as check_task  # task / guide_target combinations
from irn.studies import STUDIES


class ConfigError(ValueError):
    """One line naming the bad key and what is allowed."""


@dataclass(frozen=True)
class Config(ConfigFields):
    """The keys of irn.config_fields.ConfigFields (where each default is written), validated
    against the registries when built."""

    def __post_init__(self):
        validate(self)

    def replace(self, **changes) -> "Config":
        return from_dict({**self.to_dict(), **changes})

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    def arch(self) -> dict:
        """The keyword arguments of irn.build_model: the parameters its signature names."""
        return {k: getattr(self, k) for k in arch_keys()}


@functools.cache
def arch_keys() -> tuple[str, ...]:
    return tuple(inspect.signature(build_model).parameters)


# Fixed sets that no registry holds: schedules are irn.train.lr_factor's branches.
SCHEDULES = ("multistep", "cosine", "constant")
LEVEL_STEPS = ("split", "each")  # irn/levels.py
AMP_MODES = ("off", "bf16", "fp16", "auto")  # auto: bf16 where native (irn.precision)
DEVICES = ("auto", "cpu", "cuda")


@functools.cache
def choices() -> dict[str, tuple]:
    """The allowed values of each key that has a fixed set, from the registry behind it."""
    return {"scale": SCALES, "z_train": Z_MODES, "z_eval": Z_MODES,
            "jpeg_train": tuple(JPEG_MODES), "schedule": SCHEDULES, "amp": AMP_MODES,
            "device": DEVICES, "loader": LOADERS, "stamp": STAMPS, "channels_last": LAYOUT_MODES,
            "quantization": QUANTIZATIONS, "task": TASKS, "guide_target": GUIDE_TARGETS,
            "memory": MEMORY_MODES, "architecture": ARCHITECTURES,
            "level_steps": LEVEL_STEPS}


# Budgets: named presets over optimisation keys (irn/CONFIG.md says why these values).
BUDGETS = {
    "smoke": dict(steps=4, batch_size=2, patch_size=32, eval_every=2, log_every=1,
                  val_max_size=64, val_tile=32, jpeg_eval="50"),
    "cpu": dict(steps=120, batch_size=4, patch_size=48, lr=5e-4, warmup=10, schedule="cosine",
                eval_every=60, eval_points=6, log_every=5, val_max_size=256, val_tile=64,
                z_train="zero",
                z_eval="zero", channels_last="auto", amp="auto"),
    "gpu": dict(steps=20_000, batch_size=16, patch_size=144, lr=2e-4, warmup=500,
                schedule="cosine", eval_every=2000, val_max_size=0),
    "paper": dict(steps=500_000, batch_size=16, patch_size=144, lr=2e-4, warmup=0,
                  schedule="multistep", eval_every=5000, val_max_size=0),
}


def keys() -> list[str]:
    return [f.name for f in fields(Config)]


MAX_SEED = 2 ** 32 - 1 - 1000  # numpy seeds are < 2**32; room for replicate offsets
# No integer key means anything beyond this (2**31 - 1: steps, sizes, counts); larger is a typo
# that would otherwise overflow a tensor size or run for ever (issue 32's property test).
MAX_INT = 2 ** 31 - 1


def _base_type(tp):
    """int | None -> int; plain types pass through."""
    if isinstance(tp, types.UnionType) or typing.get_origin(tp) is typing.Union:
        return next(a for a in typing.get_args(tp) if a is not type(None))
    return tp


def coerce(key: str, value):
    """Cast a value (often a string from --set or MLflow) to the key's type."""
    if key not in _TYPES:
        raise ConfigError(f"unknown config key {key!r}; valid keys: {', '.join(keys())}")
    tp, optional = _TYPES[key]
    if value is None or (optional and isinstance(value, str) and value.lower() == "none"):
        if optional:
            return None
        raise ConfigError(f"{key} cannot be None")
    try:
        if key in _SWITCH_OR_AUTO:  # a bool, or "auto": stored as "true" / "false" / "auto"
            if isinstance(value, str) and value.strip().lower() == "auto":
                return "auto"
            return "true" if coerce_bool(value) else "false"
        if tp is bool:
            return coerce_bool(value)
        if tp is int:  # 1.5 or "1.5" is not an integer; "inf" and "nan" are not numbers
            number = float(value) if isinstance(value, (str, float)) else value
            if isinstance(number, float) and not number.is_integer():
                raise ValueError(value)
            return int(number)
        if tp is float:
            number = float(value)
            if not math.isfinite(number):
                raise ValueError(value)
            return number
        return str(value)
    except (TypeError, ValueError):
        kind = "true, false or auto" if key in _SWITCH_OR_AUTO else \
            {float: "a finite number", int: "an integer"}.get(tp, tp.__name__)
        raise ConfigError(f"{key} must be {kind}, got {value!r}") from None


def coerce_bool(value) -> bool:
    if isinstance(value, str):
        low = value.strip().lower()
        if low not in ("1", "0", "true", "false", "yes", "no", "on", "off"):
            raise ValueError(value)
        return low in ("1", "true", "yes", "on")
    return bool(value)


_SWITCH_OR_AUTO = ("channels_last",)
_TYPES = {f.name: (_base_type(typing.get_type_hints(Config)[f.name]),
                   typing.get_type_hints(Config)[f.name] is not _base_type(
                       typing.get_type_hints(Config)[f.name]))
          for f in fields(Config)}


def from_dict(values: dict, budget: str | None = None) -> Config:
    """Build a Config from (possibly string-valued) settings on top of a budget preset."""
    base = {}
    if budget is not None:
        if budget not in BUDGETS:
            raise ConfigError(f"unknown budget {budget!r}; valid: {', '.join(BUDGETS)}")
        base.update(BUDGETS[budget])
    base.update(values)
    return Config(**{k: coerce(k, v) for k, v in base.items()})


def parse_set(pairs: list[str]) -> dict:
    """['scale=4', 'loss_recon=l1'] -> {'scale': 4, 'loss_recon': 'l1'}, validated keys."""
    out = {}
    for pair in pairs:
        if "=" not in pair:
            raise ConfigError(f"--set takes KEY=VALUE, got {pair!r}")
        key, value = pair.split("=", 1)
        out[key.strip()] = coerce(key.strip(), value.strip())
    return out


def validate(cfg: Config) -> None:
    for key, allowed in choices().items():
        if getattr(cfg, key) not in allowed:
            raise ConfigError(f"{key} must be one of {', '.join(map(str, allowed))}; "
                              f"got {getattr(cfg, key)!r}")
    for key, (tp, optional) in _TYPES.items():
        value = getattr(cfg, key)
        if value is None and optional:
            continue
        if not isinstance(value, tp) or (tp is int and isinstance(value, bool)):
            raise ConfigError(f"{key} must be {tp.__name__}, got {value!r}")
        if tp is int and key != "seed" and abs(value) > MAX_INT:
            raise ConfigError(f"{key} must be at most {MAX_INT:,} (a typo?), got {value:,}")
    try:
        check_architecture(**cfg.arch())
    except ValueError as exc:
        raise ConfigError(str(exc)) from None
    positive = ("blocks", "gc", "batch_size", "patch_size", "steps", "eval_every",
                "log_every", "eval_z_draws", "stamp_width")
    for key in positive:
        if getattr(cfg, key) < 1:
            raise ConfigError(f"{key} must be >= 1, got {getattr(cfg, key)}")
    if cfg.patch_size % cfg.scale:
        raise ConfigError(f"patch_size {cfg.patch_size} is not divisible by scale {cfg.scale}")
    for key in ("lr", "temperature", "grad_clip", "lambda_recon", "lambda_distr",
                "weight_decay", "jpeg_clean_weight", "lambda_dequant",
                *(k for study in STUDIES for k in study.weights)):
        v = getattr(cfg, key)
        if not math.isfinite(v) or v < 0:
            raise ConfigError(f"{key} must be a finite number >= 0, got {v}")
    if cfg.lr <= 0:
        raise ConfigError(f"lr must be > 0, got {cfg.lr}")
    if cfg.warmup < 0:
        raise ConfigError(f"warmup must be >= 0, got {cfg.warmup}")
    if not 0 <= cfg.seed <= MAX_SEED:
        raise ConfigError(f"seed must be 0..{MAX_SEED} (numpy's seed range), got {cfg.seed}")
    if cfg.lambda_guide is not None and not (math.isfinite(cfg.lambda_guide)
                                             and cfg.lambda_guide >= 0):
        raise ConfigError(f"lambda_guide must be a finite number >= 0 (or None: scale^2), "
                          f"got {cfg.lambda_guide}")
    if cfg.workers < 0 or cfg.val_max_size < 0 or cfg.val_tile < 0 or cfg.eval_points < 0:
        raise ConfigError("workers, val_max_size, val_tile and eval_points must be >= 0")
    if cfg.eval_points > cfg.steps:
        raise ConfigError(f"eval_points {cfg.eval_points} is more than steps {cfg.steps}: "
                          "there is one evaluation per step at most")
    if cfg.val_tile and (cfg.val_tile % cfg.scale or cfg.val_tile - 2 * cfg.scale < 11):
        raise ConfigError(f"val_tile {cfg.val_tile} must be a multiple of scale {cfg.scale} "
                          f"leaving at least 11 px for SSIM after the {cfg.scale}-px border crop")
    _check_losses(cfg)
    _check_jpeg(cfg)
    _check_studies(cfg)
    _check_memory(cfg)
    _check_levels(cfg)
    try:
        check_task(cfg)
    except ValueError as exc:
        raise ConfigError(str(exc)) from None
    if cfg.data != "embedded" and not os.path.isdir(cfg.data):
        raise ConfigError(f"data must be 'embedded' or an existing folder; {cfg.data!r} is "
                          "not a folder")


def _check_levels(cfg: Config) -> None:
    if cfg.downsample < 1 or cfg.downsample & (cfg.downsample - 1):
        raise ConfigError(f"downsample must be a power of 2 >= 1, got {cfg.downsample}")
    if cfg.downsample > 1 and cfg.loader != "memory":
        raise ConfigError("downsample shrinks the decoded photos: it needs loader=memory")
    levels = int(math.log2(cfg.scale))
    if cfg.level and (cfg.architecture != "levels" or not 1 <= cfg.level <= levels):
        raise ConfigError(f"level={cfg.level} names a level of an architecture=levels cascade "
                          f"(1..{levels} at scale {cfg.scale}); got architecture="
                          f"{cfg.architecture}")
    if cfg.architecture == "levels" and cfg.task != "rescale":
        raise ConfigError("architecture=levels is for task=rescale")


def _check_memory(cfg: Config) -> None:
    if cfg.memory != "store" and cfg.task != "rescale":
        raise ConfigError(f"memory={cfg.memory} is for task=rescale (the stego network keeps "
                          "everything: memory=store)")
    if cfg.memory == "recompute" and cfg.coupling == "iresnet":
        raise ConfigError("memory=recompute needs an exact inverse; iresnet's is a fixed-point "
                          "iteration: use memory=checkpoint")


def _check_losses(cfg: Config) -> None:
    for key in ("loss_recon", "loss_guide", *(k for study in STUDIES for k in study.losses)):
        try:
            parse_spec(getattr(cfg, key))
        except ValueError as exc:
            raise ConfigError(f"{key}: {exc}") from None


def _check_studies(cfg: Config) -> None:
    """Each study's own cross-checks (irn/study.py)."""
    for study in STUDIES:
        try:
            if study.check:
                study.check(cfg)
        except ValueError as exc:
            raise ConfigError(str(exc)) from None


def _check_jpeg(cfg: Config) -> None:
    try:
        parse_quality(cfg.jpeg_quality)
        for q in filter(None, (s.strip() for s in cfg.jpeg_eval.split(","))):
            parse_quality(q)
    except ValueError as exc:
        raise ConfigError(f"jpeg_quality/jpeg_eval: {exc}") from None
