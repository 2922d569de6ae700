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

.PHONY: study reference rejudge bench-study test env bench lint cluster docs unlock-stale

$(VENV)/.installed: requirements.lock requirements-peers.lock pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -r requirements.lock
	$(BIN)/pip install --quiet --disable-pip-version-check --no-deps -r requirements-peers.lock
	$(BIN)/pip install --quiet --disable-pip-version-check --no-deps --no-build-isolation -e .
	$(BIN)/python -m spikesparse build-ext
	touch $@

env: $(VENV)/.installed

# A run killed with SIGKILL leaves .snakemake/locks behind; unlock it when no Snakemake owns it.
unlock-stale: $(VENV)/.installed
	$(BIN)/python -m spikesparse.tools.snakelock --directory $(WORKDIR) -- \
		$(BIN)/snakemake --unlock --cores 1 --configfile $(CONFIG) --directory $(WORKDIR)

# Jobs start warm (SPIKESPARSE_WARM=1, src/spikesparse/tools/warm.py): they fork from one process that
# has imported torch once; the server is stopped when Snakemake ends, whatever its exit status.
# The report is built by the same Snakemake process once the DAG is done (--report-after-run),
# without parsing the workflow and building the DAG a second time.
study: $(VENV)/.installed unlock-stale
	SPIKESPARSE_WARM=1 $(BIN)/snakemake --cores $(CORES) --configfile $(CONFIG) --directory $(WORKDIR) \
		--workflow-profile workflow/profiles/local --report results/report.html --report-after-run; \
		status=$$?; $(BIN)/python -m spikesparse.tools.warm stop >/dev/null; exit $$status
	@cat $(WORKDIR)/results/tables/replication.md

# The reference tables (reference/): the study, then its claims, summary, conversion and plane
# tables with the machine they came from. Only after a change meant to move the results.
reference: study
	$(BIN)/python -m spikesparse freeze-reference --tables $(WORKDIR)/results/tables --out reference

# The published runs judged again by the current rules, without retraining: reference/claims.csv
# rebuilt from reference/runs.csv (the verdicts that moved are printed), then the README's verdict
# table and docs/study/results.md.
rejudge: $(VENV)/.installed
	$(BIN)/python -m spikesparse rejudge --tables reference
	$(BIN)/python -m spikesparse results-section --tables reference --readme README.md

# Where the study's time goes (benchmarks/results/study.json, then its table in docs/study/performance.md): the
# study of CONFIG from scratch in BENCH_WORKDIR (deleted first), timed, then job-seconds per rule
# and experiment and the study efficiency against the 1-thread sgemm peak measured in the same
# command. Warm start as in `make study`; BENCH_STUDY_ARGS=--cold times the jobs as fresh processes.
BENCH_WORKDIR ?= /tmp/spikesparse-bench-study
BENCH_STUDY_ARGS ?=
bench-study: $(VENV)/.installed
	rm -rf $(BENCH_WORKDIR)
	$(BIN)/python -m spikesparse bench-study --config $(CONFIG) --cores $(CORES) \
		--results $(BENCH_WORKDIR)/results --out benchmarks/results/study.json $(BENCH_STUDY_ARGS)
	$(BIN)/python -m spikesparse.tools.readme README.md

# The study as SLURM jobs (workflow/profiles/slurm); the report is built where make runs.
# With ACCOUNT, sbatch gets it through SBATCH_ACCOUNT and the plugin does not guess one.
cluster: $(VENV)/.installed
	@test -n "$(PARTITION)" || { echo "make cluster: set PARTITION=<slurm partition>" >&2; exit 2; }
	$(MAKE) --no-print-directory unlock-stale
	SLURM_PARTITION=$(PARTITION) $(if $(ACCOUNT),SBATCH_ACCOUNT=$(ACCOUNT)) \
		$(BIN)/snakemake --profile workflow/profiles/slurm --configfile $(CONFIG) \
		--directory $(WORKDIR) $(if $(ACCOUNT),--slurm-no-account) $(SLURM_ARGS)
	$(BIN)/snakemake --cores 1 --configfile $(CONFIG) --directory $(WORKDIR) --report results/report.html

# The tests run in TEST_WORKERS processes (pytest-xdist; default: the cores this process may use,
# at most 4), each test file whole in one process (so a file's module fixtures run once), handed
# out in the order tests/conftest.py sorts them (the long workflow files first); TEST_WORKERS=0
# runs them all in this process.
TEST_WORKERS ?= $(shell $(PYTHON) -c "import os; print(min(4, len(os.sched_getaffinity(0)) if hasattr(os, 'sched_getaffinity') else os.cpu_count() or 1))")
test: $(VENV)/.installed
	$(BIN)/python -m pytest -n $(TEST_WORKERS) --dist loadfile --no-loadscope-reorder tests

# API documentation (mkdocs-material + mkdocstrings) into site/; --strict turns warnings into errors.
docs: $(VENV)/.installed
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict --site-dir site

# Kernel benchmark at 1 and 2 threads against every installed peer (snnTorch, Norse, SpikingJelly),
# written to benchmarks/results/kernels.json, then its table in docs/study/performance.md; BENCH_ARGS e.g.
# "--repeats 5 --skip-quick" (see benchmarks/bench_kernels.py --help).
BENCH_ARGS ?=
bench: $(VENV)/.installed
	$(BIN)/python benchmarks/bench_kernels.py $(BENCH_ARGS)
	$(BIN)/python -m spikesparse.tools.readme README.md

lint: $(VENV)/.installed
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/snakemake --lint --configfile $(CONFIG)
