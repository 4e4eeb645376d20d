"""`python -m bench.conv_speed`: one dense-block convolution's speed on this CPU, per
precision and layout, the figure bench/SOURCES.md "the CPUs" tabulates per machine.

`F.conv2d` 99 -> 32 channels, 3x3, 128x128 (an x4 dense block's widest conv), one thread,
the best of 20 runs after 3 warm-up runs, in GFLOP/s (2 x multiply-adds). bf16 is skipped
where it is not native (irn.precision): oneDNN's reference kernel would take minutes.
"""
import time

import torch
import torch.nn.functional as F

from irn.precision import native_low_precision

C_IN, C_OUT, SIDE, RUNS = 99, 32, 128, 20


def gflops(dtype: torch.dtype, channels_last: bool) -> float:
    x, w = torch.randn(1, C_IN, SIDE, SIDE, dtype=dtype), torch.randn(C_OUT, C_IN, 3, 3, dtype=dtype)
    if channels_last:
        x, w = (t.contiguous(memory_format=torch.channels_last) for t in (x, w))
    for _ in range(3):
        F.conv2d(x, w, padding=1)
    best = float("inf")
    for _ in range(RUNS):
        start = time.perf_counter()
        F.conv2d(x, w, padding=1)
        best = min(best, time.perf_counter() - start)
    return 2 * C_OUT * C_IN * 9 * SIDE * SIDE / best / 1e9


def main() -> int:
    torch.set_num_threads(1)
    print(f"F.conv2d {C_IN} -> {C_OUT}, 3x3, {SIDE}x{SIDE}, 1 thread, best of {RUNS} "
          f"({torch.backends.cpu.get_cpu_capability()}):")
    bf16 = native_low_precision("bf16", torch.device("cpu"))
    for name, dtype in (("fp32", torch.float32), ("bf16", torch.bfloat16)):
        for layout, cl in (("NCHW", False), ("NHWC", True)):
            if dtype == torch.bfloat16 and not bf16:
                print(f"  {name} {layout}: skipped (no native bf16)")
                continue
            print(f"  {name} {layout}: {gflops(dtype, cl):.1f} GFLOP/s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
