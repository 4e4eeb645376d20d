"""The training loop: a plain loop over steps that yields one report per evaluation interval.

    trainer = Trainer(cfg)
    for report in trainer.run():      # report: step, loss/* (interval means), loss_trace
        ...                           # (loss/* every log_every steps), time/*, schedule/lr,
                                      # model/params, eval metrics, per_image (one row per
                                      # validation image)
    trainer.save(path)                # exact resume: Trainer.restore(path, cfg)

Determinism: the model is initialised from `seed`; batch k depends only on (seed, k) (see
irn.data); z and JPEG-quality draws use generators whose states are checkpointed, so a
resumed run continues the uninterrupted run's loss curve exactly (on the same device).
"""
import math
import random
import time

import numpy as np
import torch

from irn.checkpoint import atomic_save, FORMAT
from irn.config import Config, from_dict
from irn.data import load_images, load_named_images, shrink, train_loader, val_images
from irn.device import pick_device, sync
from irn.evaluate import evaluate_images, mean_metrics
from irn.layout import in_layout, layout_name, resolve_channels_last
from irn.model import build_model, count_parameters
from irn.objective import Objective, check_finite, no_phase
from irn.precision import autocast, precision_name, resolve_amp
from irn.stego import build_stego_model
from irn.stego_objective import StegoObjective
from irn.video.frames import FRAME_TASKS, build_frame_model
from irn.video.frames_objective import FrameObjective
from irn.video.triples import TrainTriples, val_triples

# the network and the objective of each task (irn/stego.py, irn/video/frames.py)
MODELS = {"rescale": build_model, "stego": build_stego_model,
          **{task: build_frame_model for task in FRAME_TASKS}}
OBJECTIVES = {"rescale": Objective, "stego": StegoObjective,
              **{task: FrameObjective for task in FRAME_TASKS}}


def lr_factor(cfg: Config, step: int) -> float:
    """Multiplier of cfg.lr at `step` (0-based): linear warm-up, then the schedule."""
    if cfg.warmup and step < cfg.warmup:
        return (step + 1) / cfg.warmup
    t = (step - cfg.warmup) / max(1, cfg.steps - cfg.warmup)
    if cfg.schedule == "multistep":  # official: halve at 20/40/60/80% (100k..400k of 500k)
        return 0.5 ** sum(step >= m * cfg.steps for m in (0.2, 0.4, 0.6, 0.8))
    if cfg.schedule == "cosine":
        return 0.5 * (1 + math.cos(math.pi * min(t, 1.0)))
    return 1.0


def validation_set(cfg: Config, images=None, names=None):
    """The validation set of a config (val_max_size crop, val_tile tiles; at 1/downsample);
    `images`/`names`: already decoded by the caller (irn.data.load_named_images). The frame
    tasks': frame triples of clips rendered from the val photos (irn/video/triples.py)."""
    if cfg.task in FRAME_TASKS:
        return val_triples(cfg.data, cfg.clip_frames, cfg.clip_size, cfg.scale, cfg.val_tile,
                           images=images, names=names)
    if cfg.downsample > 1:
        if images is None:
            names, images = load_named_images(cfg.data, "val")
        images = shrink(images, cfg.downsample)
    return val_images(cfg.data, cfg.scale, cfg.val_max_size or None, images=images,
                      names=names, tile=cfg.val_tile)


