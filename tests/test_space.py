"""Search-space files: every shipped space loads and validates; each kind of mistake is one
clear line and exit 2 before Ray or MLflow start."""
import glob
import os

import pytest

from bench.sweep.space import SpaceError, check_searcher, load_space, param_space, validate
from bench.sweep.command import main
from irn.config import BUDGETS

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SPACES = sorted(p for p in glob.glob(os.path.join(ROOT, "search_spaces", "*.py"))
                if not p.endswith("__init__.py"))
NAMES = {os.path.basename(p)[:-3] for p in SPACES}


def write(tmp_path, text, name="space.py"):
    path = tmp_path / name
    path.write_text(text)
    return str(path)


def test_the_issue_spaces_ship():
    assert {"losses", "coupling", "multiscale", "jpeg", "ablations", "training", "perceptual",
            "smoke"} <= NAMES


@pytest.mark.parametrize("path", SPACES, ids=lambda p: os.path.basename(p))
def test_shipped_space_validates(path):
    space = load_space(path)
    base = dict(BUDGETS[space.tune["budget"]])
    if "perceptual" in path:
        base["vgg_weights"] = "/weights/vgg16.pth"  # only named; loaded when a trial builds
    validate(space, base)
    check_searcher(space, space.tune["searcher"])
    assert param_space(space)


def test_searched_and_fixed_keys(tmp_path):
    space = load_space(write(tmp_path, "from ray import tune\nSPACE = {'blocks': 1, "
                             "'lr': tune.loguniform(1e-4, 1e-3), "
                             "'loss_recon': tune.grid_search(['l1', 'l2'])}\n"))
    assert space.searched == ["lr", "loss_recon"]
    assert space.fixed() == {"blocks": 1}
    assert space.tune["searcher"] == "grid" and space.tune["metric"] == "psnr_y"


@pytest.mark.parametrize("text, expected", [
    ("SPACE = {'blocks': 1\n", ":1: syntax error"),
    ("x = 1\n\nSPACE = {'blocks': undefined_name}\n", ":3: NameError"),
    ("SPACE = {'blcks': 1}\n", "unknown config key 'blcks' in SPACE; valid keys: scale,"),
    ("SPACE = {'scale': 3}\n", "bad value (scale=3): scale must be one of 2, 4, 8"),
    ("from ray import tune\nSPACE = {'loss_recon': tune.choice(['l1', 'nope'])}\n",
     "bad value (loss_recon='nope')"),
    ("from ray import tune\nSPACE = {'coupling': tune.grid_search(['enhanced', 'affine']),"
     " 'multiscale_depth': tune.grid_search([0, 1])}\n",
     "bad value (multiscale_depth=1): multiscale_depth must be 0..0"),
    ("from ray import tune\nSPACE = {'lr': tune.uniform(-1, 1)}\n", "bad value (lr=-1)"),
    ("from ray import tune\nSPACE = {'lr': tune.grid_search([1e-4])}\n"
     "TUNE = {'searcher': 'optuna'}\n", "searcher 'optuna' cannot take tune.grid_search"),
    ("SPACE = {'lr': [1e-4, 2e-4]}\n", "wrap lists in tune.grid_search or tune.choice"),
    ("SPACE = {'blocks': 1}\nTUNE = {'metrik': 'psnr_y'}\n", "unknown TUNE key 'metrik'"),
    ("SPACE = {'blocks': 1}\nTUNE = {'compare': ['psnr_yy']}\n",
     "TUNE compare: 'psnr_yy' is not a per-image evaluation metric"),
    ("SPACE = {'blocks': 1}\nTUNE = {'compare': ['loss/total']}\n",
     "TUNE compare: 'loss/total' is not a per-image evaluation metric"),
    ("SPACE = {'blocks': 1}\nTUNE = {'compare': 3}\n", "TUNE compare must be a list"),
    ("SPACE = {'blocks': 1}\nTUNE = {'margins': {'psnr_y': -0.1}}\n",
     "TUNE margins: the margin of psnr_y must be a finite number >= 0 (in dB)"),
    ("SPACE = {'blocks': 1}\nTUNE = {'margins': {'loss/total': 0.1}}\n",
     "TUNE margins: 'loss/total' is not a per-image evaluation metric"),
    ("SPACE = {'blocks': 1}\nTUNE = {'margins': 0.1}\n", "TUNE margins must be a dict"),
    ("SPACE = {'blocks': 1}\nTUNE = {'fidelity': 'steps'}\n",
     "TUNE fidelity must name a grid_search key with 2 or more values"),
    ("SPACE = {'blocks': 1}\nTUNE = {'searcher': 'bayes'}\n", "searcher must be one of"),
    ("SPACE = {}\n", "SPACE must be a non-empty dict"),
    ("TUNE = {}\n", "declares no SPACE"),
    ("SPACE = {'blocks': 1}\nTUNE = {'seeds': 0}\n", "TUNE seeds must be an integer >= 1"),
    ("SPACE = {'blocks': 1}\nTUNE = {'mode': 'min'}\n", "contradicts psnr_y, where max is better"),
    ("from ray import tune\nSPACE = {'blocks': tune.grid_search([1, 2])}\n"
     "TUNE = {'reference': {'blocks': 3}}\n", "TUNE reference blocks=3 is not in its grid"),
    ("SPACE = {'blocks': 1}\nTUNE = {'reference': {'gc': 8}}\n",
     "TUNE reference key 'gc' is not a grid_search key"),
])
def test_bad_space_is_one_line(tmp_path, text, expected):
    path = write(tmp_path, text)
    with pytest.raises(SpaceError) as err:
        space = load_space(path)
        validate(space, dict(BUDGETS["smoke"]))
        check_searcher(space, space.tune["searcher"])
    assert expected in str(err.value) and "\n" not in str(err.value)


