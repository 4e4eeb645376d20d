"""bench.throughput and the DenseBlock inference path: equal outputs, the CLI contract, FLOP
counting, checkpoints, and the official network giving the same round trip."""
import dataclasses
import json
import statistics

import numpy as np
import pytest
import torch

import irn
from bench.speed import throughput
from irn.checkpoint import save_model
from irn.model import build_model
from irn.subnets import DenseBlock, conv3x3_by_taps, dense_path
from tests.test_model import perturbed

ARCH = dict(scale=4, blocks=2, gc=8)


def run(argv, capsys):
    try:
        code = throughput.main(argv)
    except SystemExit as exc:  # argparse errors
        code = exc.code
    out = capsys.readouterr()
    return code, out.out, out.err


@pytest.mark.parametrize("c_in, c_out", [(9, 3), (3, 9), (3, 45)])
@pytest.mark.parametrize("batch", [1, 2])
def test_buffered_dense_block_equals_the_cat_path(batch, c_in, c_out):
    torch.manual_seed(0)
    block = DenseBlock(c_in, c_out)
    with torch.no_grad():
        for p in block.parameters():
            p.add_(torch.randn(p.shape) * 0.05)
    x = torch.randn(batch, c_in, 12, 20)
    cat = block(x)  # grad enabled: the cat path
    with torch.inference_mode():
        assert torch.equal(block(x), cat)  # the buffer alone: bit-identical
    with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16):
        fast = block(x)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        assert torch.equal(fast, block(x))
    with dense_path("taps"):
        with torch.inference_mode():
            taps = block(x)
        with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16):
            assert torch.equal(block(x), fast)  # autocast keeps conv5 a conv
    if c_out < 16:  # conv5 as a GEMM over tap maps: equal up to summation order
        assert (taps - cat).abs().max() <= 1e-5 * cat.abs().max()
    else:
        assert torch.equal(taps, cat)


def test_conv3x3_by_taps_equals_the_conv_at_every_border():
    torch.manual_seed(0)
    for bias in (True, False):
        conv = torch.nn.Conv2d(20, 3, 3, padding=1, bias=bias)
        for shape in [(2, 20, 1, 5), (1, 20, 7, 2), (1, 20, 9, 13)]:
            x = torch.randn(shape)
            with torch.no_grad():
                assert torch.allclose(conv3x3_by_taps(conv, x), conv(x), atol=1e-5)


def test_fast_paths_keep_the_state_dict_and_match_the_official_network_at_x4():
    torch.manual_seed(0)
    model = perturbed(build_model(**ARCH)).eval()
    keys = list(model.state_dict())
    official = throughput.official_network(model)
    x = torch.rand(1, 3, 32, 24)
    with torch.no_grad():
        buffered = model.upscale(model.downscale(x), mode="zero")
        with dense_path("taps"):
            taps = model.upscale(model.downscale(x), mode="zero")
        with dense_path("cat"):
            cat = model.upscale(model.downscale(x), mode="zero")
        out = official(x)
        lr = irn.quantize(out[:, :3])
        reference = official(torch.cat([lr, torch.zeros_like(out[:, 3:])], 1), rev=True)[:, :3]
    assert torch.equal(buffered, cat)
    scale = reference.abs().max()
    assert (taps - reference).abs().max() <= 1e-5 * scale
    assert (buffered - reference).abs().max() <= 1e-5 * scale
    assert list(model.state_dict()) == keys


def test_photo_is_a_real_image_mirror_tiled_to_size():
    img = throughput.photo(600, 520)
    assert img.shape == (1, 3, 520, 600) and 0 <= img.min() and img.max() <= 1
    # mirror tiling: column 512 + k repeats column 511 - k
    assert torch.equal(img[..., 512:520], img[..., 504:512].flip(-1))
    # natural image: neighbouring pixels are strongly correlated (noise would not be)
    a = img[0, 0, :, :-1].flatten().numpy()
    b = img[0, 0, :, 1:].flatten().numpy()
    assert np.corrcoef(a, b)[0, 1] > 0.8
    assert throughput.parse_size("4k") == (3840, 2160)
    assert throughput.parse_size("640x360") == (640, 360)


