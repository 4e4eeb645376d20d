"""irn.precision: `amp=auto` picks bf16 exactly where the machine has native bf16."""
import torch

from irn.config import from_dict
from irn.precision import _cpu_flags, native_low_precision, resolve_amp
from irn.train import Trainer

CPU = torch.device("cpu")


def test_native_bf16_agrees_with_the_cpu_flags():
    flags = _cpu_flags()
    if not flags:  # not Linux: nothing to cross-check against
        return
    assert native_low_precision("bf16", CPU) == bool({"avx512_bf16", "amx_bf16"} & flags)


def test_auto_resolves_per_machine_and_explicit_values_pass_through():
    amp, why = resolve_amp("auto", CPU)
    assert amp == ("bf16" if native_low_precision("bf16", CPU) else "off")
    assert why.startswith("amp=auto")
    assert resolve_amp("off", CPU) == ("off", "as configured")
    assert resolve_amp("bf16", CPU)[0] == "bf16"


def test_trainer_reports_the_precision_it_ran():
    cfg = from_dict({"amp": "auto", "blocks": 1, "gc": 8}, budget="smoke")
    trainer = Trainer(cfg)
    report = next(trainer.run())
    want = "bf16" if native_low_precision("bf16", CPU) else "fp32"
    assert trainer.precision == want and report["precision"] == want


def test_bf16_training_keeps_the_lr_the_latent_and_the_losses_in_fp32():
    """Under bf16 autocast only the subnets' convolutions run in bf16: the Haar transform
    runs in fp32 (in NCHW its conv would be autocast) and each coupling adds the subnets'
    output to its fp32 branch, so the LR, z and every loss term stay fp32 (a tiny model:
    without native bf16 these convs take oneDNN's slow reference kernels)."""
    for layout in ("false", "true"):
        trainer = Trainer(from_dict({"scale": 2, "blocks": 1, "gc": 8, "batch_size": 2,
                                     "patch_size": 16, "amp": "bf16", "channels_last": layout}))
        hr, lr = next(trainer.batches())
        hr, lr = trainer.to_device(hr), trainer.to_device(lr)
        with torch.autocast("cpu", dtype=torch.bfloat16):
            out, _ = trainer.model(hr)
            total, terms = trainer.objective(trainer.net, hr, lr, trainer.z_gen,
                                             trainer.jpeg_gen)
        assert out.dtype == total.dtype == torch.float32
        assert {v.dtype for v in terms.values()} == {torch.float32}
        assert torch.isfinite(torch.tensor(trainer.train_step(hr, lr)["total"]))


def test_bf16_inference_gives_an_8_bit_lr():
    """The LR of a bf16-autocast downscale is fp32 and on the 8-bit grid in both layouts
    (before the Haar transform ran in fp32, the NCHW one came out bf16, every value off it)."""
    from irn.model import build_model
    torch.manual_seed(0)
    model = build_model(scale=2, blocks=1, gc=8).eval()
    x = torch.rand(1, 3, 16, 16)
    for channels_last in (False, True):
        m = model.to(memory_format=torch.channels_last) if channels_last else model
        with torch.inference_mode(), torch.autocast("cpu", dtype=torch.bfloat16):
            lr = m.downscale(x)
        assert lr.dtype == torch.float32
        assert (lr * 255 - (lr * 255).round()).abs().max() < 1e-3
