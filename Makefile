# One entry point for people and CI. `make run` starts the whole courier on this machine;
# `make test` is the test command README.md gives and .ci/run calls.

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install run test test-fast sandbox bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[test]"
	touch $(STAMP)

install: $(STAMP)

run: install
	$(BIN)/python -m launcher

test: install
	$(BIN)/python -m pytest

test-fast: install
	$(BIN)/python -m pytest -m "not slow"

sandbox: install
	$(BIN)/python -m delivery.sandbox --listen 127.0.0.1:8086

bench: install
	$(BIN)/python -m bench --output docs/BENCHMARKS.md

clean:
	rm -rf $(VENV) .pytest_cache .hypothesis
