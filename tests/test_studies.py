"""A study declared in its own module (irn/study.py) reaches every consumer: the config's
keys and checks, the objective's terms, the loss-term registry and the metric registry."""
import dataclasses

import pytest

from irn.config import ConfigError, default, from_dict
from irn.loss_terms import LOSS_TERMS
from irn.metric_registry import METRICS, evaluation_metrics
from irn.objective import Objective
from irn.studies import STUDIES


@pytest.mark.parametrize("study", STUDIES, ids=lambda s: s.name)
def test_a_study_reaches_config_objective_and_registries(study):
    for f in dataclasses.fields(study.fields):
        assert default(f.name) == f.default  # Config inherits the study's keys
    for key in study.weights:
        with pytest.raises(ConfigError, match=f"{key} must be a finite number >= 0"):
            from_dict({key: -1.0})
    for key in study.losses:
        with pytest.raises(ConfigError, match=key):
            from_dict({key: "no_such_loss"})
    cfg = from_dict({})
    assert getattr(Objective(cfg), study.name) is None  # off by default: no extra work
    if study.loss_term:
        assert study.loss_term in LOSS_TERMS
    names = [m.name for m in study.metrics()]
    assert names and all(n in METRICS for n in names)
    assert not set(names) & {m.name for m in evaluation_metrics(cfg)}  # off by default


def test_the_temporal_study_computes_its_term_through_the_objective():
    import torch
    from irn.model import build_model
    cfg = from_dict({"scale": 2, "blocks": 1, "patch_size": 32, "lambda_temporal": 0.5})
    model = build_model(**cfg.arch())
    hr = torch.rand(2, 3, 32, 32)
    lr_ref = torch.nn.functional.avg_pool2d(hr, 2)
    _, terms = Objective(cfg)(model, hr, lr_ref, motion_generator=torch.Generator().manual_seed(0))
    assert list(terms) == ["guide", "distr", "recon", "temporal"] and terms["temporal"] > 0
    with pytest.raises(ConfigError, match="lambda_temporal/temporal_eval"):
        from_dict({"scale": 4, "patch_size": 8, "lambda_temporal": 0.5})
