"""What an image costs to store: bits per pixel as PNG and as JPEG.

PNG through Pillow (zlib level 6, Pillow's default, no optimisation pass); JPEG through
`irn.jpeg.encode_jpeg`, the same libjpeg call (4:2:0) whose decoded result the JPEG
evaluation rows use, so the size and the quality belong to the same bytes.

Two measures:
- `*_bits_per_pixel`: the whole file, as a user's disk sees it (bench.evaluate's tables).
- `*_payload_bits`: the coded image data alone, the file less its container: for JPEG the
  entropy-coded scan (after the SOS header, before EOI), for PNG the IDAT chunks' data.
  A baseline JFIF header with libjpeg's standard tables is about 620 bytes whatever the
  image: on a 64 x 64 tile that is 1.2 bits per pixel, more than most of the images' own
  bits, so rate-distortion curves on tiles (the compression study) use the payload.
  Sources: ITU-T T.81 (JPEG) annex B.1 for the marker layout; the PNG specification
  (W3C, 2nd ed.) section 5.3 for chunks.
"""
import io
import struct

import numpy as np
import torch
from PIL import Image

from irn.data.sources import tensor_to_rgb8
from irn.jpeg import encode_jpeg


def _bpp(nbytes: int, img: np.ndarray) -> float:
    return 8.0 * nbytes / (img.shape[0] * img.shape[1])


def png_bytes(x: torch.Tensor) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(tensor_to_rgb8(x)).save(buf, format="PNG")
    return buf.getvalue()


def jpeg_bytes(x: torch.Tensor, quality: int) -> bytes:
    return encode_jpeg(np.ascontiguousarray(tensor_to_rgb8(x)), quality)


def png_bits_per_pixel(x: torch.Tensor) -> float:
    return _bpp(len(png_bytes(x)), tensor_to_rgb8(x))


def jpeg_bits_per_pixel(x: torch.Tensor, quality: int) -> float:
    return _bpp(len(jpeg_bytes(x, quality)), tensor_to_rgb8(x))


def jpeg_payload_bits(data: bytes) -> int:
    """Bits of a baseline JPEG's entropy-coded scan: from the end of the SOS segment to EOI."""
    pos = 2  # after SOI
    while pos + 4 <= len(data):
        if data[pos] != 0xFF:
            raise ValueError(f"not a JPEG marker at byte {pos}")
        marker, length = data[pos + 1], struct.unpack(">H", data[pos + 2:pos + 4])[0]
        if marker == 0xDA:  # SOS: the scan runs to the EOI marker at the end
            end = len(data) - 2 if data[-2:] == b"\xff\xd9" else len(data)
            return 8 * (end - (pos + 2 + length))
        pos += 2 + length
    raise ValueError("no SOS marker: not a baseline JPEG")


def png_payload_bits(data: bytes) -> int:
    """Bits of a PNG's IDAT chunk data (the zlib stream of the filtered pixels)."""
    pos, bits = 8, 0  # after the 8-byte signature
    while pos + 8 <= len(data):
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        if kind == b"IDAT":
            bits += 8 * length
        pos += 12 + length  # length, type, data, CRC
    return bits
