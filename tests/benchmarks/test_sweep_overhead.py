"""The sweep's per-trial overhead: one smoke-budget trial of a tiny model through the whole
bench.sweep path (space validation, data decoding, Tune trial actor, reports with
checkpoints and crops, MLflow parent and child runs, the dashboard), on the session's local
Ray. Training itself is 4 steps of a 1-block model, so the time is almost all overhead."""
import json

from bench.sweep.command import parse_args, run_sweep

ONE_TRIAL = "SPACE = {'blocks': 1, 'gc': 8, 'loss_recon': 'l1'}\nTUNE = {'budget': 'smoke'}\n"


def test_sweep_one_smoke_trial(benchmark, ray_local, tmp_path):
    space = tmp_path / "one.py"
    space.write_text(ONE_TRIAL)
    rounds = iter(range(100))

    def sweep():
        i = next(rounds)
        args = [str(space), "--tracking-uri", f"sqlite:///{tmp_path}/mlflow.db",
                "--storage", str(tmp_path / "runs"), "--experiment", f"e{i}",
                "--json", str(tmp_path / f"out{i}.json")]
        assert run_sweep(parse_args(args)) == 0

    benchmark.pedantic(sweep, rounds=3, warmup_rounds=1, iterations=1)
    out = json.loads((tmp_path / "out3.json").read_text())
    assert [t["status"] for t in out["trials"]] == ["FINISHED"]
    benchmark.extra_info["non_training_share"] = out["overhead"]["non_training_share"]
    benchmark.extra_info["time_to_first_metric_s"] = out["overhead"]["time_to_first_metric_s"]
