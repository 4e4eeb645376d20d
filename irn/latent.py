"""The latent z a reverse pass is given when none is passed: the one drawing rule of the
rescaling network's upscale, the stego network's reveal and the training objective."""
import torch

Z_MODES = ("gaussian", "zero")  # N(0, temperature^2), or z = 0


def draw_latent(shape, like: torch.Tensor, mode: str = "gaussian", temperature: float = 1.0,
                generator: torch.Generator | None = None) -> torch.Tensor:
    """z of `shape` on `like`'s device and dtype, drawn by `mode` (Z_MODES)."""
    if mode == "zero":
        return like.new_zeros(shape)
    if mode != "gaussian":
        raise ValueError(f"unknown z mode {mode!r}; valid: {', '.join(Z_MODES)}")
    return torch.randn(shape, generator=generator, dtype=like.dtype,
                       device=like.device) * temperature
