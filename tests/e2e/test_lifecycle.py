"""Lifecycle and ownership e2e (docs/state-machine.md "Lifecycle and ownership").

On the real local control plane (kube-apiserver, Traefik, Prometheus) with one operator:

- a Succeeded release is hands off: a person's edit of the weights is reported
  (Drifted=True, a Drift Warning) and never reverted, and deleting the Rollout keeps the
  released split (the outage this fixes: deleting sent all traffic back to the old
  version);
- a Failed Rollout (failed mid-flight, weights applied) is hands off too: an edit of the
  weights is never reverted, and deleting it leaves the route as it is;
- a RolledBack Rollout keeps stable 100 / canary 0 asserted against an edit back towards
  the canary; deleting it leaves the route as it is (the operator is stopped at the
  failpoint `before-route-write` before its re-assertion, so the deletion meets an edited
  route, then restarted);
- an Aborted Rollout keeps stable 100 / canary 0 asserted against an edit;
- deleting mid-flight follows `onDelete`: `keep` leaves the step's weights, `restore`
  writes stable 100 / canary 0 before the Rollout goes;
- one owner per rule: a second Rollout on the same rule is Invalid (RuleOwned) naming the
  owner and never writes; once the owner succeeds it starts;
- every wait is bounded: a rollback whose route stops being accepted ends RolledBack
  (RollbackUnconfirmed) at progressDeadline, and `canary status --wait` exits 1.

No sleeps and no timed windows: every hold is a manual gate (a step without pause), a
check error held until progressDeadline or a failpoint; each "nothing was written" is read
after the operator's own reconcile counter (canary_reconciles_total) moved on past the
moment in question.
"""

from __future__ import annotations

import json
import os
import secrets
import signal
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


def _events(kube: client.ApiClient, namespace: str, name: str = "rollout") -> list[Any]:
    found = client.CoreV1Api(kube).list_namespaced_event(
        namespace, field_selector=f"involvedObject.name={name}"
    )
    return list(found.items)


def _warnings(kube: client.ApiClient, namespace: str, name: str = "rollout") -> list[Any]:
    return [(e.reason, e.message) for e in _events(kube, namespace, name) if e.type == "Warning"]


def _messages(kube: client.ApiClient, namespace: str, name: str = "rollout") -> list[str]:
    return [e.message or "" for e in _events(kube, namespace, name)]


def _at_gate(kube: client.ApiClient, namespace: str, name: str = "rollout") -> Any:
    def check() -> dict[str, Any] | None:
        obj = _rollout(kube, namespace, name)
        return obj if _cond(obj, "AwaitingPromotion").get("status") == "True" else None

    return check


def _applied(obj: dict[str, Any]) -> list[tuple[int, int]]:
    return [(w["stable"], w["canary"]) for w in _status(obj).get("lastAppliedWeights") or []]


def _delete(kubectl: Any, namespace: str, name: str = "rollout") -> None:
    """Delete and wait until the object is gone (our finalizer released it)."""
    kubectl("-n", namespace, "delete", "rollouts.canary.dev", name, "--timeout=30s")


def _gone(kube: client.ApiClient, namespace: str, name: str = "rollout") -> bool:
    try:
        _rollout(kube, namespace, name)
    except client.ApiException as exc:
        if exc.status == 404:
            return True
        raise
    return False


LEAVE = "deleting: leaving the route as it is"
RESTORE = "deleting: restoring stable 100 / canary 0"


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
    _delete(kubectl, namespace)
    assert _gone(kube, namespace)
    assert _weights(_route(kube, namespace)) == [80, 20]
    assert LEAVE in _messages(kube, namespace)


