"""Data loading per batch: the in-memory cache against decoding files every step (what the
official code does). Their ratio is the measured answer to "is training slow because of
fetching samples?" on this machine."""
import pytest

from irn.data import train_loader


@pytest.fixture(scope="module", autouse=True)
def cache(tmp_path_factory, monkeypatch_module):
    monkeypatch_module.setenv("IRN_CACHE", str(tmp_path_factory.mktemp("cache")))


@pytest.fixture(scope="module")
def monkeypatch_module():
    mp = pytest.MonkeyPatch()
    yield mp
    mp.undo()


@pytest.mark.parametrize("loader", ["memory", "disk"])
def test_loader_batch(benchmark, loader):
    batches = iter(train_loader("embedded", scale=2, patch_size=64, batch_size=4, loader=loader))
    next(batches)  # decode / cache outside the timed region
    # The memory batch takes ~0.6 ms: many rounds, or one scheduler hiccup moves the median.
    benchmark.pedantic(lambda: next(batches), rounds=60 if loader == "memory" else 10,
                       warmup_rounds=1)
