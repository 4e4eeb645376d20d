"""Memory layout: NCHW or channels-last (NHWC), and `channels_last=auto` resolved per device.

A channels-last model (`model.to(memory_format=torch.channels_last)`) keeps every
activation channels-last from its input to its output, forward and backward: the Haar
transform has an NHWC path, dense blocks concatenate dense NHWC tensors, and the model
converts its input and its pixel-(un)shuffled latents once. Its results equal the NCHW
model's up to float summation order. What was measured and why `auto` chooses as it does:
irn/LAYOUT.md.
"""
import torch

LAYOUT_MODES = ("false", "true", "auto")  # the config's channels_last


def is_channels_last(x: torch.Tensor) -> bool:
    """True for a 4-D tensor laid out NHWC (channel stride 1), dense or a channel slice of
    one, and not NCHW-contiguous (one channel or a 1x1 image is both: it counts as NCHW)."""
    return x.ndim == 4 and x.shape[1] > 1 and x.stride(1) == 1 and not x.is_contiguous()


def in_layout(x: torch.Tensor, channels_last: bool) -> torch.Tensor:
    """`x` dense channels-last when `channels_last` (one copy unless it already is), else as
    it is."""
    return x.contiguous(memory_format=torch.channels_last) if channels_last else x


def resolve_channels_last(mode: str, device: torch.device) -> tuple[bool, str]:
    """(whether to run channels-last, why). `auto`: on a CPU yes (oneDNN's NHWC convolutions
    are faster, and the training step measured 1.08-1.10x on an AVX2 EPYC, irn/LAYOUT.md);
    on a GPU no, until a measurement there says otherwise."""
    if mode != "auto":
        return mode == "true", "as configured"
    if device.type == "cpu":
        return True, "channels_last=auto: channels-last on a cpu (irn/LAYOUT.md)"
    return False, f"channels_last=auto: NCHW on {device.type} (channels-last not measured there)"


def layout_name(channels_last: bool) -> str:
    return "channels_last" if channels_last else "nchw"
