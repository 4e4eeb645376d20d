"""Repeated application: how far a reconstruction drifts when it is downscaled and upscaled
again and again, and x2 applied twice against bicubic x4. All upscaling uses z = 0; Y-PSNR
as irn.evaluate (uint8, BT.601 Y, `scale` px border crop).

Drift: x_0 = HR; x_n = upscale(downscale(x_{n-1})), each x_n rounded to 8 bits before it is
downscaled again (as if saved as PNG). Round n's Y-PSNR is x_n against the HR, so n = 1 is
the plain round trip (irn.evaluate's psnr_y with z_eval "zero"). The bicubic row does the
same with MATLAB bicubic down (LR quantised) and up.

x2 twice (x2 models only): HR -> LR -> LR2 with the model, then LR2 -> LR' -> HR' (LR' rounded
to 8 bits, as an LR is); HR is first cropped to a multiple of 4. Compared with bicubic x4:
imresize(quantise(imresize(HR, 1/4)), 4), the convention of irn.evaluate's
ImageViews.bicubic; both against the HR with a 4 px crop. `lr2_psnr_y`: LR2 against the
quantised bicubic x4 LR (1 px crop, as lr_psnr_y).
"""
import numpy as np
import torch

from irn.imresize import imresize
from irn.metrics import psnr_y, quantize_uint8
from irn.quantization import quantize

TIMES = 10


def _bicubic_round_trip(hr, scale: int):
    return imresize(quantize(imresize(hr, 1 / scale).clamp(0, 1)), scale)


@torch.inference_mode()
def repeated_round_trips(model, val_set, times: int = TIMES, device="cpu") -> dict:
    """{"n": 1..times, "psnr_y", "bicubic_psnr_y": mean over images per n, "n_images"}."""
    s = model.scale
    ours, bicubic = [], []
    for hr, _ in val_set:
        hr = hr.to(device)
        x, b, row, brow = hr, hr, [], []
        for _ in range(times):
            rec = model.upscale(model.downscale(x), mode="zero")
            up = _bicubic_round_trip(b, s)
            row.append(psnr_y(rec, hr, s))
            brow.append(psnr_y(up, hr, s))
            x, b = quantize_uint8(rec), quantize_uint8(up)
        ours.append(row)
        bicubic.append(brow)
    return {"n": list(range(1, times + 1)), "psnr_y": np.mean(ours, 0).tolist(),
            "bicubic_psnr_y": np.mean(bicubic, 0).tolist(), "n_images": len(ours)}


@torch.inference_mode()
def x2_twice(model, val_set, device="cpu") -> dict | None:
    """x2 applied twice against bicubic x4 (means over images); None unless model.scale == 2."""
    if model.scale != 2:
        return None
    rows = []
    for hr, _ in val_set:
        h, w = hr.shape[-2:]
        hr = hr[..., :h - h % 4, :w - w % 4].to(device)
        lr2 = model.downscale(model.downscale(hr))
        rec = model.upscale(quantize(model.upscale(lr2, mode="zero")), mode="zero")
        lr4 = quantize(imresize(hr, 1 / 4).clamp(0, 1))
        ours, bic = psnr_y(rec, hr, 4), psnr_y(imresize(lr4, 4), hr, 4)
        rows.append({"psnr_y": ours, "bicubic_x4_psnr_y": bic, "gain_db": ours - bic,
                     "lr2_psnr_y": psnr_y(lr2, lr4, 1)})
    return {k: float(np.mean([r[k] for r in rows])) for k in rows[0]} | {"n_images": len(rows)}
