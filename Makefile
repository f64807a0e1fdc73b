# Two commands for a fresh machine with Python 3.11 and make: `make run` and `make test`.
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: run test bench install clean reliability-table

$(PY):
	@command -v $(PYTHON) >/dev/null 2>&1 || { echo "Python 3.11 is required (set PYTHON=...)"; exit 1; }
	$(PYTHON) -m venv $(VENV)

$(STAMP): $(PY) setup.cfg pyproject.toml
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

run: $(STAMP)
	$(VENV)/bin/ifcn annotate --samples

test: $(STAMP)
	QT_QPA_PLATFORM=$${QT_QPA_PLATFORM:-offscreen} $(PY) -m pytest -q

# `make test` writes the reliability figures to build/reliability/figures.json when all of tests/reliability
# passed; this copies them into README.md's Reliability table (the test run never edits the README).
reliability-table: $(STAMP)
	$(PY) -m tests.reliability.table

# BENCH_DATA=DIR (e.g. ../shared/data/bench) adds the real-photo quality section (hours on 2 cores);
# BENCH_QUALITY_LIMIT=N measures N objects per set only, for a quick look that stores nothing;
# BENCH_QUALITY_SKIP=grabcut leaves a predictor out (GrabCut from clicks is reused from the stored run anyway).
# BENCH_LATENCY_LIMIT=N: objects per set of the click-latency section (default 3; 0 = all). The bench extra
# (engines and peer networks, random weights) is installed here only.
# The real-photo quality section runs in a process of its own: after refine_cost (an OpenVINO engine compiled in
# the foreground) it died with SIGSEGV in the same process (2026-12-04), losing the whole run.
# BENCH_SECTIONS is every section but quality: run_all refuses an --only of unmarked sections that would
# rewrite RESULTS.md without the rest (switch was missing here, so make bench dropped its numbers).
BENCH_SECTIONS = latency latency_real refine_cost optim gui switch pairs noc train
bench: $(STAMP)
	$(PY) -m pip install -q -e '.[dev,bench]'
	QT_QPA_PLATFORM=offscreen $(PY) -m benchmarks.run_all --only $(BENCH_SECTIONS) $(if $(BENCH_DATA),--bench-data "$(BENCH_DATA)")
	$(if $(BENCH_DATA),QT_QPA_PLATFORM=offscreen $(PY) -m benchmarks.run_all --only quality --bench-data "$(BENCH_DATA)")

clean:
	rm -rf $(VENV) *.egg-info build dist .pytest_cache
