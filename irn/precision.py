"""Which low-precision arithmetic this machine runs natively, and `amp=auto` resolved to it.

On a CPU, bf16/fp16 convolutions are fast only with native instructions (AVX512-BF16,
AVX512-FP16, AMX): without them oneDNN falls back to a reference kernel, measured about 500x
slower than fp32 on an AVX2 EPYC (Zen 3). On a GPU, bf16 needs compute capability 8.0+.
`auto` picks bf16 where it is native and fp32 ("off") elsewhere; every path that ran is
printed and logged by its caller.
"""
import contextlib

import torch


def native_low_precision(dtype: str, device: torch.device) -> bool:
    """Whether `dtype` ("bf16" or "fp16") runs natively on `device`."""
    if device.type == "cuda":
        return dtype == "fp16" or torch.cuda.is_bf16_supported()
    flags = _cpu_flags()
    if flags:
        # The CPU's own flags decide. oneDNN's check (torch.ops.mkldnn._is_mkldnn_bf16_supported)
        # also says yes on plain AVX512 (AVX512BW/VL/DQ), where it converts in software:
        # measured 3.3x slower than fp32 for a 64-channel 3x3 conv forward + backward on an
        # Intel Xeon family 6 model 207 whose VM hides AVX512-BF16 and AMX (2026-12-07,
        # 1 thread, min of 5 interleaved runs of 5 steps).
        want = {"bf16": ("avx512_bf16", "amx_bf16"), "fp16": ("avx512_fp16", "amx_fp16")}
        return any(f in flags for f in want[dtype])
    try:  # no /proc/cpuinfo (not Linux): ask oneDNN
        check = {"bf16": torch.ops.mkldnn._is_mkldnn_bf16_supported,
                 "fp16": torch.ops.mkldnn._is_mkldnn_fp16_supported}[dtype]
        return bool(check())
    except (AttributeError, RuntimeError):  # private API moved
        return False


def resolve_amp(amp: str, device: torch.device) -> tuple[str, str]:
    """(the amp mode that runs, why): `auto` becomes "bf16" where bf16 is native, else "off"."""
    if amp != "auto":
        return amp, "as configured"
    if native_low_precision("bf16", device):
        return "bf16", f"amp=auto: native bf16 on this {device.type}"
    return "off", f"amp=auto: no native bf16 on this {device.type}, fp32"


def precision_name(amp: str) -> str:
    """The arithmetic a resolved amp mode runs in: "fp32" (off), "bf16" or "fp16"."""
    return "fp32" if amp == "off" else amp


def autocast(amp: str, device_type: str):
    """The autocast context of a resolved amp mode ("off": none)."""
    if amp == "off":
        return contextlib.nullcontext()
    if amp not in ("bf16", "fp16"):
        raise ValueError(f"amp must be resolved to off, bf16 or fp16 first, got {amp!r}")
    dtype = torch.bfloat16 if amp == "bf16" else torch.float16
    return torch.autocast(device_type, dtype=dtype)


def _cpu_flags() -> set[str]:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("flags"):
                    return set(line.split(":", 1)[1].split())
    except OSError:
        pass
    return set()
