"""Background telemetry: GPU utilisation, memory and power through nvidia-ml-py (NVML), CPU
utilisation and RSS through psutil, sampled in a daemon thread.

    with Telemetry(interval=0.2) as tel:
        ...work...
    tel.summary()   # {"cpu_util_mean": %, "rss_gb_peak": GB, "gpu0_util_mean": %, ...}

NVML numbers every GPU on the machine and ignores CUDA_VISIBLE_DEVICES, so the GPUs this
process sees are matched to NVML handles by UUID, never by index. Without a CUDA device or
without the NVML library the sampler says so once (`note`, also printed to stderr once per
process) and records CPU figures only. Nothing in here ever raises into the caller's run:
a sampling failure ends GPU (or all) sampling and is reported in `note`.
"""
import sys
import threading
import time

import psutil

_ANNOUNCED = set()


def _announce(note: str) -> None:
    if note not in _ANNOUNCED:
        _ANNOUNCED.add(note)
        print(f"telemetry: {note}", file=sys.stderr)


def nvml_handles():
    """(handles, note): NVML handles of this process's CUDA devices, matched by UUID."""
    try:
        import torch
        if not torch.cuda.is_available():
            return [], "no CUDA device: recording CPU figures only"
        import pynvml
        pynvml.nvmlInit()
    except Exception as exc:  # NVMLError_LibraryNotFound, driver mismatch, missing module
        return [], f"NVML unavailable ({type(exc).__name__}): recording CPU figures only"
    handles = []
    try:
        for i in range(torch.cuda.device_count()):
            uuid = str(torch.cuda.get_device_properties(i).uuid)
            uuid = uuid if uuid.startswith(("GPU-", "MIG-")) else "GPU-" + uuid
            handles.append(pynvml.nvmlDeviceGetHandleByUUID(uuid))
    except Exception as exc:
        return [], f"cannot map CUDA devices to NVML by UUID ({exc}): CPU figures only"
    return handles, None


class Telemetry:
    """Samples every `interval` s between start() and stop() (or inside `with`)."""

    def __init__(self, interval: float = 0.2, gpu: bool = True, quiet: bool = False):
        self.interval, self.quiet = interval, quiet
        self.samples: list[dict] = []
        self.note = None
        self._proc = psutil.Process()
        self._handles = []
        if gpu:
            self._handles, self.note = nvml_handles()
        if self.note and not quiet:
            _announce(self.note)
        self._stop = threading.Event()
        self._thread = None

    # -- sampling ---------------------------------------------------------------------------
    def _sample(self) -> dict:
        s = {"t": time.perf_counter()}
        try:
            s["cpu_util"] = self._proc.cpu_percent(None)  # % of one core, since last call
            s["rss_gb"] = self._proc.memory_info().rss / 1e9
        except Exception as exc:  # psutil.Error: process table unreadable, ...
            self._set_note(f"CPU sampling failed ({exc})")
        if self._handles:
            import pynvml
            try:
                for i, h in enumerate(self._handles):
                    s[f"gpu{i}_util"] = float(pynvml.nvmlDeviceGetUtilizationRates(h).gpu)
                    s[f"gpu{i}_mem_gb"] = pynvml.nvmlDeviceGetMemoryInfo(h).used / 1e9
                    s[f"gpu{i}_power_w"] = pynvml.nvmlDeviceGetPowerUsage(h) / 1000.0
            except Exception as exc:
                self._handles = []
                self._set_note(f"GPU sampling stopped ({type(exc).__name__}): CPU figures only")
        return s

    def _set_note(self, note: str) -> None:
        self.note = note
        if not self.quiet:
            _announce(note)

    def _loop(self):
        while not self._stop.wait(self.interval):
            self.samples.append(self._sample())

    def start(self) -> "Telemetry":
        self._proc.cpu_percent(None)  # prime: the first reading is relative to this call
        self.samples.append(self._sample())
        self._stop.clear()
        self._thread = threading.Thread(target=self._loop, name="telemetry", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> "Telemetry":
        if self._thread is not None:
            self._stop.set()
            self._thread.join()
            self._thread = None
            self.samples.append(self._sample())  # a short region still gets two samples
        return self

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    def take(self) -> dict:
        """summary() of the samples since the last take(), then forget them."""
        out = self.summary()
        self.samples = self.samples[-1:]  # the last sample opens the next window
        return out

    # -- results ----------------------------------------------------------------------------
    def summary(self) -> dict:
        """Mean and peak of every sampled figure; `samples` and `note` for the record."""
        out = {"samples": len(self.samples), "note": self.note}
        names = sorted({k for s in self.samples for k in s if k != "t"})
        for name in names:
            values = [s[name] for s in self.samples if name in s]
            # cpu_util of the first sample is 0 by construction (primed just before it)
            if name == "cpu_util" and len(values) > 1:
                values = values[1:]
            out[f"{name}_mean"] = sum(values) / len(values)
            out[f"{name}_peak"] = max(values)
        return out


def max_rss_gb() -> float:
    """The process's RSS high-water mark since it started (getrusage; Linux reports KiB)."""
    import resource
    kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return kib * (1 if sys.platform != "darwin" else 1 / 1024) * 1024 / 1e9


def system_metrics(summary: dict) -> dict:
    """A Telemetry summary as MLflow system metrics (the run page's System metrics tab shows
    `system/*`; names follow mlflow.system_metrics where one exists). CPU is the sampled
    process's (a trial's) in % of one core; memory its resident set."""
    names = {"cpu_util_mean": "system/cpu_utilization_percentage",
             "rss_gb_peak": "system/process_rss_megabytes"}
    out = {new: summary[old] * (1000 if old.startswith("rss") else 1)
           for old, new in names.items() if old in summary}
    for key, value in summary.items():  # gpu{i}_util_mean, gpu{i}_mem_gb_peak, gpu{i}_power_w_mean
        gpu = key.split("_", 1)[0]
        if gpu.startswith("gpu") and gpu[3:].isdigit():
            i, what = gpu[3:], key.split("_", 1)[1]
            if what == "util_mean":
                out[f"system/gpu_{i}_utilization_percentage"] = value
            elif what == "mem_gb_peak":
                out[f"system/gpu_{i}_memory_usage_megabytes"] = value * 1000
            elif what == "power_w_mean":
                out[f"system/gpu_{i}_power_usage_watts"] = value
    out["system/system_memory_usage_megabytes"] = psutil.virtual_memory().used / 1e6
    return out
