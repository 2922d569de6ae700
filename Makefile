# The two commands of the README: `make study` and `make test`.
# Each creates its own environment (.venv) from requirements.lock first.
VENV   ?= .venv
BIN    := $(VENV)/bin
CONFIG ?= config.yaml
CORES  ?= all
PYTHON ?= python3
# Where results/ goes (Snakemake's --directory); the repository root by default.
WORKDIR ?= .
# `make cluster`: SLURM partition (required) and account (where the cluster needs one).
PARTITION ?=
ACCOUNT ?=
SLURM_ARGS ?=

.PHONY: study test env bench lint cluster

$(VENV)/.installed: requirements.lock pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -r requirements.lock
	$(BIN)/pip install --quiet --disable-pip-version-check --no-deps --no-build-isolation -e .
	$(BIN)/python -m spikesparse build-ext
	touch $@

env: $(VENV)/.installed

study: $(VENV)/.installed
	$(BIN)/snakemake --cores $(CORES) --configfile $(CONFIG) --directory $(WORKDIR) \
		--workflow-profile workflow/profiles/local
	$(BIN)/snakemake --cores 1 --configfile $(CONFIG) --directory $(WORKDIR) --report results/report.html

# The study as SLURM jobs (workflow/profiles/slurm); the report is built where make runs.
# With ACCOUNT, sbatch gets it through SBATCH_ACCOUNT and the plugin does not guess one.
cluster: $(VENV)/.installed
	@test -n "$(PARTITION)" || { echo "make cluster: set PARTITION=<slurm partition>" >&2; exit 2; }
	SLURM_PARTITION=$(PARTITION) $(if $(ACCOUNT),SBATCH_ACCOUNT=$(ACCOUNT)) \
		$(BIN)/snakemake --profile workflow/profiles/slurm --configfile $(CONFIG) \
		--directory $(WORKDIR) $(if $(ACCOUNT),--slurm-no-account) $(SLURM_ARGS)
	$(BIN)/snakemake --cores 1 --configfile $(CONFIG) --directory $(WORKDIR) --report results/report.html

test: $(VENV)/.installed
	$(BIN)/python -m pytest tests

bench: $(VENV)/.installed
	$(BIN)/python benchmarks/bench_kernels.py

lint: $(VENV)/.installed
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/snakemake --lint --configfile $(CONFIG)
