"""Device helpers shared by training, profiling and throughput measurement."""
import torch


def sync(device: torch.device) -> None:
    """Wait for queued GPU work, so wall-clock timings measure it (no-op on the CPU)."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)
