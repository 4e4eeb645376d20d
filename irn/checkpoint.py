"""Model files: our own format (architecture + weights, written by training) and the
official release's layout, told apart automatically. Always read with weights_only=True."""
import os

import torch

from irn.atomic import atomic_write
from irn.model import build_model
from irn.official import CheckpointError, load_official, load_torch_file, read_state_dict

FORMAT = "irn-bench/1"


def atomic_save(obj, path) -> None:
    """torch.save that never leaves a half-written file (irn.atomic)."""
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    with atomic_write(path, "wb") as f:
        torch.save(obj, f)


def save_model(path, model, arch: dict, extra: dict | None = None) -> None:
    """Weights + the build_model keywords, enough to rebuild the model anywhere."""
    atomic_save({"format": FORMAT, "arch": dict(arch), "model": model.state_dict(),
                 **(extra or {})}, path)


def load_model(path, scale: int | None = None, task: str = "rescale"):
    """A model from our format or an official IRN checkpoint. `scale` is required for
    official files and checked against ours. `task`: the kind of model the caller can use
    (rescale: irn.model's; stego: irn.stego's); a file of the other kind is refused."""
    obj = load_torch_file(path)
    if isinstance(obj, dict) and obj.get("format") == FORMAT:
        arch = obj["arch"]
        if scale is not None and arch["scale"] != scale:
            raise CheckpointError(f"checkpoint {path} is for x{arch['scale']}, not x{scale}")
        found = (obj.get("config") or {}).get("task", "rescale")
        if found != task:
            raise CheckpointError(f"checkpoint {path} is a task={found} model; this takes "
                                  f"task={task} models only" + (
                                      " (stego: irn.checkpoint.load_model(path, task='stego'), "
                                      "evaluated by irn.evaluate.stego_rows)"
                                      if found == "stego" else ""))
        if task == "stego":
            from irn.stego import build_stego_model
            model = build_stego_model(**arch)
        else:
            model = build_model(**arch)
        sd = read_state_dict(obj["model"])
        try:
            model.load_state_dict(sd, strict=True)
        except RuntimeError as exc:
            raise CheckpointError(f"checkpoint {path} does not fit its architecture: "
                                  + str(exc).splitlines()[1].strip()) from None
        return model
    if scale is None:
        raise CheckpointError(f"{path} looks like an official IRN checkpoint: pass --scale")
    return load_official(obj, scale)
