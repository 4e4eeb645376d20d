"""Rescaling speed of one model: python -m bench.throughput --scale S --size WxH|1080p|4k

Times downscale, upscale (z = 0) and their sum, the round trip, on a real photograph
(scikit-image's astronaut, mirror-tiled to the size; never noise): median and spread over
`--repeats` after `--warmup` untimed runs, megapixels per second (HR pixels) and images per
second, the peak memory of the timed region (CUDA peak allocated on a GPU; on the CPU the
sampled peak RSS and the process's RSS high-water mark), the achieved TFLOP/s (conv FLOPs),
and the Y-PSNR of the round trip against the photo.

  --tile N --overlap N   tiled inference (irn.tiling), HR pixels, multiples of the scale:
                         memory bounded by the tile, not the image
  --compare-full         also run full-frame inference once and report the PSNR difference
  --dtype bf16|fp16      autocast; --channels-last; --compile (torch.compile);
  --grad-mode no_grad    instead of torch.inference_mode (to measure that lever)
  --impl official        the official IRN network (tests/official_irn_reference.py, needs a
                         repository checkout) with the same weights, fp32, no_grad
  --baseline official    time that network too, interleaved with ours (alternating order),
                         and report the speed-up as the median of paired ratios
  --baseline nchw        the same, against ours in fp32 and NCHW (same dense path, tiles
                         and grad mode): what --dtype and --channels-last buy here
  --checkpoint CKPT      our format or an official release file; default: untrained weights
"""
import argparse
import contextlib
import dataclasses
import os
import statistics
import sys
import time

import numpy as np
import torch
import torch.nn as nn

from bench.common.cli import OneLineParser, UsageError, check_json_target, fail, write_json_atomic
from bench.common.telemetry import Telemetry, max_rss_gb
from irn.device import pick_device, sync
from irn.precision import autocast, native_low_precision, precision_name
from irn.subnets import DENSE_PATHS, dense_path

SIZES = {"720p": (1280, 720), "1080p": (1920, 1080), "4k": (3840, 2160)}
# Dense peak TFLOP/s of the math each dtype uses (fp32 convs run as TF32 by default).
PEAK_TFLOPS = {"H200": {"fp32": 494.7, "bf16": 989.4, "fp16": 989.4},
               "H100": {"fp32": 494.7, "bf16": 989.4, "fp16": 989.4},
               "A100": {"fp32": 156.0, "bf16": 312.0, "fp16": 312.0}}


def fast_low_precision(dtype: str) -> bool:
    """Whether this CPU runs bf16/fp16 convolutions natively (irn.precision); without, runs
    are refused (oneDNN's reference kernels: about 500x slower than fp32)."""
    return native_low_precision(dtype, torch.device("cpu"))


def parse_size(text: str) -> tuple[int, int]:
    """'1080p' | '4k' | 'WxH' -> (W, H)."""
    key = text.strip().lower()
    if key in SIZES:
        return SIZES[key]
    try:
        w, h = (int(v) for v in key.split("x"))
    except ValueError:
        raise UsageError(f"--size must be WxH, {', '.join(SIZES)}; got {text!r}") from None
    if w < 1 or h < 1:
        raise UsageError(f"--size must be positive, got {text!r}")
    return w, h


def photo(width: int, height: int) -> torch.Tensor:
    """1 x 3 x H x W float32 in [0, 1]: the astronaut photo, mirror-tiled (or cropped)."""
    from skimage import data
    img = data.astronaut()
    img = img[:height, :width]
    img = np.pad(img, ((0, height - img.shape[0]), (0, width - img.shape[1]), (0, 0)),
                 mode="symmetric")
    return torch.from_numpy(np.ascontiguousarray(img.transpose(2, 0, 1)))[None].float() / 255


