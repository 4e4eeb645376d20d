"""Visual crops of the validation images, for galleries and MLflow artifacts: the ground
truth, the model's LR, the bicubic LR, the bicubic baseline and the reconstruction."""
import os
import re

import torch

from irn.config import Config
from irn.data.sources import tensor_to_rgb8
from irn.evaluate import image_names, upscale_draws
from irn.imresize import imresize
from irn.quantization import quantize


CROP_KINDS = ("gt", "lr", "lr_bicubic", "bicubic_up", "recon")
MAX_CROP_IMAGES = 4  # visual crops of at most this many validation images (artifact size)


def crop_names(val_set) -> list[str]:
    """Names of the untiled validation images: tile names "NAME@r,c" lose their suffix; a
    name unsafe as a folder becomes imageN."""
    whole = getattr(val_set, "whole", None) or val_set
    names = list(dict.fromkeys(n.split("@")[0] for n in image_names(val_set)))
    if len(names) != len(whole):
        names = [f"image{i}" for i in range(len(whole))]
    return [n if re.fullmatch(r"[A-Za-z0-9_.-]{1,64}", n) and n.strip(".") else f"image{i}"
            for i, n in enumerate(names)]


@torch.inference_mode()
def visual_crops(model, val_set, cfg: Config, size: int = 128, device="cpu",
                 max_images: int = MAX_CROP_IMAGES) -> dict:
    """{image name: {kind: uint8 H x W x 3}}: a centre crop (`size` px, a multiple of the
    scale) of each untiled validation image (the first `max_images`), for galleries and
    MLflow artifacts. Kinds: gt, lr (the model's LR) and lr_bicubic (nearest-upsampled to HR
    size for side-by-side viewing), bicubic_up (bicubic down + bicubic up: the baseline the
    gain is measured against) and recon (the model's reconstruction, z as in evaluation).
    The model runs on the crop plus a margin of context, so its border does not show.
    task=stego and the frame tasks: none (no LR, no reconstruction: {})."""
    if cfg.task != "rescale":
        return {}
    whole = getattr(val_set, "whole", None) or val_set
    s = cfg.scale
    out = {}
    for name, (hr, lr_ref) in list(zip(crop_names(val_set), whole))[:max_images]:
        hr, lr_ref = hr.to(device), lr_ref.to(device)
        h, w = hr.shape[-2:]
        side = max(min(size, h, w) // s * s, s)
        t, l = (h - side) // 2 // s * s, (w - side) // 2 // s * s
        margin = 8 * s  # context around the crop, in HR pixels (a multiple of the scale)
        t0, l0 = max(t - margin, 0), max(l - margin, 0)
        t1, l1 = min(t + side + margin, h - h % s), min(l + side + margin, w - w % s)
        region = hr[..., t0:t1, l0:l1]
        region_lr = quantize(lr_ref[..., t0 // s:t1 // s, l0 // s:l1 // s])
        lr = model.downscale(region)
        views = {"gt": region, "lr": _nearest(lr, s), "lr_bicubic": _nearest(region_lr, s),
                 "bicubic_up": imresize(region_lr, s),
                 "recon": upscale_draws(model, lr, cfg, 0, draws=1)[0]}
        top, left = t - t0, l - l0
        out[name] = {k: tensor_to_rgb8(v[..., top:top + side, left:left + side])
                     for k, v in views.items()}
    return out


def _nearest(x, s: int):
    return torch.nn.functional.interpolate(x, scale_factor=s, mode="nearest")


def save_crops(crops: dict, folder) -> list[str]:
    """Write visual_crops' images as folder/<image>/<kind>.png (PNG: lossless, so an error
    map drawn from them is the model's error); returns the paths written."""
    from PIL import Image
    paths = []
    for image, kinds in crops.items():
        os.makedirs(os.path.join(folder, image), exist_ok=True)
        for kind, img in kinds.items():
            paths.append(os.path.join(folder, image, f"{kind}.png"))
            Image.fromarray(img).save(paths[-1], optimize=True)
    return paths
