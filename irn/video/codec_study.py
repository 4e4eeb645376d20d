"""The video-codec study's declaration (irn/study.py): `video_eval=true` measures, at every
evaluation of a rescaling trial, what H.264 does to its LR frames, against the bicubic LR
through the same codec and the HR coded directly (irn/video/codec.py, `rd_points`).

Per validation row (image or tile) i: a clip of VIDEO_FRAMES frames of VIDEO_SIZE px is
rendered from the row's HR (irn/video/clips.py; camera motion MOTIONS[i % 3], seed i), so
every arm of a sweep codes the same frames. Each pipeline runs at the CRFs VIDEO_CRFS with
libx264 (preset medium, one thread: the same bits on every run). Metrics, per row:
  h264_crf{C}_psnr_y / _bpp / _flicker ....... the model: LR -> H.264 -> upscale (z = 0)
  bicubic_h264_crf{C}_* ...................... bicubic down -> H.264 -> bicubic up
  hr_h264_crf{C}_* ........................... the HR coded at CRF C + 6 log2(scale)
  h264_bd_vs_bicubic_db, h264_bd_vs_hr_db .... Bjontegaard delta PSNR of the model's curve
                                               against each (> 0: the model is better at
                                               equal rate; irn.video.codec.bd_psnr)
Rates are coded bits per HR pixel. The clips are small (the cpu budget's rows are 128-px
tiles), so per-frame headers weigh more than in real video: compare the pipelines with each
other, and use `python -m bench.evaluate --video` for rates at a real clip size.
"""
from dataclasses import dataclass

from irn.metric_spec import MetricSpec
from irn.study import Study

VIDEO_CRFS = (23, 29, 35)
VIDEO_FRAMES = 6
VIDEO_SIZE = 64
PIPELINES = {"": "the model's LR", "bicubic_": "the bicubic LR", "hr_": "the HR directly"}


@dataclass(frozen=True)
class VideoCodecFields:
    video_eval: bool = False  # H.264 rate-distortion of rendered clips at every evaluation


def check_config(cfg) -> None:
    if not cfg.video_eval:
        return
    if cfg.task != "rescale":
        raise ValueError(f"video_eval is for task=rescale, got task={cfg.task}")
    rows = cfg.val_tile or cfg.val_max_size
    if rows and rows < 2 * VIDEO_SIZE:
        raise ValueError(f"video_eval renders {VIDEO_SIZE}-px clips from each validation "
                         f"row: it needs val_tile 0 or >= {2 * VIDEO_SIZE} (and val_max_size "
                         f"0 or >= {2 * VIDEO_SIZE}), got val_tile={cfg.val_tile}, "
                         f"val_max_size={cfg.val_max_size}")


def _measured(cfg) -> bool:
    return cfg.video_eval and cfg.task == "rescale"


def codec_points(v) -> dict:
    """{(pipeline, crf): point} of the row's clip, computed once per ImageViews `v`."""
    if getattr(v, "_codec_points", None) is None:
        from irn.video.clips import MOTIONS, render_clip
        from irn.video.codec import rd_points
        from irn.data.sources import tensor_to_rgb8
        photo = tensor_to_rgb8(v.hr)
        clip = render_clip(photo, VIDEO_FRAMES, (VIDEO_SIZE, VIDEO_SIZE),
                           MOTIONS[v.seed % len(MOTIONS)], v.seed)
        v._codec_points = {(p["pipeline"], p["crf"]): p
                           for p in rd_points(clip, v.model, v.s, VIDEO_CRFS)}
    return v._codec_points


def bd(v, other: str) -> float:
    from irn.video.codec import clip_bd
    value = clip_bd(list(codec_points(v).values()))[f"model_vs_{other}"]
    return float("nan") if value is None else value


def _metrics() -> list[MetricSpec]:
    out = []
    for prefix, what in PIPELINES.items():
        pipeline = {"": "model", "bicubic_": "bicubic", "hr_": "hr"}[prefix]
        for crf in VIDEO_CRFS:
            name = f"{prefix}h264_crf{crf}"
            at = f"{what} through H.264 at CRF {crf}" + (" + 6 log2(scale)" if prefix else "")
            key = (pipeline, crf)
            out += [
                MetricSpec(f"{name}_psnr_y", "max", "dB", f"Y-PSNR of {at}, upscaled "
                           f"(irn/video/codec_study.py)", when=_measured, constant=bool(prefix),
                           compute=lambda v, k=key: codec_points(v)[k]["y_psnr"]),
                MetricSpec(f"{name}_bpp", "min", "bpp", f"coded bits per HR pixel of {at}",
                           fmt=".3f", when=_measured, constant=bool(prefix),
                           compute=lambda v, k=key: codec_points(v)[k]["bpp"]),
                MetricSpec(f"{name}_flicker", "min", "levels", f"flicker of {at}: mean |frame-"
                           f"to-frame Y change - the true change| (irn.video.codec.flicker)",
                           fmt=".3f", when=_measured, constant=bool(prefix),
                           compute=lambda v, k=key: codec_points(v)[k]["flicker"])]
    return out + [
        MetricSpec("h264_bd_vs_bicubic_db", "max", "dB", "Bjontegaard delta PSNR of the model's "
                   "H.264 curve against the bicubic LR's: the gain at equal rate",
                   when=_measured, compute=lambda v: bd(v, "bicubic")),
        MetricSpec("h264_bd_vs_hr_db", "max", "dB", "Bjontegaard delta PSNR of the model's "
                   "H.264 curve against coding the HR directly", when=_measured,
                   compute=lambda v: bd(v, "hr")),
    ]


STUDY = Study("video_codec", VideoCodecFields, check=check_config, metrics=_metrics)