def _cli(capsys, argv):
    code = main(argv)
    err = capsys.readouterr().err.strip()
    return code, err


def test_cli_missing_file_exit_2(capsys, tmp_path):
    code, err = _cli(capsys, [str(tmp_path / "nope.py"), "--storage", str(tmp_path)])
    assert code == 2 and "space file not found" in err and len(err.splitlines()) == 1


def test_cli_unknown_key_exit_2(capsys, tmp_path):
    path = write(tmp_path, "SPACE = {'blcks': 1}\n")
    code, err = _cli(capsys, [path, "--storage", str(tmp_path)])
    assert code == 2 and "valid keys" in err and len(err.splitlines()) == 1


def test_cli_bad_option_exit_2(capsys, tmp_path):
    with pytest.raises(SystemExit) as exc:
        main([os.path.join(ROOT, "search_spaces", "smoke.py"), "--budget", "huge"])
    assert exc.value.code == 2
    assert len(capsys.readouterr().err.strip().splitlines()) == 1


def test_cli_set_conflict_and_metric(capsys, tmp_path):
    smoke = os.path.join(ROOT, "search_spaces", "smoke.py")
    code, err = _cli(capsys, [smoke, "--set", "loss_recon=l2", "--storage", str(tmp_path)])
    assert code == 2 and "conflicts with the space" in err
    path = write(tmp_path, "SPACE = {'blocks': 1}\nTUNE = {'metric': 'psnr'}\n")
    code, err = _cli(capsys, [path, "--storage", str(tmp_path)])
    assert code == 2 and "unknown TUNE metric 'psnr'" in err
    path = write(tmp_path, "SPACE = {'blocks': 1}\nTUNE = {'metric': 'jpeg40_psnr_y', "
                 "'budget': 'smoke'}\n")
    code, err = _cli(capsys, [path, "--storage", str(tmp_path)])
    assert code == 2 and "needs QF 40 in jpeg_eval" in err


def test_cli_perceptual_needs_weights(capsys, tmp_path, monkeypatch):
    monkeypatch.delenv("IRN_VGG16_WEIGHTS", raising=False)
    code, err = _cli(capsys, [os.path.join(ROOT, "search_spaces", "perceptual.py"),
                              "--storage", str(tmp_path)])
    assert code == 2 and "VGG16 weights" in err


def test_cli_resume_without_sweep(capsys, tmp_path):
    smoke = os.path.join(ROOT, "search_spaces", "smoke.py")
    code, err = _cli(capsys, [smoke, "--resume", "--storage", str(tmp_path)])
    assert code == 2 and "no sweep of smoke" in err


def test_unreachable_ray_address_fails_fast():
    from bench.common.cli import UsageError
    from bench.sweep.command import _check_reachable
    with pytest.raises(UsageError, match="cannot reach Ray at 127.0.0.1:1"):
        _check_reachable("127.0.0.1:1")


def test_cli_missing_data_names_data_before_ray_starts(capsys, tmp_path, monkeypatch):
    import ray
    smoke = os.path.join(ROOT, "search_spaces", "smoke.py")
    was_up = ray.is_initialized()
    code, err = _cli(capsys, [smoke, "--data", str(tmp_path / "missing"), "--storage",
                              str(tmp_path / "runs")])
    assert code == 2 and len(err.splitlines()) == 1
    assert err.startswith("error: data: ") and "missing is not a folder" in err
    assert "blocks" not in err  # it blamed blocks=1 before
    assert ray.is_initialized() == was_up  # refused before Ray started
    assert not list((tmp_path / "runs").rglob("smoke-*"))  # no results folder left behind


