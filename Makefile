# Stax Orchestrator — every developer and CI entry point.
# `make demo` and `make test` install everything they need on a fresh machine.
SHELL := /bin/bash
.DEFAULT_GOAL := help
PYTHON ?= python3
VENV := .venv
MS_VENV := .venv-ministack
AWSCLI_VENV := .venv-awscli
PY := $(VENV)/bin/python
STAGE ?= local

.PHONY: help venv local-up local-down local-env local-status down test test-fast test-unit check fmt deploy-local demo bench clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-14s %s\n", $$1, $$2}'

$(VENV)/.installed: requirements.txt requirements-dev.txt pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	$(PY) -m pip install --quiet --disable-pip-version-check --no-deps -e .
	@touch $@

$(MS_VENV)/.installed: requirements-ministack.txt
	@test -x $(MS_VENV)/bin/python || $(PYTHON) -m venv $(MS_VENV)
	$(MS_VENV)/bin/python -m pip install --quiet --disable-pip-version-check -r requirements-ministack.txt
	@touch $@

$(AWSCLI_VENV)/.installed: requirements-awscli.txt
	@test -x $(AWSCLI_VENV)/bin/python || $(PYTHON) -m venv $(AWSCLI_VENV)
	$(AWSCLI_VENV)/bin/python -m pip install --quiet --disable-pip-version-check -r requirements-awscli.txt
	@touch $@

venv: $(VENV)/.installed $(MS_VENV)/.installed $(AWSCLI_VENV)/.installed ## create the virtual environments

local-up: venv ## start MiniStack + the Stax simulator and bootstrap them (idempotent)
	@local/stack.sh up

local-down: ## stop the local stack
	@local/stack.sh down

down: local-down ## stop everything `make demo` started

local-env: $(VENV)/.installed ## print the env vars for the local stack: eval "$$(make -s local-env)"
	@local/stack.sh env

local-status: ## say whether the local stack runs
	@local/stack.sh status

test: venv ## the whole test suite on the local stack (starts and stops it)
	@local/run-tests.sh

test-fast: venv ## unit + contract tiers: about a minute, no local stack; coverage of chalicelib
	$(PY) -m pytest tests/unit tests/contract -q --cov=chalicelib --cov-report=term:skip-covered

test-unit: venv ## unit tests only (no local stack)
	$(PY) -m pytest tests/unit -q

check: venv ## lint, format check, types, state machines, templates (read-only)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy
	$(PY) -m stax_orchestrator.deploy lint
	@if ls cloudformation/*.yaml >/dev/null 2>&1; then $(VENV)/bin/cfn-lint cloudformation/*.yaml; fi

fmt: venv ## reformat the code (the only target that writes)
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

deploy-local: local-up ## deploy the orchestrator to the local stack
	@eval "$$(local/stack.sh env)" && eval "$$(local/stack.sh deployer-env)" && PATH="$(CURDIR)/$(VENV)/bin:$$PATH" ./deploy.sh --stage local

bench: venv deploy-local ## benchmarks on the local stack: one table, `goals met: N/M` (bench/README.md)
	$(PY) bench/run.py

clean: local-down ## remove venvs and local state
	rm -rf $(VENV) $(MS_VENV) $(AWSCLI_VENV) .local .chalice/deployments .chalice/deployed

demo: deploy-local ## the main job on the local stack: publish, create → update → delete, a failure
	@$(PY) local/demo.py
