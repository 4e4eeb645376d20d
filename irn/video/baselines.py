"""The baselines the frame networks are measured against, on the same frames:

- simple: repeat the last frame (predict: frame n+1 for frame n+2) or average the two
  neighbours (interpolate: (frame n + frame n+2) / 2);
- flow: OpenCV's DIS optical flow (Kroeger et al., ECCV 2016; opencv-python-headless,
  preset MEDIUM) on the 8-bit grey frames, then a bicubic backward warp:
    predict:      flow F from frame n+1 to frame n (frame n+1 at x was frame n at x + F(x));
                  constant motion puts frame n+2 at x where frame n+1 had x + F(x):
                  prediction(x) = frame n+1(x + F(x))
    interpolate:  flow F from frame n to frame n+2; the middle frame at x is frame n at
                  x - F(x)/2 and frame n+2 at x + F(x)/2 (the flow read at x, not at the
                  source point: fine for smooth camera motion): their mean.
  Warps replicate the border; the metrics crop FRAME_CROP px.
All on 1 x 3 x H x W float tensors in [0, 1]; results are rounded to 8 bits by the metrics.
"""
import cv2
import numpy as np
import torch

from irn.data.sources import tensor_to_rgb8


def _grey(x: torch.Tensor) -> np.ndarray:
    return cv2.cvtColor(tensor_to_rgb8(x), cv2.COLOR_RGB2GRAY)


def dis_flow(src: torch.Tensor, dst: torch.Tensor) -> np.ndarray:
    """H x W x 2 float32 flow F with src(x) ~ dst(x + F(x)) (DIS, preset MEDIUM)."""
    dis = cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_MEDIUM)
    return dis.calc(_grey(src), _grey(dst), None)


def warp(x: torch.Tensor, offset: np.ndarray) -> torch.Tensor:
    """x sampled at (pixel + offset), bicubic, border replicated; same shape and device."""
    h, w = x.shape[-2:]
    gx, gy = np.meshgrid(np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32))
    img = x[0].permute(1, 2, 0).cpu().numpy().astype(np.float32)
    out = cv2.remap(img, gx + offset[..., 0], gy + offset[..., 1], cv2.INTER_CUBIC,
                    borderMode=cv2.BORDER_REPLICATE)
    return torch.from_numpy(out).permute(2, 0, 1)[None].to(x.device).clamp_(0, 1)


def simple(task: str, f0, f1, f2) -> torch.Tensor:
    """Repeat the last frame (predict) or average the neighbours (interpolate)."""
    return f1.clone() if task == "predict" else (f0 + f2) / 2


def flow(task: str, f0, f1, f2) -> torch.Tensor:
    """The DIS-flow extrapolation (predict) or interpolation (interpolate) above."""
    if task == "predict":
        return warp(f1, dis_flow(f1, f0))
    f = dis_flow(f0, f2)
    return (warp(f0, -f / 2) + warp(f2, f / 2)) / 2