def conv_flops(model: nn.Module, run, height: int, width: int) -> float:
    """FLOPs (2 x multiply-adds) of the convolutions `run(x)` does on a 1 x 3 x H x W image,
    counted with hooks on a small crop and scaled by pixels (exact: convs cost per pixel)."""
    probe = 64
    counts = [0]
    def hook(mod, inputs, out):
        k = mod.weight.shape[1] * mod.weight.shape[2] * mod.weight.shape[3]
        counts[0] += 2 * k * out.numel()
    handles = [m.register_forward_hook(hook) for m in model.modules()
               if isinstance(m, nn.Conv2d)]
    try:
        # the cat path sends every conv through its module, so the hooks see it
        with torch.inference_mode(), dense_path("cat"):
            run(torch.rand(1, 3, probe, probe, device=next(model.parameters()).device))
    finally:
        for h in handles:
            h.remove()
    return counts[0] * (height * width) / probe ** 2


@dataclasses.dataclass(frozen=True)
class Settings:
    """One measurement, checked by settings_from_args (the command line's defaults are its
    only defaults). The speed switches carry the trial config's names and values
    (irn.config): amp auto|off|bf16|fp16 (autocast), channels_last, compile,
    device auto|cpu|cuda."""
    scale: int
    width: int
    height: int
    amp: str
    channels_last: bool
    compile: bool
    device: str
    impl: str  # "ours", or "official": the official network, fp32, no_grad, full frame
    grad_mode: str  # "inference" (torch.inference_mode) or "no_grad"
    dense: str  # the DenseBlock inference path (irn.subnets.DENSE_PATHS)
    tile: int  # tile core in HR pixels, 0: full frame
    overlap: int  # context on each side of a tile, HR pixels
    baseline: str | None  # "official" / "nchw": also time that, interleaved with ours
    checkpoint: str | None  # None: untrained weights drawn from `seed`
    repeats: int
    warmup: int
    compare_full: bool
    threads: int  # torch CPU threads, 0: torch's default
    seed: int

    @property
    def dtype(self) -> str:
        """The math the convolutions run in: fp32 (amp off), bf16, fp16 (or auto, before
        _measure resolves it)."""
        return precision_name(self.amp)

    def as_official(self) -> "Settings":
        """The baseline's settings: the official network as the official code runs it."""
        return dataclasses.replace(self, impl="official", tile=0, overlap=0, amp="off",
                                   channels_last=False, compile=False, grad_mode="no_grad")

    def as_baseline(self) -> "Settings":
        """--baseline official: as_official(); nchw: ours in fp32, NCHW, not compiled."""
        if self.baseline == "nchw":
            return dataclasses.replace(self, amp="off", channels_last=False, compile=False,
                                       baseline=None)
        return self.as_official()


def amp_of(dtype: str) -> str:
    """--dtype (auto|fp32|bf16|fp16) as the config's amp (auto|off|bf16|fp16)."""
    return "off" if dtype == "fp32" else dtype


class Rescaler:
    """downscale(hr) / upscale(lr) of our model or the official network, with the levers."""

    def __init__(self, model, settings: Settings, device):
        self.model, self.settings, self.device = model, settings, device
        self.official = None
        if settings.impl == "official":
            self.official = official_network(model).to(device)
        elif settings.channels_last:
            self.model = model.to(memory_format=torch.channels_last)
        down, up = self._down, self._up
        if settings.compile:
            down, up = torch.compile(down), torch.compile(up)
        self.down, self.up = down, up

    def _prepare(self, x):
        x = x.to(self.device)
        if self.settings.channels_last and self.official is None:
            x = x.contiguous(memory_format=torch.channels_last)
        return x

    def _down(self, hr):
        if self.official is not None:
            out = self.official(hr)
            return (out[:, :3].clamp(0, 1) * 255).round() / 255
        if self.settings.tile:
            from irn.tiling import tiled_downscale
            return tiled_downscale(self.model, hr, self.settings.tile, self.settings.overlap)
        return self.model.downscale(hr)

    def _up(self, lr):
        if self.official is not None:
            z = lr.new_zeros(lr.shape[0], 3 * self.model.scale ** 2 - 3, *lr.shape[2:])
            return self.official(torch.cat([lr, z], 1), rev=True)[:, :3]
        if self.settings.tile:
            from irn.tiling import tiled_upscale
            return tiled_upscale(self.model, lr, self.settings.tile, self.settings.overlap)
        return self.model.upscale(lr, mode="zero")

    def context(self):
        """Grad mode + autocast for one call."""
        stack = contextlib.ExitStack()
        no_grad = self.official is not None or self.settings.grad_mode == "no_grad"
        stack.enter_context(torch.no_grad() if no_grad else torch.inference_mode())
        if self.official is None:
            stack.enter_context(autocast(self.settings.amp, self.device.type))
        return stack

    def round_trip(self, hr):
        """(lr, hr', seconds down, seconds up), each synchronised."""
        hr = self._prepare(hr)
        with self.context():
            t0 = time.perf_counter()
            lr = self.down(hr)
            sync(self.device)
            t1 = time.perf_counter()
            out = self.up(lr)
            sync(self.device)
            t2 = time.perf_counter()
        return lr, out, t1 - t0, t2 - t1