def test_two_sweeps_in_one_second_get_their_own_folders(tmp_path):
    from bench.sweep.command import reserve_sweep_dir
    a, b = reserve_sweep_dir(str(tmp_path), "losses"), reserve_sweep_dir(str(tmp_path), "losses")
    assert a != b and os.path.isdir(a) and os.path.isdir(b)


def test_set_overrides_a_value_the_space_fixes(tmp_path):
    from bench.sweep.command import parse_args, plan_sweep
    path = write(tmp_path, "SPACE = {'blocks': 1, 'jpeg_eval': ''}\nTUNE = {'budget': 'smoke'}\n")
    plan = plan_sweep(parse_args([path, "--set", "jpeg_eval=50", "--storage",
                                  str(tmp_path / "r")]))
    assert plan.base["jpeg_eval"] == "50" and "jpeg_eval" not in plan.space_obj.space
    assert plan.overridden == ["jpeg_eval"] and plan.space_obj.space == {"blocks": 1}


@pytest.mark.parametrize("sets, expected", [
    (["coupling=foo"], "--set coupling=foo: unknown coupling 'foo'"),
    (["multiscale_depth=3"], "--set multiscale_depth=3: multiscale_depth must be 0..0 at scale 2"),
])
def test_cli_bad_set_value_is_blamed_on_the_set(capsys, tmp_path, sets, expected):
    """A --set value that fails on its own names the --set, not a value of the space file
    (which once read `bad value (loss_recon='l1'): unknown coupling 'foo'`)."""
    path = write(tmp_path, "from ray import tune\nSPACE = {'loss_recon': "
                           "tune.grid_search(['l1', 'l2'])}\n")
    argv = [path, "--storage", str(tmp_path), "--budget", "smoke"]
    code, err = _cli(capsys, argv + [a for s in sets for a in ("--set", s)])
    assert code == 2 and expected in err and len(err.splitlines()) == 1, err
    assert "bad value" not in err
    assert not list(tmp_path.glob("*/*")), "nothing may be written before the refusal"


def test_set_that_fails_only_with_the_space_is_the_space_combination(capsys, tmp_path):
    """--set scale=2 on a space that searches multiscale depth 1: the combination fails, and
    the message names the space's value that does not fit."""
    path = write(tmp_path, "from ray import tune\nSPACE = {'multiscale_depth': "
                           "tune.grid_search([0, 1])}\n")
    code, err = _cli(capsys, [path, "--storage", str(tmp_path), "--budget", "smoke",
                              "--set", "scale=2"])
    assert code == 2 and "bad value (multiscale_depth=1)" in err and len(err.splitlines()) == 1


@pytest.mark.parametrize("value, expected", [
    ("nope", "--compare: 'nope' is not a per-image evaluation metric"),
    ("jpeg30_psnr_y", "compare metric jpeg30_psnr_y needs QF 30 in jpeg_eval"),
])
def test_cli_bad_compare_metric_exit_2(capsys, tmp_path, value, expected):
    _check_cli_refusal(capsys, tmp_path, ["--compare", value], expected)


@pytest.mark.parametrize("value, expected", [
    ("psnr_y", "--margin psnr_y: give METRIC=VALUE"),
    ("psnr_y=abc", "--margin psnr_y=abc: give METRIC=VALUE"),
    ("psnr_y=nan", "the margin of psnr_y must be a finite number >= 0"),
    ("psnr_y=-1", "the margin of psnr_y must be a finite number >= 0"),
    ("nope=0.1", "--margin: 'nope' is not a per-image evaluation metric"),
])
def test_cli_bad_margin_exit_2(capsys, tmp_path, value, expected):
    _check_cli_refusal(capsys, tmp_path, ["--margin", value], expected)


def _check_cli_refusal(capsys, tmp_path, extra, expected):
    path = write(tmp_path, "SPACE = {'blocks': 1}\n")
    code, err = _cli(capsys, [path, "--storage", str(tmp_path), "--budget", "smoke", *extra])
    assert code == 2 and expected in err and len(err.splitlines()) == 1, err
    assert not (tmp_path / "irn-bench").exists()  # refused before anything was written


