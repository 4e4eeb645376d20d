# Two commands on a fresh machine:  `make sweep`  (the main job)  and  `make test`.
# Both are idempotent and do their own set-up (.venv/ at the repo root).
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp

.PHONY: setup sweep test bench gate clean

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --disable-pip-version-check -e ".[dev]"
	touch $(STAMP)

setup: $(STAMP)

# The main job: the loss study on the embedded photos, logged to ./mlflow.db.
sweep: setup
	$(PY) -m bench.sweep search_spaces/losses.py

# Unit and integration tests (real Ray, real MLflow, real JPEG, headless Chromium). One
# OpenMP thread per process: Ray workers and the test process share 2 cores, and
# oversubscribed OpenMP threads slow torch 5-10x.
test: setup
	./scripts/system-deps.sh
	OMP_NUM_THREADS=1 $(PY) -m pytest -q tests --ignore=tests/benchmarks

# The pytest-benchmark suite, written to .benchmarks/head.json.
bench: setup
	mkdir -p .benchmarks
	$(PY) -m pytest -q tests/benchmarks --benchmark-only --benchmark-json=.benchmarks/head.json

# The performance gate against the committed baseline.
gate: bench
	$(PY) -m bench.regress bench/baselines/cpu-2core.json .benchmarks/head.json --fail median:40%

clean:
	rm -rf $(VENV) .benchmarks .pytest_cache
