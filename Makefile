# `make demo` and `make test` do all set-up themselves: they create .venv when it is missing and
# install bayescale with its test extras; a second run reinstalls nothing (the stamp file below is
# newer than pyproject.toml).
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp

.PHONY: demo test docs bench lint clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/bayescale demo --out results/demo

# Two workers, one file (or group of files, tests/conftest.py: SHARED_WORKER) each at a time:
# the suite is dominated by single-threaded model compilation, so the two cores compile in
# parallel (the notebook check runs beside them).
test: docs
	$(BIN)/python -m pytest -n 2 --dist loadgroup

# The pages in docs/ (mkdocs.yml is strict: a broken link or reference fails the build).
docs: $(STAMP)
	$(BIN)/mkdocs build --quiet

bench: $(STAMP)
	$(BIN)/python benchmarks/bench_fit.py

lint: $(STAMP)
	$(BIN)/ruff check bayescale tests benchmarks scripts conftest.py
	$(BIN)/ruff format --check bayescale tests benchmarks scripts conftest.py

clean:
	rm -rf $(VENV) results .pytest_cache .site