def official_network(model):
    """The official transcription carrying `model`'s weights (a test oracle of this repo)."""
    try:
        from tests.official_irn_reference import InvRescaleNet
    except ImportError:
        raise UsageError("--impl official needs the repository checkout "
                         "(tests/official_irn_reference.py)") from None
    from irn.official import to_official
    if model.coupling_name != "enhanced" or any(split for _, split in model.plan):
        raise UsageError("--impl official needs an IRN (enhanced, dense) model")
    blocks = sum(1 for _ in model.stages[0].module_list) - 1
    gc = model.stages[0].module_list[1].F.conv1.out_channels
    net = InvRescaleNet(down_num=len(model.stages), block_num=[blocks] * len(model.stages),
                        gc=gc)
    net.load_state_dict(to_official(model))
    return net.eval()


def stats(values: list[float]) -> dict:
    med = statistics.median(values)
    return {"median_s": med, "min_s": min(values), "max_s": max(values),
            "spread": (max(values) - min(values)) / med if med else 0.0, "runs": values}


def clamped_psnr_y(a, b, scale):
    """irn.metrics.psnr_y of two outputs clamped to [0, 1], wherever and in whatever dtype
    they were computed."""
    from irn.metrics import psnr_y
    return psnr_y(a.float().clamp(0, 1).cpu(), b.float().clamp(0, 1).cpu(), scale)


def peak_tflops(device, dtype):
    if device.type != "cuda":
        return None
    name = torch.cuda.get_device_name(device)
    return next((v[dtype] for k, v in PEAK_TFLOPS.items() if k in name), None)


def measure(settings: Settings) -> dict:
    """Run the timed round trips; global switches (DenseBlock path, threads) are restored."""
    threads = torch.get_num_threads()
    if settings.threads:
        torch.set_num_threads(settings.threads)
    try:
        with dense_path(settings.dense):
            return _measure(settings)
    finally:
        torch.set_num_threads(threads)


