# `make demo` and `make test` do all set-up themselves: they create .venv when it is missing and
# install bayescale with its test extras; a second run reinstalls nothing (the stamp file below is
# newer than pyproject.toml).
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp

.PHONY: demo test docs bench lint clean

# The install: uv (itself installed by pip) resolves the same versions as pip in seconds; where
# it cannot (an index only pip is configured for), pip does it alone. Neither byte-compiles every
# installed file (a minute on one core): one process imports what the commands and the tests
# use, which writes their bytecode once for every later process (the rest compiles on first use);
# it writes it also where PYTHONDONTWRITEBYTECODE is set (later processes still read it: without
# it every process spends about 5 s compiling the imports' source).
WARM := bayescale.cli, bayescale.plots, bayescale.report, bayescale.batch, bayescale.backtest, \
	bayescale.calibration, pymc, nutpie, arviz, pytensor.link.numba.dispatch, numba, \
	matplotlib.pyplot, scipy.stats, scipy.optimize, distributed, nbclient, nbformat, \
	ipykernel.kernelapp, pyarrow.parquet, pytest, xdist, mkdocs.commands.build, \
	jax, numpyro.infer, pymc.sampling.jax

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	( $(BIN)/python -m pip install --quiet uv && \
	  $(BIN)/uv pip install --quiet --python $(BIN)/python --native-tls -e '.[test]' ) || \
	$(BIN)/python -m pip install --quiet --no-compile -e '.[test]'
	PYTHONDONTWRITEBYTECODE= $(BIN)/python -c "import $(WARM)"
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/bayescale demo --out results/demo

# Two workers, one file (or files that share a worker, tests/conftest.py: SHARED_WORKER) at a time:
# the suite is dominated by single-threaded model compilation, so the two cores compile in
# parallel (the notebook check runs beside them).
test: docs
	$(BIN)/python -m pytest -n 2 --dist loadfile

# The pages in docs/ (mkdocs.yml is strict: a broken link or reference fails the build).
docs: $(STAMP)
	$(BIN)/mkdocs build --quiet

# Issue #19's benchmarks in one run (about 10 minutes on 2 cores): the default fit against PyMC's
# NUTS and whole-process fits, a 5000-checkpoint curve fit, the pooled fits, batch with 1 and 2
# workers.
bench: $(STAMP)
	$(BIN)/python benchmarks/bench_fit.py
	$(BIN)/python benchmarks/bench_curves.py
	$(BIN)/python benchmarks/bench_pooled.py
	$(BIN)/python benchmarks/bench_batch.py

lint: $(STAMP)
	$(BIN)/ruff check bayescale tests benchmarks scripts conftest.py
	$(BIN)/ruff format --check bayescale tests benchmarks scripts conftest.py

clean:
	rm -rf $(VENV) results .pytest_cache .site
