"""Evaluation of the frame tasks (irn/video/frames.py): one row per validation triple (or
tile of one), in the project's convention (uint8 rounding, BT.601 Y, SSIM 11x11 sigma 1.5,
irn.metrics), every metric on the same frames, with FRAME_CROP px cropped.

The forward pass needs no latent: its prediction is deterministic. z enters the reverse
direction only (the by-product), evaluated with z = 0 and with z ~ N(0, temperature^2)
(eval_z_draws draws seeded with the row's index, their mean PSNR).
"""
from functools import cached_property

import torch

from irn.metrics import psnr_y, ssim_y
from irn.quantization import quantize
from irn.video import baselines
from irn.video.frames import run_forward, run_reverse, split_triple
from irn.video.study import FRAME_CROP, metrics


class FrameViews:
    """The frames one evaluation compares, each computed on first use."""

    def __init__(self, model, triple, cfg, seed: int):
        self.model, self.cfg, self.seed, self.triple = model, cfg, seed, triple
        self.f0, self.f1, self.f2 = split_triple(triple)
        self.task = cfg.task
        self.target = self.f2 if self.task == "predict" else self.f1
        # the reverse pass: from the forward's target frame back to its first input
        self.reverse_from, self.reverse_target = \
            (self.f2, self.f1) if self.task == "predict" else (self.f1, self.f2)

    def psnr(self, frame) -> float:
        return psnr_y(frame, self.target, FRAME_CROP)

    def ssim(self, frame) -> float:
        return ssim_y(frame, self.target, FRAME_CROP)

    @cached_property
    def prediction(self):
        return quantize(run_forward(self.model, self.task, self.cfg.frame_layout, self.triple)[0])

    @cached_property
    def simple(self):
        return baselines.simple(self.task, self.f0, self.f1, self.f2)

    @cached_property
    def flow(self):
        return baselines.flow(self.task, self.f0, self.f1, self.f2)

    def reverse_psnr(self, mode: str) -> float:
        draws = 1 if mode == "zero" else self.cfg.eval_z_draws
        gen = torch.Generator(self.f0.device).manual_seed(self.seed)
        values = [psnr_y(run_reverse(self.model, self.cfg.frame_layout, self.reverse_from,
                                     mode=mode, temperature=self.cfg.temperature,
                                     generator=gen)[0], self.reverse_target, FRAME_CROP)
                  for _ in range(draws)]
        return sum(values) / len(values)

    @cached_property
    def reverse_repeat_psnr(self) -> float:
        return psnr_y(self.reverse_from, self.reverse_target, FRAME_CROP)


@torch.inference_mode()
def frame_rows(model, val_set, cfg, names, device="cpu") -> list[dict]:
    """One row per validation triple: {"image": name, metric: value, ...}."""
    specs = metrics(cfg)
    rows = []
    for i, (name, (triple, _)) in enumerate(zip(names, val_set)):
        views = FrameViews(model, triple.to(device), cfg, seed=i)
        rows.append({"image": name, **{m.name: float(m.compute(views)) for m in specs}})
    return rows
