"""Published rows (bench/evaluate/published/irn_tables.csv: IRN, bicubic, SAIN/IRN under JPEG, each
with its paper and table) matched to measured datasets by name, with the difference."""
import csv
import re
from functools import lru_cache
from pathlib import Path

TABLE = Path(__file__).parent / "published" / "irn_tables.csv"
# Spellings of the benchmark folders -> the name the papers use.
ALIASES = {"set5": "Set5", "set14": "Set14", "bsd100": "BSD100", "b100": "BSD100",
           "bsds100": "BSD100", "urban100": "Urban100", "div2k": "DIV2K", "div2kval": "DIV2K",
           "div2kvalid": "DIV2K", "div2kvalidhr": "DIV2K"}


@lru_cache(maxsize=1)
def published_rows() -> tuple[dict, ...]:
    with open(TABLE, encoding="utf-8") as f:
        rows = list(csv.DictReader(line for line in f if not line.startswith("#")))
    return tuple({**r, "scale": int(r["scale"]), "qf": int(r["qf"]) if r["qf"] else None,
                  "psnr_y": float(r["psnr_y"]),
                  "ssim_y": float(r["ssim_y"]) if r["ssim_y"] else None} for r in rows)


def canonical(dataset: str) -> str | None:
    """The paper's name for a dataset name (Set5, Set14, BSD100, Urban100, DIV2K) or None."""
    return ALIASES.get(re.sub(r"[^a-z0-9]", "", dataset.lower()))


def measured_metric(method: str, qf: int | None, quantity: str) -> str:
    """The metric of ours a published number is compared with (quantity: psnr_y / ssim_y)."""
    bicubic = method.startswith("Bicubic")
    if qf is None:
        return f"bicubic_{quantity}" if bicubic else quantity
    return f"{'bicubic_' if bicubic else ''}jpeg{qf}_{quantity}"


def comparison(dataset: str, scale: int, summary: dict,
               rows: list[dict] | None = None) -> list[dict]:
    """One row per published number of this dataset and scale whose metric we measured:
    published, ours (mean, ci95, n) and ours - published with its interval and verdict
    (irn.stats.verdicts: the rows are one family, Bonferroni; margins from the metric registry).
    `rows`: our per-image rows, for the family-wise interval (without them: our 95% CI,
    shifted by the published constant, and no family correction)."""
    import numpy as np

    from irn.stats import verdicts
    from irn.stats.compare import mean_ci
    from irn.metric_registry import equivalence_margin, metric_spec
    name = canonical(dataset)
    matches = []
    for row in published_rows():
        if row["dataset"] != name or row["scale"] != scale:
            continue
        for quantity in ("psnr_y", "ssim_y"):
            metric = measured_metric(row["method"], row["qf"], quantity)
            if row[quantity] is not None and metric in summary:
                matches.append((row, metric, row[quantity]))
    family = len(matches) if rows else 1
    out = []
    for row, metric, pub in matches:
        ours = summary[metric]
        ci = ours["ci95"]
        if rows:
            ci = mean_ci(np.array([[r[metric] - pub for r in rows]]),
                         verdicts.level(family))["ci95"]
        else:
            ci = [ci[0] - pub, ci[1] - pub] if ci else None
        margin = equivalence_margin(metric)
        word = verdicts.verdict(ci, metric_spec(metric).mode, margin)
        out.append({"method": row["method"], "qf": row["qf"], "metric": metric,
                    "published": pub, "ours": ours, "delta": ours["mean"] - pub,
                    "delta_ci95": ci, "verdict": word, "margin": margin,
                    "negligible": word in ("better", "worse") and verdicts.negligible(ci, margin),
                    "family": family, "correction": verdicts.CORRECTION if family > 1 else None,
                    "source": row["source"]})
    return out
