"""What an LR image costs to store: bits per LR pixel as PNG and as JPEG.

PNG through Pillow (zlib level 6, Pillow's default, no optimisation pass); JPEG through
`irn.jpeg.encode_jpeg`, the same libjpeg call (4:2:0) whose decoded result the JPEG
evaluation rows use, so the size and the quality belong to the same bytes.
"""
import io

import numpy as np
import torch
from PIL import Image

from irn.jpeg import encode_jpeg


def _uint8(x: torch.Tensor) -> np.ndarray:
    """1 x 3 x H x W in [0, 1] -> H x W x 3 uint8, rounded as saving a file would."""
    if x.ndim != 4 or x.shape[0] != 1 or x.shape[1] != 3:
        raise ValueError(f"expected one 1 x 3 x H x W image, got {tuple(x.shape)}")
    return (x[0].detach().float().clamp(0, 1) * 255).round().byte().permute(1, 2, 0).cpu().numpy()


def _bpp(nbytes: int, img: np.ndarray) -> float:
    return 8.0 * nbytes / (img.shape[0] * img.shape[1])


def png_bits_per_pixel(x: torch.Tensor) -> float:
    img = _uint8(x)
    buf = io.BytesIO()
    Image.fromarray(img).save(buf, format="PNG")
    return _bpp(buf.tell(), img)


def jpeg_bits_per_pixel(x: torch.Tensor, quality: int) -> float:
    img = _uint8(x)
    return _bpp(len(encode_jpeg(np.ascontiguousarray(img), quality)), img)
