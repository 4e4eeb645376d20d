"""The training objective's terms, declared once beside it (irn/objective.py computes them;
irn/stego_objective.py reuses the names): what each term's value is logged as, which config
key weights it, and which keys define its value (its loss function and the patch shape).
The report's curves read this registry (dashboards/training.py): a term is divided by its
weight, and terms whose remaining definition differs never share an axis. A new term is one
entry here plus its code in the objective."""
from dataclasses import dataclass

SHAPE = ("scale", "patch_size")  # every term is summed over pixels, averaged over images


@dataclass(frozen=True)
class LossTerm:
    name: str  # terms[name] in the objective; logged as loss/<name>
    weight: str  # the config key that weights it
    defined_by: tuple[str, ...]  # config keys that change what one unit of it means

    @property
    def key(self) -> str:
        return f"loss/{self.name}"


LOSS_TERMS = (
    LossTerm("guide", "lambda_guide", ("loss_guide", *SHAPE)),
    LossTerm("recon", "lambda_recon", ("loss_recon", *SHAPE)),
    LossTerm("recon_clean", "lambda_recon", ("loss_recon", *SHAPE)),
    LossTerm("distr", "lambda_distr", SHAPE),
    LossTerm("dequant", "lambda_dequant", SHAPE),
    LossTerm("temporal", "lambda_temporal", ("loss_temporal", *SHAPE)),
)
TOTAL = "loss/total"
# what defines the total: every term's definition and weight, and what mixes them
TOTAL_DEFINED_BY = tuple(dict.fromkeys(
    [k for t in LOSS_TERMS for k in t.defined_by] + [t.weight for t in LOSS_TERMS]
    + ["jpeg_clean_weight", "quantization"]))
