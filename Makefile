# zunft developer commands. A newcomer needs two: `make run` and `make test`.
# Plain POSIX make (tested with GNU make 4.3); every recipe line runs with sh -e.

.POSIX:
.SUFFIXES:

PYTHON = python3
VENV = .venv
BIN = $(VENV)/bin
PIP = $(BIN)/python -m pip --disable-pip-version-check
STAMP_RUN = $(VENV)/.stamp-run
STAMP_TEST = $(VENV)/.stamp-test
PG_URL_FILE = $(VENV)/.pg-url
# Python folders to lint; ones that do not exist (yet) are left out, since ruff
# fails on a missing path and git keeps no empty folder.
PY_DIRS = src tests benchmarks
EXISTING_PY_DIRS = $$(for d in $(PY_DIRS); do if [ -d "$$d" ]; then printf '%s ' "$$d"; fi; done)
# Extra pytest arguments, e.g. `make test PYTEST_ARGS='-k journal -x'`.
PYTEST_ARGS =

help:
	@echo 'make run    start zunft on http://127.0.0.1:8080 (data in ./zunft-data)'
	@echo 'make test   lint, type-check and run the tests (starts PostgreSQL and Redis if needed)'
	@echo 'make lint   ruff check + ruff format --check + mypy'
	@echo 'make fmt    ruff format + ruff check --fix'
	@echo 'make clean  remove caches and install stamps (keeps .venv and zunft-data)'
	@echo 'make distclean  clean, and remove .venv too'

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(STAMP_RUN): pyproject.toml $(BIN)/python
	$(PIP) install --quiet -e .
	touch $(STAMP_RUN)

$(STAMP_TEST): pyproject.toml $(BIN)/python
	$(PIP) install --quiet -e '.[test]'
	touch $(STAMP_TEST)

run: $(STAMP_RUN)
	$(BIN)/zunft serve

test: $(STAMP_TEST)
	bash scripts/ensure-postgres.sh >$(PG_URL_FILE)
	bash scripts/ensure-redis.sh >/dev/null
	bash scripts/ensure-chromium.sh || [ "$${CI:-}" != "true" ]
	$(BIN)/ruff check $(EXISTING_PY_DIRS)
	$(BIN)/ruff format --check $(EXISTING_PY_DIRS)
	$(BIN)/mypy
	ZUNFT_TEST_PG_URL="$$(cat $(PG_URL_FILE))" $(BIN)/pytest $(PYTEST_ARGS)

lint: $(STAMP_TEST)
	$(BIN)/ruff check $(EXISTING_PY_DIRS)
	$(BIN)/ruff format --check $(EXISTING_PY_DIRS)
	$(BIN)/mypy

fmt: $(STAMP_TEST)
	$(BIN)/ruff format $(EXISTING_PY_DIRS)
	$(BIN)/ruff check --fix $(EXISTING_PY_DIRS)

clean:
	rm -rf .pytest_cache .mypy_cache .ruff_cache build dist src/*.egg-info
	find src tests benchmarks -name __pycache__ -type d -prune -exec rm -rf {} + 2>/dev/null || true
	rm -f $(STAMP_RUN) $(STAMP_TEST) $(PG_URL_FILE)

distclean: clean
	rm -rf $(VENV)

.PHONY: help run test lint fmt clean distclean
