"""The seed-to-seed spread of a sweep, pooled over all its groups (bench/STATISTICS.md
"Pooled seed spread").

Each finished trial contributes one number per metric: its mean over the validation images
every group has (a replicate mean). With groups g and replicate indices r (the same seed
offset in every group), the additive two-way model

    y[g, r] = mu + group[g] + seed[r] + e[g, r],   e ~ N(0, sigma^2)

is fitted by ordinary least squares (statsmodels OLS on dummy columns; unbalanced cells from
failed trials are fine). sigma^2 is the seed noise of one replicate mean after the seed's
shared luck is removed, estimated with every group's degrees of freedom at once:
(G - 1)(R - 1) in a full G x R table, where one comparison alone has R - 1. The paired
difference of two groups over R shared replicates then has seed variance 2 sigma^2 / R.

Whether the groups share sigma: each group is left out in turn and the model refitted; the
rise in the residual sum of squares when its R_g rows come back, over R_g - 1 degrees of
freedom, against the left-out fit's residual mean square, is F(R_g - 1, df) distributed
when the group's spread is in line (the recursive-residual result for adding observations to
a linear model). A group with p < OUT_OF_LINE_P is out of line: it is left out of the pool,
and its comparisons use their own spread.
"""
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy import stats

# A strict level: a flag must mean a spread truly out of line (the coupling study's
# `allinone`, whose seeds sit 2.5 dB apart beside 0.01-0.03 dB), not one of G tests at 5%.
OUT_OF_LINE_P = 0.001


@dataclass
class Pool:
    """sigma: the pooled seed sd of one replicate mean (None: no degree of freedom), df: its
    degrees of freedom, groups: the pooled groups, out_of_line: {group: p-value}."""
    sigma: float | None
    df: int
    groups: list = field(default_factory=list)
    out_of_line: dict = field(default_factory=dict)

    def to_dict(self, labels: dict) -> dict:
        return {"sd": self.sigma, "df": self.df,
                "groups": [labels.get(g, g) for g in self.groups],
                "out_of_line": {labels.get(g, g): p for g, p in self.out_of_line.items()}}


def _dummies(values) -> np.ndarray:
    """Treatment-coded indicator columns of a factor (the first level is the baseline)."""
    _, codes = np.unique(np.asarray(values).astype(str), return_inverse=True)
    return (codes[:, None] == np.arange(1, codes.max() + 1)[None, :]).astype(float)


def _fit(frame: pd.DataFrame) -> tuple[float, int] | None:
    """(residual sum of squares, residual df) of y ~ group + replicate, or None when the
    table leaves no residual degree of freedom."""
    import statsmodels.api as sm
    design = np.column_stack([np.ones(len(frame)), _dummies(frame["group"]),
                              _dummies(frame["replicate"])])
    fit = sm.OLS(frame["y"].to_numpy(float), design).fit()
    df = int(round(fit.df_resid))  # n - rank: statsmodels counts a rank-deficient design
    if df < 1:
        return None
    return float(fit.ssr), df


def pool(replicate_means: dict) -> Pool:
    """The pooled seed spread of {group: {replicate: mean}} (groups with 2+ replicates)."""
    rows = [(g, r, y) for g, reps in replicate_means.items() if len(reps) >= 2
            for r, y in reps.items()]
    frame = pd.DataFrame(rows, columns=["group", "replicate", "y"])
    groups = list(dict.fromkeys(frame["group"]))
    if len(groups) < 2:
        return Pool(None, 0)
    out_of_line = _out_of_line(frame, groups) if len(groups) >= 3 else {}
    kept = frame[~frame["group"].isin(out_of_line)]
    fit = _fit(kept)
    if fit is None:
        return Pool(None, 0, out_of_line=out_of_line)
    ssr, df = fit
    return Pool(float(np.sqrt(ssr / df)), df, [g for g in groups if g not in out_of_line],
                out_of_line)


def _out_of_line(frame: pd.DataFrame, groups: list) -> dict:
    full = _fit(frame)
    if full is None:
        return {}
    flagged = {}
    for g in groups:
        rest = _fit(frame[frame["group"] != g])
        rows = int((frame["group"] == g).sum())
        if rest is None or rows < 2:
            continue
        ssr_rest, df_rest = rest
        rise = max(full[0] - ssr_rest, 0.0)
        if ssr_rest == 0:
            p = 0.0 if rise > 0 else 1.0
        else:
            f = (rise / (rows - 1)) / (ssr_rest / df_rest)
            p = float(stats.f.sf(f, rows - 1, df_rest))
        if p < OUT_OF_LINE_P:
            flagged[g] = p
    return flagged
