# The two commands of the README are `make run` and `make test`; the rest help.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin

.PHONY: run test check lint types format bench openapi types-ts clean

# The virtual environment, rebuilt when the dependencies change.
$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $@

## run: create the environment, migrate, load content/ and serve on 127.0.0.1:8000
run: $(VENV)/.installed
	$(BIN)/cms db upgrade
	$(BIN)/cms content load content
	$(BIN)/cms serve

## test: the whole suite on SQLite, and on PostgreSQL when CMS_TEST_POSTGRES_URL is set
## (two processes, a test file each at a time: the suite waits on servers and databases)
test: $(VENV)/.installed
	$(BIN)/python -m pytest -n 2 --dist loadfile

## check: lint, types and tests
check: lint types test

lint: $(VENV)/.installed
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports

types: $(VENV)/.installed
	$(BIN)/mypy

format: $(VENV)/.installed
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

## bench: the real server on the demo plus 10,000 articles, driven by wrk
bench: $(VENV)/.installed
	$(BIN)/python tests/bench/run.py

## openapi: regenerate openapi/openapi.json from the app
openapi: $(VENV)/.installed
	$(BIN)/cms openapi export

## types-ts: regenerate the example site's TypeScript types from openapi/openapi.json (needs npm)
types-ts:
	cd examples/clinic-site && npm ci --no-audit --no-fund && npm run --silent types

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