def test_failed_rollout_is_hands_off_and_deleting_it_keeps_the_route(
    deploy: Any, operator: Any, kube: client.ApiClient, kubectl: Any, namespace: str
) -> None:
    """Failed mid-flight (weights applied): never written again, deleting leaves the route.

    The Rollout fails at its gate at 50 %: its metric has no flavor, and the route moves
    to a Gateway whose controller is unknown, so the flavor cannot be derived any more
    (Invalid). The spec is unchanged and the route still lists both backends."""
    deploy(weights=(90, 10))
    op = operator()
    steps = [{"weight": 50}, {"weight": 100}]  # step 1 is a manual gate
    metrics = [{"name": "error-rate", "template": "error-rate", "max": 0.05}]  # no flavor
    manifest = rollout_manifest(namespace=namespace, steps=steps, metrics=metrics)
    kubectl("apply", "-f", "-", input=manifest)
    wait_until("at the gate", _at_gate(kube, namespace), timeout=60)
    assert _weights(_route(kube, namespace)) == [50, 50]
    patch = [{"op": "replace", "path": "/spec/parentRefs/0/name", "value": "nowhere"}]
    kubectl(
        "-n", namespace, "patch", "httproute", "api-route", "--type=json", "-p", json.dumps(patch)
    )
    failed = wait_until("Failed", _phase(kube, namespace, "Failed"), timeout=30)
    invalid = _cond(failed, "Invalid")
    assert invalid["status"] == "True", invalid
    assert "spec.analysis.metrics[0].flavor" in invalid["message"], invalid
    assert _applied(failed) == [(50, 50)]  # it had acted: a restore would be possible

    # When someone edits the weights, Then they are never reverted (nor by a restore)
    _set_weights(kubectl, namespace, 80, 20)
    after_reconciles(op, namespace)
    assert _weights(_route(kube, namespace)) == [80, 20]
    obj = _rollout(kube, namespace)
    assert _status(obj)["phase"] == "Failed"
    drifted = _cond(obj, "Drifted")
    drift_warnings = [m for r, m in _warnings(kube, namespace) if r == "Drift"]

    # When the Failed Rollout is deleted, Then the route stays as it is
    _delete(kubectl, namespace)
    assert _gone(kube, namespace)
    assert _weights(_route(kube, namespace)) == [80, 20]
    assert LEAVE in _messages(kube, namespace)
    assert RESTORE not in _messages(kube, namespace)

    # docs/state-machine.md: a hands-off phase reports drift (Drifted=True + Warning Drift),
    # also when it failed for an invalid spec (its live weights are still read)
    assert drifted.get("status") == "True", drifted
    assert "80/20" in drifted["message"], drifted
    assert any("not reverted" in m for m in drift_warnings), drift_warnings


def test_aborted_rollout_keeps_stable_100_asserted(
    deploy: Any, operator: Any, kube: client.ApiClient, kubectl: Any, namespace: str
) -> None:
    deploy(weights=(90, 10))
    operator()
    steps = [{"weight": 50}, {"weight": 100}]  # step 1 is a manual gate: no timer races
    kubectl(
        "apply", "-f", "-", input=rollout_manifest(namespace=namespace, steps=steps, metrics=[])
    )
    wait_until("at the gate", _at_gate(kube, namespace), timeout=60)
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


