# The two commands of the README: `make study` and `make test`.
# Each creates its own environment (.venv) from requirements.lock first.
VENV   ?= .venv
BIN    := $(VENV)/bin
CONFIG ?= config.yaml
CORES  ?= all
PYTHON ?= python3

.PHONY: study test env bench lint

$(VENV)/.installed: requirements.lock pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -r requirements.lock
	$(BIN)/pip install --quiet --disable-pip-version-check --no-deps --no-build-isolation -e .
	$(BIN)/python -m spikesparse build-ext
	touch $@

env: $(VENV)/.installed

study: $(VENV)/.installed
	$(BIN)/snakemake --cores $(CORES) --configfile $(CONFIG) --workflow-profile workflow/profiles/local
	$(BIN)/snakemake --cores 1 --configfile $(CONFIG) --report results/report.html

test: $(VENV)/.installed
	$(BIN)/python -m pytest tests

bench: $(VENV)/.installed
	$(BIN)/python benchmarks/bench_kernels.py

lint: $(VENV)/.installed
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/snakemake --lint --configfile $(CONFIG)
