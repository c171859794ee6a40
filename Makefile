# Every target builds the project's virtual environment by itself on a fresh machine.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test test-fast bench lint synth deploy clean venv

$(STAMP): pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -c constraints.txt -e '.[dev]'
	touch $(STAMP)

venv: $(STAMP)

## The main job: a local, moto-emulated run on the embedded defaults (no AWS account, no flags).
demo: $(STAMP)
	$(BIN)/sgc demo

## The whole suite, slow end-to-end cases included (what CI runs).
test: $(STAMP)
	$(BIN)/python -m pytest -q -n 2 --dist loadgroup

## The quick loop while developing: everything but the slow end-to-end cases.
test-fast: $(STAMP)
	$(BIN)/python -m pytest -q -n 2 -m 'not slow'

## Benchmarks: tables and JSON under data/bench/.
bench: $(STAMP)
	$(BIN)/sgc bench all --out data/bench

lint: $(STAMP)
	$(BIN)/ruff check .

clean:
	rm -rf $(VENV) cdk.out .pytest_cache
