"""The fixed reference workload every benchmark is divided by (bench.regress compares these
ratios, because absolute times drift 20-50% between runs and machines).

A plain stack of 3x3 convolutions of known FLOPs: the same kind of work as the model, and
independent of the project's code. Never change it in an ordinary pull request: changing it
moves every ratio.
"""
import torch

FLOPS = 4 * 2 * 64 * 64 * 9 * 2 * 64 * 64  # 4 convs, 64->64 ch, 3x3, batch 2, 64x64


def test_reference_workload(benchmark):
    torch.manual_seed(0)
    convs = torch.nn.Sequential(*[torch.nn.Conv2d(64, 64, 3, padding=1) for _ in range(4)])
    x = torch.randn(2, 64, 64, 64)

    @torch.inference_mode()
    def work():
        return convs(x)

    benchmark.extra_info["flops"] = FLOPS
    benchmark.pedantic(work, rounds=30, warmup_rounds=2)  # every ratio divides by it
