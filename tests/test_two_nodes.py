"""A real two-node Ray cluster on one machine: two network namespaces joined by a veth pair
(Debian's iproute2; root needed), a Ray head in one and a worker node in the other, each on
its own address, the sweep driver on the head. The addresses are TEST-NET-2 (RFC 5737,
never routed); the namespaces get no route but their shared /30, so every packet stays
between them. Everything started here is stopped by PID and the namespaces are deleted.

Checks: the trials land on both nodes; the worker node's raylet killed mid-trial (by PID)
makes its trial restart on the head from its last checkpoint; the sweep ends with one
MLflow run per trial and no duplicated steps.
"""
import json
import os
import shutil
import signal
import subprocess
import sys
import time

import pytest
from mlflow.tracking import MlflowClient

HEAD, WORKER = "198.51.100.1", "198.51.100.2"
NS = {"head": "irnbench-head", "worker": "irnbench-worker"}
BIN = os.path.dirname(sys.executable)
ENV = {**{k: v for k, v in os.environ.items() if k != "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"},
       "RAY_USAGE_STATS_ENABLED": "0", "RAY_AUTH_MODE": "disabled", "OMP_NUM_THREADS": "1"}
SPACE = ("from ray import tune\nSPACE = {'blocks': 1, 'gc': 8, "
         "'loss_recon': tune.grid_search(['l1', 'charbonnier'])}\nTUNE = {'budget': 'smoke'}\n")


def _sh(*cmd, ns=None, check=True, timeout=120, **kw):
    full = (["ip", "netns", "exec", ns] if ns else []) + list(cmd)
    return subprocess.run(full, check=check, capture_output=True, text=True, timeout=timeout,
                          env=ENV, **kw)


def _can_make_namespaces() -> str:
    if os.geteuid() != 0 or not shutil.which("ip"):
        return "needs root and iproute2 (ip netns)"
    probe = "irnbench-probe"
    if subprocess.run(["ip", "netns", "add", probe], capture_output=True).returncode:
        return "cannot create network namespaces here"
    subprocess.run(["ip", "netns", "del", probe], capture_output=True)
    return ""


def _stop_namespace(ns: str) -> None:
    pids = subprocess.run(["ip", "netns", "pids", ns], capture_output=True, text=True).stdout
    for pid in map(int, pids.split()):
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    time.sleep(0.5)
    subprocess.run(["ip", "netns", "del", ns], capture_output=True)


@pytest.fixture
def two_nodes(tmp_path):
    why = _can_make_namespaces()
    if why:
        pytest.skip(f"two-node test skipped: {why}")
    try:
        for ns in NS.values():
            _stop_namespace(ns)  # leftovers of an earlier, killed run
            _sh("ip", "netns", "add", ns)
            _sh("ip", "link", "set", "lo", "up", ns=ns)
        _sh("ip", "link", "add", "irnb-h", "type", "veth", "peer", "name", "irnb-w")
        for dev, role, addr in (("irnb-h", "head", HEAD), ("irnb-w", "worker", WORKER)):
            _sh("ip", "link", "set", dev, "netns", NS[role])
            _sh("ip", "addr", "add", f"{addr}/30", "dev", dev, ns=NS[role])
            _sh("ip", "link", "set", dev, "up", ns=NS[role])
        ray = os.path.join(BIN, "ray")
        common = ["--num-cpus", "1", "--num-gpus", "0", "--disable-usage-stats"]
        _sh(ray, "start", "--head", "--node-ip-address", HEAD, "--port", "6379",
            "--include-dashboard", "false", *common, ns=NS["head"])
        _sh(ray, "start", "--address", f"{HEAD}:6379", "--node-ip-address", WORKER, *common,
            ns=NS["worker"])
        yield tmp_path
    finally:
        for ns in NS.values():
            _stop_namespace(ns)
        marker = "/tmp/ray/ray_current_cluster"  # `ray start --head` leaves our address here
        if os.path.isfile(marker) and HEAD in open(marker).read():
            os.remove(marker)


def _raylet_pid(ns: str) -> int:
    pids = subprocess.run(["ip", "netns", "pids", ns], capture_output=True, text=True).stdout
    for pid in pids.split():
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                if b"raylet" in f.read().split(b"\0")[0]:
                    return int(pid)
        except OSError:
            continue
    raise AssertionError(f"no raylet in namespace {ns}")


def test_sweep_survives_losing_a_node(two_nodes):
    tmp = two_nodes
    (tmp / "space.py").write_text(SPACE)
    uri = f"sqlite:///{tmp / 'mlflow.db'}"
    driver = subprocess.Popen(
        ["ip", "netns", "exec", NS["head"], sys.executable, "-m", "bench.sweep",
         str(tmp / "space.py"), "--address", f"{HEAD}:6379", "--tracking-uri", uri,
         "--experiment", "two-nodes", "--storage", str(tmp / "runs"), "--json",
         str(tmp / "out.json"), "--set", "steps=300", "--set", "eval_every=20",
         "--set", "log_every=20"],
        env=ENV, cwd=os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        nodes_before, steps_at_kill = _wait_for_both_trials(uri)
        os.kill(_raylet_pid(NS["worker"]), signal.SIGKILL)  # the worker node dies mid-trial
        log, _ = driver.communicate(timeout=420)
    finally:
        if driver.poll() is None:
            driver.kill()
    assert driver.returncode == 0, log[-3000:]
    assert len(set(nodes_before.values())) == 2  # the trials ran on both nodes
    out = json.loads((tmp / "out.json").read_text())
    assert [t["status"] for t in out["trials"]] == ["FINISHED", "FINISHED"]
    restarted = [t for t in out["trials"] if t["restarts"] >= 1]
    assert len(restarted) == 1, out["trials"]
    head_node = next(n for t, n in nodes_before.items() if t != restarted[0]["trial_id"])
    assert restarted[0]["node"] == head_node  # it finished on the surviving node
    print(f"two nodes: trials per node {sorted(nodes_before.values())}; steps when the worker "
          f"node was killed {steps_at_kill}; restarted {restarted[0]['trial_id']}")
    client = MlflowClient(uri)
    exp = client.get_experiment_by_name("two-nodes")
    children = client.search_runs([exp.experiment_id], "tags.`irn.role` = 'trial'")
    assert len(children) == 2  # one run per trial
    for child in children:
        steps = [m.step for m in client.get_metric_history(child.info.run_id, "loss/total")]
        assert steps == list(range(20, 301, 20))  # every report once, none duplicated


def _wait_for_both_trials(uri: str, timeout: float = 240) -> tuple[dict, dict]:
    """({trial_id: node id}, {trial_id: step}) once both trials have logged a checkpointed
    report."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        time.sleep(1)
        try:
            client = MlflowClient(uri)
            exp = client.get_experiment_by_name("two-nodes")
            if exp is None:
                continue
            runs = client.search_runs([exp.experiment_id], "tags.`irn.role` = 'trial'")
        except Exception:  # noqa: BLE001 - the store is still being created
            continue
        started = {r.data.tags["irn.trial_id"]: r.data.tags.get("irn.node") for r in runs
                   if int(r.data.tags.get("irn.step", 0)) >= 40 and r.data.tags.get("irn.node")}
        if len(started) == 2:
            return started, {r.data.tags["irn.trial_id"]: int(r.data.tags["irn.step"])
                             for r in runs}
    raise AssertionError("the two trials did not both report in time")
