# Two entry points for a fresh machine: `make demo` and `make test`. Each creates .venv and installs what it needs.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: demo test lint check bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(VENV)/.sandbox-installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e '.[sandbox]'
	touch $@

$(VENV)/.dev-installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@ $(VENV)/.sandbox-installed

demo: $(VENV)/.sandbox-installed
	$(BIN)/oncall-agent demo

test: $(VENV)/.dev-installed
	$(BIN)/pytest -q -n 2 --dist loadfile

lint: $(VENV)/.dev-installed
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/lint-imports
	$(BIN)/cfn-lint deploy/*.yaml
	$(BIN)/hadolint deploy/Dockerfile

check: lint test

bench: $(VENV)/.sandbox-installed
	$(BIN)/python -m oncall_agent.bench.intake

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
