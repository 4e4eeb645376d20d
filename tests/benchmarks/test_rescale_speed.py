"""Rescaling speed (pytest-benchmark): the x4 round trip (downscale, then upscale with z = 0)
of one 128 x 128 photo, with the same weights, in one run:

  official      the official IRN network (tests/official_irn_reference.py), fp32, no_grad,
                as the official test code runs it: the baseline of every ratio
  ours          irn, inference_mode, fp32: the library's default path (buffered dense
                blocks, bit-identical to the cat path)
  ours_taps     plus DenseBlock.conv5_by_taps (bench.throughput's default): fastest on CPUs
  ours_cat      DenseBlock.buffered_inference off (torch.cat copies, as the official code)
  bf16          ours under bf16 autocast (skipped on CPUs without native bf16: an AVX2 CPU
                runs bf16 convolutions about 500x slower than fp32)
  channels_last ours with channels-last tensors
  tiled         ours in 64-pixel tiles with 16 pixels of context (the tiling overhead)

The claims are ratios within one run (median official / median ours, ...); absolute times
drift with the machine. Run: pytest tests/benchmarks --benchmark-only
"""
import pytest
import torch

from bench.speed.throughput import fast_low_precision, official_network, photo
from irn.model import build_model
from irn.subnets import dense_path
from irn.tiling import tiled_downscale, tiled_upscale
from tests.test_model import perturbed

# 128 px: the gate runs this suite six times (three interleaved base/head pairs), and at
# 256 px these seven benchmarks alone took 80 s of each run.
SIZE = 128
TILE, OVERLAP = 64, 16
ROUNDS = dict(rounds=5, warmup_rounds=1, iterations=1)


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(0)
    return perturbed(build_model(scale=4)).eval()


@pytest.fixture(scope="module")
def image():
    return photo(SIZE, SIZE)


def _round_trip(model, x):
    return model.upscale(model.downscale(x), mode="zero")


def _run(benchmark, fn):
    out = benchmark.pedantic(fn, **ROUNDS)
    benchmark.extra_info["megapixels_per_s"] = SIZE * SIZE / 1e6 / benchmark.stats.stats.median
    return out


def test_x4_round_trip_official(benchmark, model, image):
    net = official_network(model)

    def official():
        with torch.no_grad():
            out = net(image)
            lr = (out[:, :3].clamp(0, 1) * 255).round() / 255
            return net(torch.cat([lr, torch.zeros_like(out[:, 3:])], 1), rev=True)[:, :3]
    out = _run(benchmark, official)
    with torch.no_grad():
        assert (out - _round_trip(model, image)).abs().max() < 1e-4  # same network


def test_x4_round_trip_ours(benchmark, model, image):
    def ours():
        with torch.inference_mode():
            return _round_trip(model, image)
    _run(benchmark, ours)


def test_x4_round_trip_ours_taps(benchmark, model, image):
    def ours_taps():
        with torch.inference_mode(), dense_path("taps"):
            return _round_trip(model, image)
    _run(benchmark, ours_taps)


def test_x4_round_trip_ours_cat(benchmark, model, image):
    def ours_cat():
        with torch.inference_mode(), dense_path("cat"):
            return _round_trip(model, image)
    _run(benchmark, ours_cat)


@pytest.mark.skipif(not fast_low_precision("bf16"),
                    reason="no native bf16 convolutions on this CPU (about 500x slower)")
def test_x4_round_trip_bf16(benchmark, model, image):
    def bf16():
        with torch.inference_mode(), torch.autocast("cpu", dtype=torch.bfloat16):
            return _round_trip(model, image)
    _run(benchmark, bf16)


def test_x4_round_trip_channels_last(benchmark, model, image):
    cl_model = build_model(scale=4).eval()
    cl_model.load_state_dict(model.state_dict())
    cl_model = cl_model.to(memory_format=torch.channels_last)
    x = image.contiguous(memory_format=torch.channels_last)

    def channels_last():
        with torch.inference_mode():
            return _round_trip(cl_model, x)
    _run(benchmark, channels_last)


def test_x4_round_trip_tiled(benchmark, model, image):
    def tiled():
        with torch.inference_mode():
            lr = tiled_downscale(model, image, TILE, OVERLAP)
            return tiled_upscale(model, lr, TILE, OVERLAP)
    _run(benchmark, tiled)


def test_tiled_1080p_round_trip_light(benchmark):
    """The tiling machinery at full 1080p size (tile grid, padding, stitching, 135 tiles per
    pass) on a light x4 model (1 block per stage, conv subnets), so one round takes seconds,
    not the minute the full model needs on 2 cores."""
    torch.manual_seed(0)
    light = perturbed(build_model(scale=4, blocks=1, subnet="conv", gc=8)).eval()
    hd = photo(1920, 1080)

    def tiled_1080p():
        with torch.inference_mode():
            return tiled_upscale(light, tiled_downscale(light, hd, 128, 32), 128, 32)
    benchmark.pedantic(tiled_1080p, rounds=3, warmup_rounds=1, iterations=1)
    benchmark.extra_info["megapixels_per_s"] = 1920 * 1080 / 1e6 / benchmark.stats.stats.median
