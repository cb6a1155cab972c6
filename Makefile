# memberlens: set-up, main job and tests. `make demo` and `make test` do their own set-up.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: demo test test-fast lint format install lock docs clean system

$(STAMP): requirements.lock pyproject.toml web/package-lock.json
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements.lock
	$(BIN)/python -m pip install --quiet --no-deps -e .
	npm ci --prefix web --no-audit --no-fund --loglevel=error
	touch $(STAMP)

## Debian packages the tests drive for real: Chromium for the browser tests (Playwright drives it;
## no browser is downloaded) and a PostgreSQL server for the app-state tests.
system:
	@missing=""; \
	test -x /usr/bin/chromium || missing="chromium fonts-noto-cjk"; \
	ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || missing="$$missing postgresql"; \
	if [ -z "$$missing" ]; then exit 0; fi; \
	if [ "$$(id -u)" = 0 ]; then apt-get update -qq && \
	    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	else echo "not root: install $$missing yourself (sudo apt-get install $$missing) for the" \
	    "browser and PostgreSQL tests, or run make test-fast"; fi

install: $(STAMP)

## The main job on the embedded default engine (DuckDB).
demo: $(STAMP)
	@echo "memberlens is installed in $(BIN): run 'source $(BIN)/activate' to type memberlens in this shell"
	$(BIN)/memberlens demo

## The whole test suite, on both engines. pytest's exit code 5 ("no tests collected") is reported
## and passed through as success so that a filtered run (make test PYTEST_ARGS=-k...) is not red.
test: $(STAMP) system
	SPARK_LOCAL_IP=127.0.0.1 $(BIN)/python -m pytest -q $(PYTEST_ARGS) || \
	    { rc=$$?; if [ $$rc -eq 5 ]; then echo "pytest: no tests collected"; else exit $$rc; fi; }

## The fast lane for development: no Spark, no browser, no PostgreSQL, no slow recoveries
## (a few minutes). `make test` stays the whole suite.
test-fast: $(STAMP)
	$(BIN)/python -m pytest -q -m "not spark and not slow" $(PYTEST_ARGS) || \
	    { rc=$$?; if [ $$rc -eq 5 ]; then echo "pytest: no tests collected"; else exit $$rc; fi; }

## ruff (lint and format) and mypy, as configured in pyproject.toml; CI runs this before the tests.
lint: $(STAMP)
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks
	$(BIN)/mypy

format: $(STAMP)
	$(BIN)/ruff check --fix src tests benchmarks
	$(BIN)/ruff format src tests benchmarks

## Re-resolve the pinned dependencies (needs `pip install uv`).
lock:
	uv pip compile pyproject.toml --extra spark --extra test --extra plot --extra postgres --python-version 3.11 \
	    --no-header --output-file requirements.lock

docs: $(STAMP)
	$(BIN)/python -m memberlens.schema > docs/data-contract.md

clean:
	rm -rf $(VENV) memberlens-demo .pytest_cache
