"""Pruning sensitivity: how much Y-PSNR the round trip loses when the lightest channels, or
the lightest whole coupling blocks, are zeroed. Every pruned model is a deep copy.

Channels: in every conv of the pruned stage(s), the `percent`% of its input channels with
the smallest mass (weights.channel_mass; floor(C_in * percent / 100), ties by index) get
zero weights, so that conv ignores them.

Blocks: a block is silenced by zeroing the last conv (weight and bias) of each of its
subnets, so every subnet outputs 0. That makes the block exactly the identity for enhanced
(F = G = 0, s = clamp * (2 sigmoid(0) - 1) = 0), affine (GLOW: s = t = 0), additive (NICE)
and iresnet (y = x + 0). AllInOneBlock keeps its fixed soft permutation and its learned
global affine (ActNorm): silenced, it is that invertible linear map, not the identity.
`silenced_is_identity` measures which on the model's own first block, so a new coupling
needs no entry anywhere. Either way the model stays invertible.
"""
import copy

import numpy as np
import torch

from irn.analysis.weights import block_mass, channel_mass, convs, coupling_blocks, subnets
from irn.config import Config
from irn.evaluate import ImageViews

PERCENTS = tuple(range(0, 100, 10))


@torch.no_grad()
def silenced_is_identity(model) -> bool:
    """Whether silencing a block of this model leaves the identity: a copy of its first
    block, silenced, on a random input of the block's shape (8 x 8 px) returns it exactly."""
    block = copy.deepcopy(coupling_blocks(model)[0][0]).cpu().float()
    silence_block(block)
    dims = block.dims_in[0] if isinstance(block.dims_in, list) else block.dims_in
    x = torch.rand(1, dims[0], 8, 8, generator=torch.Generator().manual_seed(0))
    (y,), _ = block((x,), jac=False)
    return bool(torch.equal(y, x))


@torch.inference_mode()
def round_trip_psnrs(model, val_set, cfg: Config, device="cpu") -> list[float]:
    """Per image: Y-PSNR of upscale(downscale(hr)) exactly as irn.evaluate computes psnr_y
    (its ImageViews, seed = image index); with z_eval "zero" one deterministic draw."""
    return [float(np.mean(ImageViews(model, hr.to(device), lr.to(device), cfg, i).rec_psnrs))
            for i, (hr, lr) in enumerate(val_set)]


def mean_psnr(model, val_set, cfg: Config, device="cpu") -> float:
    return float(np.mean(round_trip_psnrs(model, val_set, cfg, device)))


def _stage_convs(model, stages):
    for s, blocks in enumerate(coupling_blocks(model)):
        if stages is None or s in stages:
            for block in blocks:
                for _, net in subnets(block):
                    yield from (c for _, c in convs(net))


@torch.no_grad()
def prune_channels(model, percent: int, stages=None):
    """A copy of `model` with the lightest `percent`% input channels of each conv zeroed, in
    the stages listed (0-based; None = all)."""
    pruned = copy.deepcopy(model)
    for conv in _stage_convs(pruned, stages):
        n = conv.in_channels * percent // 100
        if n:
            order = torch.argsort(channel_mass(conv), stable=True)
            conv.weight[:, order[:n]] = 0
    return pruned


@torch.no_grad()
def silence_block(block) -> None:
    """Zero the last conv of each subnet of `block` in place (see the module docstring)."""
    for _, net in subnets(block):
        _, last = convs(net)[-1]
        last.weight.zero_()
        if last.bias is not None:
            last.bias.zero_()


def lightest_blocks(model, stage: int, n: int) -> list[int]:
    """0-based indices of the n blocks of `stage` with the smallest total conv mass."""
    masses = [block_mass(b) for b in coupling_blocks(model)[stage]]
    return sorted(range(len(masses)), key=lambda i: (masses[i], i))[:n]


def prune_blocks(model, stage: int, n: int):
    """A copy of `model` with the n lightest blocks of `stage` (0-based) silenced."""
    pruned = copy.deepcopy(model)
    blocks = coupling_blocks(pruned)[stage]
    for i in lightest_blocks(model, stage, n):
        silence_block(blocks[i])
    return pruned


def channel_pruning(model, val_set, cfg: Config, percents=PERCENTS, device="cpu") -> dict:
    """{"percents", "curves": {label: mean Y-PSNR per percent}}: one curve per stage (that
    stage pruned alone) and, with more than one stage, "all stages". The unpruned point is
    evaluated once (on a 0% copy) and shared by every curve."""
    n_stages = len(model.stages)
    targets = {f"stage {s + 1}": [s] for s in range(n_stages)}
    if n_stages > 1:
        targets["all stages"] = None
    unpruned = mean_psnr(prune_channels(model, 0), val_set, cfg, device)
    curves = {label: [unpruned if p == 0 else
                      mean_psnr(prune_channels(model, p, stages), val_set, cfg, device)
                      for p in percents] for label, stages in targets.items()}
    return {"percents": list(percents), "curves": curves, "n_images": len(val_set)}


def block_pruning(model, val_set, cfg: Config, device="cpu") -> dict:
    """{"curves": {"stage S": mean Y-PSNR with 0..B of its lightest blocks silenced},
    "order": {"stage S": 1-based blocks, lightest first}}."""
    unpruned = mean_psnr(prune_blocks(model, 0, 0), val_set, cfg, device)
    curves, order = {}, {}
    for s, blocks in enumerate(coupling_blocks(model)):
        label = f"stage {s + 1}"
        order[label] = [i + 1 for i in lightest_blocks(model, s, len(blocks))]
        curves[label] = [unpruned] + [mean_psnr(prune_blocks(model, s, n), val_set, cfg, device)
                                      for n in range(1, len(blocks) + 1)]
    return {"curves": curves, "order": order, "n_images": len(val_set),
            "silenced_is_identity": silenced_is_identity(model)}
