"""Independent levels (Wavelet Flow: Yu, Derpanis & Brubaker, NeurIPS 2020, each Haar level
modelled by its own flow and trained alone) for IRN: an x4 or x8 rescaler as a cascade of x2
levels, `architecture=levels`.

The cascade is irn.model's network with every stage but the last splitting off all of its
high-frequency channels (multiscale depth log2(s) - 1, split ratio 1): stage k then maps the
LR of stage k-1 (3 channels) to its own LR and a 9-channel latent, which is exactly a x2
network, so level k's weights load into stage k unchanged and the composed cascade is one
model like any other (every metric, bench.evaluate, irn.rescale, checkpoints, tiling).

Training level k alone (`level=k`, as the sweep plans it: bench/sweep/levels.py): a x2
network on the photos shrunk by 2^(k-1) (MATLAB bicubic, rounded to 8 bits: "the image at
1/2^(k-1)"), with that scale pair's bicubic LR as the guide: `level_config`. Its steps:
`level_steps=split` gives each level steps / levels (rounded up: the cascade's total equals
the joint network's steps), `each` gives every level `steps` (equal wall time when the
levels run in parallel). At inference the levels are composed and level k sees level k-1's
LR, which imitates the bicubic LR it was trained on.

    python -m irn.levels OUT.pt LEVEL1.pt LEVEL2.pt [LEVEL3.pt]

composes level checkpoints (bench.train --set architecture=levels,scale=S,level=K --save)
into one model file that irn.rescale and bench.evaluate read. Bad input: one line, exit 2.
"""
import math
import sys

import torch

from irn.config import Config, ConfigError, from_dict
from irn.model import build_model


def n_levels(scale: int) -> int:
    return int(math.log2(scale))


def level_step_count(cfg: Config) -> int:
    """The steps each level of a levels config trains."""
    return cfg.steps if cfg.level_steps == "each" else -(-cfg.steps // n_levels(cfg.scale))


def level_config(cfg: Config, k: int | None = None) -> Config:
    """The config that trains level k (default cfg.level) of the cascade `cfg` alone: a
    joint x2 network on the data shrunk by 2^(k-1), for level_step_count steps."""
    k = cfg.level if k is None else k
    if cfg.architecture != "levels" or not 1 <= k <= n_levels(cfg.scale):
        raise ConfigError(f"level {k} is not a level of this config (architecture="
                          f"{cfg.architecture}, scale {cfg.scale}: levels 1..."
                          f"{n_levels(cfg.scale)})")
    steps = level_step_count(cfg)
    values = {**cfg.to_dict(), "scale": 2, "architecture": "joint", "level": 0,
              "downsample": cfg.downsample * 2 ** (k - 1), "steps": steps,
              "level_steps": "split"}
    if cfg.eval_points:
        values["eval_points"] = min(cfg.eval_points, steps)
    return from_dict(values)


def compose(cfg: Config, level_weights: list[dict]):
    """The cascade of `cfg` (architecture=levels) with level k's model state dict (a x2
    network's: its one stage's weights) in stage k."""
    if len(level_weights) != n_levels(cfg.scale):
        raise ConfigError(f"a x{cfg.scale} cascade has {n_levels(cfg.scale)} levels, got "
                          f"{len(level_weights)} level weights")
    model = build_model(**cfg.arch())
    for stage, weights in zip(model.stages, level_weights):
        inner = {k.removeprefix("stages.0."): v for k, v in weights.items()
                 if k.startswith("stages.0.")}
        if len(inner) != len(weights):
            raise ConfigError("a level's weights must be a x2 network's (one stage)")
        stage.load_state_dict(inner)
    return model


def level_weights_of(path) -> dict:
    """The model state dict of a level's trainer checkpoint (irn.train.Trainer.save)."""
    state = torch.load(path, map_location="cpu", weights_only=True)
    return state["model"]


def compose_files(paths: list[str]):
    """(cascade config, model) from level checkpoints in level order; each must be a x2
    network trained on the photos at 1/2^(k-1) of the first's (bench.train's own format)."""
    from irn.checkpoint import model_from
    from irn.official import CheckpointError, load_torch_file
    if len(paths) not in (2, 3):
        raise ConfigError(f"a cascade has 2 (x4) or 3 (x8) levels; got {len(paths)} file(s)")
    models, configs = [], []
    for k, path in enumerate(paths, 1):
        obj = load_torch_file(path)  # read once: the weights and the config it trained with
        models.append(model_from(obj, path))
        configs.append(from_dict(obj.get("config") or {}))
        if models[-1].scale != 2 or models[-1].architecture != "joint":
            raise CheckpointError(f"{path} is not a x2 level (x{models[-1].scale}, "
                                  f"{models[-1].architecture})")
        if configs[-1].downsample != configs[0].downsample * 2 ** (k - 1):
            raise CheckpointError(f"{path} trained on the photos at 1/{configs[-1].downsample}: "
                                  f"level {k} needs 1/{configs[0].downsample * 2 ** (k - 1)}")
    first = configs[0]
    cfg = from_dict({**first.to_dict(), "scale": 2 ** len(paths), "architecture": "levels",
                     "downsample": first.downsample})
    return cfg, compose(cfg, [m.state_dict() for m in models])


def main(argv=None) -> int:
    from irn.checkpoint import save_model
    from irn.cli import OneLineParser
    from irn.official import CheckpointError
    p = OneLineParser(prog="python -m irn.levels", description=__doc__.split("\n\n")[-2])
    p.add_argument("out", help="the cascade's model file")
    p.add_argument("levels", nargs="+", help="level 1, 2 (, 3) checkpoints, in order")
    args = p.parse_args(argv)
    try:
        cfg, model = compose_files(args.levels)
        save_model(args.out, model, cfg.arch(), {"config": cfg.to_dict()})
    except (ConfigError, CheckpointError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"composed {len(args.levels)} levels -> {args.out} (x{cfg.scale} cascade)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
