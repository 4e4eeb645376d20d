"""irn/memory.py: `checkpoint` and `recompute` give store's gradients (exactly, and within a
stated tolerance) and keep less for the backward pass; recompute's keep does not grow with
depth."""
import numpy as np
import pytest
import torch

from irn.config import Config, ConfigError
from irn.model import build_model

# recompute's gradients against store's: max |difference| over a parameter tensor, relative
# to that tensor's largest store gradient. Measured on these models (x2 and x4, 3 blocks,
# gc 8, 32-px batch of 2, seeds 0-1) on an Intel Xeon family 6 model 207: fp32 2.7e-7 and
# 1.8e-7; bf16 autocast 2.8e-3 and 3.2e-3 (the inverse in bf16 rebuilds each block's input
# to bf16's 3 significant digits). The tolerances leave 30x and 6x of room.
FP32_TOL, BF16_TOL = 1e-5, 0.02


def _model(scale, blocks=3, coupling="enhanced"):
    torch.manual_seed(0)
    return build_model(scale=scale, coupling=coupling, blocks=blocks, gc=8)


def _grads(model, memory, amp=None, seed=1):
    """Gradients of an IRN-like loss: the forward pass (LR, z) and the reverse pass from
    the LR with a fresh z, both through the same network."""
    model.memory = memory
    model.zero_grad(set_to_none=True)
    g = torch.Generator().manual_seed(seed)
    hr = torch.rand(2, 3, 32, 32, generator=g)
    ctx = torch.autocast("cpu", dtype=torch.bfloat16) if amp else torch.autocast("cpu",
                                                                                   enabled=False)
    with ctx:
        out, _ = model(hr, jac=False)
        lr, z = out[:, :3], out[:, 3:]
        rec, _ = model(torch.cat([lr, torch.randn(z.shape, generator=g)], 1), rev=True,
                       jac=False)
        loss = (lr.float() - 0.5).square().mean() + z.float().square().mean() \
            + (rec.float() - hr).abs().mean()
    loss.backward()
    return {n: p.grad.detach().clone() for n, p in model.named_parameters()}


@pytest.mark.parametrize("scale", [2, 4])
def test_checkpoint_gradients_equal_store_exactly(scale):
    model = _model(scale)
    store, ckpt = _grads(model, "store"), _grads(model, "checkpoint")
    assert all(torch.equal(store[n], ckpt[n]) for n in store)


def _worst(a, b):
    return max(((a[n] - b[n]).abs().max() / a[n].abs().max().clamp_min(1e-12)).item()
               for n in a)


@pytest.mark.parametrize("scale", [2, 4])
def test_recompute_gradients_equal_store_within_the_stated_tolerance(scale):
    model = _model(scale)
    assert _worst(_grads(model, "store"), _grads(model, "recompute")) < FP32_TOL
    assert _worst(_grads(model, "store", amp=True), _grads(model, "recompute", amp=True)) \
        < BF16_TOL


def _saved_bytes(model, memory):
    """Bytes autograd keeps for the backward pass of one forward + reverse pass."""
    model.memory = memory
    total = 0

    def pack(t):
        nonlocal total
        total += t.numel() * t.element_size()
        return t
    hr = torch.rand(1, 3, 32, 32, generator=torch.Generator().manual_seed(2))
    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        out, _ = model(hr, jac=False)
        model(out, rev=True, jac=False)
    return total


def test_recompute_keeps_less_and_does_not_grow_with_depth():
    shallow, deep = _model(4, blocks=2), _model(4, blocks=8)
    kept = {m: _saved_bytes(deep, m) for m in ("store", "checkpoint", "recompute")}
    assert kept["store"] > 4 * kept["checkpoint"] > 4 * kept["recompute"]
    assert _saved_bytes(shallow, "recompute") == kept["recompute"]  # depth 2 or 8: the same
    assert _saved_bytes(shallow, "checkpoint") < kept["checkpoint"]  # one input per block


def test_memory_modes_are_checked():
    assert Config(memory="recompute").memory == "recompute"
    with pytest.raises(ConfigError, match="memory must be one of"):
        Config(memory="swap")
    with pytest.raises(ConfigError, match="exact inverse"):
        Config(memory="recompute", coupling="iresnet")
    with pytest.raises(ConfigError, match="task=rescale"):
        Config(memory="checkpoint", task="stego")


def test_a_patch_larger_than_every_training_image_is_refused(tmp_path, capsys):
    from bench.speed.memory import main as memory
    from irn.data import DataError
    from irn.data.samples import train_dataset
    with pytest.raises(DataError, match="larger than every training image"):
        train_dataset(images=[np.zeros((40, 60, 3), np.uint8)], scale=2, patch_size=48)
    train_dataset(images=[np.zeros((40, 60, 3), np.uint8), np.zeros((50, 48, 3), np.uint8)],
                  scale=2, patch_size=48)  # one image it fits is enough
    assert memory(["--patch", "2000", "--json", str(tmp_path / "m.json")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "larger than every training image" in err[0]
    assert not (tmp_path / "m.json").exists()


def test_bench_memory_measures_each_mode_in_its_own_process(tmp_path):
    import json
    from bench.speed.memory import main as memory
    out = tmp_path / "m.json"
    assert memory(["--set", "scale=2", "--set", "blocks=1", "--set", "gc=8", "--patch", "32",
                   "--modes", "store,recompute", "--json", str(out)]) == 0
    rows = json.loads(out.read_text())["rows"]
    assert [(r["patch"], r["memory"]) for r in rows] == [(32, "store"), (32, "recompute")]
    assert all(r["peak_gb"] > r["rise_gb"] > 0 and r["step_s"] > 0 for r in rows)


def test_a_sweep_refuses_a_patch_no_training_image_fits_before_ray_starts(tmp_path, capsys):
    from bench.sweep.command import parse_args, run_sweep
    from tests.test_sweep import sweep_args, tiny_space
    space = tiny_space(tmp_path, "'steps': 2")
    assert run_sweep(parse_args(sweep_args(tmp_path, space, "--set", "patch_size=1600"))) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert "larger than every training image" in err[-1]
    assert not (tmp_path / "out.json").exists() and not (tmp_path / "mlflow.db").exists()
