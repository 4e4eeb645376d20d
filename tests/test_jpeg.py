"""irn.jpeg: real codec bytes, straight-through and differentiable JPEG, quality parsing."""
import io

import numpy as np
import PIL.JpegImagePlugin
import pytest
import torch
from PIL import Image
from skimage.data import astronaut

from irn.jpeg import (JPEG_MODES, apply_jpeg, decode_jpeg, draw_quality, encode_jpeg, jpeg_diff,
                      jpeg_real, jpeg_ste, parse_quality)


@pytest.fixture(scope="module")
def photo() -> np.ndarray:
    """A real photograph, 128 x 128 x 3 uint8 (the astronaut, downsized)."""
    return np.asarray(Image.fromarray(astronaut()).resize((128, 128), Image.BICUBIC))


@pytest.fixture(scope="module")
def photo_t(photo) -> torch.Tensor:
    return torch.from_numpy(photo.copy()).permute(2, 0, 1)[None].float() / 255


def psnr(a, b) -> float:
    a, b = (np.asarray(v, dtype=np.float64) for v in (a, b))
    return float(10 * np.log10(1.0 / np.mean((a - b) ** 2)))


@pytest.mark.parametrize("backend", ["simplejpeg", "pillow"])
def test_encode_makes_a_real_jpeg(photo, backend):
    data = encode_jpeg(photo, 75, backend=backend)
    assert data[:2] == b"\xff\xd8" and data[-2:] == b"\xff\xd9"  # SOI ... EOI
    with Image.open(io.BytesIO(data)) as im:
        assert im.format == "JPEG" and im.size == (128, 128)
        by_pillow = np.asarray(im.convert("RGB"))
    by_simplejpeg = decode_jpeg(data, backend="simplejpeg")
    assert by_simplejpeg.shape == photo.shape and by_simplejpeg.dtype == np.uint8
    # Same bytes, two libjpeg decoders: at most off-by-one rounding differences.
    assert np.abs(by_pillow.astype(int) - by_simplejpeg.astype(int)).max() <= 1
    assert np.array_equal(decode_jpeg(data, backend="pillow"), by_pillow)
    assert psnr(by_simplejpeg / 255, photo / 255) > 28  # it is the photo, lossy


@pytest.mark.parametrize("backend", ["simplejpeg", "pillow"])
def test_chroma_subsampling_is_in_the_stream(photo, backend):
    with Image.open(io.BytesIO(encode_jpeg(photo, 90, backend=backend))) as im:
        assert PIL.JpegImagePlugin.get_sampling(im) == 2  # 4:2:0
        # SOF sampling factors (component id, h, v, table): luma 2x2, chroma 1x1.
        assert [c[1:3] for c in im.layer] == [(2, 2), (1, 1), (1, 1)]
    with Image.open(io.BytesIO(encode_jpeg(photo, 90, "444", backend=backend))) as im:
        assert PIL.JpegImagePlugin.get_sampling(im) == 0  # 4:4:4
        assert [c[1:3] for c in im.layer] == [(1, 1)] * 3


def test_lower_quality_is_smaller_and_worse(photo):
    sizes, psnrs = [], []
    for q in (20, 50, 80, 95):
        data = encode_jpeg(photo, q)
        sizes.append(len(data))
        psnrs.append(psnr(decode_jpeg(data) / 255, photo / 255))
    assert sizes == sorted(sizes) and len(set(sizes)) == 4
    assert psnrs == sorted(psnrs) and psnrs[-1] - psnrs[0] > 5


def test_jpeg_real_matches_the_codec_and_keeps_dtype(photo, photo_t):
    x = photo_t.double().repeat(2, 1, 1, 1)
    x[1] = x[1].flip(-1)  # two different images in one batch
    y = jpeg_real(x, 60)
    assert y.shape == x.shape and y.dtype == torch.float64 and y.device == x.device
    expected = decode_jpeg(encode_jpeg(photo, 60))
    assert np.array_equal((y[0] * 255).round().byte().permute(1, 2, 0).numpy(), expected)
    assert torch.equal(y * 255, (y * 255).round())  # 8-bit valued
    assert not torch.equal(y[0], y[1].flip(-1))  # each image coded on its own
    assert jpeg_real(photo_t, 60, "444").sub(photo_t).abs().mean() < y[0].float().sub(photo_t).abs().mean()


