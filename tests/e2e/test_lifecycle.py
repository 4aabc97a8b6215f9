"""Lifecycle and ownership e2e (docs/state-machine.md "Lifecycle and ownership").

On the real local control plane (kube-apiserver, Traefik, Prometheus) with one operator:

- a Succeeded release is hands off: a person's edit of the weights is reported
  (Drifted=True, a Drift Warning) and never reverted, and deleting the Rollout keeps the
  released split (the outage this fixes: deleting sent all traffic back to the old
  version);
- an Aborted Rollout keeps stable 100 / canary 0 asserted against an edit;
- one owner per rule: a second Rollout on the same rule is Invalid (RuleOwned) naming the
  owner and never writes; once the owner succeeds it starts;
- every wait is bounded: a rollback whose route stops being accepted ends RolledBack
  (RollbackUnconfirmed) at progressDeadline, and `canary status --wait` exits 1.

No sleeps: each "nothing was written" is read after the operator's own reconcile counter
(canary_reconciles_total) moved on past the moment in question.
"""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client
from operator_support import after_reconciles, rollout_manifest, wait_until

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(180)]

GW = "gateway.networking.k8s.io"
CANARY = str(Path(sys.executable).parent / "canary")
FAST = [{"weight": 50, "pause": "1s"}, {"weight": 100, "pause": "1s"}]


def _rollout(kube: client.ApiClient, namespace: str, name: str = "rollout") -> dict[str, Any]:
    obj: Any = client.CustomObjectsApi(kube).get_namespaced_custom_object(
        "canary.dev", "v1alpha1", namespace, "rollouts", name
    )
    return dict(obj)


def _status(obj: dict[str, Any]) -> dict[str, Any]:
    return dict(obj.get("status") or {})


def _cond(obj: dict[str, Any], ctype: str) -> dict[str, Any]:
    return next((dict(c) for c in _status(obj).get("conditions", []) if c["type"] == ctype), {})


def _route(kube: client.ApiClient, namespace: str) -> dict[str, Any]:
    obj: Any = client.CustomObjectsApi(kube).get_namespaced_custom_object(
        GW, "v1", namespace, "httproutes", "api-route"
    )
    return dict(obj)


def _weights(route: dict[str, Any]) -> list[int | None]:
    return [b.get("weight") for b in route["spec"]["rules"][0]["backendRefs"]]


def _set_weights(kubectl: Any, namespace: str, stable: int, canary: int) -> None:
    """A person's edit during an incident (another field manager)."""
    ops = [
        {"op": "replace", "path": "/spec/rules/0/backendRefs/0/weight", "value": stable},
        {"op": "replace", "path": "/spec/rules/0/backendRefs/1/weight", "value": canary},
    ]
    kubectl(
        "-n", namespace, "patch", "httproute", "api-route", "--type=json",
        "--field-manager=oncall", "-p", json.dumps(ops),
    )  # fmt: skip


def _phase(kube: client.ApiClient, namespace: str, *phases: str, name: str = "rollout") -> Any:
    def check() -> dict[str, Any] | None:
        obj = _rollout(kube, namespace, name)
        return obj if _status(obj).get("phase") in phases else None

    return check


def _cond_is(kube: client.ApiClient, namespace: str, ctype: str, status: str) -> Any:
    def check() -> dict[str, Any] | None:
        obj = _rollout(kube, namespace)
        return obj if _cond(obj, ctype).get("status") == status else None

    return check


def _warnings(kube: client.ApiClient, namespace: str, name: str = "rollout") -> list[Any]:
    found = client.CoreV1Api(kube).list_namespaced_event(
        namespace, field_selector=f"involvedObject.name={name}"
    )
    return [(e.reason, e.message) for e in found.items if e.type == "Warning"]


def test_succeeded_release_is_hands_off_and_deleting_it_keeps_the_split(
    deploy: Any, operator: Any, kube: client.ApiClient, kubectl: Any, namespace: str
) -> None:
    deploy(weights=(90, 10))
    op = operator()
    kubectl("apply", "-f", "-", input=rollout_manifest(namespace=namespace, steps=FAST, metrics=[]))
    wait_until("Succeeded", _phase(kube, namespace, "Succeeded"), timeout=60)
    assert _weights(_route(kube, namespace)) == [0, 100]

    # When someone edits the weights during an incident
    _set_weights(kubectl, namespace, 80, 20)
    # Then the drift is reported, not reverted
    obj = wait_until("Drifted=True", _cond_is(kube, namespace, "Drifted", "True"), timeout=30)
    assert "80/20" in _cond(obj, "Drifted")["message"]
    after_reconciles(op, namespace)
    assert _weights(_route(kube, namespace)) == [80, 20]
    assert any(r == "Drift" and "not reverted" in m for r, m in _warnings(kube, namespace))
    assert _status(_rollout(kube, namespace))["phase"] == "Succeeded"

    # When the finished Rollout is deleted, Then the route stays as it is
    kubectl("-n", namespace, "delete", "rollouts.canary.dev", "rollout", "--timeout=30s")
    with pytest.raises(client.ApiException) as gone:
        _rollout(kube, namespace)
    assert gone.value.status == 404
    assert _weights(_route(kube, namespace)) == [80, 20]


