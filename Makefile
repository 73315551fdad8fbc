# The two set-up commands of the README. Each creates .venv with python3 if needed,
# installs lookalike into it with the tested versions of its dependencies
# (constraints.txt), and runs its job.
#   make demo         install lookalike and run the main job on the bundled digits
#   make test         install lookalike with its test tools (and Chromium from Debian's
#                     packages for the report test) and run lint, types, tests and the
#                     seconds-long benchmark smoke runs (= make lint chromium pytest smoke)
#   make constraints  refresh constraints.txt from the newest releases (then run make test)

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
DEMO_OUT ?= lookalike-demo
CONSTRAINTS := constraints.txt
# Every install is pinned to the tested versions: a new release elsewhere cannot break CI.
PIP_INSTALL = $(BIN)/python -m pip install --quiet --constraint $(CONSTRAINTS)

.PHONY: demo test install lint pytest smoke bench clean chromium constraints

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.demo-installed: pyproject.toml $(CONSTRAINTS) | $(BIN)/python
	$(PIP_INSTALL) -e .
	touch $@

$(VENV)/.test-installed: pyproject.toml $(CONSTRAINTS) | $(BIN)/python
	$(PIP_INSTALL) -e ".[test]"
	touch $@

demo: $(VENV)/.demo-installed
	$(BIN)/lookalike demo --out $(DEMO_OUT)

install: $(VENV)/.test-installed

lint: $(VENV)/.test-installed
	$(BIN)/ruff check src tests benchmarks examples
	$(BIN)/ruff format --check src tests benchmarks examples
	$(BIN)/mypy

# The report test opens an HTML report in a real headless Chromium (Debian's package;
# needs root). apt waits up to 5 minutes for a lock another apt holds, and a failed
# `apt-get update` (a lock, a mirror) is retried.
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
APT_GET := $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=300
APT_TRIES := 5
chromium:
	@command -v chromium >/dev/null || { \
		for try in $$(seq $(APT_TRIES)); do \
			$(APT_GET) update -qq && break; \
			[ $$try -lt $(APT_TRIES) ] || exit 1; \
			echo "apt-get update failed (try $$try of $(APT_TRIES)); again in 20 s" >&2; \
			sleep 20; \
		done; \
		for try in $$(seq $(APT_TRIES)); do \
			$(APT_GET) install -y -qq chromium >/dev/null && break; \
			[ $$try -lt $(APT_TRIES) ] || exit 1; \
			echo "apt-get install failed (try $$try of $(APT_TRIES)); again in 20 s" >&2; \
			sleep 20; \
		done; \
	}

# Every test, the slow ones included (developers: pytest -m "not slow" for a quick run).
pytest: $(VENV)/.test-installed
	$(BIN)/python -m pytest -q -p no:cacheprovider --durations=25

# Every benchmark's --smoke mode, in one Python process.
smoke: $(VENV)/.test-installed
	$(BIN)/python benchmarks/smoke.py > /dev/null

test: lint chromium pytest smoke

bench: $(VENV)/.test-installed
	cd benchmarks && ../$(BIN)/python bench_gmm.py
	cd benchmarks && ../$(BIN)/python bench_kde.py
	cd benchmarks && ../$(BIN)/python bench_toolkit.py
	cd benchmarks && ../$(BIN)/python bench_quality.py
	cd benchmarks && ../$(BIN)/python bench_splits.py
	cd benchmarks && ../$(BIN)/python bench_dask.py

# The newest releases of every dependency, installed into a fresh environment; their
# versions become constraints.txt. Run make test afterwards and commit it if it passes.
FRESH := .venv-constraints
constraints:
	rm -rf $(FRESH)
	$(PYTHON) -m venv $(FRESH)
	$(FRESH)/bin/python -m pip install --quiet --upgrade pip
	$(FRESH)/bin/python -m pip install --quiet -e ".[test,io,dask]"
	{ echo "# Versions the test suite passed with; make test and make demo install these."; \
	  echo "# Refresh: make constraints (newest releases), then make test, then commit."; \
	  $(FRESH)/bin/python -m pip freeze --exclude-editable | grep -v '^lookalike[ =@]'; \
	} > $(CONSTRAINTS).tmp
	mv $(CONSTRAINTS).tmp $(CONSTRAINTS)
	rm -rf $(FRESH)
	rm -f $(VENV)/.demo-installed $(VENV)/.test-installed

clean:
	rm -rf $(VENV) $(FRESH) $(DEMO_OUT) build src/*.egg-info
