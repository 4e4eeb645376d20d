"""8-bit quantisation of the LR with a straight-through gradient (as the official IRN)."""
import torch


class _Quantize(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x):
        return (x.clamp(0, 1) * 255.0).round() / 255.0

    @staticmethod
    def backward(ctx, grad):
        # Straight-through: the gradient passes unchanged, also where clamping bit.
        return grad


def quantize(x: torch.Tensor) -> torch.Tensor:
    """Clamp to [0, 1], round to 8 bits; identity gradient."""
    return _Quantize.apply(x)
