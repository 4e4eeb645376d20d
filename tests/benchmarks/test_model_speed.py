"""Hot paths of the model library: forward + reverse at a fixed size (x2, x4), ours against
the official IRN design (an independent transcription, same weights) in the same run, the
Haar transform, and one training step (NCHW; channels-last at x2). Ratios to
test_reference_workload are what the CI gate compares; ours/official is the "at least as
fast as the official design" claim."""
import pytest
import torch

from bench.speed.throughput import official_network
from irn.config import from_dict
from irn.haar import HaarDownsampling
from irn.model import build_model
from irn.train import Trainer

SIZE = 64  # HR side for forward+reverse benchmarks


def _pair(scale):
    torch.manual_seed(0)
    ours = build_model(scale=scale).eval()
    return ours, official_network(ours)


@pytest.mark.parametrize("scale", [2, 4])
@pytest.mark.parametrize("impl", ["ours", "official"])
def test_forward_reverse(benchmark, scale, impl):
    ours, theirs = _pair(scale)
    x = torch.rand(1, 3, SIZE, SIZE)

    @torch.inference_mode()
    def round_trip():
        if impl == "ours":
            y, _ = ours(x, jac=False)
            return ours(y, rev=True, jac=False)[0]
        return theirs(theirs(x), rev=True)

    benchmark.extra_info["megapixels"] = SIZE * SIZE / 1e6
    benchmark.pedantic(round_trip, rounds=8, warmup_rounds=1)


def test_haar_transform(benchmark):
    haar = HaarDownsampling([(3, 256, 256)])
    x = torch.rand(4, 3, 256, 256)

    def both():
        (y,), _ = haar([x])
        return haar([y], rev=True)

    benchmark.pedantic(both, rounds=20, warmup_rounds=2)


@pytest.mark.parametrize("scale", [2, 4])
def test_training_step(benchmark, scale):
    cfg = from_dict({"scale": scale, "batch_size": 2, "patch_size": 32, "jpeg_eval": "",
                     "z_train": "gaussian"})
    trainer = Trainer(cfg)
    batches = trainer.batches()
    hr, lr = next(batches)
    benchmark.pedantic(lambda: trainer.train_step(hr, lr), rounds=8, warmup_rounds=1)


def test_training_step_channels_last(benchmark):
    """test_training_step[2] with channels_last=true (the cpu budget's auto on a CPU):
    against it, what the layout buys in training (irn/LAYOUT.md)."""
    cfg = from_dict({"scale": 2, "batch_size": 2, "patch_size": 32, "jpeg_eval": "",
                     "z_train": "gaussian", "channels_last": "true"})
    trainer = Trainer(cfg)
    hr, lr = next(trainer.batches())
    hr, lr = trainer.to_device(hr), trainer.to_device(lr)
    benchmark.pedantic(lambda: trainer.train_step(hr, lr), rounds=8, warmup_rounds=1)
