# canary — see README.md. `make demo` runs the main job, `make test` runs every test.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
export CANARY_CACHE ?= /var/cache/canary-e2e

.PHONY: help venv lint typecheck layering unit e2e test crds tools demo-tools flux-tools cluster-up cluster-down demo bench bench-cli differential clean

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
e2e: venv tools ## e2e tests on the real local control plane (started when absent) and the node
	@s=$$SECONDS; CANARY_AUDIT=$${CANARY_AUDIT:-1} $(PY) -m pytest tests/e2e -q -m e2e -s -p no:cacheprovider --durations=0 --durations-min=5; \
	  rc=$$?; echo "== e2e: $$((SECONDS - s)) s"; exit $$rc

test: export CANARY_REQUIRE_TOOLS = 1
test: tools lint unit e2e ## every test: lint, unit, e2e (builds the tools first: the chart's tests need helm)

# The declared minimum versions are real: a separate venv with every `>=` floor of
# pyproject.toml pinned (hack/floors.py → pip --constraint), then the unit tests there.
FLOORS_VENV ?= .venv-floors
.PHONY: floors
floors: ## unit tests against the floors of pyproject.toml (separate venv .venv-floors)
	@s=$$SECONDS; rm -rf $(FLOORS_VENV) && $(PYTHON) -m venv $(FLOORS_VENV) \
	  && $(FLOORS_VENV)/bin/pip install -q --upgrade pip \
	  && $(PYTHON) hack/floors.py > $(FLOORS_VENV)/floors.txt \
	  && $(FLOORS_VENV)/bin/pip install -q -c $(FLOORS_VENV)/floors.txt -e . \
	     $$($(PYTHON) hack/floors.py --test-runners) \
	  && $(FLOORS_VENV)/bin/pip freeze --exclude-editable \
	     | grep -iE "^($$(cut -d= -f1 $(FLOORS_VENV)/floors.txt | paste -sd'|'))==" \
	  && $(FLOORS_VENV)/bin/python -m pytest tests/unit -q -m 'not e2e' -p no:cacheprovider; \
	  rc=$$?; echo "== floors: $$((SECONDS - s)) s"; exit $$rc

crds: venv ## regenerate crds/rollout.yaml (and the chart's copy) from the models
	$(PY) -m canary.crdgen > crds/rollout.yaml
	mkdir -p chart/crds && cp crds/rollout.yaml chart/crds/rollout.yaml

tools: venv ## everything the tests need: demo-tools + helm (v4, v3) + actionlint + Flux + the node's parts; a per-phase table
	bash hack/tools.sh

flux-tools: ## only Flux kustomize-controller v1.9.6 + its CRDs into $(CANARY_CACHE)/flux (cached; part of make tools)
	bash hack/tools.sh flux

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

DIFF_SEEDS ?= 1 2 3
DIFF_JSON ?= benchmarks/results/differential-$(shell date -u +%Y%m%d).json
differential: venv demo-tools ## real Traefik vs the evaluator's traefik/spec profiles (seeded route sets; raw results in $(DIFF_JSON))
	bash hack/with-stack.sh $(PY) -m stack.differential --seed $(DIFF_SEEDS) --rounds 6 --json $(DIFF_JSON)

bench-cli: venv demo-tools ## CLI latency (--help, get, status, promote → wire) beside kubectl on the local stack (table)
	bash hack/with-stack.sh $(PY) benchmarks/cli.py

clean:
	rm -rf .pytest_cache .mypy_cache .ruff_cache .coverage htmlcov

# --- image and a real node (docs/install.md) ---------------------------------------------
.PHONY: image image-push registry registry-down node-tools node-up node-down

image: ## build the operator image from the Dockerfile without a daemon (buildah; prints size and contents)
	bash hack/build-image.sh --report

# IMAGE=registry.example.com/team/canary:0.2.0; PUSH_ARGS go to buildah push (--creds U:P,
# --authfile F, --cert-dir D, --tls-verify=false). Prints IMAGE@sha256:… (the chart's image.digest).
ifneq ($(filter image-push,$(MAKECMDGOALS)),)
ifeq ($(IMAGE),)
$(error usage: make image-push IMAGE=REGISTRY/REPO:TAG [PUSH_ARGS='--creds USER:PASS'])
endif
endif
image-push: image ## push the image to your registry: make image-push IMAGE=registry.example.com/team/canary:0.2.0
	bash hack/push-image.sh $(IMAGE) $(PUSH_ARGS)

registry: image ## a loopback registry (127.0.0.1:$$REGISTRY_PORT) with the image pushed to it
	bash hack/registry.sh push

registry-down: ## stop the loopback registry, by PID
	bash hack/registry.sh down

node-tools: ## only the node's parts: buildah, runc, kubelet, scheduler, controller-manager, containerd 2.x (part of make tools)
	bash hack/tools.sh node

node-up: node-tools ## one real node (containerd + kubelet + scheduler + controller-manager) beside the stack
	bash hack/node-up.sh

node-down: ## stop what node-up started, by PID
	bash hack/node-down.sh

.PHONY: bench-analysis bench-analysis-sim bench-analysis-real
bench-analysis: bench-analysis-sim bench-analysis-real ## analysis quality: the simulation, then 40 Rollouts on the real stack beside it

bench-analysis-sim: venv ## analysis quality: seeded simulation, 1,000 rollouts per cell (~10 min CPU)
	$(PY) benchmarks/analysis_quality.py

bench-analysis-real: venv demo-tools ## 20 healthy + 20 faulty Rollouts on the real stack vs the simulation, same settings (~7 min)
	bash hack/with-stack.sh $(PY) benchmarks/analysis_real.py

.PHONY: bench-scale
N ?= 100 300 1000
BACKGROUND ?= 1000
bench-scale: venv demo-tools ## the operator at N Rollouts over BACKGROUND unrelated routes (stack with audit log; table + benchmarks/results/*.json)
	CANARY_AUDIT=1 bash hack/with-stack.sh $(PY) benchmarks/scale.py $(foreach n,$(N),--n $(n)) --background $(BACKGROUND) $(SCALE_ARGS)
