"""The gallery: for every validation image's crop (irn.crops.visual_crops), the bicubic
down/up reconstruction beside each group's, with error maps against the ground truth
amplified by one fixed factor, and the network's LR beside the bicubic LR."""
import base64
import io

import numpy as np
import pandas as pd
from PIL import Image

from dashboards.data import Sweep
from dashboards.figures import Section, factors, fmt, metric
from dashboards.sections import SectionSpec
from dashboards.summary import Summary

AMPLIFY = 8  # error maps: |reconstruction - ground truth| x 8 (32 grey levels -> white)
MAX_GROUPS = 12


def pick_runs(sweep: Sweep) -> list[str]:
    """One finished trial per group, best group first: its lowest seed, so that the groups'
    crops come from the same seed wherever they can (the difference maps compare them)."""
    done = sweep.finished
    if "seed" in done:
        order = done.assign(_rank=range(len(done)))
        lowest = order.sort_values(["seed", "_rank"], kind="stable").drop_duplicates("group")
        done = lowest.sort_values("_rank")
    return list(done.drop_duplicates("group")["run_id"][:MAX_GROUPS])


def data_uri(png: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(png).decode()


def error_map(png: bytes, truth: bytes, amplify: int = AMPLIFY) -> bytes:
    """A grey PNG of the mean absolute RGB error against the ground truth, times `amplify`."""
    a = np.asarray(Image.open(io.BytesIO(png)).convert("RGB"), dtype=float)
    b = np.asarray(Image.open(io.BytesIO(truth)).convert("RGB"), dtype=float)
    err = np.clip(np.abs(a - b).mean(axis=2) * amplify, 0, 255).astype(np.uint8)
    buf = io.BytesIO()
    Image.fromarray(err).save(buf, format="PNG")
    return buf.getvalue()


def mean_error(png: bytes, truth: bytes) -> float:
    a = np.asarray(Image.open(io.BytesIO(png)).convert("RGB"), dtype=float)
    b = np.asarray(Image.open(io.BytesIO(truth)).convert("RGB"), dtype=float)
    return float(np.abs(a - b).mean())


def _group_gain(summary: Summary, label: str) -> str:
    for g in summary.with_stat("gain_db"):
        if g.label == label:
            stat, ci = g.stats["gain_db"], g.stats["gain_db"].ci95
            return f"gain {stat.mean:.3f} dB" + (f" [{ci[0]:.3f}, {ci[1]:.3f}]" if ci else "")
    return ""


def gallery(sweep: Sweep, crops: dict, summary=None) -> Section:
    title = "What the network does to the LR and the reconstruction"
    done = sweep.finished[sweep.finished["run_id"].isin(crops)]
    if done.empty:
        return Section("gallery", title, note="no crops/<image>/<kind>.png artifacts were logged")
    done = done.drop_duplicates("group")[:MAX_GROUPS]
    first = crops[done["run_id"].iloc[0]]
    images = list(first)
    reference = {}
    for image, k in first.items():
        reference[image] = [
            ("ground truth", data_uri(k["gt"])), ("bicubic LR", data_uri(k["lr_bicubic"])),
            ("bicubic down/up", data_uri(k["bicubic_up"])),
            (f"its error x{AMPLIFY} (mean {mean_error(k['bicubic_up'], k['gt']):.2f})",
             data_uri(error_map(k["bicubic_up"], k["gt"])))]
    keys = factors(sweep)
    # the group every other one is compared with: the sweep's reference, else the best
    summary = Summary.of(summary)
    ref_label = summary.comparison.reference
    labels = list(done["group_label"])
    ref_run = done["run_id"].iloc[labels.index(ref_label) if ref_label in labels else 0]
    ref_label = done["group_label"].iloc[list(done["run_id"]).index(ref_run)]
    items = []
    for row in done.to_dict("records"):
        cells = {}
        for image, k in crops[row["run_id"]].items():
            ref = crops[ref_run].get(image, {}).get("recon")
            versus = ("the reference", None) if row["run_id"] == ref_run else (
                f"minus the reference x{AMPLIFY} (mean {mean_error(k['recon'], ref):.2f})",
                data_uri(error_map(k["recon"], ref))) if ref else ("", None)
            cells[image] = [
                ("network LR", data_uri(k["lr"])), ("reconstruction", data_uri(k["recon"])),
                (f"error x{AMPLIFY} (mean {mean_error(k['recon'], k['gt']):.2f})",
                 data_uri(error_map(k["recon"], k["gt"]))), versus]
        scores = [_group_gain(summary, row["group_label"])]
        scores += [f"{m} {fmt(m, row[metric(m)])}" for m in ("lr_psnr_y",)
                   if metric(m) in row and not pd.isna(row[metric(m)])]
        items.append(dict(label=row["group_label"], trial=str(row["trial"]),
                          info=", ".join(f"{k}={fmt(k, row[k])}" for k in keys if k in row),
                          scores=", ".join(s for s in scores if s), cells=cells))
    n = sweep.finished["group"].nunique()
    more = f" Showing {len(items)} of {n} groups." if n > len(items) else ""
    return Section("gallery", title,
                   "A centre crop of every validation image (before tiling), at its pixel size. "
                   "Top row: the ground truth, the bicubic LR, the bicubic down/up "
                   f"reconstruction (the baseline of the gain) and its error map. Then one "
                   "trial per group (its first seed): the network's LR (nearest-upsampled), "
                   f"its reconstruction, its error map, and its difference from the reference "
                   f"group's reconstruction ({ref_label}, the same image and, where it ran, "
                   "seed: where variants differ, which the error maps, all much alike, hide). "
                   "Error maps: the mean absolute RGB error against the ground truth (or the "
                   f"reference) times {AMPLIFY} (black: none; white: "
                   f"{256 // AMPLIFY} grey levels or more); the caption gives the crop's mean "
                   "error in grey levels. Captions: every searched key, the group's gain over "
                   "bicubic with its 95% CI, and the LR's Y-PSNR against the bicubic LR." + more,
                   gallery=dict(images=images, reference=reference, items=items))


# this module's report sections (dashboards/sections.py)
SECTIONS = [
    SectionSpec("gallery", 200, lambda i: gallery(i.sweep, i.crops, i.summary)),
]
