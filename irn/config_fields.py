"""The trial config's keys and their defaults, and nothing else.

irn.build_model and irn.data take their defaults from `default` here, and irn.config's
validation imports their registries, so the defaults live below both (no import cycle;
tests/test_layering.py checks the graph). irn.config.Config is these fields, validated.
A study's keys are declared in its module (irn/study.py) and inherited here.
"""
from dataclasses import dataclass

from irn.studies import STUDIES


@dataclass(frozen=True)
class CoreFields:
    """The keys every config has, and their defaults."""
    # architecture: the keywords of irn.build_model (see arch()), whose defaults these are
    scale: int = 2
    coupling: str = "enhanced"
    blocks: int = 8
    subnet: str = "dense"
    gc: int = 32
    multiscale_depth: int = 0
    split_ratio: float = 0.5
    # joint: one network for the whole scale (IRN) | levels: a cascade of x2 levels, each
    # trained alone on its own scale pair and composed (irn/levels.py; x4 and x8)
    architecture: str = "joint"
    # the task (irn/stego.py): rescale (IRN) | stego (the HR image hides the next image's LR;
    # guide = stego vs cover, recon = revealed vs true secret: irn/stego_objective.py)
    task: str = "rescale"
    guide_target: str = "bicubic"  # rescale's LR resembles the bicubic LR | other: the next image's
    # objective: guide (forward LR vs bicubic LR), reconstruction (reverse HR), distribution
    loss_recon: str = "charbonnier"
    loss_guide: str = "l2"
    lambda_recon: float = 1.0
    lambda_guide: float | None = None  # None = scale^2, the official weight
    lambda_distr: float = 1.0
    z_train: str = "gaussian"
    z_eval: str = "gaussian"
    temperature: float = 1.0
    vgg_weights: str = ""  # local VGG16 weights for lpips / dists (or $IRN_VGG16_WEIGHTS)
    # JPEG robustness
    jpeg_train: str = "off"
    jpeg_quality: str = "75"  # an int 1..100 or a range "50-90" drawn per batch
    jpeg_clean_weight: float = 0.0  # >0: also reconstruct the clean LR, with this weight
    jpeg_eval: str = "30,50,70,80,90"  # QFs evaluated with real libjpeg; "" = none
    # rate-distortion (irn/storage.py): the LR's coded size as PNG and at each jpeg_eval QF,
    # and plain JPEG of the HR at fixed QFs (irn.metric_registry.HR_JPEG_QUALITIES)
    storage_eval: bool = False
    # the rescaling stamp (irn/stamp.py): LR pixels free of the guide loss
    stamp: str = "none"  # none | border | corners
    stamp_width: int = 1
    # how the reverse pass sees the 8-bit LR in training (irn/dequantization.py)
    quantization: str = "ste"  # ste | uniform | variational
    lambda_dequant: float = 1.0  # variational: weight of KL(q || uniform), loss/dequant
    # optimisation
    lr: float = 2e-4
    weight_decay: float = 1e-5
    batch_size: int = 16
    patch_size: int = 144
    steps: int = 500_000
    warmup: int = 0
    schedule: str = "multistep"  # lr halved at 20/40/60/80% of steps, as official
    grad_clip: float = 10.0
    seed: int = 0
    eval_every: int = 5000
    eval_points: int = 0  # >0: evaluate at this many evenly spaced steps instead (eval_interval)
    log_every: int = 100  # training losses are logged as the mean of each log_every steps
    eval_z_draws: int = 1
    val_max_size: int = 0  # 0 = full validation images; >0 centre-crops them (fast CPU eval)
    val_tile: int = 0  # >0: cut validation images into tiles evaluated as separate images
    # speed switches
    amp: str = "off"
    channels_last: str = "false"  # false | true | auto: channels-last on CPUs (irn/layout.py)
    compile: bool = False
    device: str = "auto"
    # what training keeps for backward (irn/memory.py): store | checkpoint | recompute
    memory: str = "store"
    # independent levels (irn/levels.py): the sweep trains level k of a levels config as
    # its own trial with level=k; each level trains steps / levels (split: equal total
    # steps) or steps (each: equal wall time when the levels run in parallel)
    level: int = 0
    level_steps: str = "split"
    # data
    downsample: int = 1  # train and validate on the photos shrunk by this factor (bicubic, 8 bit)
    loader: str = "memory"
    data: str = "embedded"
    workers: int = 0
    profile: bool = False

    @property
    def eval_interval(self) -> int:
        """Steps between evaluations: steps / eval_points rounded up when eval_points is set
        (a budget's learning curve keeps its number of points at any length), else
        eval_every. The last step is always evaluated too."""
        return -(-self.steps // self.eval_points) if self.eval_points else self.eval_every

    @property
    def guide_weight(self) -> float:
        return float(self.scale ** 2) if self.lambda_guide is None else self.lambda_guide


@dataclass(frozen=True)
class ConfigFields(*(study.fields for study in STUDIES), CoreFields):
    """Every key and its default (the core's, then each study's); irn.config.Config adds
    the validation."""


def default(key: str):
    """The default value of config key `key`."""
    return ConfigFields.__dataclass_fields__[key].default
