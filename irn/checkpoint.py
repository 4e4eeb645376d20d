"""Model files: our own format (architecture + weights, written by training) and the
official release's layout, told apart automatically. Always read with weights_only=True."""
import os

import torch

from irn.atomic import atomic_write
from irn.config import arch_keys
from irn.config_fields import default
from irn.model import build_model, check_architecture
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
    return model_from(load_torch_file(path), path, scale, task)


def model_from(obj, path, scale: int | None = None, task: str = "rescale"):
    """load_model for a file already read (irn.official.load_torch_file): `obj`, from `path`."""
    if isinstance(obj, dict) and obj.get("format") == FORMAT:
        arch = checked_arch(obj, path)
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
        elif task in ("predict", "interpolate"):  # irn/video/frames.py
            from irn.video.frames import build_frame_model
            model = build_frame_model(**arch)
        else:
            model = build_model(**arch)
        sd = read_state_dict(obj["model"])
        try:
            model.load_state_dict(sd, strict=True)
        except RuntimeError as exc:
            raise CheckpointError(f"checkpoint {path} does not fit its architecture: "
                                  + str(exc).splitlines()[1].strip()) from None
        return check_finite(model, path)
    if scale is None:
        raise CheckpointError(f"{path} looks like an official IRN checkpoint: pass --scale")
    return check_finite(load_official(obj, scale), path)


def checked_arch(obj: dict, path) -> dict:
    """The file's `arch`, refused in one line unless it is a dict of build_model's keywords
    (a missing one takes build_model's default, as files from before it was added do) with
    values build_model accepts: checked before anything is built."""
    arch = obj.get("arch")
    params = arch_keys()
    if not isinstance(arch, dict):
        raise CheckpointError(f"checkpoint {path} has no architecture: 'arch' must be a dict "
                              f"of {', '.join(params)}; got {type(arch).__name__}")
    unknown = sorted(set(map(str, arch)) - set(params))
    if unknown:
        raise CheckpointError(f"checkpoint {path} has a malformed 'arch': unknown keys "
                              f"{', '.join(unknown)} (build_model takes {', '.join(params)})")
    try:
        check_architecture(**{k: arch.get(k, default(k)) for k in params})
    except (TypeError, ValueError) as exc:
        raise CheckpointError(f"checkpoint {path} has an impossible architecture: {exc}") from None
    if not isinstance(obj.get("model"), dict):
        raise CheckpointError(f"checkpoint {path} has no weights: 'model' must be a state dict")
    return arch


def check_finite(model, path):
    """Refuse weights with NaN or inf: they would evaluate to NaN everywhere, silently."""
    bad = [name for name, t in model.state_dict().items()
           if t.is_floating_point() and not bool(torch.isfinite(t).all())]
    if bad:
        raise CheckpointError(f"checkpoint {path} has non-finite weights in {len(bad)} "
                              f"tensor(s), e.g. {bad[0]}: a diverged training?")
    return model