@pytest.mark.parametrize("extra, expected", [
    (["--experiment", ""], "--experiment '': give a plain name"),
    (["--experiment", "../../escaped"], "--experiment '../../escaped': give a plain name"),
    (["--seeds", "100000"], "--seeds must be an integer 1..1000 or auto"),
    (["--seeds", "two"], "--seeds must be an integer 1..1000 or auto"),
    (["--num-samples", "1000000"], "1000000 trials planned"),
    (["--max-seeds", "1"], "--max-seeds must be 2..1000"),
    (["--set", "device=cuda"], "--device cuda: no CUDA device here"),
    (["--set", "seed=-1"], "seed must be 0..4294966295"),
    (["--set", "steps=1.5"], "steps must be an integer, got '1.5'"),
    (["--tracking-uri", "http://127.0.0.1:1"], "--tracking-uri http://127.0.0.1:1: no MLflow "
                                               "server answers there"),
])
def test_cli_refuses_before_anything_starts(capsys, tmp_path, extra, expected):
    # issue 32: each of these started Ray, a store or trials first (or hung)
    _check_cli_refusal(capsys, tmp_path, extra, expected)
    assert not (tmp_path.parent / "escaped").exists()


def test_cli_storage_that_is_a_file_exit_2(capsys, tmp_path):
    (tmp_path / "file").write_text("x")
    path = write(tmp_path, "SPACE = {'blocks': 1}\n")
    code, err = _cli(capsys, [path, "--storage", str(tmp_path / "file" / "runs"),
                              "--budget", "smoke"])
    assert code == 2 and "is a file, not a folder" in err and len(err.splitlines()) == 1


@pytest.fixture
def public_tmp():
    """A folder `nobody` can reach (pytest's tmp_path is private to root)."""
    import shutil
    import tempfile
    from pathlib import Path
    path = Path(tempfile.mkdtemp(prefix="irn-public-", dir="/tmp"))
    path.chmod(0o755)
    yield path
    for p in path.rglob("*"):
        if p.is_dir():
            p.chmod(0o755)
    shutil.rmtree(path)


def test_unwritable_outputs_are_refused_before_work(public_tmp):
    # issue 32: a read-only --json let a whole sweep run and then lost its summary. Root
    # ignores permission bits, so the sweep runs as `nobody` (setpriv, util-linux).
    import shutil
    import subprocess
    import sys
    if shutil.which("setpriv") is None:
        pytest.skip("setpriv (util-linux) is not installed")
    tmp_path = public_tmp
    locked = tmp_path / "locked"
    locked.mkdir()
    space = write(tmp_path, "SPACE = {'blocks': 1}\n")
    locked.chmod(0o555)
    base = [space, "--budget", "smoke", "--tracking-uri", f"sqlite:///{locked}/m.db"]
    cases = [(["--storage", str(locked / "runs")], "--storage: cannot write in"),
             (["--storage", str(tmp_path / "open"), "--json", str(locked / "out.json")],
              "--json: cannot write in")]
    (tmp_path / "open").mkdir(mode=0o777)
    (tmp_path / "open").chmod(0o777)
    for extra, expected in cases:
        proc = subprocess.run(
            ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", sys.executable,
             "-m", "bench.sweep", *base, *extra], capture_output=True, text=True,
            cwd=os.path.dirname(os.path.dirname(os.path.abspath(__file__))), timeout=120)
        err = proc.stderr.strip()
        assert proc.returncode == 2 and expected in err, err
        assert len(err.splitlines()) == 1 and not list(locked.iterdir())


def test_validation_images_too_small_for_ssim_are_refused_before_ray(capsys, tmp_path):
    # issue 32: 8x8 validation images trained every trial, then failed 3x in SSIM
    import numpy as np
    from PIL import Image
    from irn.data.sources import TRAIN_DIRS, VAL_DIRS
    rng = np.random.default_rng(0)
    for sub, size in ((TRAIN_DIRS[0], 96), (VAL_DIRS[0], 8)):
        (tmp_path / "data" / sub).mkdir(parents=True)
        Image.fromarray(rng.integers(0, 255, (size, size, 3), dtype=np.uint8)).save(
            tmp_path / "data" / sub / "a.png")
    path = write(tmp_path, "SPACE = {'blocks': 1}\n")
    code, err = _cli(capsys, [path, "--storage", str(tmp_path), "--budget", "smoke",
                              "--data", str(tmp_path / "data")])
    assert code == 2 and "validation image a is 8 x 8 px as evaluated" in err, err
    assert len(err.splitlines()) == 1 and not (tmp_path / "irn-bench").exists()
