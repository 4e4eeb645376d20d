"""Sweep trials profiled on request (`bench.sweep --profile`, TUNE["profile"], or
`--set profile=true`): a torch.profiler trace of a few real training steps of the trial.

The trace covers steps 4-6 of the trial (steps 1-2 are skipped and step 3 warms the profiler
up: one-off allocations and kernel selection; a shorter trial gets a shorter schedule),
through torch.profiler's schedule; the
steps are the trial's own, so its results are those of an unprofiled run, but the timings of
its first evaluation interval include the profiler's overhead. The files (trace.json,
top_ops.txt, top_ops.json, as `bench.profile --out`) go into every later checkpoint, and the
driver logs them to the trial's MLflow run as profile/*.
"""
import json
import os
import shutil

import torch

from bench.speed.profile import PROFILE_FILES, export_profile

PROFILE_DIR = "profile"


class TrialProfiler:
    def __init__(self, folder: str, device: torch.device, steps: int, wait: int = 2,
                 warmup: int = 1, active: int = 3):
        """`steps`: the trial's planned steps; a short trial gets a shorter schedule."""
        from torch.profiler import ProfilerActivity, profile, schedule
        wait = min(wait, max(0, steps - 2))
        warmup = min(warmup, max(0, steps - wait - 1))
        active = max(1, min(active, steps - wait - warmup))
        self.folder, self.device_type = folder, device.type
        self.done = has_profile(folder)  # a restored trial was profiled before its restart
        if self.done:
            return
        activities = [ProfilerActivity.CPU] + (
            [ProfilerActivity.CUDA] if device.type == "cuda" else [])
        self.prof = profile(activities=activities,
                            schedule=schedule(wait=wait, warmup=warmup, active=active, repeat=1),
                            on_trace_ready=self._save)
        self.prof.start()

    def step(self) -> None:
        """After each training step (Trainer.run's on_step)."""
        if not self.done:
            self.prof.step()  # calls _save once the active steps are recorded
            if self.done:
                self.prof.stop()

    def _save(self, prof) -> None:
        export_profile(prof, self.folder, self.device_type)
        self.done = True

    def stop(self) -> None:
        if not self.done:  # the trial ended before the active steps: no trace
            self.done = True
            self.prof.stop()


def has_profile(folder: str) -> bool:
    return all(os.path.isfile(os.path.join(folder, f)) for f in PROFILE_FILES)


def copy_profile(src: str, dst: str) -> bool:
    """Copy a finished profile's files from `src` to `dst` (made); False when there is none."""
    if not has_profile(src):
        return False
    os.makedirs(dst, exist_ok=True)
    for f in PROFILE_FILES:
        shutil.copyfile(os.path.join(src, f), os.path.join(dst, f))
    return True


def log_profile(tracker, run_id: str, folder: str) -> bool:
    """Log a profiled trial's profile/{trace.json,top_ops.txt,top_ops.json} to its run and
    tag the top operator (irn.top_op: name and share of self time); False when there is none."""
    if not has_profile(folder):
        return False
    for name in PROFILE_FILES:
        tracker.log_artifact(run_id, os.path.join(folder, name), "profile")
    with open(os.path.join(folder, "top_ops.json"), encoding="utf-8") as f:
        ops = json.load(f)
    if ops:
        tracker.set_tags(run_id, {"irn.top_op": f"{ops[0]['name']} "
                                                f"{100 * ops[0]['share']:.0f}% of self time"})
    return True
