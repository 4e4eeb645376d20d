"""What an LR image costs to store: bits per LR pixel as PNG and as JPEG.

PNG through Pillow (zlib level 6, Pillow's default, no optimisation pass); JPEG through
`irn.jpeg.encode_jpeg`, the same libjpeg call (4:2:0) whose decoded result the JPEG
evaluation rows use, so the size and the quality belong to the same bytes.
"""
import io

import numpy as np
import torch
from PIL import Image

from irn.data.sources import tensor_to_rgb8
from irn.jpeg import encode_jpeg


def _bpp(nbytes: int, img: np.ndarray) -> float:
    return 8.0 * nbytes / (img.shape[0] * img.shape[1])


def png_bits_per_pixel(x: torch.Tensor) -> float:
    img = tensor_to_rgb8(x)
    buf = io.BytesIO()
    Image.fromarray(img).save(buf, format="PNG")
    return _bpp(buf.tell(), img)


def jpeg_bits_per_pixel(x: torch.Tensor, quality: int) -> float:
    img = tensor_to_rgb8(x)
    return _bpp(len(encode_jpeg(np.ascontiguousarray(img), quality)), img)
