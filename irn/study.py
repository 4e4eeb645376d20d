"""What a study adds to irn, declared in the study's own module (irn/temporal.py is the
worked example) and listed once in irn/studies.py:

- `fields`: a frozen dataclass of its config keys and their defaults; irn.config.Config
  inherits them, so `--set KEY=V`, sweeps, MLflow params and checkpoints know them;
- `weights` and `losses`: keys validated as a weight (finite, >= 0) and as a loss spec of
  irn.losses; `check(cfg)`: any other cross-check, raising ValueError with the line to print;
- `loss_term` and `build_loss(cfg, loss_options)`: a training term (irn/loss_terms.py logs
  and plots it) and the module computing it, or None when the config switches it off. The
  objective calls `prepare(model, hr, generator)` in the forward phase (after the main
  forward pass; `generator` is the trainer's checkpointed CPU generator for such draws) and
  `term(model, state, lr, rec, z)` in the reverse phase (`rec`: the main reconstruction
  from the quantised LR when one was made, else None; `z`: its latent). Its state_dict is
  saved under the study's name;
- `metrics()`: its MetricSpecs (irn/metric_spec.py), placed in the registry's table order.
This module imports nothing of irn's, so study modules and the registries can import it.
"""
from dataclasses import dataclass
from typing import Callable

SHAPE = ("scale", "patch_size")  # every loss term is summed over pixels, averaged over images


@dataclass(frozen=True)
class LossTerm:
    name: str  # terms[name] in the objective; logged as loss/<name>
    weight: str  # the config key that weights it
    defined_by: tuple[str, ...]  # config keys that change what one unit of it means

    @property
    def key(self) -> str:
        return f"loss/{self.name}"


@dataclass(frozen=True)
class Study:
    name: str
    fields: type
    weights: tuple[str, ...] = ()
    losses: tuple[str, ...] = ()
    check: Callable | None = None
    loss_term: LossTerm | None = None
    build_loss: Callable | None = None
    metrics: Callable = lambda: []
