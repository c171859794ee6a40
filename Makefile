# Every target builds the project's virtual environment by itself on a fresh machine.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test test-fast bench lint synth diff deploy deploy-local destroy delete-data clean venv

REGIONS ?= us-east-1
ARCH ?= x86_64
# The CDK CLI, pinned to the newest 2.x that reads aws-cdk-lib 2.275's cloud assembly (3.x refuses it).
# It needs Node.js 18 or newer (its package's engines field; tested with Node 20). Override with
# CDK=/path/to/cdk to use an installed CLI.
CDK ?= npx --yes aws-cdk@2.1148.1
# What `make deploy` asks before applying security-sensitive changes (new IAM grants, policies):
#   broadening (default) - ask on a terminal; without a terminal stop and say how to go on
#   never                - apply without asking (CI: review `make diff` first)
#   any-change           - ask before every change
APPROVAL ?= broadening
APPROVALS := broadening never any-change
# `make deploy-local`: port of the local moto server on 127.0.0.1 (0 = any free port).
PORT ?= 0
CDK_CONTEXT = -c regions=$(REGIONS) -c architecture=$(ARCH) -c bundle=full

# uv resolves and installs the pinned set in ~15 s where pip takes ~2 min (measured on the
# 2-core machine, both from an empty cache); pip stays the fallback when uv cannot be had or
# fails (uv reads neither pip's configuration nor its certificate settings).
$(STAMP): pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	if $(BIN)/pip install --quiet uv==0.13.10 && \
	   $(BIN)/uv pip install --quiet --python $(BIN)/python -c constraints.txt -e '.[dev]'; then \
	  :; \
	else \
	  echo "uv unavailable or failed (above): installing with pip (a few minutes)"; \
	  $(BIN)/pip install --quiet --upgrade pip && \
	  $(BIN)/pip install --quiet -c constraints.txt -e '.[dev]'; \
	fi
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

## What `make deploy` would change in your account (no change is made).
diff: $(STAMP)
	$(BIN)/python -m infra.preflight --credentials-only $(CDK_CONTEXT)
	$(BIN)/python -m infra.packaging $(ARCH)
	$(CDK) diff --all $(CDK_CONTEXT)

## Deploy with your AWS credentials: checks them and the account's Lambda concurrency quota first
## (seconds), bundles the Lambda dependency layer and Numba cache (minutes), then cdk bootstrap +
## deploy.
deploy: $(STAMP)
	@case " $(APPROVALS) " in *" $(APPROVAL) "*) ;; \
	  *) echo "APPROVAL: must be one of $(APPROVALS), got '$(APPROVAL)'" >&2; exit 2;; esac
	@if [ "$(APPROVAL)" != never ] && [ ! -t 0 ]; then \
	  echo "make deploy: no terminal to approve security-sensitive changes (APPROVAL=$(APPROVAL))." >&2; \
	  echo "  Review them with 'make diff', then run 'make deploy APPROVAL=never'." >&2; exit 2; fi
	$(BIN)/python -m infra.preflight $(CDK_CONTEXT)
	$(BIN)/python -m infra.packaging $(ARCH)
	$(CDK) bootstrap $(CDK_CONTEXT)
	$(CDK) deploy --all --require-approval $(APPROVAL) $(CDK_CONTEXT)

## The real cdk bootstrap + deploy against a local moto server, a job on the deployed stack, a
## redeploy that must change nothing, cdk destroy and the data teardown, and the IAM audit (no AWS
## account needed; a few minutes, longer on a first run while the kernels compile).
deploy-local: $(STAMP)
	$(BIN)/python -m infra.deploy_local --port $(PORT) --cdk "$(CDK)"

## Remove the stack from your account. The data bucket and the job table are kept (RETAIN):
## `make delete-data` deletes them. FORCE=1 skips the confirmation (needed without a terminal).
## Synthesis only names the stacks here: the source bundle, no layer or Numba cache build.
destroy: $(STAMP)
	@if [ -z "$(FORCE)" ] && [ ! -t 0 ]; then \
	  echo "make destroy: no terminal to confirm the deletion; run 'make destroy FORCE=1'." >&2; \
	  exit 2; fi
	$(BIN)/python -m infra.preflight --credentials-only -c regions=$(REGIONS)
	$(CDK) destroy --all $(if $(FORCE),--force,) -c regions=$(REGIONS) -c architecture=$(ARCH) -c bundle=source

## Delete what `make destroy` keeps: every version and delete marker of the (versioned) data
## bucket, the bucket, and the job table. Names from the stack's outputs (run it before `make
## destroy`), or BUCKET=... TABLE=... (one region). FORCE=1 skips the confirmation.
delete-data: $(STAMP)
	$(BIN)/python -m infra.teardown --regions $(REGIONS) $(if $(BUCKET),--bucket $(BUCKET),) $(if $(TABLE),--table $(TABLE),) $(if $(FORCE),--yes,)

clean:
	rm -rf $(VENV) cdk.out .pytest_cache build
