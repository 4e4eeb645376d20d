"""A metric's declaration (irn/metric_registry.py holds the vocabulary; a study declares
its own metrics with it, irn/study.py) and the equivalence margins by unit. A leaf: it
imports nothing of irn's."""
import math
from dataclasses import dataclass
from typing import Callable

# Equivalence margins by unit: two variants whose difference lies within +-margin are equal
# for practical purposes (bench/STATISTICS.md "Margins"). dB: SR papers print Y-PSNR to 0.01
# dB, and gains under 0.05-0.1 dB are read as ties in the field (issue 30's brief). 0.1, the
# loose end, because 0.05 cannot be shown on the cpu budget's 32 validation tiles: with the
# main job's noise, the tile spread alone makes a paired interval about +-0.04 dB wide, and
# equal groups were called equivalent in 1% of simulated sweeps at 5 seeds with 0.05, 83%
# with 0.1 (tests/test_verdict_simulation.py's shape; bench/STATISTICS.md). "" (SSIM and other
# ratios): 0.001, one unit of the 4th digit papers print. levels (flicker, 8-bit grey
# levels): 0.02. bpp (rates): 0.01 bits per pixel. bits (dequant_bpd): 0.001. Seconds and
# anything else: 0 (never "equivalent"). `--margin METRIC=VALUE` overrides.
MARGINS = {"dB": 0.1, "": 0.001, "levels": 0.02, "bpp": 0.01, "bits": 0.001}


def _always(cfg) -> bool:
    return True


@dataclass(frozen=True)
class MetricSpec:
    name: str
    mode: str                      # "max" or "min": which direction is better
    unit: str                      # "dB", "" (a ratio or index), "s"
    doc: str                       # one line: what the number means
    fmt: str = ".2f"
    baseline: str | None = None    # the metric a reader compares it with
    compute: Callable | None = None  # ImageViews -> float: a per-image evaluation metric
    when: Callable = _always  # Config -> bool  # evaluated under this config?
    constant: bool = False  # the same at every evaluation (no model in it): logged once

    @property
    def per_image(self) -> bool:
        return self.compute is not None

    @property
    def margin(self) -> float:
        """The equivalence margin: a difference smaller than this does not matter
        (MARGINS, by unit)."""
        return MARGINS.get(self.unit, 0.0)

    def better(self, a: float, b: float) -> bool:
        return a > b if self.mode == "max" else a < b

    def format(self, value) -> str:
        if value is None or (isinstance(value, float) and not math.isfinite(value)):
            return "-"
        return f"{value:{self.fmt}}"

    def describe(self) -> str:
        return f"{self.doc} [{self.unit}]" if self.unit else self.doc
