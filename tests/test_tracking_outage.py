"""Issue 32.9: a real `mlflow server` goes away in the middle of a real sweep and comes back.
The trials keep training, and every metric arrives exactly once."""
import threading
import time

from mlflow.tracking import MlflowClient
from ray import tune

from bench.sweep import parse_args, run_sweep
from tests.mlflow_server import Server
from tests.test_sweep import tiny_space

OUTAGE_S = 8


class Outage(tune.Callback):
    """After the first result is logged, the server stops; it comes back OUTAGE_S later,
    while the trials go on training."""

    def __init__(self, server: Server):
        self.server, self.results, self.restarted = server, [], None

    def on_trial_result(self, trial, result, **info):
        self.results.append(result["step"])
        if len(self.results) == 1:
            self.server.stop()
            self.restarted = threading.Thread(target=self._back_later)
            self.restarted.start()

    def _back_later(self):
        time.sleep(OUTAGE_S)
        self.server.start()


def test_metrics_arrive_once_across_a_server_outage(ray_local, tmp_path, monkeypatch):
    # MLflow's default client retries (7, exponential backoff) are what bridge the outage
    # (dashboards.build's CLI once leaked its 2 into the process and broke this)
    monkeypatch.delenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", raising=False)
    server = Server(tmp_path)
    server.start()
    outage = Outage(server)
    space = tiny_space(tmp_path, "'steps': 8, 'seed': 3")
    try:
        code = run_sweep(parse_args([
            space, "--tracking-uri", server.uri, "--experiment", "t",
            "--storage", str(tmp_path / "runs"), "--json", str(tmp_path / "out.json")]),
            callbacks=[outage])
    finally:
        if outage.restarted:
            outage.restarted.join()  # never leave a server starting after the test
        server.stop()
    assert code == 0
    assert len(outage.results) >= 4  # results kept coming during the outage
    client = MlflowClient(f"sqlite:///{tmp_path}/mlflow.db")
    exp = client.get_experiment_by_name("t")
    (child,) = client.search_runs([exp.experiment_id], "tags.`irn.role` = 'trial'")
    steps = {name: [m.step for m in client.get_metric_history(child.info.run_id, name)]
             for name in ("loss/total", "psnr_y")}
    assert steps == {"loss/total": list(range(1, 9)), "psnr_y": [2, 4, 6, 8]}
    assert child.info.status == "FINISHED"