def test_aborted_rollout_keeps_stable_100_asserted(
    deploy: Any, operator: Any, kube: client.ApiClient, kubectl: Any, namespace: str
) -> None:
    deploy(weights=(90, 10))
    operator()
    steps = [{"weight": 50}, {"weight": 100}]  # step 1 is a manual gate: no timer races
    kubectl(
        "apply", "-f", "-", input=rollout_manifest(namespace=namespace, steps=steps, metrics=[])
    )
    wait_until(
        "at the gate",
        lambda: _cond(_rollout(kube, namespace), "AwaitingPromotion").get("status") == "True",
        timeout=60,
    )
    kubectl(
        "-n", namespace, "annotate", "--overwrite", "rollouts.canary.dev", "rollout",
        "canary.dev/command=abort", f"canary.dev/command-id=abort-{secrets.token_hex(4)}",
    )  # fmt: skip
    wait_until("Aborted", _phase(kube, namespace, "Aborted"), timeout=30)

    def restored() -> bool:  # live, and recorded as applied (what drift is judged against)
        applied = _status(_rollout(kube, namespace)).get("lastAppliedWeights") or []
        return _weights(_route(kube, namespace)) == [100, 0] and [
            (w["stable"], w["canary"]) for w in applied
        ] == [(100, 0)]

    wait_until("stable 100 applied", restored, timeout=30)
    # someone pushes traffic back to the aborted canary: re-asserted, with a Drift Warning
    _set_weights(kubectl, namespace, 70, 30)
    wait_until("re-asserted", lambda: _weights(_route(kube, namespace)) == [100, 0], timeout=30)
    assert any(r == "Drift" for r, _ in _warnings(kube, namespace))
    assert _status(_rollout(kube, namespace))["phase"] == "Aborted"


def test_second_rollout_on_an_owned_rule_waits_for_the_owner(
    deploy: Any, operator: Any, kube: client.ApiClient, kubectl: Any, namespace: str
) -> None:
    deploy(weights=(90, 10))
    op = operator()
    gate = [{"weight": 20}, {"weight": 100, "pause": "1s"}]
    kubectl(
        "apply", "-f", "-",
        input=rollout_manifest(namespace=namespace, name="first", steps=gate, metrics=[]),
    )  # fmt: skip
    wait_until(
        "first at its gate",
        lambda: (
            _cond(_rollout(kube, namespace, "first"), "AwaitingPromotion").get("status") == "True"
        ),
        timeout=60,
    )
    second = [{"weight": 30, "pause": "1s"}, {"weight": 100, "pause": "1s"}]
    kubectl(
        "apply", "-f", "-",
        input=rollout_manifest(namespace=namespace, name="second", steps=second, metrics=[]),
    )  # fmt: skip
    obj = wait_until("second Failed", _phase(kube, namespace, "Failed", name="second"), timeout=30)
    invalid = _cond(obj, "Invalid")
    assert invalid["status"] == "True" and invalid["reason"] == "RuleOwned"
    assert "Rollout first" in invalid["message"]
    after_reconciles(op, namespace, name="second")
    assert _weights(_route(kube, namespace)) == [80, 20]  # only the owner's weights
    # the owner finishes: the second one starts from the released weights
    kubectl(
        "-n", namespace, "annotate", "--overwrite", "rollouts.canary.dev", "first",
        "canary.dev/command=promote", f"canary.dev/command-id=p-{secrets.token_hex(4)}",
    )  # fmt: skip
    wait_until("first Succeeded", _phase(kube, namespace, "Succeeded", name="first"), timeout=60)
    wait_until("second Succeeded", _phase(kube, namespace, "Succeeded", name="second"), timeout=90)
    assert _weights(_route(kube, namespace)) == [0, 100]


def test_rollback_that_cannot_be_confirmed_ends_at_the_deadline(
    deploy: Any,
    operator: Any,
    kube: client.ApiClient,
    kubectl: Any,
    namespace: str,
    cluster: dict[str, str],
) -> None:
    deploy(weights=(90, 10))
    operator()
    steps = [{"weight": 50}, {"weight": 100}]
    manifest = rollout_manifest(namespace=namespace, steps=steps, metrics=[], deadline="6s")
    kubectl("apply", "-f", "-", input=manifest)
    wait_until(
        "at the gate",
        lambda: _cond(_rollout(kube, namespace), "AwaitingPromotion").get("status") == "True",
        timeout=60,
    )
    # the Gateway stops accepting the route: attached to a Gateway that does not exist
    patch = [{"op": "replace", "path": "/spec/parentRefs/0/name", "value": "nowhere"}]
    kubectl(
        "-n", namespace, "patch", "httproute", "api-route", "--type=json", "-p", json.dumps(patch)
    )
    # the split can no longer be verified: held past progressDeadline → RollingBack; the
    # rollback cannot be confirmed either → RolledBack at the deadline, naming the cause
    env = {**os.environ, "KUBECONFIG": cluster["KUBECONFIG"]}
    waited = subprocess.run(
        [CANARY, "status", "rollout", "-n", namespace, "--wait", "--timeout", "90s"],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    obj = _rollout(kube, namespace)
    st = _status(obj)
    assert waited.returncode == 1, waited.stdout + waited.stderr
    assert st["phase"] == "RolledBack", st
    assert "not confirmed within progressDeadline 6s" in st["message"], st["message"]
    assert "route not ready" in st["message"], st["message"]
    assert _cond(obj, "RouteReady")["status"] == "False"
    assert _cond(obj, "Completed")["status"] == "False"
    assert any(r == "RollbackUnconfirmed" for r, _ in _warnings(kube, namespace))
    assert _weights(_route(kube, namespace)) == [100, 0]  # the stable-100 write stands