def test_conv_flops_match_the_analytic_count_of_irn_x4():
    model = build_model(scale=4)
    flops = throughput.conv_flops(model, lambda x: model.upscale(model.downscale(x), mode="zero"),
                                  1080, 1920)
    # multiply-adds per pixel of a stage, dense subnets F, G, H of eight blocks:
    # stage 1 (1/4 of the HR pixels) 3 x 69,363; stage 2 (1/16) 3 x 111,807
    per_hr_pixel = 8 * (3 * 69_363 / 4 + 3 * 111_807 / 16)
    assert flops == pytest.approx(2 * 2 * per_hr_pixel * 1920 * 1080)


def test_cli_times_a_round_trip_and_writes_json(tmp_path, capsys):
    js = tmp_path / "t.json"
    code, out, _ = run(["--scale", "2", "--size", "32x24", "--repeats", "2", "--warmup", "0",
                        "--json", str(js)], capsys)
    assert code == 0 and "MP/s" in out
    r = json.loads(js.read_text())
    assert r["size"] == "32x24" and len(r["round_trip"]["runs"]) == 2
    trips = [d + u for d, u in zip(r["downscale"]["runs"], r["upscale"]["runs"])]
    assert r["round_trip"]["runs"] == pytest.approx(trips)  # each trip = its down + its up
    assert r["round_trip"]["median_s"] == pytest.approx(statistics.median(trips))
    assert r["round_trip"]["min_s"] == min(r["round_trip"]["runs"])
    assert r["throughput_mps"] == pytest.approx(32 * 24 / 1e6 / r["round_trip"]["median_s"])
    assert r["peak_rss_gb"] > 0.05 and r["max_rss_gb"] >= r["peak_rss_gb"] * 0.9
    assert r["psnr_y"] > 20  # untrained IRN = Haar mean down, replicate up: still a photo


def test_cli_with_a_checkpoint_tiles_and_official_agree(tmp_path, capsys):
    torch.manual_seed(0)
    model = perturbed(build_model(**ARCH), std=0.01)
    ckpt = tmp_path / "m.pt"
    save_model(ckpt, model, ARCH)
    common = ["--scale", "4", "--size", "64x48", "--repeats", "1", "--warmup", "0", "--dtype", "fp32",
              "--checkpoint", str(ckpt)]
    results = {}
    for name, extra in [("ours", ["--baseline", "official", "--repeats", "2"]),
                        ("layout", ["--channels-last", "--baseline", "nchw", "--repeats", "2"]),
                        ("official", ["--impl", "official"]),
                        ("tiled", ["--tile", "16", "--overlap", "32", "--compare-full"]),
                        ("cat", ["--dense", "cat", "--grad-mode", "no_grad"])]:
        js = tmp_path / f"{name}.json"
        code, out, err = run(common + extra + ["--json", str(js)], capsys)
        assert code == 0, err
        results[name] = json.loads(js.read_text())
    ours = results["ours"]["psnr_y"]
    assert results["official"]["psnr_y"] == pytest.approx(ours, abs=1e-3)
    baseline = results["ours"]["baseline"]  # interleaved official runs, same weights
    assert baseline["psnr_y"] == pytest.approx(ours, abs=1e-3)
    assert len(baseline["round_trip"]["runs"]) == 2
    # the speed-up is the median of the paired ratios: run i of the baseline over run i of ours
    assert results["ours"]["speedup"] == pytest.approx(statistics.median(
        b / o for b, o in zip(baseline["round_trip"]["runs"],
                              results["ours"]["round_trip"]["runs"])))
    assert results["cat"]["psnr_y"] == pytest.approx(ours, abs=1e-3)
    layout = results["layout"]  # channels-last against ours in NCHW, same weights
    assert layout["channels_last"] and layout["baseline"]["impl"] == "nchw"
    assert "NCHW" in layout["baseline"]["label"] and layout["speedup"] > 0
    assert layout["psnr_y"] == pytest.approx(layout["baseline"]["psnr_y"], abs=1e-3)
    tiled = results["tiled"]
    assert tiled["full_psnr_y"] == pytest.approx(ours, abs=1e-6)
    assert abs(tiled["psnr_y_delta"]) < 0.01
    assert DenseBlock.buffered_inference and not DenseBlock.conv5_by_taps  # restored


