"""The training objective's terms, declared once beside it (irn/objective.py computes them;
irn/stego_objective.py reuses the names): what each term's value is logged as, which config
key weights it, and which keys define its value (its loss function and the patch shape).
The report's curves read this registry (dashboards/training.py): a term is divided by its
weight, and terms whose remaining definition differs never share an axis. A new term is one
entry here plus its code in the objective; a study's term is declared in its module
(irn/study.py) and joins the list from irn/studies.py."""
from irn.studies import STUDIES
from irn.study import SHAPE, LossTerm  # noqa: F401 (LossTerm: re-exported)

LOSS_TERMS = (
    LossTerm("guide", "lambda_guide", ("loss_guide", *SHAPE)),
    LossTerm("recon", "lambda_recon", ("loss_recon", *SHAPE)),
    LossTerm("recon_clean", "lambda_recon", ("loss_recon", *SHAPE)),
    LossTerm("distr", "lambda_distr", SHAPE),
    LossTerm("dequant", "lambda_dequant", SHAPE),
    *(study.loss_term for study in STUDIES if study.loss_term),
)
TOTAL = "loss/total"
# what defines the total: every term's definition and weight, and what mixes them
TOTAL_DEFINED_BY = tuple(dict.fromkeys(
    [k for t in LOSS_TERMS for k in t.defined_by] + [t.weight for t in LOSS_TERMS]
    + ["jpeg_clean_weight", "quantization"]))
