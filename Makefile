# Every target builds the project's virtual environment by itself on a fresh machine.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test test-fast bench lint synth deploy clean venv

REGIONS ?= us-east-1
ARCH ?= x86_64
# The CDK CLI, pinned to the newest 2.x that reads aws-cdk-lib 2.275's cloud assembly (3.x refuses it).
CDK := npx --yes aws-cdk@2.1148.1

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

## Synthesize every regional stack offline into cdk.out/ (cdk-nag runs as part of synthesis).
synth: $(STAMP)
	JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION=20 $(BIN)/python app.py -c regions=$(REGIONS) -c architecture=$(ARCH)

## Deploy with your AWS credentials: bundles the Lambda dependency layer, then cdk bootstrap + deploy.
deploy: $(STAMP)
	$(BIN)/python -m infra.packaging $(ARCH)
	$(CDK) bootstrap -c regions=$(REGIONS) -c architecture=$(ARCH) -c bundle=full
	$(CDK) deploy --all -c regions=$(REGIONS) -c architecture=$(ARCH) -c bundle=full

clean:
	rm -rf $(VENV) cdk.out .pytest_cache
