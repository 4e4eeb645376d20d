"""What a trained network learned (torch / numpy only; bench.analyze is the CLI, bench/ANALYZE.md
the reading guide): where its weights are (weights), how much each part matters when
pruned (pruning), how it drifts when applied repeatedly (repeat), and what its LR carries
beyond the bicubic LR (spectrum). `analyze` runs them all on one validation set.
"""
import torch

from irn.analysis.pruning import PERCENTS, block_pruning, channel_pruning
from irn.analysis.repeat import TIMES, repeated_round_trips, x2_twice
from irn.analysis.spectrum import difference_spectrum, hidden_picture
from irn.analysis.weights import weight_summary
from irn.config import Config
from irn.evaluate import evaluate_images, mean_metrics
from irn.quantization import quantize

MAX_PICTURES = 4  # difference pictures kept for the page


@torch.inference_mode()
def model_and_bicubic_lrs(model, val_set, device="cpu") -> tuple[list, list]:
    """The model's LR and the quantised bicubic LR (irn.evaluate's lr_bicubic) per image,
    as uint8 H x W x 3."""
    from irn.data.sources import tensor_to_rgb8
    lrs, bics = [], []
    for hr, lr_ref in val_set:
        lrs.append(tensor_to_rgb8(model.downscale(hr.to(device))))
        bics.append(tensor_to_rgb8(quantize(lr_ref)))
    return lrs, bics


def analyze(model, val_set, cfg: Config, device="cpu", percents=PERCENTS, times=TIMES,
            progress=lambda step: None) -> tuple[dict, dict]:
    """(numbers: JSON-ready, pictures: numpy arrays for the figures). `cfg` must have the
    model's scale, z_eval "zero" and no JPEG QFs; `progress(name)` is told each step."""
    if cfg.scale != model.scale or cfg.z_eval != "zero" or cfg.jpeg_eval.strip():
        raise ValueError("analyze needs cfg with the model's scale, z_eval zero, jpeg_eval ''")
    model = model.eval().to(device)
    rows = evaluate_images(model, val_set, cfg, device)
    numbers = {"n_images": len(rows), "images": [r["image"] for r in rows],
               "evaluation": {"per_image": rows, "mean": mean_metrics(rows)}}
    for name, step in (("weights", lambda: weight_summary(model)),
                       ("channel_pruning",
                        lambda: channel_pruning(model, val_set, cfg, percents, device)),
                       ("block_pruning", lambda: block_pruning(model, val_set, cfg, device)),
                       ("repeat", lambda: repeated_round_trips(model, val_set, times, device)),
                       ("x2_twice", lambda: x2_twice(model, val_set, device))):
        progress(name)
        numbers[name] = step()
    progress("lr_hidden")
    lrs, bics = model_and_bicubic_lrs(model, val_set, device)
    spec = difference_spectrum(lrs, bics)
    numbers["lr_hidden"] = {"mean_levels": spec["mean"], "rms_levels": spec["rms"],
                            "n_images": spec["n_images"],
                            "radial_frequency": spec["radial_frequency"].tolist(),
                            "radial_power": spec["radial_power"].tolist()}
    pictures = {"spectrum": spec,
                "hidden": {name: hidden_picture(a, b) for name, a, b in
                           list(zip(numbers["images"], lrs, bics))[:MAX_PICTURES]}}
    return numbers, pictures

