"""summary.json, typed: what a sweep writes (bench/sweep/log.py `summarize`, stored as the
parent run's artifact schema.SUMMARY and by `bench.sweep --json`) as the report reads it.

Sections take `Summary.of(x)` of whatever they are given (the parsed JSON, a Summary, or
None for runs outside a sweep) and read attributes, so a key renamed on the writing side
fails in tests/test_dashboards.py (which parses a real sweep's summary) instead of silently
drawing nothing. Older stored summaries lack some parts: those read as empty."""
from __future__ import annotations

from dataclasses import dataclass, field


def _given(cls, d: dict | None) -> dict:
    """The fields of dataclass `cls` that `d` has (not None); the rest keep their defaults
    (a summary from before a field was written)."""
    d = d or {}
    return {k: d[k] for k in cls.__dataclass_fields__ if d.get(k) is not None}


def _pair(ci) -> tuple[float, float] | None:
    return (float(ci[0]), float(ci[1])) if ci else None


@dataclass(frozen=True)
class Stat:
    """A group's own mean of one metric over seeds x images, with its 95% CI."""
    mean: float
    ci95: tuple[float, float] | None = None

    @property
    def bounds(self) -> tuple[float, float]:
        return self.ci95 or (self.mean, self.mean)


@dataclass(frozen=True)
class Versus:
    """A group's paired difference from the reference or from the best (irn/stats/compare.py),
    with the family's interval and its verdict; `is_self` for the reference (or best) itself."""
    delta: float | None
    ci95: tuple[float, float] | None = None
    verdict: str = "undecided"
    is_self: bool = False
    negligible: bool = False

    @classmethod
    def of(cls, d: dict | None) -> Versus | None:
        if not d:
            return None
        return cls(delta=d.get("delta"), ci95=_pair(d.get("ci95")),
                   verdict=d.get("verdict") or "undecided", is_self=bool(d.get("self")),
                   negligible=bool(d.get("negligible")))

    @property
    def bounds(self) -> tuple[float, float]:
        return self.ci95 or (self.delta, self.delta)


@dataclass(frozen=True)
class Group:
    """The trials that differ only by seed (bench/sweep/replicates.py)."""
    label: str
    config: dict = field(default_factory=dict)
    seeds: tuple = ()
    n_images: int | None = None
    stats: dict[str, Stat] = field(default_factory=dict)  # every metric with a mean
    vs_reference: Versus | None = None
    vs_best: Versus | None = None

    @classmethod
    def of(cls, d: dict) -> Group:
        stats = {k: Stat(float(v["mean"]), _pair(v.get("ci95"))) for k, v in d.items()
                 if isinstance(v, dict) and "mean" in v}
        return cls(label=d["label"], config=dict(d.get("config") or {}),
                   seeds=tuple(d.get("seeds") or ()), n_images=d.get("n_images"), stats=stats,
                   vs_reference=Versus.of(d.get("vs_reference")),
                   vs_best=Versus.of(d.get("vs_best")))

    @property
    def verdict(self) -> str:
        """"best", or the group's verdict against the best group."""
        vs = self.vs_best
        return "undecided" if vs is None else ("best" if vs.is_self else vs.verdict)


@dataclass(frozen=True)
class Trial:
    label: str
    seed: int | None = None
    status: str | None = None
    time_wall_s: float | None = None
    metrics: dict = field(default_factory=dict)  # the last report's
    curve: tuple = ()  # one dict per evaluation: step and every metric

    @classmethod
    def of(cls, d: dict) -> Trial:
        return cls(label=d["label"], seed=d.get("seed"), status=d.get("status"),
                   time_wall_s=d.get("time_wall_s"), metrics=dict(d.get("metrics") or {}),
                   curve=tuple(d.get("curve") or ()))

    @property
    def finished(self) -> bool:
        return self.status == "FINISHED"


@dataclass(frozen=True)
class Comparison:
    """How the group table compared: the metric, reference, best, margin and the family's
    confidence and correction (irn/stats/verdicts.py); `sentence` is its one-line answer."""
    metric: str = "psnr_y"
    reference: str | None = None
    best: str | None = None
    margin: float | None = None
    sentence: str = ""
    confidence: float | None = None
    correction: str | None = None
    family: int | None = None

    @classmethod
    def of(cls, d: dict | None) -> Comparison:
        return cls(**_given(cls, d))


@dataclass(frozen=True)
class AlsoBlock:
    """TUNE compare: the groups' paired differences from the reference on one more metric."""
    metric: str
    reference: str | None
    groups: tuple[Group, ...]


@dataclass(frozen=True)
class Overhead:
    """Where the sweep's slot time went (bench/sweep/command.py `overhead`)."""
    wall_s: float | None = None
    slots: int | None = None
    train_s: float = 0.0
    eval_s: float = 0.0
    data_s: float | None = None
    compute_s: float | None = None
    time_to_first_metric_s: float | None = None
    startup_s: dict | None = None  # the first metric's phases (schema.STARTUP_PHASES)

    @classmethod
    def of(cls, d: dict | None) -> Overhead:
        return cls(**_given(cls, d))


@dataclass(frozen=True)
class Summary:
    groups: tuple[Group, ...] = ()
    trials: tuple[Trial, ...] = ()
    comparison: Comparison = field(default_factory=Comparison)
    also: tuple[AlsoBlock, ...] = ()
    overhead: Overhead = field(default_factory=Overhead)
    learning: dict = field(default_factory=dict)  # bench/sweep/curves.py; dashboards/learning.py
    fidelity: dict | None = None  # TUNE fidelity: a short budget against a long one
    group_table: dict | None = None  # the table the terminal printed: header and rows
    levels: tuple = ()  # a levels sweep's level trials (bench/sweep/levels.py level_rows)

    @classmethod
    def of(cls, s: Summary | dict | None) -> Summary:
        if isinstance(s, Summary):
            return s
        s = s or {}
        also = s.get("also")
        return cls(groups=tuple(Group.of(g) for g in s.get("groups") or ()),
                   trials=tuple(Trial.of(t) for t in s.get("trials") or ()),
                   comparison=Comparison.of(s.get("comparison")),
                   also=tuple(AlsoBlock(b["metric"], b.get("reference"),
                                        tuple(Group.of(g) for g in b["groups"]))
                              for b in (also if isinstance(also, list) else ())),
                   overhead=Overhead.of(s.get("overhead")), learning=s.get("learning") or {},
                   fidelity=s.get("fidelity") or None, group_table=s.get("group_table") or None,
                   levels=tuple(s.get("levels") or ()))

    def with_stat(self, metric: str) -> list[Group]:
        """The groups that have `metric`'s statistics (gain_db: the rescaling groups)."""
        return [g for g in self.groups if metric in g.stats]
