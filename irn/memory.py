"""What training keeps for the backward pass of an invertible stage (`memory` config key).

- `store`: autograd keeps every activation of every block (the subnets' convolutions
  included): memory grows with depth and with the patch's pixels.
- `checkpoint`: `torch.utils.checkpoint` per block (non-reentrant, the library route): each
  block keeps only its input and reruns its forward in the backward pass. Gradients equal
  `store`'s exactly (the same operations again; tests/test_memory.py).
- `recompute`: the invertible route (RevNet, Gomez et al. 2017; MemCNN): a stage keeps only
  its output. The backward pass walks the blocks from the last: it computes each block's
  input from its output with the block's inverse, reruns that block with autograd on, and
  takes the block's gradients. Memory does not grow with depth: one stage output plus one
  block's activations. The inputs it recomputes differ from the true ones by the inverse's
  rounding, so the gradients differ from `store`'s by a small measured amount (fp32: about
  1e-6 relative; bf16 autocast: larger, tests/test_memory.py states both). It needs an exact
  inverse: iresnet's is a fixed-point iteration, and irn.config refuses that pair.

Why not memcnn: its PyPI release (1.5.2, checked 2026-12-07) requires torchvision, which
this project must not install (it pulls a CUDA torch over the pinned CPU wheel); and its
InvertibleModuleWrapper frees tensor storage behind autograd's back
(`storage().resize_(0)`, memcnn/models/revop.py). A whole stage in one autograd.Function
keeps one tensor per stage and touches no storage by hand.
"""
import torch
from torch.utils.checkpoint import checkpoint

MEMORY_MODES = ("store", "checkpoint", "recompute")


def run_stage(stage, h, rev: bool, memory: str):
    """The FrEIA SequenceINN `stage` on `h` (jac=False) under the memory mode."""
    blocks = list(stage.module_list)
    if rev:
        blocks = blocks[::-1]
    if memory == "checkpoint":
        for block in blocks:
            h = checkpoint(_call, block, rev, h, use_reentrant=False)
        return h
    params = [p for b in blocks for p in b.parameters() if p.requires_grad]
    return _InvertibleStage.apply(blocks, rev, h, *params)


def _call(block, rev: bool, h):
    return block((h,), rev=rev, jac=False)[0][0]


class _InvertibleStage(torch.autograd.Function):
    """A chain of invertible blocks that keeps only its output for the backward pass."""

    @staticmethod
    def forward(ctx, blocks, rev, h, *params):
        ctx.blocks, ctx.rev, ctx.params = blocks, rev, params
        ctx.device = h.device.type
        ctx.autocast = (torch.is_autocast_enabled(ctx.device),
                        torch.get_autocast_dtype(ctx.device))
        with torch.no_grad():
            for block in blocks:
                h = _call(block, rev, h)
        ctx.save_for_backward(h)
        return h

    @staticmethod
    def backward(ctx, grad):
        (y,) = ctx.saved_tensors
        enabled, dtype = ctx.autocast
        grads = {}
        for block in reversed(ctx.blocks):
            with torch.no_grad(), torch.autocast(ctx.device, dtype=dtype, enabled=enabled):
                x = _call(block, not ctx.rev, y)  # this block's input, from its output
            x = x.detach().requires_grad_(True)
            params = [p for p in block.parameters() if p.requires_grad]
            with torch.enable_grad(), torch.autocast(ctx.device, dtype=dtype, enabled=enabled):
                out = _call(block, ctx.rev, x)
            got = torch.autograd.grad(out, [x, *params], grad, allow_unused=True)
            grad = got[0]
            for p, g in zip(params, got[1:]):
                grads[p] = g
            y = x.detach()
        return (None, None, grad, *[grads.get(p) for p in ctx.params])
