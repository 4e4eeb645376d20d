"""The rate-distortion section: plain JPEG interpolated at the model's rate, per tile."""
import numpy as np
import pandas as pd
import pytest

from dashboards.compression import plain_jpeg_at, rate_distortion, rate_gains

QS = (10, 50, 90)


def _rows(label, run, seed, offset, tiles=12):
    rng = np.random.default_rng(seed)
    rows = []
    for t in range(tiles):
        hard = rng.normal(0, 1)
        row = {"label": label, "run_id": run, "seed": seed, "image": f"tile{t}",
               "rate_png": 4.0, "psnr_y": 40.0, "bicubic_rate_png": 4.0, "bicubic_psnr_y": 38.0,
               "rate_jpeg50": 0.5, "jpeg50_psnr_y": 33.0 + hard + offset + rng.normal(0, .05),
               "bicubic_rate_jpeg50": 0.5, "bicubic_jpeg50_psnr_y": 32.0 + hard}
        for q, r, p in zip(QS, (0.2, 0.6, 1.8), (28.0, 34.0, 40.0)):
            row[f"hr_jpeg{q}_rate"], row[f"hr_jpeg{q}_psnr_y"] = r, p + hard
        rows.append(row)
    return rows


def test_plain_jpeg_is_interpolated_on_each_tiles_curve_and_nan_outside():
    frame = pd.DataFrame(_rows("a", "r0", 0, 0.0, tiles=2))
    got = plain_jpeg_at(frame, pd.Series([0.4, 5.0], index=frame.index))
    assert got.iloc[0] == pytest.approx(31.0 + frame["hr_jpeg10_psnr_y"].iloc[0] - 28.0)
    assert np.isnan(got.iloc[1])


def test_gains_over_plain_jpeg_with_verdicts():
    frame = pd.DataFrame(_rows("good", "r0", 0, 1.0) + _rows("good", "r1", 1, 1.0)
                         + _rows("bad", "r2", 0, -3.0) + _rows("bad", "r3", 1, -3.0))
    points = {(p["model"], p["codec"]): p for p in rate_gains(frame)}
    # plain JPEG at 0.5 bpp: 28 + (0.3 / 0.4) * 6 = 32.5 (+ the tile's difficulty)
    assert points["good", "JPEG 50"]["gain"]["mean"] == pytest.approx(1.5, abs=0.05)
    assert points["good", "JPEG 50"]["verdict"] == "better"
    assert points["bad", "JPEG 50"]["verdict"] == "worse"
    assert points["bicubic", "JPEG 50"]["gain"]["mean"] == pytest.approx(-0.5, abs=1e-9)
    png = points["good", "PNG"]
    assert png["tiles"] == 0 and png["verdict"] == "undecided"  # 4 bpp: off the curve
    assert (points["good", "JPEG 50"]["seeds"], points["good", "JPEG 50"]["tiles"]) == (2, 12)


def test_section_only_for_sweeps_with_rates():
    plain = pd.DataFrame([{"label": "a", "run_id": "r", "seed": 0, "image": "x", "psnr_y": 30}])
    assert rate_distortion(plain).note
    section = rate_distortion(pd.DataFrame(_rows("good", "r0", 0, 1.0)))
    assert not section.note and section.figure is not None
    assert "Beats plain JPEG at the same rate: good JPEG 50" in section.blurb
