"""Verdicts of a paired difference (bench/STATISTICS.md "Verdicts").

- `better` / `worse`: the interval excludes 0 (in the metric's direction); marked
  `negligible` when the whole interval also lies inside +-margin (real but too small to
  matter);
- `equivalent`: the whole interval lies inside +-margin (two one-sided tests, each at the
  family's level: the interval is at 1 - alpha/m, stricter than TOST's 1 - 2 alpha/m);
- `undecided`: neither. More data would decide it: `seeds_to_decide` says about how much.

One table of comparisons is one family: the intervals are Bonferroni-simultaneous at
FAMILY_CONFIDENCE (each at 1 - (1 - FAMILY_CONFIDENCE)/m), so the chance of any false
better/worse/equivalent in the table is at most 5%.
"""
import functools
import math

from scipy import stats

FAMILY_CONFIDENCE = 0.95
CORRECTION = "Bonferroni"
MAX_SEEDS_ESTIMATE = 50  # beyond this the estimate says "more than 50"


def level(family: int) -> float:
    """The confidence of each interval in a family of `family` comparisons."""
    return 1 - (1 - FAMILY_CONFIDENCE) / max(family, 1)


@functools.lru_cache(maxsize=4096)
def quantile(confidence: float, df: float) -> float:
    """The two-sided t quantile (a normal one for infinite df)."""
    q = 0.5 + confidence / 2
    return float(stats.norm.ppf(q) if math.isinf(df) else stats.t.ppf(q, df))


def verdict(ci: list[float] | None, mode: str, margin: float = 0.0) -> str:
    """better / worse / equivalent / undecided of a difference A - B under `mode`."""
    if ci is None:
        return "undecided"
    lo, hi = ci
    if lo > 0 or hi < 0:
        return "better" if (lo > 0) == (mode == "max") else "worse"
    if margin > 0 and -margin <= lo and hi <= margin:
        return "equivalent"
    return "undecided"


def negligible(ci: list[float] | None, margin: float) -> bool:
    """A better/worse whose whole interval lies inside +-margin."""
    return bool(ci) and margin > 0 and -margin <= ci[0] and ci[1] <= margin


def seeds_to_decide(delta: float, seed_sd: float | None, seed_df_per_seed: int,
                    image_half: float, margin: float, confidence: float) -> int | None:
    """About how many seeds per group would decide an undecided difference, if `delta` were
    its true value: the smallest R whose half-width drops below |delta| (better/worse) or
    below margin - |delta| (equivalent). seed_sd: the sd of one replicate's difference;
    seed_df_per_seed: degrees of freedom each added seed brings (G - 1 pooled, 1 own).
    None: no seed count decides it (the image spread alone is too wide, or no seed spread
    is known); MAX_SEEDS_ESTIMATE + 1 stands for "more than that"."""
    if seed_sd is None:
        return None
    target = max(abs(delta), margin - abs(delta))
    if target <= image_half:
        return None
    for r in range(2, MAX_SEEDS_ESTIMATE + 1):
        t = quantile(confidence, max(seed_df_per_seed * (r - 1), 1))
        if math.hypot(t * seed_sd / math.sqrt(r), image_half) < target:
            return r
    return MAX_SEEDS_ESTIMATE + 1


def phrase(d: dict, unit: str) -> str:
    """The verdict of a comparison dict in words, for sentences."""
    word, margin = d["verdict"], d.get("margin", 0.0)
    if word in ("better", "worse"):
        return f"a real difference (negligible: within +-{margin:g}{unit})" \
            if d.get("negligible") else "a real difference"
    if word == "equivalent":
        return f"equivalent within +-{margin:g}{unit}"
    need = d.get("seeds_to_decide")
    if need is None:
        return "undecided (more seeds will not narrow it: the image spread dominates)" \
            if d.get("spread") not in (None, "images only") else "undecided"
    more = f"more than {MAX_SEEDS_ESTIMATE}" if need > MAX_SEEDS_ESTIMATE else f"about {need}"
    return f"undecided ({more} seeds per group would decide it)"