def test_rolled_back_rollout_keeps_stable_100_asserted_and_deleting_it_keeps_the_route(
    deploy: Any,
    operator: Any,
    kube: client.ApiClient,
    kubectl: Any,
    namespace: str,
    cluster: dict[str, str],
    tmp_path: Path,
) -> None:
    deploy(weights=(90, 10))
    hold = tmp_path / "hold-route-writes"  # exists: the next route write waits
    env = {
        **os.environ,
        "KUBECONFIG": cluster["KUBECONFIG"],
        "CANARY_FAILPOINTS": f"before-route-write=pause-file:{hold}",
    }
    op = operator(env=env)
    # every check is an error (an address off the allowlist; nothing is sent to it): the
    # step holds until progressDeadline, then onFailure rolls back — no traffic needed
    metrics = [{"name": "error-rate", "template": "error-rate", "flavor": "traefik", "max": 0.05}]
    steps = [{"weight": 50, "pause": "1s"}, {"weight": 100}]
    doc = json.loads(
        rollout_manifest(namespace=namespace, steps=steps, metrics=metrics, deadline="6s")
    )
    doc["spec"]["analysis"]["address"] = "http://127.0.0.1:9"
    kubectl("apply", "-f", "-", input=json.dumps(doc))
    wait_until("RolledBack", _phase(kube, namespace, "RolledBack"), timeout=60)

    def restored() -> bool:  # live, and recorded as applied (what drift is judged against)
        live = _weights(_route(kube, namespace)) == [100, 0]
        return live and _applied(_rollout(kube, namespace)) == [(100, 0)]

    wait_until("stable 100 applied", restored, timeout=30)

    # When someone pushes traffic back towards the rolled-back canary, Then re-asserted
    _set_weights(kubectl, namespace, 60, 40)
    wait_until("re-asserted", lambda: _weights(_route(kube, namespace)) == [100, 0], timeout=30)
    assert any(r == "Drift" and "60/40" in m for r, m in _warnings(kube, namespace))
    assert _status(_rollout(kube, namespace))["phase"] == "RolledBack"

    # When the route is edited again and the Rollout deleted before the operator re-asserts
    # (it is stopped at its route write, killed there, and restarted after the delete),
    # Then the deletion leaves the edited route as it is
    hold.touch()
    _set_weights(kubectl, namespace, 70, 30)
    wait_until(
        "the re-assertion held before its write",
        lambda: "failpoint before-route-write: pause-file" in op.log(),
        timeout=30,
    )
    op.kill(signal.SIGKILL)
    hold.unlink()
    kubectl("-n", namespace, "delete", "rollouts.canary.dev", "rollout", "--wait=false")
    operator()  # the restarted operator (same identity: it renews its own Lease at once)
    wait_until("the Rollout gone", lambda: _gone(kube, namespace), timeout=30)
    assert _weights(_route(kube, namespace)) == [70, 30]
    assert LEAVE in _messages(kube, namespace)
    assert RESTORE not in _messages(kube, namespace)


def test_deleting_mid_flight_follows_on_delete_keep_or_restore(
    deploy: Any, operator: Any, kube: client.ApiClient, kubectl: Any, namespace: str
) -> None:
    deploy(weights=(90, 10))
    operator()
    # onDelete: keep, at a gate at 50 %: deleting leaves the step's weights
    keep = rollout_manifest(
        namespace=namespace, name="keep", steps=[{"weight": 50}, {"weight": 100}], metrics=[],
        extra_spec={"onDelete": "keep"},
    )  # fmt: skip
    kubectl("apply", "-f", "-", input=keep)
    wait_until("keep at its gate", _at_gate(kube, namespace, "keep"), timeout=60)
    assert _weights(_route(kube, namespace)) == [50, 50]
    _delete(kubectl, namespace, "keep")
    assert _gone(kube, namespace, "keep")
    assert _weights(_route(kube, namespace)) == [50, 50]
    assert LEAVE in _messages(kube, namespace, "keep")

    # onDelete: restore (the default), at a gate at 20 %, on the same rule (no owner left):
    # stable 100 / canary 0 is written before the finalizer lets the Rollout go
    restore = rollout_manifest(
        namespace=namespace, name="restore", steps=[{"weight": 20}, {"weight": 100}], metrics=[]
    )
    kubectl("apply", "-f", "-", input=restore)
    wait_until("restore at its gate", _at_gate(kube, namespace, "restore"), timeout=60)
    assert _weights(_route(kube, namespace)) == [80, 20]
    _delete(kubectl, namespace, "restore")
    assert _gone(kube, namespace, "restore")
    assert _weights(_route(kube, namespace)) == [100, 0]
    assert RESTORE in _messages(kube, namespace, "restore")


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
