"""The report's sections as a registry. Every module of the dashboards package may declare
`SECTIONS = [SectionSpec(...), ...]`; `build_report` renders every registered spec in page
order. A study's section is therefore one new file with its SECTIONS (no list to edit): a
spec with `study=True` is left out of a sweep that is not its study (its render returns a
Section with a `note`, saying why)."""
import importlib
import pkgutil
from dataclasses import dataclass
from typing import Callable

import pandas as pd

from dashboards.summary import Summary


@dataclass(frozen=True)
class Inputs:
    """What a section may read: the sweep's runs (dashboards.data.Sweep), the sweep's
    summary.json typed (dashboards.summary.Summary; empty for runs outside a sweep), every
    finished trial's per-image rows, the gallery's crops and the training histories."""
    sweep: object
    summary: Summary
    per_image: pd.DataFrame
    crops: dict
    hist: pd.DataFrame


@dataclass(frozen=True)
class SectionSpec:
    key: str
    order: int  # its place on the page: lower first (the lead is 10; gaps leave room)
    render: Callable  # Inputs -> Section or list[Section]
    study: bool = False  # a study's section: shown only where it applies


def registered() -> list[SectionSpec]:
    """Every module's SECTIONS in the dashboards package, in page order."""
    import dashboards
    specs = []
    for module in pkgutil.iter_modules(dashboards.__path__):
        specs += getattr(importlib.import_module(f"dashboards.{module.name}"), "SECTIONS", [])
    keys = [s.key for s in specs]
    duplicated = sorted({k for k in keys if keys.count(k) > 1})
    if duplicated:
        raise ValueError(f"report sections registered twice: {', '.join(duplicated)}")
    return sorted(specs, key=lambda s: (s.order, s.key))


def render_all(inputs: Inputs) -> list:
    """Every registered section rendered; a study's section that does not apply is left out."""
    out = []
    for spec in registered():
        result = spec.render(inputs)
        for section in result if isinstance(result, list) else [result]:
            if not (spec.study and section.note):
                out.append(section)
    return out
