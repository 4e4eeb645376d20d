"""`bench.throughput --dtype auto` (the default): the fastest inference precision whose
accuracy holds on this machine, measured rather than assumed.

Where bf16 is native (irn.precision: AVX512-BF16/AMX CPUs, bf16-capable GPUs) the model's x
round trip (downscale, then upscale with z = 0) runs once in fp32 and once under bf16
autocast on a crop of the benchmark photo; bf16 is chosen when its Y-PSNR is within
ACCURACY_DB of fp32's, fp32 otherwise. Without native bf16, fp32 (bf16 would run oneDNN's
reference kernels, about 500x slower). The choice and its reason are printed and saved.
"""
import torch

from irn.metrics import psnr_y
from irn.precision import autocast, native_low_precision

ACCURACY_DB = 0.05  # the largest Y-PSNR cost of bf16 that the auto path accepts
CHECK_PX = 128


@torch.inference_mode()
def _round_trip_psnr(model, hr: torch.Tensor, bf16: bool) -> float:
    with autocast("bf16" if bf16 else "off", hr.device.type):
        sr = model.upscale(model.downscale(hr), mode="zero")
    return psnr_y(sr.float().clamp(0, 1), hr, model.scale)


def auto_dtype(model, image: torch.Tensor, native: bool | None = None) -> tuple[str, str]:
    """("bf16" or "fp32", why). `image`: 1 x 3 x H x W on the model's device; its top-left
    CHECK_PX crop (a multiple of the scale) is the check. `native` overrides the detection
    (tests)."""
    device = image.device
    if native is None:
        native = native_low_precision("bf16", device)
    if not native:
        return "fp32", f"auto: fp32 (no native bf16 on this {device.type})"
    side = min(CHECK_PX, image.shape[-2], image.shape[-1]) // model.scale * model.scale
    crop = image[..., :side, :side]
    cost = _round_trip_psnr(model, crop, False) - _round_trip_psnr(model, crop, True)
    check = f"Y-PSNR cost {cost:+.3f} dB on a {side}-px check, limit {ACCURACY_DB}"
    if abs(cost) <= ACCURACY_DB:
        return "bf16", f"auto: bf16 (native; {check})"
    return "fp32", f"auto: fp32 (bf16 {check} exceeded)"
