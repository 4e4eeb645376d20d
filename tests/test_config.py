"""The one config: official defaults, budgets, coercion, and one-line errors."""
import inspect

import pytest

from irn.config import BUDGETS, Config, ConfigError, choices, default, from_dict, keys, parse_set
from irn.couplings import COUPLINGS
from irn.data import train_loader, val_images
from irn.jpeg import JPEG_MODES
from irn.model import SCALES, build_model
from irn.stamp import STAMPS


def test_defaults_are_the_official_recipe():
    cfg = Config()
    assert (cfg.scale, cfg.coupling, cfg.blocks, cfg.subnet, cfg.gc) == (2, "enhanced", 8, "dense", 32)
    assert (cfg.loss_guide, cfg.loss_recon) == ("l2", "charbonnier")
    assert cfg.guide_weight == 4 and Config(scale=4).guide_weight == 16
    assert Config(scale=8).guide_weight == 64
    assert (cfg.lambda_recon, cfg.lambda_distr, cfg.z_train) == (1.0, 1.0, "gaussian")
    assert (cfg.lr, cfg.weight_decay, cfg.grad_clip) == (2e-4, 1e-5, 10.0)
    assert (cfg.batch_size, cfg.patch_size, cfg.steps, cfg.schedule) == (16, 144, 500_000, "multistep")


def test_budget_precedence_and_names():
    assert set(BUDGETS) == {"smoke", "cpu", "gpu", "paper"}
    cfg = from_dict({"steps": 7}, budget="cpu")
    assert cfg.steps == 7 and cfg.batch_size == BUDGETS["cpu"]["batch_size"]
    assert from_dict({}, budget="paper").steps == 500_000
    with pytest.raises(ConfigError, match="unknown budget 'fast'; valid: smoke, cpu, gpu, paper"):
        from_dict({}, budget="fast")


@pytest.mark.parametrize("value,stored", [(True, "true"), (False, "false"), ("On", "true"),
                                          ("0", "false"), ("AUTO", "auto")])
def test_channels_last_takes_a_bool_or_auto(value, stored):
    assert from_dict({"channels_last": value}).channels_last == stored


def test_cpu_budget_chooses_the_layout_per_device():
    assert from_dict({}, budget="cpu").channels_last == "auto"
    assert from_dict({}, budget="cpu").amp == "auto"  # bf16 where native (irn/precision.py)
    assert from_dict({}, budget="smoke").amp == "off"
    assert from_dict({}).channels_last == "false"  # the official recipe: NCHW


def test_strings_are_coerced_like_the_command_line():
    values = parse_set(["scale=4", "lr=1e-3", "channels_last=true", "lambda_guide=None",
                        "amp=bf16", "loss_recon=l2+0.1*ssim", "multiscale_depth=1"])
    cfg = from_dict(values)
    assert cfg.scale == 4 and cfg.lr == 1e-3 and cfg.channels_last == "true"
    assert cfg.lambda_guide is None and cfg.amp == "bf16" and cfg.multiscale_depth == 1
    # round trip through strings (MLflow params come back as strings)
    assert from_dict({k: str(v) for k, v in cfg.to_dict().items()}) == cfg


@pytest.mark.parametrize("values,message", [
    ({"colour": 1}, "unknown config key 'colour'; valid keys: scale, coupling"),
    ({"batch_size": "many"}, "batch_size must be an integer, got 'many'"),
    ({"batch_size": 2.5}, "batch_size must be an integer"),
    # issue 32: accepted, or refused only after work started
    ({"steps": "1.5"}, "steps must be an integer, got '1.5'"),
    ({"steps": "inf"}, "steps must be an integer, got 'inf'"),
    ({"lr": "nan"}, "lr must be a finite number, got 'nan'"),
    ({"lambda_guide": "nan"}, "lambda_guide must be a finite number, got 'nan'"),
    ({"lambda_guide": -1}, "lambda_guide must be a finite number >= 0 (or None: scale^2)"),
    ({"seed": -1}, "seed must be 0..4294966295 (numpy's seed range), got -1"),
    ({"seed": 2 ** 32}, "seed must be 0..4294966295"),
    ({"eval_points": -1}, "eval_points must be >= 0"),
    ({"patch_size": 30, "scale": 4}, "patch_size 30 is not divisible by scale 4"),
    ({"coupling": "glow"}, "unknown coupling 'glow'; valid: enhanced, affine, additive"),
    ({"loss_recon": "l3"}, "loss_recon: unknown loss 'l3'"),
    ({"loss_guide": "l2+*ssim"}, "loss_guide: malformed loss spec"),
    ({"z_train": "uniform"}, "z_train must be one of gaussian, zero"),
    ({"jpeg_train": "real"}, "jpeg_train must be one of off, diff, ste"),
    ({"jpeg_quality": "101"}, "jpeg_quality"),
    ({"lr": -1}, "lr must be a finite number >= 0"),
    ({"channels_last": "maybe"}, "channels_last must be true, false or auto, got 'maybe'"),
    ({"data": "/no/such/folder"}, "not a folder"),
    ({"scale": 2, "multiscale_depth": 1}, "multiscale_depth must be 0..0"),
    ({"scale": 4, "val_tile": 30}, "val_tile 30 must be a multiple of scale 4"),
    ({"scale": 8, "val_tile": 24}, "leaving at least 11 px for SSIM"),
])
def test_bad_values_are_one_line_naming_the_key(values, message):
    with pytest.raises(ConfigError) as err:
        from_dict(values)
    assert message in str(err.value) and "\n" not in str(err.value)


def test_set_syntax_error():
    with pytest.raises(ConfigError, match="--set takes KEY=VALUE"):
        parse_set(["scale"])


def test_replace_validates():
    cfg = Config()
    assert cfg.replace(scale=4).scale == 4
    with pytest.raises(ConfigError):
        cfg.replace(scale=5)
    assert keys() == list(Config().to_dict())  # the order errors and MLflow params use
    assert keys()[:8] == list(Config().arch())  # the model's keys first, build_model's order
    assert all(set(preset) <= set(keys()) for preset in BUDGETS.values())


def test_model_and_data_defaults_are_the_configs():
    model_defaults = {k: p.default for k, p in inspect.signature(build_model).parameters.items()}
    assert Config().arch() == model_defaults
    assert Config(scale=4, blocks=2).arch() == {**model_defaults, "scale": 4, "blocks": 2}
    assert list(model_defaults) == ["scale", "coupling", "blocks", "subnet", "gc",
                                    "multiscale_depth", "split_ratio", "architecture"]
    for fn in (train_loader, val_images):
        for name, p in inspect.signature(fn).parameters.items():
            if name in keys():
                assert p.default == default(name), (fn.__name__, name)
    assert inspect.signature(val_images).parameters["tile"].default == default("val_tile")


def test_choices_come_from_the_registries():
    allowed = choices()
    assert allowed["scale"] == SCALES and allowed["jpeg_train"] == tuple(JPEG_MODES)
    assert allowed["loader"] == ("memory", "disk") and allowed["z_eval"] == ("gaussian", "zero")
    assert allowed["stamp"] == STAMPS
    with pytest.raises(ConfigError, match="coupling 'glow'; valid: " + ", ".join(COUPLINGS)):
        Config(coupling="glow")
