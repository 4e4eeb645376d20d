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
