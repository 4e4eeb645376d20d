"""Replicates: every configuration of a sweep runs N times, with seeds base + 0..N-1.

The replicate index travels to the trial as the Tune parameter `replicate` (not a config
key: the trial adds it to the config's `seed`). Trials that differ only by it form a group:
`group_id` hashes the configuration with the base seed, `group_label` joins the searched
keys' values ("charbonnier|l2").
"""
import hashlib
import json

from irn.config import Config, from_dict

REPLICATE = "replicate"


def trial_dirname(trial) -> str:
    """A trial's results folder: its id (short; the config is in MLflow and params.json)."""
    return trial.trial_id


def trial_config(base: dict, searched: dict) -> tuple[Config, int]:
    """(the trial's Config, its replicate index) from the sweep's base and a trial's
    Tune config (searched values, maybe `replicate`)."""
    values = dict(searched)
    replicate = int(values.pop(REPLICATE, 0))
    cfg = from_dict({**base, **values})
    return (cfg.replace(seed=cfg.seed + replicate) if replicate else cfg), replicate


def group_id(cfg: Config, replicate: int) -> str:
    """A stable short hash of the configuration without its replicate's seed offset."""
    values = {**cfg.to_dict(), "seed": cfg.seed - replicate}
    blob = json.dumps(values, sort_keys=True, default=str).encode()
    return hashlib.sha1(blob).hexdigest()[:8]


def group_label(config: dict, searched: list[str]) -> str:
    """The searched keys' values, joined by "|" ("all" for a space that searches nothing)."""
    values = [_cell(config.get(k)) for k in searched if k != REPLICATE]
    return "|".join(values) if values else "all"


def _cell(v) -> str:
    return f"{v:.4g}" if isinstance(v, float) else str(v)
