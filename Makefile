VENV ?= venv
BIN := $(VENV)/bin

.PHONY: test lint typecheck unit clean

# From a fresh clone: create the venv, install everything with one pip install, then
# lint, type-check and run every test.
test: $(VENV)/.installed lint typecheck unit

$(VENV)/.installed: pyproject.toml requirements.txt
	python3 -m venv $(VENV)
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@

lint: $(VENV)/.installed
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(VENV)/.installed
	$(BIN)/mypy

unit: $(VENV)/.installed
	$(BIN)/pytest

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache .hypothesis
