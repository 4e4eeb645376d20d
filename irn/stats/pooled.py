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

With 2 seeds each group's spread has 1 degree of freedom, and two wild groups mask each
other: while one is in the pool the other looks in line (the guide study: both
lambda_guide=0 groups collapsed, their seeds 9 and 4 dB apart, and the pool's sd of 4 dB gave
+-24.8 dB to two groups whose seeds agree within 0.05 dB). The tiles break the tie: a group's
seed-by-tile interaction (the replicates x tiles table less its row and column means) has
(R - 1)(T - 1) degrees of freedom, 31 with 2 seeds and 32 tiles, and seeds that trained
different networks differ tile by tile, not by one shift. A forward search screens the
groups: the half with the smallest interaction is the core, and each other group, in rising
order, is tested against the groups accepted so far (F test, p < OUT_OF_LINE_P and a
variance ratio of at least TILE_RATIO, so that a loss with noisier tiles is not screened
for a 2x). A screened group is out of line when its seed spread also exceeds the pool of
the unscreened groups at CONFIRM_P (one test per screened group, not G).
"""
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy import stats

# A strict level: a flag must mean a spread truly out of line (the coupling study's
# `allinone`, whose seeds sit 2.5 dB apart beside 0.01-0.03 dB), not one of G tests at 5%.
OUT_OF_LINE_P = 0.001
# Tile screen: a seed-by-tile variance at least 4x (sd 2x) the core's. In the stored studies
# (results/) healthy groups sit within 2x in variance of each other, the collapsed or
# unstable ones 8-170x above (bench/STATISTICS.md "Pooled seed spread").
TILE_RATIO = 4.0
CONFIRM_P = 0.05


@dataclass
class Pool:
    """sigma: the pooled seed sd of one replicate mean (None: no degree of freedom), df: its
    degrees of freedom, groups: the pooled groups, out_of_line: {group: p-value}."""
    sigma: float | None
    df: int
    groups: list = field(default_factory=list)
    out_of_line: dict = field(default_factory=dict)
    by_tiles: dict = field(default_factory=dict)  # {group: tile variance ratio} flagged so

    def to_dict(self, labels: dict) -> dict:
        return {"sd": self.sigma, "df": self.df,
                "groups": [labels.get(g, g) for g in self.groups],
                "out_of_line": {labels.get(g, g): p for g, p in self.out_of_line.items()},
                "by_tiles": {labels.get(g, g): r for g, r in self.by_tiles.items()}}


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


def pool(replicate_means: dict, tiles: dict | None = None) -> Pool:
    """The pooled seed spread of {group: {replicate: mean}} (groups with 2+ replicates).
    `tiles`: {group: its replicates x tiles matrix} (irn.stats.compare.cell_matrix), the
    evidence for the tile screen."""
    rows = [(g, r, y) for g, reps in replicate_means.items() if len(reps) >= 2
            for r, y in reps.items()]
    frame = pd.DataFrame(rows, columns=["group", "replicate", "y"])
    groups = list(dict.fromkeys(frame["group"]))
    if len(groups) < 2:
        return Pool(None, 0)
    out_of_line = _out_of_line(frame, groups) if len(groups) >= 3 else {}
    by_tiles = {}
    if tiles and len(groups) >= 3:
        screened = _tile_screen({g: tiles[g] for g in groups if g in tiles})
        for g, (ratio, p) in _confirmed(frame, screened, out_of_line).items():
            out_of_line[g], by_tiles[g] = p, ratio
    kept = frame[~frame["group"].isin(out_of_line)]
    fit = _fit(kept)
    if fit is None:
        return Pool(None, 0, out_of_line=out_of_line, by_tiles=by_tiles)
    ssr, df = fit
    return Pool(float(np.sqrt(ssr / df)), df, [g for g in groups if g not in out_of_line],
                out_of_line, by_tiles)


def _rise_p(frame: pd.DataFrame, g, base: pd.DataFrame) -> float | None:
    """p of group g's rows added to the fit of `base` (which lacks them), or None."""
    rest, full = _fit(base), _fit(pd.concat([base, frame[frame["group"] == g]]))
    rows = int((frame["group"] == g).sum())
    if rest is None or full is None or rows < 2:
        return None
    ssr_rest, df_rest = rest
    rise = max(full[0] - ssr_rest, 0.0)
    if ssr_rest == 0:
        return 0.0 if rise > 0 else 1.0
    return float(stats.f.sf((rise / (rows - 1)) / (ssr_rest / df_rest), rows - 1, df_rest))


def _out_of_line(frame: pd.DataFrame, groups: list) -> dict:
    flagged = {}
    for g in groups:
        p = _rise_p(frame, g, frame[frame["group"] != g])
        if p is not None and p < OUT_OF_LINE_P:
            flagged[g] = p
    return flagged


def _interaction(m: np.ndarray) -> tuple[float, int] | None:
    """(sum of squares, df) of the seed-by-tile interaction of a replicates x tiles matrix."""
    if m.ndim != 2 or min(m.shape) < 2:
        return None
    resid = m - m.mean(axis=0) - m.mean(axis=1, keepdims=True) + m.mean()
    return float((resid ** 2).sum()), (m.shape[0] - 1) * (m.shape[1] - 1)


def _tile_screen(tiles: dict) -> dict:
    """{group: (variance ratio, p)} of the groups whose seed-by-tile interaction is out of
    line with the groups below it (forward search from the lower half)."""
    inter = {g: v for g, m in tiles.items() if (v := _interaction(m)) is not None}
    order = sorted(inter, key=lambda g: inter[g][0] / inter[g][1])
    core = order[:max((len(order) + 1) // 2, 1)]
    ss, df = sum(inter[g][0] for g in core), sum(inter[g][1] for g in core)
    screened = {}
    for g in order[len(core):]:
        ms = inter[g][0] / inter[g][1]
        if ms == 0:  # no interaction at all: nothing to screen (nor is anything below it)
            ratio, p = 0.0, 1.0
        else:
            ratio = ms / (ss / df) if ss > 0 else np.inf
            p = float(stats.f.sf(ratio, inter[g][1], df)) if ss > 0 else 0.0
        if p < OUT_OF_LINE_P and ratio >= TILE_RATIO:
            screened[g] = (float(ratio), p)
        else:
            ss, df = ss + inter[g][0], df + inter[g][1]
    return screened


def _confirmed(frame: pd.DataFrame, screened: dict, flagged: dict) -> dict:
    """{group: (tile ratio, p)} of the screened groups whose seed spread also exceeds the
    pool of the unscreened, unflagged groups at CONFIRM_P."""
    base = frame[~frame["group"].isin(set(screened) | set(flagged))]
    out = {}
    for g, (ratio, _) in screened.items():
        if g in flagged:
            continue
        p = _rise_p(frame, g, base)
        if p is not None and p < CONFIRM_P:
            out[g] = (ratio, p)
    return out