class Trainer:
    def __init__(self, cfg: Config, train_images=None, val_set=None, device=None):
        self.cfg = cfg
        self.device = torch.device(device) if device else pick_device(cfg.device)
        _seed_everything(cfg.seed)
        self.model = MODELS[cfg.task](**cfg.arch()).to(self.device)
        self.model.memory = cfg.memory  # irn/memory.py
        self.channels_last, self.layout_reason = resolve_channels_last(cfg.channels_last,
                                                                       self.device)
        if self.channels_last:
            self.model = self.model.to(memory_format=torch.channels_last)
        self.params = count_parameters(self.model)
        self.objective = OBJECTIVES[cfg.task](cfg).to(self.device)
        trainable = [p for p in self.model.parameters() if p.requires_grad]
        self.optimizer = torch.optim.Adam(
            [{"params": trainable}, {"params": self.objective.parameters(), "weight_decay": 0}],
            lr=cfg.lr, betas=(0.9, 0.999), weight_decay=cfg.weight_decay)
        self.z_gen = torch.Generator(self.device).manual_seed(cfg.seed + 1)
        self.jpeg_gen = torch.Generator().manual_seed(cfg.seed + 2)
        self.motion_gen = torch.Generator().manual_seed(cfg.seed + 3)  # temporal transforms
        self.amp, self.amp_reason = resolve_amp(cfg.amp, self.device)
        self.scaler = torch.amp.GradScaler(self.device.type, enabled=self.amp == "fp16"
                                           and self.device.type == "cuda")
        self.step = 0
        if cfg.downsample > 1:  # irn/levels.py: a level trains on the photos at 1/2^(k-1)
            train_images = shrink(load_images(cfg.data, "train") if train_images is None
                                  else train_images, cfg.downsample)
        self.train_images = train_images
        self.val_set = val_set
        self.net = torch.compile(self.model) if cfg.compile else self.model

    # -- checkpoints -----------------------------------------------------------------------
    def state_dict(self) -> dict:
        return {"format": FORMAT, "arch": self.cfg.arch(), "config": self.cfg.to_dict(),
                "model": self.model.state_dict(), "optimizer": self.optimizer.state_dict(),
                "objective": self.objective.state_dict(),
                "scaler": self.scaler.state_dict(), "step": self.step,
                "rng": {"torch": torch.get_rng_state(), "z": self.z_gen.get_state(),
                        "jpeg": self.jpeg_gen.get_state(), "motion": self.motion_gen.get_state(),
                        "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available()
                        else [],
                        "numpy": _np_state(), "python": list(random.getstate()[1])}}

    def save(self, path) -> None:
        atomic_save(self.state_dict(), path)

    def load_state_dict(self, state: dict) -> None:
        self.model.load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.objective.load_state_dict(state["objective"])
        self.scaler.load_state_dict(state["scaler"])
        self.step = int(state["step"])
        rng = state["rng"]
        torch.set_rng_state(rng["torch"])
        self.z_gen.set_state(rng["z"])
        self.jpeg_gen.set_state(rng["jpeg"])
        if "motion" in rng:  # checkpoints from before the temporal term have none
            self.motion_gen.set_state(rng["motion"])
        if rng["cuda"] and torch.cuda.is_available():
            torch.cuda.set_rng_state_all(rng["cuda"])
        np.random.set_state(("MT19937", np.array(rng["numpy"]["keys"], dtype=np.uint32),
                             int(rng["numpy"]["pos"]), 0, 0.0))
        random.setstate((3, tuple(rng["python"]), None))

    @classmethod
    def restore(cls, path, cfg: Config | None = None, **kwargs) -> "Trainer":
        state = torch.load(path, map_location="cpu", weights_only=True)
        trainer = cls(cfg or from_dict(state["config"]), **kwargs)
        trainer.load_state_dict(state)
        return trainer

    # -- the loop ----------------------------------------------------------------------------
    @property
    def precision(self) -> str:
        """The arithmetic the steps run in: "fp32", "bf16" or "fp16"."""
        return precision_name(self.amp)

    def _autocast(self):
        return autocast(self.amp, self.device.type)

    def batches(self):
        """The training batches from the current step on (what `run` draws): an iterator of
        (hr, lr_ref) CPU tensors; `to_device` moves one to the model's device and layout."""
        cfg = self.cfg
        if cfg.task in FRAME_TASKS:  # frame triples, N x 9 x P x P (irn/video/triples.py)
            return TrainTriples(cfg.data, cfg.patch_size, cfg.seed, images=self.train_images
                                ).batches(cfg.batch_size, start_batch=self.step)
        return iter(train_loader(cfg.data, cfg.scale, cfg.patch_size, cfg.batch_size, cfg.loader,
                                 cfg.workers, cfg.seed, images=self.train_images,
                                 start_batch=self.step))

    def train_step(self, hr, lr_ref, phase=None):
        """One optimiser step; returns {term: float}. Raises NonFiniteLossError.

        `phase(name)`, when given, is a context manager around each part of the step in turn
        (forward, reverse, backward, optimizer): bench.profile passes its clock and profiler
        labels, so the step it times is exactly this one."""
        phase = phase or no_phase
        for group in self.optimizer.param_groups:  # timed with "forward": the clock marks ends
            group["lr"] = self.cfg.lr * lr_factor(self.cfg, self.step)
        self.optimizer.zero_grad(set_to_none=True)
        with self._autocast():
            total, terms = self.objective(self.net, hr, lr_ref, self.z_gen, self.jpeg_gen,
                                          phase=phase, motion_generator=self.motion_gen)
        with phase("backward"):
            check_finite(self.step, total, terms)
            self.scaler.scale(total).backward()
        with phase("optimizer"):
            self.scaler.unscale_(self.optimizer)
            if self.cfg.grad_clip:
                torch.nn.utils.clip_grad_norm_(self.model.parameters(), self.cfg.grad_clip)
            self.scaler.step(self.optimizer)
            self.scaler.update()
            self.model.constrain()  # re-applies model constraints (i-ResNet's Lipschitz bound)
            self.step += 1
        return {"total": total.item(), **{k: v.item() for k, v in terms.items()}}

    def evaluate_images(self) -> list[dict]:
        """One row per validation image: image, seed, step and every per-image metric."""
        if self.val_set is None:
            self.val_set = validation_set(self.cfg)
        self.model.eval()
        try:
            rows = evaluate_images(self.model, self.val_set, self.cfg, device=self.device)
            for i, (row, (hr, _)) in enumerate(zip(rows, self.val_set)):  # dequant_bpd
                row.update(self.objective.image_metrics(self.model, hr.to(self.device), i))
        finally:
            self.model.train()
        return [{"image": r.pop("image"), "seed": self.cfg.seed, "step": self.step, **r}
                for r in rows]

    def evaluation_report(self) -> dict:
        """The evaluation part of a report (run's, and a composed levels cascade's): the mean
        metrics, the per-image rows, the evaluation's time, and what ran (parameters,
        precision, layout)."""
        start = time.perf_counter()
        rows = self.evaluate_images()
        return {"model/params": self.params, "precision": self.precision,
                "layout": layout_name(self.channels_last), **mean_metrics(rows),
                "time/eval": time.perf_counter() - start, "per_image": rows}

    def evaluate(self) -> dict:
        """The mean metrics over the validation set."""
        return mean_metrics(self.evaluate_images())

    def run(self, until: int | None = None, on_step=None):
        """Train to `until` (default cfg.steps), yielding a report every cfg.eval_interval steps
        and at the end: mean losses over the interval, timings, and evaluation metrics.
        `on_step()`, when given, is called after every step (a profiler's step counter)."""
        cfg, device = self.cfg, self.device
        until = cfg.steps if until is None else min(until, cfg.steps)
        batches = self.batches()
        self.model.train()
        t_data, t_compute, n = 0.0, 0.0, 0
        interval, window, trace = _LossWindow(), _LossWindow(), []
        start = time.perf_counter()
        while self.step < until:
            t0 = time.perf_counter()
            hr, lr_ref = next(batches)
            hr, lr_ref = self.to_device(hr), self.to_device(lr_ref)
            sync(device)
            t1 = time.perf_counter()
            losses = self.train_step(hr, lr_ref)
            sync(device)
            t2 = time.perf_counter()
            if on_step:
                on_step()
            t_data, t_compute, n = t_data + t1 - t0, t_compute + t2 - t1, n + 1
            interval.add(losses)
            window.add(losses)
            report_now = self.step % cfg.eval_interval == 0 or self.step == until
            if self.step % cfg.log_every == 0 or report_now:  # the lr too: warm-up + cosine
                trace.append({"step": self.step, **window.flush(),   # drawn, not a line
                              "schedule/lr": cfg.lr * lr_factor(cfg, self.step - 1)})
            if report_now:
                report = {"step": self.step,
                          "schedule/lr": cfg.lr * lr_factor(cfg, self.step - 1),
                          **interval.flush(),
                          "loss_trace": trace,
                          "time/data": t_data / n, "time/compute": t_compute / n,
                          "data_fraction": t_data / (t_data + t_compute),
                          "time/train_wall": time.perf_counter() - start,
                          **self.evaluation_report()}
                t_data, t_compute, n, trace = 0.0, 0.0, 0, []
                yield report

    def to_device(self, x):
        x = x.to(self.device, non_blocking=True)
        return in_layout(x, self.channels_last)


