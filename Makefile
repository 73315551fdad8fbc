# The two set-up commands of the README. Each creates .venv with python3 if needed,
# installs lookalike into it, and runs its job.
#   make demo   install lookalike and run the main job on the bundled digits
#   make test   install lookalike with its test tools (and Chromium from Debian's packages
#               for the report test) and run lint, types, tests
#               and the seconds-long benchmark smoke run

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
DEMO_OUT ?= lookalike-demo

.PHONY: demo test lint bench clean chromium

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.demo-installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e ".[plot]"
	touch $@

$(VENV)/.test-installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e ".[plot,test]"
	touch $@

demo: $(VENV)/.demo-installed
	$(BIN)/lookalike demo --out $(DEMO_OUT)

lint: $(VENV)/.test-installed
	$(BIN)/ruff check src tests benchmarks examples
	$(BIN)/ruff format --check src tests benchmarks examples
	$(BIN)/mypy

# The report's browser test needs headless Chromium (Debian/Ubuntu package; needs root).
# The report test opens an HTML report in a real headless Chromium (Debian's package).
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
chromium:
	command -v chromium >/dev/null || \
		($(SUDO) apt-get update -qq && $(SUDO) apt-get install -y -qq chromium >/dev/null)

test: lint chromium
	$(BIN)/python -m pytest -q -p no:cacheprovider
	cd benchmarks && ../$(BIN)/python bench_gmm.py --smoke > /dev/null
	cd benchmarks && ../$(BIN)/python bench_kde.py --smoke > /dev/null
	cd benchmarks && ../$(BIN)/python bench_toolkit.py --smoke > /dev/null
	cd benchmarks && ../$(BIN)/python bench_quality.py --smoke > /dev/null
	cd benchmarks && ../$(BIN)/python bench_dask.py --smoke > /dev/null
	cd benchmarks && ../$(BIN)/python bench_tabular_dask.py --smoke > /dev/null

bench: $(VENV)/.test-installed
	cd benchmarks && ../$(BIN)/python bench_gmm.py
	cd benchmarks && ../$(BIN)/python bench_kde.py
	cd benchmarks && ../$(BIN)/python bench_toolkit.py
	cd benchmarks && ../$(BIN)/python bench_quality.py
	cd benchmarks && ../$(BIN)/python bench_dask.py
	cd benchmarks && ../$(BIN)/python bench_tabular_dask.py

clean:
	rm -rf $(VENV) $(DEMO_OUT) build src/*.egg-info