def _measure(settings: Settings) -> dict:
    from irn.checkpoint import load_model
    from irn.model import build_model
    device = pick_device(settings.device)
    if settings.checkpoint:
        model = load_model(settings.checkpoint, settings.scale)
    else:
        torch.manual_seed(settings.seed)
        model = build_model(scale=settings.scale)
    model = model.to(device).eval()
    image = photo(settings.width, settings.height)
    dtype_reason = "as asked"
    if settings.amp == "auto":
        from bench.speed.auto_dtype import auto_dtype
        dtype, dtype_reason = auto_dtype(model, image.to(device))
        settings = dataclasses.replace(settings, amp=amp_of(dtype))
    runner = Rescaler(model, settings, device)
    flops = conv_flops(model, lambda x: model.upscale(model.downscale(x), mode="zero"),
                       settings.height, settings.width)

    base = Rescaler(model, settings.as_baseline(), device) if settings.baseline else None

    for _ in range(settings.warmup):
        runner.round_trip(image)
        if base:
            base.round_trip(image)
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    down, up, base_trips = [], [], []
    with Telemetry(interval=0.05, quiet=True) as tel:
        for i in range(settings.repeats):
            # the baseline alternates before / after ours, so slow drifts of a shared
            # machine's load hit both alike; the speed-up is the median of paired ratios
            if base and i % 2 == 0:
                base_trips.append(base.round_trip(image))
            _, out, t_down, t_up = runner.round_trip(image)
            down.append(t_down)
            up.append(t_up)
            if base and i % 2 == 1:
                base_trips.append(base.round_trip(image))
    high_water = max_rss_gb()
    mp = settings.width * settings.height / 1e6
    trip = stats([a + b for a, b in zip(down, up)])
    result = {
        "device": torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu",
        "threads": torch.get_num_threads(), "size": f"{settings.width}x{settings.height}",
        "megapixels": mp, "dtype": settings.dtype, "dtype_reason": dtype_reason,
        **{key: getattr(settings, key) for key in ("scale", "impl", "channels_last", "compile",
                                                   "dense", "tile", "overlap", "checkpoint",
                                                   "repeats", "warmup")},
        "grad_mode": "no_grad" if settings.impl == "official" else settings.grad_mode,
        "downscale": stats(down), "upscale": stats(up), "round_trip": trip,
        "throughput_mps": mp / trip["median_s"], "images_per_s": 1 / trip["median_s"],
        "downscale_mps": mp / statistics.median(down), "upscale_mps": mp / statistics.median(up),
        "tflops": flops / trip["median_s"] / 1e12, "round_trip_tflop": flops / 1e12,
        "psnr_y": clamped_psnr_y(out, image, settings.scale),
        "telemetry": tel.summary(),
    }
    telemetry = result["telemetry"]
    if device.type == "cuda":
        result["peak_mem_gb"] = torch.cuda.max_memory_allocated(device) / 1e9
    else:
        result["peak_rss_gb"] = telemetry.get("rss_gb_peak")
        result["max_rss_gb"] = high_water
    peak = peak_tflops(device, settings.dtype)
    if peak:
        result["peak_tflops"] = peak
        result["fraction_of_peak"] = result["tflops"] / peak
    if base:
        times = [b[2] + b[3] for b in base_trips]
        label = ("official (fp32, no_grad)" if settings.baseline == "official" else
                 f"ours (fp32, NCHW, {settings.grad_mode}, dense {settings.dense})")
        result["baseline"] = {"impl": settings.baseline, "label": label,
                              "round_trip": stats(times),
                              "throughput_mps": mp / statistics.median(times),
                              "psnr_y": clamped_psnr_y(base_trips[-1][1], image, settings.scale)}
        result["speedup"] = statistics.median(
            b / (d + u) for b, d, u in zip(times, down, up))
    if settings.compare_full:
        result.update(compare_full(model, settings, device, image, out))
    return result


def compare_full(model, settings: Settings, device, image, tiled_out) -> dict:
    """Full-frame inference once (same levers, no tiles) and the PSNR difference."""
    full = dataclasses.replace(settings, tile=0, overlap=0, compile=False)
    _, out, _, _ = Rescaler(model, full, device).round_trip(image)
    diff = (out.float() - tiled_out.float()).abs()
    full_psnr = clamped_psnr_y(out, image, settings.scale)
    return {"full_psnr_y": full_psnr,
            "psnr_y_delta": clamped_psnr_y(tiled_out, image, settings.scale) - full_psnr,
            "tiled_vs_full_psnr_y": clamped_psnr_y(tiled_out, out, settings.scale),
            "tiled_vs_full_max_abs": diff.max().item()}


