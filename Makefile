# The two commands: `make run` (the service with its embedded defaults) and `make test` (the suite).
VENV := .venv
PY := $(VENV)/bin/python
PYTHON ?= python3

.PHONY: setup frontend run test lint bench sandbox-image deploy-smoke load-test

setup: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --upgrade pip
	$(VENV)/bin/pip install --quiet --no-compile -e '.[dev]'
	@# What the service and the suite import, byte-compiled by importing it (scripts/precompile.py says why).
	$(PY) scripts/precompile.py
	touch $@

frontend:
	node frontend/build.mjs

run: setup frontend
	bash scripts/run.sh

test:  # scripts/test.sh runs make setup frontend itself, beside the sandbox image's first steps
	bash scripts/test.sh

lint: setup
	$(VENV)/bin/ruff check .

bench: setup
	$(PY) bench/bench_math.py
	$(PY) bench/bench_kernels.py
	$(PY) bench/bench_kernels_more.py
	$(PY) bench/bench_pipeline.py
	$(PY) bench/bench_instructors.py

sandbox-image:
	bash sandbox/images/build_cpu.sh

# The production stack (deploy/compose.yaml) built offline, brought up, driven from outside, torn down.
deploy-smoke: setup frontend
	bash deploy/smoke/smoke.sh

# The Locust load test (bench/load/run.py): 300 learners and 5 lab submitters on a local production-like stack.
load-test: setup
	$(VENV)/bin/pip install --quiet -e '.[load]'
	$(PY) bench/load/run.py
