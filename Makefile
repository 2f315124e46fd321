# `make run` and `make test` set themselves up on a fresh machine with Python 3.11+.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
# One stamp per purpose: `make run` installs only what the bridge needs (no Playwright,
# which is most of the test extras' size); `make test` adds the test extras on top.
RUN_STAMP  := $(VENV)/.installed-run
TEST_STAMP := $(VENV)/.installed-test
LOCK_STAMP := $(VENV)/.installed-lock
# requirements.txt is what Heroku's Python buildpack installs. It is compiled for the
# Python in .python-version on Linux, with exact versions and hashes (uv pip compile).
LOCK_ARGS  := --generate-hashes --python-version $(shell cat .python-version) \
              --python-platform x86_64-manylinux_2_28 --quiet

# Parallel test workers (pytest-xdist). The e2e and fault tests wait on leases, schedules and
# alert windows, so the whole suite runs more workers than cores (5 kept both cores about 95 %
# busy; 4 left them idle 10 s more per run); the unit tests are CPU-bound: one per core.
TEST_WORKERS ?= 5
FAST_WORKERS ?= auto
# Let the test runs keep compiled bytecode (__pycache__, ignored by git) even where the
# environment sets PYTHONDONTWRITEBYTECODE: without it every xdist worker rewrites and
# compiles every test module again (about 4 s of CPU per worker), and every process the
# e2e tests start compiles what changed since the last write.
PYTEST := env -u PYTHONDONTWRITEBYTECODE $(BIN)/pytest

.PHONY: run test test-fast chromium wrk bench install lock clean check-config

$(VENV)/bin/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(RUN_STAMP): setup.cfg pyproject.toml | $(VENV)/bin/python
	$(BIN)/pip install --quiet -e .
	touch $(RUN_STAMP)

$(TEST_STAMP): $(RUN_STAMP)
	$(BIN)/pip install --quiet -e '.[test]'
	touch $(TEST_STAMP)

$(LOCK_STAMP): $(RUN_STAMP)
	$(BIN)/pip install --quiet -e '.[lock]'
	touch $(LOCK_STAMP)

install: $(TEST_STAMP)

run: $(RUN_STAMP)
	$(BIN)/bridge run

# The whole suite (what CI runs): unit, e2e and fault tests, hypothesis at full strength.
# docs/testing.md explains the layout, the markers and how to run one test.
test: $(TEST_STAMP) chromium
	$(PYTEST) -n $(TEST_WORKERS) --dist loadgroup --hypothesis-profile=ci --durations=15 $(PYTEST_ARGS)

# The edit-test loop: the unit tests only (no process is started), in parallel, with the
# quick hypothesis profile. Seconds, not minutes.
test-fast: $(TEST_STAMP)
	$(PYTEST) tests/unit -n $(FAST_WORKERS) --hypothesis-profile=quick $(PYTEST_ARGS)

# Debian's Chromium, for the admin console's browser test (tests/e2e/test_admin_browser.py).
chromium:
	bash scripts/install-chromium.sh

# Regenerate requirements.txt after changing install_requires in setup.cfg
# (tests/unit/test_requirements_lock.py fails until you do).
lock: $(LOCK_STAMP)
	$(BIN)/uv pip compile setup.cfg $(LOCK_ARGS) -o requirements.txt

check-config: $(RUN_STAMP)
	$(BIN)/bridge check-config

# Debian's wrk, the ingest benchmark's load generator (bench/loadgen.py falls back to Python without it).
wrk:
	bash scripts/install-wrk.sh

bench: $(TEST_STAMP)
	$(BIN)/python -m bench $(BENCH_ARGS)

clean:
	rm -rf $(VENV) build *.egg-info