def render(r: dict) -> list[str]:
    mem = (f"peak CUDA memory {r['peak_mem_gb']:.2f} GB" if "peak_mem_gb" in r else
           f"peak RSS {r['peak_rss_gb']:.2f} GB sampled (process high-water "
           f"{r['max_rss_gb']:.2f} GB)")
    tiles = f", tiles {r['tile']}+{r['overlap']}" if r["tile"] else ""
    lines = [f"x{r['scale']} {r['size']} ({r['megapixels']:.2f} MP) on {r['device']} "
             f"({r['threads']} threads), {r['impl']}, {r['dtype']} [{r['dtype_reason']}]"
             f"{', channels-last' if r['channels_last'] else ''}"
             f"{', compiled' if r['compile'] else ''}, {r['grad_mode']}"
             f", dense {r['dense']}{tiles}"]
    for key in ("downscale", "upscale", "round_trip"):
        s = r[key]
        lines.append(f"  {key:<10} median {s['median_s']:.3f} s  (min {s['min_s']:.3f}, max "
                     f"{s['max_s']:.3f}, spread {100 * s['spread']:.0f}%, {len(s['runs'])} runs)"
                     f"  {r['megapixels'] / s['median_s']:.4f} MP/s")
    lines.append(f"  round trip: {r['throughput_mps']:.4f} MP/s, {r['images_per_s']:.4f} images/s, "
                 f"{r['tflops']:.3f} TFLOP/s ({r['round_trip_tflop']:.2f} TFLOP per trip)"
                 + (f", {100 * r['fraction_of_peak']:.1f}% of {r['peak_tflops']:.0f} peak"
                    if "fraction_of_peak" in r else ""))
    lines.append(f"  {mem}; round-trip Y-PSNR {r['psnr_y']:.3f} dB (z = 0)")
    if "baseline" in r:
        b = r["baseline"]
        lines.append(f"  baseline {b['label']}, interleaved: median "
                     f"{b['round_trip']['median_s']:.3f} s, {b['throughput_mps']:.4f} MP/s, "
                     f"Y-PSNR {b['psnr_y']:.3f} dB; speed-up {r['speedup']:.2f}x "
                     "(median of paired ratios)")
    if "psnr_y_delta" in r:
        lines.append(f"  full frame: Y-PSNR {r['full_psnr_y']:.3f} dB; tiled - full = "
                     f"{r['psnr_y_delta']:+.4f} dB; tiled vs full {r['tiled_vs_full_psnr_y']:.1f}"
                     f" dB, max |diff| {r['tiled_vs_full_max_abs']:.2e}")
    return lines


def parse_args(argv):
    parser = OneLineParser(prog="python -m bench.throughput", description=__doc__,
                           formatter_class=argparse.RawDescriptionHelpFormatter)
    add = parser.add_argument
    add("--scale", type=int, required=True, choices=(2, 4, 8))
    add("--size", required=True, help="WxH, 720p, 1080p or 4k")
    add("--tile", type=int, default=0, help="tile core in HR pixels (0: full frame)")
    add("--overlap", type=int, default=None,
        help="context on each side in HR pixels (default 64 with --tile)")
    add("--dtype", choices=("auto", "fp32", "bf16", "fp16"), default="auto",
        help="auto (default): bf16 where native and its accuracy holds, else fp32 "
             "(bench/speed/auto_dtype.py); the config's amp, with fp32 for off")
    add("--channels-last", action="store_true")
    add("--compile", action="store_true", help="torch.compile downscale/upscale")
    add("--grad-mode", choices=("inference", "no_grad"), default="inference")
    add("--dense", choices=DENSE_PATHS, default="taps",
        help="DenseBlock inference path: one buffer + conv5 as a GEMM over tap maps "
             "(default), one buffer (bit-identical), or torch.cat copies")
    add("--impl", choices=("ours", "official"), default="ours")
    add("--baseline", choices=("official", "nchw"),
        help="also time the official network (or ours in fp32 NCHW), interleaved, and "
             "report the speed-up")
    add("--checkpoint", metavar="CKPT", help="model file (default: untrained)")
    add("--repeats", type=int, default=3)
    add("--warmup", type=int, default=1, help="untimed round trips first")
    add("--compare-full", action="store_true",
        help="with --tile: PSNR difference against full-frame inference")
    add("--device", choices=("auto", "cpu", "cuda"), default="auto")
    add("--threads", type=int, default=0, help="torch CPU threads (0: default)")
    add("--seed", type=int, default=0, help="init seed of untrained weights")
    add("--json", metavar="OUT", help="write the results as JSON (atomically)")
    return parser.parse_args(argv)


