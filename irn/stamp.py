"""The rescaling stamp: LR pixels the guide loss ignores, so the model may
write a recipe there for its own upscaler instead of matching the bicubic LR.

`stamp` = none | border (a `stamp_width`-px frame around the LR) | corners (a
`stamp_width`-px square in each corner). Training: the guide loss sees the bicubic LR in
the stamped pixels (no difference, no gradient there). Evaluation: `lr_psnr_y` stays over
every pixel, `lr_psnr_y_unstamped` leaves the stamp out, and `stamp_bpp` is the stamp's
information bound: stamped pixels x 3 channels x 8 bits, per HR pixel.
"""
import torch

STAMPS = ("none", "border", "corners")


def stamp_mask(h: int, w: int, stamp: str, width: int, device=None) -> torch.Tensor | None:
    """1 x 1 x h x w bool, True on stamped LR pixels; None for stamp="none"."""
    if stamp == "none":
        return None
    if stamp not in STAMPS:
        raise ValueError(f"unknown stamp {stamp!r}; valid: {', '.join(STAMPS)}")
    mask = torch.zeros(1, 1, h, w, dtype=torch.bool, device=device)
    k = max(1, min(width, h // 2, w // 2))
    if stamp == "border":
        mask[..., :k, :] = mask[..., -k:, :] = True
        mask[..., :, :k] = mask[..., :, -k:] = True
    else:
        for rows in (slice(0, k), slice(h - k, h)):
            for cols in (slice(0, k), slice(w - k, w)):
                mask[..., rows, cols] = True
    return mask


def free_stamp(lr: torch.Tensor, lr_ref: torch.Tensor, stamp: str, width: int) -> torch.Tensor:
    """`lr` with the bicubic LR in the stamped pixels: what the guide loss compares."""
    mask = stamp_mask(lr.shape[-2], lr.shape[-1], stamp, width, lr.device)
    return lr if mask is None else torch.where(mask, lr_ref.detach().to(lr.dtype), lr)


def stamp_bits_per_hr_pixel(lr_h: int, lr_w: int, scale: int, stamp: str, width: int) -> float:
    """The stamp's capacity: stamped LR pixels x 3 x 8 bits over the HR pixels."""
    mask = stamp_mask(lr_h, lr_w, stamp, width)
    stamped = 0 if mask is None else int(mask.sum())
    return stamped * 24 / (lr_h * lr_w * scale * scale)