def test_settings_use_the_config_names_and_the_baseline_runs_as_official():
    common = ["--scale", "4", "--size", "1080p", "--tile", "64", "--channels-last"]
    assert throughput.settings_from_args(throughput.parse_args(common)).amp == "auto"
    settings = throughput.settings_from_args(throughput.parse_args(common + ["--dtype", "fp32"]))
    assert (settings.width, settings.height, settings.overlap) == (1920, 1080, 64)
    assert (settings.amp, settings.dtype, settings.channels_last) == ("off", "fp32", True)
    assert (settings.compile, settings.device) == (False, "auto")
    official = settings.as_official()
    assert (official.impl, official.tile, official.overlap, official.amp) == ("official", 0, 0,
                                                                             "off")
    assert (official.channels_last, official.grad_mode) == (False, "no_grad")
    assert official.scale == 4 and settings.impl == "ours"  # a copy: the original is unchanged
    nchw = dataclasses.replace(settings, baseline="nchw", amp="bf16").as_baseline()
    assert (nchw.impl, nchw.amp, nchw.channels_last, nchw.tile) == ("ours", "off", False, 64)
    with pytest.raises(dataclasses.FrozenInstanceError):
        settings.tile = 0


@pytest.mark.parametrize("argv, message", [
    (["--scale", "4", "--size", "10x10"], "not divisible"),
    (["--scale", "4", "--size", "big"], "--size"),
    (["--scale", "4", "--size", "64x64", "--tile", "30"], "multiple of the scale"),
    (["--scale", "4", "--size", "64x64", "--overlap", "8"], "need --tile"),
    (["--scale", "4", "--size", "64x64", "--checkpoint", "/no/such.pt"], "not found"),
    (["--scale", "4", "--size", "64x64", "--impl", "official", "--dtype", "bf16"], "official"),
    (["--scale", "3", "--size", "64x64"], "invalid choice"),
    (["--scale", "4", "--size", "64x64", "--impl", "official", "--baseline", "official"],
     "drop one"),
    # issue 32.5: this allocated 112 GiB and died; the floor is checked first
    (["--scale", "4", "--size", "200000x200000"], "needs at least 1005.8 GiB"),
    (["--scale", "4", "--size", "200000x200000", "--tile", "512"], "needs at least"),
])
def test_cli_bad_input_exits_2_with_one_line(argv, message, capsys):
    code, _, err = run(argv, capsys)
    assert code == 2
    assert len(err.strip().splitlines()) == 1 and message in err


@pytest.mark.skipif(throughput.fast_low_precision("bf16") or torch.cuda.is_available(),
                    reason="this CPU has native bf16 convolutions")
def test_bf16_is_refused_on_a_cpu_without_native_bf16(capsys):
    code, _, err = run(["--scale", "4", "--size", "64x64", "--dtype", "bf16"], capsys)
    assert code == 2 and "500x slower" in err


def test_auto_dtype_is_the_default_and_says_which_path_ran(capsys, tmp_path):
    from irn.precision import native_low_precision
    out = tmp_path / "r.json"
    code, printed, _ = run(["--scale", "2", "--size", "32x32", "--repeats", "1", "--warmup",
                            "0", "--json", str(out)], capsys)
    assert code == 0
    result = json.loads(out.read_text())
    native = native_low_precision("bf16", torch.device("cpu"))
    assert result["dtype"] in (("bf16", "fp32") if native else ("fp32",))
    assert result["dtype_reason"].startswith("auto:") and result["dtype_reason"] in printed


def test_auto_dtype_measures_bf16_before_choosing_it():
    from bench.speed.auto_dtype import ACCURACY_DB, auto_dtype
    torch.manual_seed(0)
    model = build_model(scale=2, blocks=1, gc=8).eval()
    image = throughput.photo(32, 32)
    assert auto_dtype(model, image, native=False)[0] == "fp32"
    dtype, why = auto_dtype(model, image, native=True)  # the check itself runs (slow on AVX2)
    cost = float(why.split("cost ")[1].split(" dB")[0])
    assert dtype == ("bf16" if abs(cost) <= ACCURACY_DB else "fp32") and "32-px check" in why
