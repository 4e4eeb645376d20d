"""The frame tasks' declaration (irn/study.py): their config keys, the combinations they
refuse, and their metrics. Below irn.config (irn/studies.py lists it), so it imports only
irn's leaves (irn.study, irn.metric_spec). The science: irn/video/frames.py (network, layouts),
baselines.py, triples.py (data) and frames_eval.py (the views the metrics read)."""
from dataclasses import dataclass

from irn.metric_spec import MetricSpec
from irn.study import Study

FRAME_TASKS = ("predict", "interpolate")
FRAME_LAYOUTS = ("frames", "diff")

FRAME_CROP = 4  # px cropped from each border before the frame metrics (the flow's warps)


@dataclass(frozen=True)
class FrameFields:
    """The frame tasks' config keys (irn.config.Config inherits them)."""
    # frames: [later frame][earlier frame]; diff: [later][later - earlier] (irn/video/frames.py)
    frame_layout: str = "frames"
    clip_frames: int = 5  # validation clips: frames per clip (a triple per 3 consecutive)
    clip_size: int = 128  # validation clips: frames are clip_size x clip_size


def check_config(cfg) -> None:
    """The keys a frame task allows (irn.config.validate calls this); one line."""
    if cfg.frame_layout not in FRAME_LAYOUTS:
        raise ValueError(f"frame_layout must be one of {', '.join(FRAME_LAYOUTS)}; got "
                         f"{cfg.frame_layout!r}")
    if cfg.task not in FRAME_TASKS:
        return
    if cfg.clip_frames < 3:
        raise ValueError(f"clip_frames must be at least 3 (one frame triple), got "
                         f"{cfg.clip_frames}")
    for key in ("clip_size", "val_tile"):
        size = getattr(cfg, key)
        if (size or key == "clip_size") and (size % cfg.scale or size - 2 * FRAME_CROP < 11):
            raise ValueError(f"{key} {size} must be a multiple of scale {cfg.scale} leaving "
                             f"at least 11 px for SSIM after the {FRAME_CROP}-px crop")
    refused = {"guide_target": "bicubic", "stamp": "none", "quantization": "ste",
               "jpeg_train": "off", "lambda_temporal": 0.0, "temporal_eval": False,
               "storage_eval": False, "multiscale_depth": 0, "architecture": "joint"}
    for key, allowed in refused.items():
        if getattr(cfg, key) != allowed:
            raise ValueError(f"task={cfg.task} supports {key}={allowed} only, got "
                             f"{getattr(cfg, key)!r}")


def _frames(cfg) -> bool:
    return cfg.task in FRAME_TASKS


dB = "dB"


def _metrics() -> list[MetricSpec]:
    what = "the predicted frame n+2 (predict) or the interpolated frame n+1 (interpolate)"
    return [
        MetricSpec("frame_psnr_y", "max", dB, f"Y-PSNR of {what}, 8-bit, against the true "
                   f"frame ({FRAME_CROP} px crop)", baseline="simple_psnr_y", when=_frames,
                   compute=lambda v: v.psnr(v.prediction)),
        MetricSpec("frame_gain_db", "max", dB, "frame_psnr_y - simple_psnr_y: the gain over "
                   "repeating the last frame (predict) or averaging the neighbours "
                   "(interpolate)", baseline="simple_psnr_y", when=_frames,
                   compute=lambda v: v.psnr(v.prediction) - v.psnr(v.simple)),
        MetricSpec("frame_vs_flow_db", "max", dB, "frame_psnr_y - flow_psnr_y: the network "
                   "against DIS optical flow on the same frames", baseline="flow_psnr_y",
                   when=_frames,
                   compute=lambda v: v.psnr(v.prediction) - v.psnr(v.flow)),
        MetricSpec("frame_ssim_y", "max", "", f"Y-SSIM of {what} ({FRAME_CROP} px crop)",
                   fmt=".4f", baseline="simple_ssim_y", when=_frames,
                   compute=lambda v: v.ssim(v.prediction)),
        MetricSpec("simple_psnr_y", "max", dB, "Y-PSNR of the simple baseline: the last frame "
                   "repeated (predict) or the neighbours' mean (interpolate)", when=_frames,
                   constant=True, compute=lambda v: v.psnr(v.simple)),
        MetricSpec("simple_ssim_y", "max", "", "Y-SSIM of the simple baseline", fmt=".4f",
                   when=_frames, constant=True, compute=lambda v: v.ssim(v.simple)),
        MetricSpec("flow_psnr_y", "max", dB, "Y-PSNR of the DIS optical-flow baseline "
                   "(irn/video/baselines.py: extrapolation or midpoint warp)", when=_frames,
                   constant=True, compute=lambda v: v.psnr(v.flow)),
        MetricSpec("reverse_psnr_y", "max", dB, "the by-product: Y-PSNR of the reverse pass "
                   "from the true output frame with z = 0 (predict: frame n+1 from frame "
                   "n+2; interpolate: frame n+2 from frame n+1)", baseline="reverse_repeat_psnr_y",
                   when=_frames, compute=lambda v: v.reverse_psnr("zero")),
        MetricSpec("reverse_gauss_psnr_y", "max", dB, "reverse_psnr_y with z ~ N(0, "
                   "temperature^2) (mean over eval_z_draws draws seeded with the row)",
                   baseline="reverse_psnr_y", when=_frames,
                   compute=lambda v: v.reverse_psnr("gaussian")),
        MetricSpec("reverse_repeat_psnr_y", "max", dB, "the reverse direction's simple "
                   "baseline: its input frame repeated", when=_frames, constant=True,
                   compute=lambda v: v.reverse_repeat_psnr),
    ]


def metrics(cfg) -> list[MetricSpec]:
    """What one evaluation of a frame task computes (irn.metric_registry.evaluation_metrics)."""
    return [m for m in _metrics() if m.when(cfg)]


STUDY = Study("frames", FrameFields, check=check_config, metrics=_metrics)
