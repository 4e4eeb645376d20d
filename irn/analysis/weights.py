"""Where a model's weights are: its coupling blocks, their subnets and convs, a histogram of
the conv weight values, and the mass per input channel of each conv.

Names follow the modules: a coupling's subnets are its child modules that hold convs
(enhanced: F, G, H; affine: subnet1, subnet2; additive: F, G; allinone: subnet; iresnet:
residual), a conv is named as inside its subnet (conv1..conv5, net.0, 0, ...). Only conv
weights count (no biases, no AllInOneBlock permutation or ActNorm parameters).
"""
import numpy as np
import torch
import torch.nn as nn

from irn.haar import HaarDownsampling


def coupling_blocks(model) -> list[list[nn.Module]]:
    """Per stage, its coupling blocks in order (the Haar transforms left out)."""
    return [[op for op in stage.module_list if not isinstance(op, HaarDownsampling)]
            for stage in model.stages]


def subnets(block: nn.Module) -> list[tuple[str, nn.Module]]:
    return [(name, child) for name, child in block.named_children()
            if any(isinstance(m, nn.Conv2d) for m in child.modules())]


def convs(module: nn.Module) -> list[tuple[str, nn.Conv2d]]:
    return [(name, m) for name, m in module.named_modules() if isinstance(m, nn.Conv2d)]


def channel_mass(conv: nn.Conv2d) -> torch.Tensor:
    """sum |W| over output channels and kernel taps: how much weight leaves each input
    channel (a channel with little mass barely reaches the next layer)."""
    return conv.weight.detach().abs().sum(dim=(0, 2, 3))


def block_mass(block: nn.Module) -> float:
    return float(sum(channel_mass(c).sum() for _, net in subnets(block) for _, c in convs(net)))


def _all_weights(model) -> torch.Tensor:
    return torch.cat([c.weight.detach().flatten().float().cpu()
                      for blocks in coupling_blocks(model) for b in blocks
                      for _, net in subnets(b) for _, c in convs(net)])


def weight_summary(model, bins: int = 60) -> dict:
    """{"bin_edges", "stages": [{"stage", "blocks": [{"block", "mass", "subnets": [{"name",
    "n_weights", "mass", "abs_mean", "histogram", "convs": [{"name", "shape",
    "channel_mass"}]}]}]}]}. Stages and blocks count from 1; one set of bin edges,
    symmetric about 0, spans every conv weight of the model."""
    top = float(_all_weights(model).abs().max()) or 1.0
    edges = np.linspace(-top, top, bins + 1)
    stages = []
    for s, blocks in enumerate(coupling_blocks(model), 1):
        rows = []
        for b, block in enumerate(blocks, 1):
            nets = []
            for name, net in subnets(block):
                w = torch.cat([c.weight.detach().flatten().float().cpu() for _, c in convs(net)])
                nets.append({
                    "name": name, "n_weights": int(w.numel()),
                    "mass": float(w.abs().sum()), "abs_mean": float(w.abs().mean()),
                    "histogram": np.histogram(w.numpy(), edges)[0].tolist(),
                    "convs": [{"name": cn, "shape": list(c.weight.shape),
                               "channel_mass": channel_mass(c).float().cpu().tolist()}
                              for cn, c in convs(net)]})
            rows.append({"block": b, "mass": sum(n["mass"] for n in nets), "subnets": nets})
        stages.append({"stage": s, "blocks": rows})
    return {"bin_edges": edges.tolist(), "stages": stages}