def memory_floor(width: int, height: int) -> int:
    """Bytes a round trip needs at the least, before any activation, tiled or not: the 8-bit
    photo, its fp32 copy and the fp32 reconstruction (`photo`, irn.tiling's output). A lower
    bound, so it never refuses a size that would fit; activations add to it."""
    return width * height * 3 * (1 + 4 + 4)


def check_memory(width: int, height: int) -> None:
    """Refuse a size whose floor exceeds the memory available now, before allocating it."""
    import psutil
    need, have = memory_floor(width, height), psutil.virtual_memory().available
    if need > have:
        raise UsageError(f"--size {width}x{height} needs at least {need / 2**30:.1f} GiB "
                         f"(the photo, its fp32 copy and the fp32 result); "
                         f"{have / 2**30:.1f} GiB available")


def settings_from_args(args) -> Settings:
    """The checked Settings of the command line; UsageError (one line) when they cannot run."""
    width, height = parse_size(args.size)
    if width % args.scale or height % args.scale:
        raise UsageError(f"--size {args.size} is not divisible by the scale {args.scale}")
    if args.repeats < 1 or args.warmup < 0 or args.threads < 0:
        raise UsageError("--repeats must be >= 1, --warmup and --threads >= 0")
    overlap = args.overlap if args.overlap is not None else (64 if args.tile else 0)
    if args.tile:
        from irn.tiling import check_tiling
        try:
            check_tiling(args.scale, args.tile, overlap)
        except ValueError as exc:
            raise UsageError(str(exc)) from None
    elif overlap or args.compare_full:
        raise UsageError("--overlap and --compare-full need --tile")
    dtype = args.dtype
    if args.impl == "official" and dtype == "auto":
        dtype = "fp32"  # the official network runs as the official code does
    if args.impl == "official" and (args.tile or dtype != "fp32" or args.channels_last
                                    or args.grad_mode != "inference"):
        raise UsageError("--impl official runs as the official code does: fp32, no_grad, "
                         "full frame; drop --tile/--dtype/--channels-last/--grad-mode")
    if args.baseline and args.impl == "official":
        raise UsageError(f"--baseline {args.baseline} compares against --impl ours; drop one")
    if args.device == "cuda" and not torch.cuda.is_available():
        raise UsageError("--device cuda but no CUDA device is available")
    on_cpu = args.device == "cpu" or not torch.cuda.is_available()
    if on_cpu and dtype in ("bf16", "fp16") and not fast_low_precision(dtype):
        raise UsageError(f"--dtype {dtype}: this CPU has no native {dtype} "
                         "convolutions (needs AVX512-BF16/FP16 or AMX); they would run about "
                         "500x slower than fp32")
    if args.checkpoint and not os.path.isfile(args.checkpoint):
        raise UsageError(f"checkpoint not found: {args.checkpoint}")
    check_json_target(args.json)
    check_memory(width, height)
    return Settings(scale=args.scale, width=width, height=height,
                    amp=amp_of(dtype),
                    channels_last=args.channels_last, compile=args.compile, device=args.device,
                    impl=args.impl, grad_mode=args.grad_mode, dense=args.dense, tile=args.tile,
                    overlap=overlap, baseline=args.baseline, checkpoint=args.checkpoint,
                    repeats=args.repeats, warmup=args.warmup, compare_full=args.compare_full,
                    threads=args.threads, seed=args.seed)


def main(argv=None) -> int:
    from irn.official import CheckpointError
    args = parse_args(argv)
    try:
        result = measure(settings_from_args(args))
    except (UsageError, CheckpointError, ValueError) as exc:
        return fail(exc)
    for line in render(result):
        print(line)
    if args.json:
        write_json_atomic(args.json, result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
