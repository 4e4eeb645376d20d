"""The science gate's probe (bench/gate/science.py runs it in the base and the head tree,
with that tree's code first on PYTHONPATH and one thread): per-image metrics of

- train/<arithmetic>: a short deterministic training (the `cpu` budget at x2, SCIENCE_STEPS
  steps, seed 0, one evaluation at the end, JPEG at QF 50 only), in fp32 and in the arithmetic `amp=auto` picks
  on this machine (once when that is fp32 too);
- eval: one fixed, seeded model (irn.build_model at x2 from torch seed 0, every weight then
  moved by seeded noise so no block is the identity), evaluated on the same tiles.

Training changes show in train/* (also in probe/raw_lr_mse, the network's LR before
rounding, which a change too small to move any 8-bit level still moves), metric changes in
eval (and in train/*). Writes JSON to
argv[1]: {"irn_file", "parts": {part: [row, ...]}, "precisions": {...}}. It only uses API
that every recent tree has (Trainer.run, evaluate_images, validation_set, resolve_amp)."""
import json
import os
import sys

import torch

STEPS = int(os.environ.get("SCIENCE_STEPS", "30"))
BUDGET = os.environ.get("SCIENCE_BUDGET", "cpu")  # the tests: smoke (8 tiles of 32 px)


def config(**changes):
    from irn.config import BUDGETS, from_dict
    return from_dict({**BUDGETS[BUDGET], "scale": 2, "seed": 0, "steps": STEPS,
                      "eval_every": STEPS, "eval_points": 0, "channels_last": False,
                      "jpeg_eval": "50", **changes})


def raw_lr_mse(model, val_set) -> list[float]:
    """Per tile, the mean squared difference of the network's LR channels before 8-bit
    rounding from the bicubic LR: it moves with any weight, where the rounded metrics can
    stay put under a change of 1e-9."""
    out = []
    with torch.no_grad():
        for hr, lr_ref in val_set:
            lr = model(hr, jac=False)[0][:, :3]  # (out, log_det)
            out.append(float(((lr.double() - lr_ref.double()) ** 2).mean()))
    return out


def trained_rows(amp: str) -> tuple[list[dict], str]:
    from irn.train import Trainer
    trainer = Trainer(config(amp=amp))
    last = None
    for report in trainer.run():
        last = report
    rows = last["per_image"]
    trainer.model.eval()
    for row, mse in zip(rows, raw_lr_mse(trainer.model, trainer.val_set)):
        row["probe/raw_lr_mse"] = mse
    return rows, last["precision"]


def fixed_model_rows() -> list[dict]:
    from irn.evaluate import evaluate_images
    from irn.model import build_model
    from irn.train import validation_set
    cfg = config(amp="off")
    torch.manual_seed(0)
    model = build_model(**cfg.arch())
    gen = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for p in model.parameters():
            p.add_(0.02 * torch.randn(p.shape, generator=gen))
    return evaluate_images(model.eval(), validation_set(cfg), cfg)


def main(out: str) -> None:
    import irn
    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True)
    parts, precisions = {}, {}
    for amp in ("off", "auto"):
        rows, precision = trained_rows(amp)
        if precision in precisions.values():
            continue  # auto chose fp32 here: the same run again
        parts[f"train/{precision}"], precisions[amp] = rows, precision
    parts["eval"] = fixed_model_rows()
    with open(out, "w", encoding="utf-8") as f:
        json.dump({"irn_file": os.path.realpath(irn.__file__), "parts": parts,
                   "precisions": precisions, "steps": STEPS}, f)


if __name__ == "__main__":
    main(sys.argv[1])
