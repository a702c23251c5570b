# callqa — every install step lives here: a fresh machine needs only Python 3.11+.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
DEMO_HOME ?= demo-home
SUDO   := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
PYTEST_ARGS ?=

.PHONY: help install system-deps demo test test-suite test-postgresql test-shifted lint typecheck unit bench clean

help:
	@echo "make demo   build a demo corpus of synthetic calls, process it, open the dashboard"
	@echo "make test   install what the tests need and run lint, types and the whole suite"
	@echo "make bench  run the benchmarks under benchmarks/"

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $@

install: $(STAMP)

# Debian packages: espeak-ng speaks the synthetic calls, chromium runs the browser tests,
# faketime runs the time-sensitive tests again with the system clock a year ahead,
# postgresql gives the tests a real PostgreSQL server (started by the tests themselves).
system-deps:
	@missing=""; \
	command -v espeak-ng >/dev/null || missing="$$missing espeak-ng"; \
	command -v chromium >/dev/null || missing="$$missing chromium"; \
	command -v faketime >/dev/null || missing="$$missing faketime"; \
	command -v strace >/dev/null || missing="$$missing strace"; \
	command -v unshare >/dev/null || missing="$$missing util-linux"; \
	test -x /usr/sbin/ip || test -x /sbin/ip || missing="$$missing iproute2"; \
	test -x /usr/sbin/nginx || missing="$$missing nginx"; \
	ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || missing="$$missing postgresql"; \
	if [ -n "$$missing" ]; then \
	  echo "installing Debian packages:$$missing"; \
	  $(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq $$missing; \
	fi

demo: install system-deps
	$(BIN)/callqa --home $(DEMO_HOME) demo

lint: install
	$(BIN)/ruff check analytics dashboard tests benchmarks
	$(BIN)/ruff format --check analytics dashboard tests benchmarks

typecheck: install
	$(BIN)/mypy

# The suite must not depend on the day it runs: the time-sensitive tests pass again
# with the system clock shifted a year ahead (libfaketime).
TIME_SENSITIVE := tests/test_governance.py tests/test_governance_props.py tests/test_pipeline.py \
	tests/test_ingest.py tests/test_dataset.py tests/test_export.py tests/test_audit.py \
	tests/test_clock.py tests/test_evidence.py
TIME_SENSITIVE += tests/test_evaluations.py tests/test_calibration.py

# The three passes run side by side (each prints its report when it ends): much of the
# suite waits on disks, servers and browsers rather than on both cores, and run one after
# the other they took over 30 minutes here. Each server they start takes a free port.
test: install system-deps lint typecheck
	$(MAKE) --no-print-directory -j3 --output-sync=target test-suite test-postgresql test-shifted

test-suite: install system-deps
	$(BIN)/pytest $(PYTEST_ARGS)

# The same tests on a real PostgreSQL server (started by the tests, 127.0.0.1 only):
# every call of their `store` goes to a fresh database on it.
BACKEND_TESTS := tests/test_store.py tests/test_governance.py tests/test_governance_props.py \
	tests/test_pipeline.py tests/test_aggregates.py tests/test_ingest.py tests/test_export.py \
	tests/test_dataset.py tests/test_audit.py tests/test_evidence.py
BACKEND_TESTS += tests/test_categorize.py tests/test_search.py
BACKEND_TESTS += tests/test_evaluations.py tests/test_calibration.py
BACKEND_TESTS += tests/test_rollups.py tests/test_queue.py

test-postgresql: install system-deps
	CALLQA_TEST_BACKEND=postgresql $(BIN)/pytest -q -p no:cacheprovider $(BACKEND_TESTS)

test-shifted: install system-deps
	faketime -f '+365d' $(BIN)/pytest -q -p no:cacheprovider $(TIME_SENSITIVE)

unit: install
	$(BIN)/pytest -m "not slow" $(PYTEST_ARGS)

bench: install system-deps
	for script in benchmarks/*.py; do $(BIN)/python $$script || exit 1; done

clean:
	rm -rf $(VENV) $(DEMO_HOME) .pytest_cache .mypy_cache .ruff_cache