def test_jpeg_ste_forward_is_real_and_gradient_is_identity(photo_t):
    x = photo_t.repeat(2, 1, 1, 1).requires_grad_()
    y = jpeg_ste(x, 40)
    assert torch.equal(y.detach(), jpeg_real(x.detach(), 40))
    upstream = torch.randn_like(y)
    (y * upstream).sum().backward()
    assert torch.equal(x.grad, upstream)


def test_jpeg_diff_has_gradients_and_is_close_to_real(photo_t):
    x = photo_t.clone().requires_grad_()
    y = jpeg_diff(x, 75)
    assert y.shape == x.shape and y.dtype == x.dtype
    y.square().sum().backward()
    assert torch.isfinite(x.grad).all() and x.grad.abs().sum() > 0
    # Measured 38.9 dB on this 128 x 128 photo at QF 75 (38.6-40.6 dB over QF 30-90; 35-39 dB at 72 px).
    close = psnr(y.detach(), jpeg_real(photo_t, 75))
    print(f"jpeg_diff vs real JPEG, QF 75: {close:.2f} dB")
    assert close > 35


def test_jpeg_diff_any_size_and_per_batch_range():
    x = torch.rand(2, 3, 40, 24)  # not multiples of 16: kornia pads and crops back
    g1, g2 = torch.Generator().manual_seed(3), torch.Generator().manual_seed(3)
    a, b = jpeg_diff(x, (30, 90), generator=g1), jpeg_diff(x, (30, 90), generator=g2)
    assert a.shape == x.shape and torch.equal(a, b)
    assert 0 <= a.min() and a.max() <= 1


def test_quality_ranges_are_drawn_within_bounds():
    gen = torch.Generator().manual_seed(0)
    draws = [draw_quality((50, 55), gen) for _ in range(300)]
    assert set(draws) == set(range(50, 56))  # both ends reachable, nothing outside
    assert draw_quality("70-70") == 70 and draw_quality(85) == 85
    torch.manual_seed(1)
    first = [draw_quality((1, 100)) for _ in range(5)]
    torch.manual_seed(1)
    assert first == [draw_quality((1, 100)) for _ in range(5)]  # global RNG when no generator


def test_parse_quality_accepts_config_spellings():
    assert parse_quality(75) == 75 and parse_quality("75") == 75 and parse_quality(" 75 ") == 75
    assert parse_quality("50-90") == (50, 90) == parse_quality((50, 90)) == parse_quality([50, 90])
    assert parse_quality(np.int64(30)) == 30


@pytest.mark.parametrize("bad", [0, 101, -5, "abc", "", "90-50", "50-90-95", "0-50", (1, 2, 3),
                                 (10, 200), True, 75.5, None])
def test_bad_quality_raises(bad):
    with pytest.raises(ValueError, match="quality"):
        parse_quality(bad)


def test_apply_jpeg_modes_and_errors(photo_t):
    assert set(JPEG_MODES) == {"off", "diff", "ste"}
    assert apply_jpeg(photo_t, "off", 75) is photo_t
    assert torch.equal(apply_jpeg(photo_t, "ste", "50"), jpeg_real(photo_t, 50))
    with pytest.raises(ValueError, match="unknown JPEG mode 'real'; valid: off, diff, ste"):
        apply_jpeg(photo_t, "real", 75)
    with pytest.raises(ValueError, match="1..100"):
        apply_jpeg(photo_t, "off", 0)
    with pytest.raises(ValueError, match="N x 3 x H x W"):
        jpeg_real(photo_t[0], 75)
    with pytest.raises(ValueError, match="subsampling"):
        encode_jpeg(np.zeros((8, 8, 3), np.uint8), 75, "411")
    with pytest.raises(ValueError, match="uint8"):
        encode_jpeg(np.zeros((8, 8, 3), np.float32), 75)
