"""Tiled inference (irn.tiling): grid, exactness at the receptive-field overlap, the PSNR
difference at small overlaps on a real photo, gaussian z, and tile-bounded work."""
import pytest
import torch

from bench.speed.throughput import photo
from irn.metrics import psnr_y
from irn.model import build_model
from irn.tiling import exact_overlap, tile_grid, tiled_downscale, tiled_upscale
from tests.test_model import perturbed


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(0)
    return perturbed(build_model(scale=4, blocks=1, gc=8), std=0.05).eval()


@pytest.fixture(scope="module")
def image():
    return photo(96, 80)


def test_grid_covers_every_pixel_once_with_clipped_context():
    grid = tile_grid(100, 32, 8)
    assert [(a, b) for a, b, _, _ in grid] == [(0, 32), (32, 64), (64, 96), (96, 100)]
    assert [(c, d) for _, _, c, d in grid] == [(0, 40), (24, 72), (56, 100), (88, 100)]


def test_exact_overlap_is_the_receptive_field_radius():
    # two dense subnets (5 convs) in series per block, at 1/2 and 1/4 resolution
    assert exact_overlap(build_model(scale=4)) == 2 * 5 * 8 * (2 + 4) == 480
    assert exact_overlap(build_model(scale=2)) == 160
    assert exact_overlap(build_model(scale=4, coupling="affine")) is None


@torch.inference_mode()
def test_tiling_is_exact_at_the_receptive_field_and_not_below(model, image):
    lr = model.downscale(image)
    full = model.upscale(lr, mode="zero")
    radius = exact_overlap(model)  # 60 HR pixels here
    assert torch.equal(tiled_downscale(model, image, 32, radius), lr)
    assert (tiled_upscale(model, lr, 32, radius) - full).abs().max() < 1e-5
    # without context the network sees tile borders: the test would notice
    assert (tiled_downscale(model, image, 32, 0) - lr).abs().max() > 0.05
    assert (tiled_upscale(model, lr, 32, 0) - full).abs().max() > 0.5


@torch.inference_mode()
def test_half_the_radius_is_within_a_hundredth_of_a_db_on_a_photo(model, image):
    full = model.upscale(model.downscale(image), mode="zero")
    tiled = tiled_upscale(model, tiled_downscale(model, image, 32, 32), 32, 32)
    delta = psnr_y(tiled.clamp(0, 1), image, 4) - psnr_y(full.clamp(0, 1), image, 4)
    assert abs(delta) < 0.01


@torch.inference_mode()
def test_gaussian_z_matches_full_frame_for_the_same_generator(model, image):
    lr = model.downscale(image)
    full = model.upscale(lr, mode="gaussian", generator=torch.Generator().manual_seed(3))
    tiled = tiled_upscale(model, lr, 32, exact_overlap(model), mode="gaussian",
                          generator=torch.Generator().manual_seed(3))
    assert (tiled - full).abs().max() < 1e-5


@torch.inference_mode()
def test_work_per_call_is_bounded_by_the_tile_not_the_image(model, image, monkeypatch):
    seen = []
    down, up = model.downscale, model.upscale
    monkeypatch.setattr(model, "downscale", lambda x: seen.append(x.shape[-2:]) or down(x))
    monkeypatch.setattr(model, "upscale", lambda x, **kw: seen.append(
        tuple(4 * d for d in x.shape[-2:])) or up(x, **kw))
    lr = tiled_downscale(model, image, 16, 8)
    tiled_upscale(model, lr, 16, 8)
    assert len(seen) == 2 * 6 * 5  # a 6 x 5 grid of 16-pixel cores, each way
    assert max(h * w for h, w in seen) <= (16 + 2 * 8) ** 2


def test_bad_tiles_are_refused(model, image):
    with pytest.raises(ValueError, match="multiple of the scale 4"):
        tiled_downscale(model, image, 30, 8)
    with pytest.raises(ValueError, match="overlap"):
        tiled_upscale(model, torch.rand(1, 3, 8, 8), 16, 6)
