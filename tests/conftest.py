"""Shared pytest fixtures.

ray_local: ONE real local Ray (2 CPUs, on 127.0.0.1) per test run, shut down at the end.
Ray reads RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER when it is first imported, so it is set here,
before any test module imports Ray; child processes (subprocess sweeps) inherit it.
"""
import os

import pytest

os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")  # keep Ray on 127.0.0.1
os.environ.setdefault("RAY_AUTH_MODE", "disabled")


@pytest.fixture(scope="session")
def ray_local():
    import ray
    # address="local": always a fresh local instance, even if a killed cluster left a stale
    # /tmp/ray/ray_current_cluster behind.
    ray.init(address="local", num_cpus=2, num_gpus=0, include_dashboard=False,
             log_to_driver=False)
    yield ray
    ray.shutdown()
