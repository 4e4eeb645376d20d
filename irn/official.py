"""Load checkpoints of the official IRN release (pkuxmq/Invertible-Image-Rescaling).

Official layout: `operations.{i}` is the i-th operation in order (Haar, blocks, Haar,
blocks, ...); a Haar op holds `operations.{i}.haar_weights`, a block holds
`operations.{i}.{F,G,H}.conv{1..5}.{weight,bias}`; DataParallel files carry `module.`.
"""
import os
import re
from collections import OrderedDict

import torch

from irn.model import build_model


class CheckpointError(ValueError):
    """A checkpoint that does not fit the model; the message names the first bad key."""


def load_torch_file(path):
    """torch.load(weights_only=True) with one readable line for every failure: a missing
    file, a pickle holding objects that weights-only loading refuses (it could run code:
    nothing of it runs), a truncated or corrupt file. torch's own warnings are silenced."""
    import pickle
    import warnings
    if not os.path.isfile(path):
        raise CheckpointError(f"checkpoint not found: {path}")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        # torch's refusals ("... is not an allowed global", "unsupported GLOBAL posix.system
        # whose module posix is blocked"), not a broken file
        found = re.search(r"GLOBAL (\S+)|(\S+) was not an allowed global", str(exc))
        if found:
            what = f" ({(found.group(1) or found.group(2)).strip('`')})"
            raise CheckpointError(f"refused checkpoint {path}: it holds Python objects other "
                                  f"than tensors and plain containers{what}; not loaded, "
                                  "nothing in it ran") from None
        raise CheckpointError(f"cannot read checkpoint {path}: truncated or not a torch "
                              "checkpoint (not a pickle)") from None
    except (EOFError, IndexError, OSError, RuntimeError, ValueError) as exc:
        reason = re.sub(r"\x1b\[[0-9;]*m", "", str(exc).splitlines()[0] if str(exc) else "")
        raise CheckpointError(f"cannot read checkpoint {path}: truncated or not a torch "
                              f"checkpoint ({type(exc).__name__}: {reason[:120]})") from None


def read_state_dict(path_or_state_dict):
    """A state dict from a path (read with weights_only=True) or a dict; unwraps
    {'state_dict': ...} / {'params': ...} / {'model': ...} and strips `module.`."""
    sd = path_or_state_dict
    if isinstance(sd, (str, os.PathLike)):
        sd = load_torch_file(sd)
    if not isinstance(sd, dict):
        raise CheckpointError(f"checkpoint is a {type(sd).__name__}, not a state dict")
    for wrapper in ("state_dict", "params", "model"):
        if wrapper in sd and isinstance(sd[wrapper], dict):
            sd = sd[wrapper]
            break
    return OrderedDict((k[len("module."):] if k.startswith("module.") else k, v)
                       for k, v in sd.items())


def _official_layout(sd):
    """(number of stages, blocks per stage, gc) inferred from the keys."""
    ops = {}
    for key in sd:
        m = re.match(r"operations\.(\d+)\.(.+)$", key)
        if not m:
            raise CheckpointError(f"unexpected key {key!r}: not in the official IRN layout "
                                  "(operations.{i}....)")
        ops.setdefault(int(m.group(1)), set()).add(m.group(2))
    haar = sorted(i for i, names in ops.items() if "haar_weights" in names)
    if not haar or haar[0] != 0:
        raise CheckpointError("checkpoint has no Haar operation at operations.0 "
                              "(missing key 'operations.0.haar_weights')")
    blocks = (haar[1] - 1) if len(haar) > 1 else (max(ops) if ops else 0)
    gc_key = "operations.1.F.conv1.weight"
    if gc_key not in sd:
        raise CheckpointError(f"missing key {gc_key!r}")
    return len(haar), blocks, int(sd[gc_key].shape[0])


def load_official(path_or_state_dict, scale: int):
    """An `enhanced` + `dense` model carrying the official IRN weights for `scale`."""
    sd = read_state_dict(path_or_state_dict)
    n_stages, blocks, gc = _official_layout(sd)
    if 2 ** n_stages != scale:
        raise CheckpointError(f"checkpoint is for x{2 ** n_stages} ({n_stages} Haar "
                              f"operations), not x{scale}")
    model = build_model(scale=scale, coupling="enhanced", blocks=blocks, subnet="dense", gc=gc)
    ours = model.state_dict()
    key_map = official_key_map(model)  # official name -> our name
    mapped = OrderedDict()
    for theirs, key in key_map.items():
        if theirs not in sd:
            raise CheckpointError(f"missing key {theirs!r} in the checkpoint")
        if tuple(sd[theirs].shape) != tuple(ours[key].shape):
            raise CheckpointError(f"shape mismatch for {theirs!r}: checkpoint "
                                  f"{tuple(sd[theirs].shape)}, model {tuple(ours[key].shape)}")
        mapped[key] = sd[theirs].to(ours[key].dtype)
    extra = [k for k in sd if k not in key_map]
    if extra:
        raise CheckpointError(f"unexpected key {extra[0]!r} in the checkpoint")
    for key in (k for k in mapped if k.endswith("haar_weights")):
        if not torch.equal(mapped[key], ours[key]):
            raise CheckpointError(f"{key!r}: Haar weights differ from IRN's fixed kernels")
    model.load_state_dict(mapped, strict=True)
    return model


def official_key_map(model) -> "OrderedDict[str, str]":
    """Official key name -> our state-dict key, for every tensor of `model`."""
    out, i = OrderedDict(), 0
    for s, stage in enumerate(model.stages):
        for j, op in enumerate(stage.module_list):
            for k in op.state_dict():
                out[f"operations.{i}.{k}"] = f"stages.{s}.module_list.{j}.{k}"
            i += 1
    return out


def to_official(model) -> "OrderedDict[str, torch.Tensor]":
    """Our enhanced+dense model's weights in the official layout (for round-trip tests)."""
    sd = model.state_dict()
    return OrderedDict((theirs, sd[ours]) for theirs, ours in official_key_map(model).items())
