"""Rates of the compression study: payload bits of real PNG/JPEG files, and the rate metrics."""
import io

import numpy as np
import pytest
import torch
from PIL import Image

from irn.config import from_dict
from irn.evaluate import evaluate_image
from irn.metric_registry import HR_JPEG_QUALITIES, evaluation_metrics, metric_spec
from irn.imresize import imresize
from irn.model import build_model
from irn.storage import jpeg_bytes, jpeg_payload_bits, png_bytes, png_payload_bits


def _image(h=64, w=48, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.rand(1, 3, h, w, generator=g)


def test_jpeg_payload_is_the_scan_between_sos_and_eoi():
    data = jpeg_bytes(_image(), 50)
    sos = data.index(b"\xff\xda")
    header = int.from_bytes(data[sos + 2:sos + 4], "big")
    assert jpeg_payload_bits(data) == 8 * (len(data) - (sos + 2 + header) - 2)
    flat = jpeg_bytes(torch.full((1, 3, 64, 64), 0.5), 50)
    assert jpeg_payload_bits(flat) < 0.15 * 8 * len(flat)  # a flat image is mostly container


def test_jpeg_payload_rejects_what_is_not_a_jpeg():
    with pytest.raises(ValueError):
        jpeg_payload_bits(png_bytes(_image()))


def test_png_payload_is_the_idat_data_and_decodes_back():
    x = _image()
    data = png_bytes(x)
    assert 0 < png_payload_bits(data) < 8 * len(data)
    back = np.asarray(Image.open(io.BytesIO(data)))
    assert np.array_equal(back, (x[0].permute(1, 2, 0) * 255).round().byte().numpy())


def test_rate_metrics_only_with_storage_eval_and_known_to_the_registry():
    plain = from_dict({"jpeg_eval": "30"}, budget="smoke")
    assert not any("rate" in m.name for m in evaluation_metrics(plain))
    cfg = plain.replace(storage_eval=True)
    names = {m.name for m in evaluation_metrics(cfg)}
    assert {"rate_png", "bicubic_rate_png", "rate_jpeg30", "bicubic_rate_jpeg30"} <= names
    assert {f"hr_jpeg{q}_rate" for q in HR_JPEG_QUALITIES} <= names
    assert all(metric_spec(n) is not None and metric_spec(n).name == n for n in names)
    assert metric_spec("rate_jpeg101") is None


def test_rates_per_hr_pixel_and_plain_jpeg_curve_rises():
    torch.manual_seed(0)
    model = build_model(scale=2, blocks=1, gc=8).eval()
    hr = _image(64, 64)
    cfg = from_dict({"jpeg_eval": "30", "storage_eval": True}, budget="smoke")
    row = evaluate_image(model, hr, imresize(hr, 0.5), cfg)
    lr_bits = png_payload_bits(png_bytes(imresize(hr, 0.5)))
    assert row["bicubic_rate_png"] == pytest.approx(lr_bits / (64 * 64), rel=0.05)
    rates = [row[f"hr_jpeg{q}_rate"] for q in HR_JPEG_QUALITIES]
    psnrs = [row[f"hr_jpeg{q}_psnr_y"] for q in HR_JPEG_QUALITIES]
    assert rates == sorted(rates) and psnrs[-1] > psnrs[0]
