"""Issue 32, property-based (Hypothesis): whatever config value or search-space domain a user
writes, bench.sweep's planning (everything it does before Ray starts) either accepts it,
with a Config that builds for every grid point, or refuses it with one clean line of the
kinds the command turns into exit 2. Never a traceback, never a refusal after Ray started."""
import os
import tempfile

from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from bench.sweep.space import SpaceError
from bench.sweep.command import TrackingError, UsageError, parse_args, plan_sweep
from irn.config import ConfigError, from_dict, keys
from irn.data import DataError

REFUSALS = (SpaceError, ConfigError, UsageError, TrackingError, DataError)  # exit 2 in run_sweep
ROOT = tempfile.mkdtemp(prefix="irn-property-")

# what a typo or a hostile hand puts after KEY=: numbers of every kind, words, nothing
VALUES = st.one_of(
    st.integers(min_value=-2 ** 70, max_value=2 ** 70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from(["", "none", "None", "true", "auto", "nan", "-inf", "1e400", "1.5", "0",
                     "-1", "l1", "l1+0.2*ms_ssim", "x", "cuda", "embedded", "30-90", "101",
                     "2**64", "../../etc"]),
    st.text(max_size=12),
).map(str)

# domains of a SPACE entry, as Python source (the file is loaded like any study's)
SCALARS = st.one_of(st.integers(-5, 300), st.floats(-10, 10, allow_nan=False),
                    st.sampled_from(["'l1'", "'charbonnier'", "None", "True", "'x'", "float('nan')"]))
DOMAINS = st.one_of(
    SCALARS.map(str),
    st.lists(SCALARS.map(str), min_size=1, max_size=3).map(
        lambda v: f"tune.grid_search([{', '.join(v)}])"),
    st.lists(SCALARS.map(str), min_size=1, max_size=3).map(
        lambda v: f"tune.choice([{', '.join(v)}])"),
    st.tuples(st.floats(-5, 5), st.floats(-5, 5)).map(lambda ab: f"tune.uniform({ab[0]}, {ab[1]})"),
    st.tuples(st.integers(-5, 50), st.integers(-5, 50)).map(
        lambda ab: f"tune.randint({ab[0]}, {ab[1]})"),
    st.tuples(st.floats(1e-6, 10), st.floats(1e-6, 10)).map(
        lambda ab: f"tune.loguniform({ab[0]}, {ab[1]})"),
)
# keys a study searches most, beside any key at all
KEYS = st.one_of(st.sampled_from(keys()),
                 st.sampled_from(["blocks", "gc", "scale", "steps", "lambda_guide", "seed",
                                  "loss_recon", "patch_size", "val_tile", "coupling"]))


def _args(space: str, sets=()):
    argv = [space, "--storage", os.path.join(ROOT, "ray"),
            "--tracking-uri", f"sqlite:///{os.path.join(ROOT, 'mlflow.db')}"]
    for pair in sets:
        argv += ["--set", pair]
    return parse_args(argv)


def _accepts_or_refuses_in_one_line(args) -> None:
    try:
        plan = plan_sweep(args)
    except REFUSALS as exc:
        event(f"refused: {type(exc).__name__}")
        message = str(exc)
        assert message.strip() and "\n" not in message.strip() and "Traceback" not in message
        return
    # accepted: the config the trials start from builds (bench.sweep.space.validate has built one
    # for every value of every searched key, and every discrete combination)
    from_dict({**plan.base, **plan.space_obj.fixed()})
    assert 1 <= plan.total_trials
    event("accepted")


_SETTINGS = settings(max_examples=60, deadline=None, derandomize=True,
                     suppress_health_check=[HealthCheck.too_slow])


@_SETTINGS
@given(key=KEYS, value=VALUES)
def test_any_set_value_is_accepted_or_refused_in_one_line(key, value):
    _accepts_or_refuses_in_one_line(_args("search_spaces/smoke.py", [f"{key}={value}"]))


@_SETTINGS
@given(entries=st.dictionaries(KEYS, DOMAINS, min_size=1, max_size=3))
def test_any_space_domain_is_accepted_or_refused_in_one_line(entries):
    body = ",\n".join(f"    {k!r}: {v}" for k, v in entries.items())
    path = os.path.join(ROOT, "drawn.py")
    with open(path, "w") as f:
        f.write("from ray import tune\n\nSPACE = {\n    'blocks': 1,\n    'gc': 8,\n"
                f"{body},\n}}\nTUNE = {{'metric': 'psnr_y', 'budget': 'smoke'}}\n")
    _accepts_or_refuses_in_one_line(_args(path))


def test_the_strategies_reach_both_outcomes():
    # a property that only ever saw refusals (or only acceptances) would prove little
    good = _args("search_spaces/smoke.py", ["steps=3"])
    bad = _args("search_spaces/smoke.py", ["steps=1.5"])
    assert plan_sweep(good).base["steps"] == 3
    try:
        plan_sweep(bad)
    except ConfigError as exc:
        assert "steps must be an integer" in str(exc)
    else:
        raise AssertionError("steps=1.5 was accepted")


def _refusal(sets) -> str:
    try:
        plan_sweep(_args("search_spaces/smoke.py", sets))
    except REFUSALS as exc:
        return str(exc)
    raise AssertionError(f"{sets} was accepted")


def test_what_the_property_test_found_is_refused():
    # all were accepted, and a sweep started trials that could never run
    assert "blocks must be at most 2,147,483,647" in _refusal(["blocks=10000000000000000"])
    assert "eval_points 40 is more than steps 4" in _refusal(["eval_points=40"])
    assert "needs at least" in _refusal(["blocks=159775345"])  # TiB of activations
    assert "needs at least" in _refusal(["gc=1000000"])  # 14.6 TiB of weights and moments
    assert "needs at least" in _refusal(["patch_size=100936"])