class _LossWindow:
    """Mean training losses over the steps since the last flush: the report's interval
    means and the dense loss trace's window means."""

    def __init__(self):
        self.sums, self.n = {}, 0

    def add(self, losses: dict) -> None:
        for k, v in losses.items():
            self.sums[k] = self.sums.get(k, 0.0) + v
        self.n += 1

    def flush(self) -> dict:
        means = {f"loss/{k}": v / self.n for k, v in self.sums.items()}
        self.sums, self.n = {}, 0
        return means


def _seed_everything(seed: int) -> None:
    torch.manual_seed(seed)
    np.random.seed(seed)
    random.seed(seed)


def _np_state() -> dict:
    _, keys, pos, _, _ = np.random.get_state()
    return {"keys": keys.tolist(), "pos": int(pos)}


def training_memory_floor(cfg: Config) -> int:
    """Bytes a training step needs at the least, whatever the coupling or subnet: every block
    has a subnet with a gc x gc-or-larger conv (weights, gradient and Adam's two moments: 16
    bytes a parameter) and keeps at least one gc-channel activation at the LR's size for the
    backward pass (memory=store; with checkpoint or recompute, irn/memory.py, only the block
    being differentiated does); plus the HR batch and its reconstruction. A lower bound, so
    a config over it cannot fit (bench.sweep refuses it before Ray starts); real use is
    several times it."""
    lr_pixels = (cfg.patch_size // cfg.scale) ** 2
    kept_blocks = cfg.blocks if cfg.memory == "store" else 1
    return (16 * cfg.blocks * cfg.gc ** 2 + 4 * kept_blocks * cfg.batch_size * cfg.gc * lr_pixels
            + 2 * 4 * cfg.batch_size * 3 * cfg.patch_size ** 2)
