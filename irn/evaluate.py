"""Evaluation under the published convention (REFERENCE.md "Evaluation convention").

Per validation image: downscale (quantised LR), upscale with z ~ N(0, T^2) draws or z = 0,
round to uint8, Y-channel PSNR/SSIM with `scale` pixels cropped, plus RGB PSNR. In the same
table: the bicubic-down/bicubic-up baseline, how far the LR strays from the bicubic LR,
super-resolution (upscaling a plain bicubic LR), and real-JPEG robustness at each QF.
Metrics are averaged over images.

Keys: psnr_y, ssim_y, psnr_rgb, psnr_y_std (spread over z draws), psnr_y_zero (z = 0, when
z_eval is gaussian), lr_psnr_y (LR vs bicubic LR, 1 px crop), bicubic_psnr_y, bicubic_ssim_y,
sr_psnr_y, jpeg{QF}_psnr_y, jpeg{QF}_ssim_y, bicubic_jpeg{QF}_psnr_y, bicubic_jpeg{QF}_ssim_y.
"""
import numpy as np
import torch

from irn.config import Config
from irn.imresize import imresize
from irn.jpeg import jpeg_real
from irn.metrics import psnr_rgb, psnr_y, ssim_y
from irn.quantization import quantize


def jpeg_qualities(cfg: Config) -> list[int]:
    return [int(q) for q in (s.strip() for s in cfg.jpeg_eval.split(",")) if q]


def _upscale_draws(model, lr, cfg: Config, seed: int, draws: int | None = None):
    """[(reconstruction)] for each z draw: one for z = 0, `draws` (default eval_z_draws) for
    gaussian; the first draw is the same whatever `draws` is."""
    if cfg.z_eval == "zero":
        return [model.upscale(lr, mode="zero")]
    gen = torch.Generator(lr.device).manual_seed(seed)
    return [model.upscale(lr, mode="gaussian", temperature=cfg.temperature, generator=gen)
            for _ in range(cfg.eval_z_draws if draws is None else draws)]


@torch.inference_mode()
def evaluate_image(model, hr, lr_ref, cfg: Config, seed: int = 0) -> dict:
    s = cfg.scale
    lr = model.downscale(hr)
    recs = _upscale_draws(model, lr, cfg, seed)
    psnrs = [psnr_y(r, hr, s) for r in recs]
    out = {"psnr_y": float(np.mean(psnrs)), "psnr_y_std": float(np.std(psnrs)),
           "ssim_y": float(np.mean([ssim_y(r, hr, s) for r in recs])),
           "psnr_rgb": float(np.mean([psnr_rgb(r, hr, s) for r in recs])),
           "lr_psnr_y": psnr_y(lr, lr_ref, 1)}
    if cfg.z_eval == "gaussian":
        out["psnr_y_zero"] = psnr_y(model.upscale(lr, mode="zero"), hr, s)
    lr_bicubic = quantize(lr_ref)
    bicubic = imresize(lr_bicubic, s)
    out["bicubic_psnr_y"] = psnr_y(bicubic, hr, s)
    out["bicubic_ssim_y"] = ssim_y(bicubic, hr, s)
    out["sr_psnr_y"] = float(np.mean([psnr_y(r, hr, s)
                                      for r in _upscale_draws(model, lr_bicubic, cfg, seed)]))
    for q in jpeg_qualities(cfg):
        rec = _upscale_draws(model, jpeg_real(lr, q), cfg, seed, draws=1)[0]
        out[f"jpeg{q}_psnr_y"] = psnr_y(rec, hr, s)
        out[f"jpeg{q}_ssim_y"] = ssim_y(rec, hr, s)
        base = imresize(jpeg_real(lr_bicubic, q), s)
        out[f"bicubic_jpeg{q}_psnr_y"] = psnr_y(base, hr, s)
        out[f"bicubic_jpeg{q}_ssim_y"] = ssim_y(base, hr, s)
    return out


def evaluate(model, val_set, cfg: Config, device="cpu") -> dict:
    """Mean of evaluate_image over the validation set."""
    rows = [evaluate_image(model, hr.to(device), lr.to(device), cfg, seed=i)
            for i, (hr, lr) in enumerate(val_set)]
    return {k: float(np.mean([r[k] for r in rows])) for k in rows[0]}


@torch.inference_mode()
def visual_crops(model, val_set, cfg: Config, size: int = 96, device="cpu") -> dict:
    """Centre crops of the first validation image as uint8 H x W x 3: ground truth, the
    model's LR (nearest-upsampled to HR size for side-by-side viewing), bicubic LR, and the
    reconstruction. For galleries and MLflow artifacts."""
    hr, lr_ref = (t.to(device) for t in val_set[0])
    s = cfg.scale
    lr = model.downscale(hr)
    rec = _upscale_draws(model, lr, cfg, 0, draws=1)[0]
    h, w = hr.shape[-2:]
    size = min(size, h, w) // s * s
    t, l = (h - size) // 2 // s * s, (w - size) // 2 // s * s

    def crop_hr(x):
        return x[..., t:t + size, l:l + size]

    def crop_lr(x):
        x = x[..., t // s:(t + size) // s, l // s:(l + size) // s]
        return torch.nn.functional.interpolate(x, scale_factor=s, mode="nearest")

    def to_u8(x):
        return (x[0].clamp(0, 1) * 255).round().byte().permute(1, 2, 0).cpu().numpy()

    return {"gt": to_u8(crop_hr(hr)), "lr": to_u8(crop_lr(lr)),
            "lr_bicubic": to_u8(crop_lr(quantize(lr_ref))), "recon": to_u8(crop_hr(rec))}


def save_crops(crops: dict, folder) -> None:
    """Write visual_crops' images as folder/<name>.png."""
    import os

    from PIL import Image
    os.makedirs(folder, exist_ok=True)
    for name, img in crops.items():
        Image.fromarray(img).save(os.path.join(folder, f"{name}.png"))
