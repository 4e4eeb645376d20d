# Two commands on a fresh machine:  `make sweep`  (the main job)  and  `make test`.
# Both are idempotent and do their own set-up (.venv/ at the repo root).
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp

.PHONY: setup sweep test bench gate gate-base clean

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

# The pytest-benchmark suite (one torch thread, see tests/benchmarks/conftest.py), one run
# of this tree, written to .benchmarks/head.json; about 2 minutes on 2 cores.
bench: setup
	mkdir -p .benchmarks
	sync  # flush the unit tests' writes first: writeback during the first benchmarks skews them
	OMP_NUM_THREADS=1 $(PY) -m pytest -q -p no:cacheprovider tests/benchmarks --benchmark-only \
		--benchmark-json=.benchmarks/head.json

# The performance gate (bench/gate/command.py, bench/REGRESS.md): checks the base commit out in a
# temporary worktree and measures base and this tree in this job, on this machine:
# callgrind instruction counts of the small hot paths, then the wall-time suite interleaved
# base, head, head, base, base, head, as ratios to the reference workload; a wall-time
# regression fails only if three fresh pairs confirm it. BASE: GATE_BASE,
# else bench/GATE_BASE (written by `make gate-base` at the start of a session), else the
# newest first-parent ancestor 3 h older than HEAD. BENCH_K=<pytest -k expr> limits it.
GATE_BASE ?=
BENCH_K ?=
gate: setup
	./scripts/system-deps.sh
	$(PY) -m bench.gate $(if $(GATE_BASE),--base '$(GATE_BASE)') $(if $(BENCH_K),-k '$(BENCH_K)')

# At the start of a session: record the commit the session starts from as the gate's base.
gate-base:
	git rev-parse HEAD > bench/GATE_BASE

clean:
	rm -rf $(VENV) .benchmarks .pytest_cache
