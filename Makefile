# canary — see README.md. `make demo` runs the main job, `make test` runs every test.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
export CANARY_CACHE ?= /var/cache/canary-e2e

.PHONY: help venv lint typecheck layering unit e2e test crds tools cluster-up cluster-down demo bench clean

help:
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed 's/:.*## /\t/'

$(VENV)/.installed: pyproject.toml
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

test: lint unit e2e ## every test: lint, unit, e2e

crds: venv ## regenerate crds/rollout.yaml (and the chart's copy) from the models
	$(PY) -m canary.core.crdgen > crds/rollout.yaml
	mkdir -p chart/crds && cp crds/rollout.yaml chart/crds/rollout.yaml

tools: venv ## build/install etcd, kube-apiserver, Gateway API CRDs, Traefik, kubectl, Prometheus, helm
	bash hack/tools.sh

cluster-up: tools ## start (or reuse) the local control plane; writes .local/cluster.env
	bash hack/cluster-up.sh

cluster-down: ## stop what cluster-up started, by PID
	bash hack/cluster-down.sh

demo: tools ## the seed scenario end to end: a healthy rollout and a faulty one
	bash hack/demo.sh

bench: venv ## benchmarks (tables)
	$(PY) benchmarks/evaluator.py

clean:
	rm -rf .pytest_cache .mypy_cache .ruff_cache .coverage htmlcov

.PHONY: bench-analysis
bench-analysis: venv ## analysis quality: seeded simulation, 1,000 rollouts per cell (~10 min CPU)
	$(PY) benchmarks/analysis_quality.py
