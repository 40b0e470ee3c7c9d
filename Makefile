VENV ?= venv
BIN := $(VENV)/bin
# Lock files: every dependency, direct and transitive, pinned with its hashes.
DEV_LOCK := requirements-dev.lock
UV_VERSION := 0.13.9
COMPILE := $(BIN)/uv pip compile --quiet --universal --python-version 3.11 --generate-hashes --custom-compile-command "make lock"

.PHONY: test lint typecheck unit lock test-resolution clean

# From a fresh clone: create the venv, install exactly what the lock file names, then lint,
# type-check and run every test.
test: $(VENV)/.installed lint typecheck unit

$(VENV)/.installed: $(DEV_LOCK) pyproject.toml
	python3 -m venv $(VENV)
	$(BIN)/pip install --quiet --quiet --require-hashes --no-deps -r $(DEV_LOCK)
	$(BIN)/pip install --quiet --quiet --no-deps --no-build-isolation -e .
	touch $@

lint: $(VENV)/.installed
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(VENV)/.installed
	$(BIN)/mypy

unit: $(VENV)/.installed
	$(BIN)/pytest

# Refresh the lock files from pyproject.toml's ranges (then run `make test`):
# requirements-dev.lock for tests, requirements.txt for Pulumi's venv/ and
# policy/requirements.txt for the policy pack, both held to the dev lock's versions.
lock: $(BIN)/uv
	$(COMPILE) --upgrade --extra dev pyproject.toml -o $(DEV_LOCK)
	$(COMPILE) --extra infra -c $(DEV_LOCK) pyproject.toml -o requirements.txt
	$(COMPILE) -c $(DEV_LOCK) policy/requirements.in -o policy/requirements.txt

$(BIN)/uv:
	test -x $(BIN)/python || python3 -m venv $(VENV)
	$(BIN)/pip install --quiet uv==$(UV_VERSION)

# The suite on other versions than the lock's, in venv-<resolution>: RESOLUTION=highest (the
# newest pyproject allows) or lowest-direct (its floors). The scheduled workflow runs both.
RESOLUTION ?= highest
test-resolution: $(BIN)/uv
	mkdir -p build
	$(COMPILE) --resolution $(RESOLUTION) --extra dev pyproject.toml -o build/requirements-$(RESOLUTION).lock
	rm -rf venv-$(RESOLUTION)
	$(MAKE) test VENV=venv-$(RESOLUTION) DEV_LOCK=build/requirements-$(RESOLUTION).lock

clean:
	rm -rf $(VENV) venv-* build .mypy_cache .ruff_cache .pytest_cache .hypothesis
