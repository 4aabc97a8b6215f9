"""crds/rollout.yaml on the real kube-apiserver: CEL rules, schema, status, printer columns."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.e2e

CRD = Path(__file__).resolve().parents[2] / "crds" / "rollout.yaml"


def rollout(namespace: str, name: str = "r", **spec: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "apiVersion": "canary.dev/v1alpha1",
        "kind": "Rollout",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {
            "routes": [{"name": "api-route"}],
            "stable": {"name": "user-service-v2", "port": 8080},
            "canary": {"name": "user-service-v3", "port": 8080},
            "steps": [
                {"weight": 5, "pause": "30s"},
                {"weight": 50, "pause": "1m"},
                {"weight": 100},
            ],
        },
    }
    body["spec"].update(copy.deepcopy(spec))
    return body


# (case, spec override, the apiserver's message) — one per CEL rule, plus the duration pattern
REJECTED = [
    ("weight-above-100", {"steps": [{"weight": 5}, {"weight": 150}]},
     "spec.steps[1].weight: Invalid value: weight must be between 0 and 100"),
    ("weight-below-0", {"steps": [{"weight": -1}]},
     "spec.steps[0].weight: Invalid value: weight must be between 0 and 100"),
    ("no-steps", {"steps": []}, "spec.steps: Invalid value: at least one step is required"),
    ("decreasing-weights", {"steps": [{"weight": 50}, {"weight": 20}]},
     "spec.steps: Invalid value: step weights must be strictly increasing"),
    ("repeated-weight", {"steps": [{"weight": 20}, {"weight": 20}]},
     "spec.steps: Invalid value: step weights must be strictly increasing"),
    ("stable-is-canary", {"canary": {"name": "user-service-v2", "port": 8080}},
     "spec.canary: Invalid value: stable and canary must name different backends"),
    ("manage-backends-without-rules", {"manageBackends": True},
     "spec.manageBackends: Invalid value: manageBackends needs explicit rules on every route"),
    ("template-and-query",
     {"analysis": {"metrics": [{"name": "errors", "template": "error-rate", "query": "up"}]}},
     "spec.analysis.metrics[0]: Invalid value: set exactly one of template or query"),
    ("not-a-go-duration", {"steps": [{"weight": 5, "pause": "5 minutes"}]},
     'spec.steps[0].pause: Invalid value: "5 minutes": spec.steps[0].pause in body should match'),
]  # fmt: skip


@pytest.fixture(scope="module")
def rollout_crd(kubectl: Any) -> None:
    kubectl("apply", "--server-side", "--force-conflicts", "-f", str(CRD))
    kubectl("wait", "--for=condition=Established", "--timeout=30s", "crd/rollouts.canary.dev")


@pytest.mark.timeout(60)
@pytest.mark.parametrize(("case", "spec", "message"), REJECTED, ids=[r[0] for r in REJECTED])
def test_invalid_rollout_is_rejected_with_the_rule_message(
    rollout_crd: None, kubectl: Any, namespace: str, case: str, spec: dict[str, Any], message: str
) -> None:
    proc = kubectl("create", "-f", "-", input=json.dumps(rollout(namespace, **spec)), check=False)
    assert proc.returncode != 0, f"{case} was accepted"
    assert 'The Rollout "r" is invalid' in proc.stderr
    assert message in proc.stderr, proc.stderr


@pytest.mark.timeout(60)
def test_valid_rollout_is_accepted_and_shows_printer_columns(
    rollout_crd: None, kubectl: Any, namespace: str
) -> None:
    kubectl("create", "-f", "-", input=json.dumps(rollout(namespace, name="checkout")))
    # the status subresource is real: spec is ignored there, status lands
    kubectl(
        "patch", "rollouts.canary.dev", "checkout", "-n", namespace, "--subresource=status",
        "--type=merge", "-p",
        json.dumps({"status": {"phase": "Progressing", "stepLabel": "1/3", "canaryWeight": 5,
                               "effectiveWeight": 0.05, "message": "step 1"}}),
    )  # fmt: skip

    table = kubectl("get", "rollouts.canary.dev", "-n", namespace).stdout.splitlines()
    assert table[0].split() == ["NAME", "PHASE", "STEP", "WEIGHT", "EFFECTIVE", "AGE"]
    assert table[1].split()[:5] == ["checkout", "Progressing", "1/3", "5", "0.05"]

    wide = kubectl("get", "cro", "-n", namespace, "-o", "wide").stdout.splitlines()
    assert wide[0].split() == [
        "NAME", "PHASE", "STEP", "WEIGHT", "EFFECTIVE", "AGE", "STABLE", "CANARY", "MESSAGE",
    ]  # fmt: skip
    assert wide[1].split()[-4:] == ["user-service-v2", "user-service-v3", "step", "1"]

    stored = json.loads(
        kubectl("get", "rollouts.canary.dev", "checkout", "-n", namespace, "-o", "json").stdout
    )
    assert stored["spec"]["onFailure"] == "rollback"  # schema defaults applied by the apiserver
