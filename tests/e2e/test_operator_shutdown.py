"""Issue 11 item 5: the operator exits on SIGTERM by itself, with Rollouts mid-flight.

Given one operator walking three Rollouts (each its own HTTPRoute and backends), all held
at a manual gate at 10 % with an error-rate check running every 3 s (so Prometheus
queries, status writes and the Lease renewals are in flight), when the process gets
SIGTERM — what the kubelet sends a Pod — then it exits by itself within the Pod's 30 s
grace period (a bound before the kubelet's SIGKILL, not a speed assertion: the measured
time is printed as a figure), its log says it stopped, and the Lease is released (no
holder) so a standby can take over at once.
"""

from __future__ import annotations

import signal
import subprocess
import time
from typing import Any

import pytest
from kubernetes import client
from operator_support import lease_holder, reconciles, rollout_manifest, wait_until

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(240)]

GRACE_PERIOD = 30.0  # a Pod's default terminationGracePeriodSeconds (the chart keeps it)
ROLLOUTS = 3
ERROR_RATE = [{"name": "error-rate", "template": "error-rate", "flavor": "traefik", "max": 0.05}]


def _rollout(kube: client.ApiClient, namespace: str, name: str) -> dict[str, Any]:
    obj: Any = client.CustomObjectsApi(kube).get_namespaced_custom_object(
        "canary.dev", "v1alpha1", namespace, "rollouts", name
    )
    return dict(obj)


def _weights(kube: client.ApiClient, namespace: str, route: str) -> list[int]:
    obj: Any = client.CustomObjectsApi(kube).get_namespaced_custom_object(
        "gateway.networking.k8s.io", "v1", namespace, "httproutes", route
    )
    return [int(b.get("weight", 1)) for b in obj["spec"]["rules"][0]["backendRefs"]]


def test_sigterm_with_rollouts_mid_flight_exits_and_releases_the_lease(
    deploy: Any,
    operator: Any,
    kube: client.ApiClient,
    kubectl: Any,
    namespace: str,
    figure: Any,
) -> None:
    names = [f"r{i}" for i in range(ROLLOUTS)]
    for name in names:
        deploy(
            route=f"{name}-route",
            stable=f"{name}-stable",
            canary=f"{name}-canary",
            hostname=f"{name}.{namespace}.example.com",
            weights=(100, 0),
        )
    op = operator()
    wait_until("the operator holds its Lease", op.is_leader, timeout=30)
    steps = [{"weight": 10}, {"weight": 100}]  # step 1 is a manual gate: no timer races
    for name in names:
        manifest = rollout_manifest(
            namespace=namespace,
            name=name,
            route=f"{name}-route",
            stable=f"{name}-stable",
            canary=f"{name}-canary",
            steps=steps,
            metrics=ERROR_RATE,
            deadline="30m",
        )
        kubectl("apply", "-f", "-", input=manifest)

    def mid_flight() -> bool:
        for name in names:
            st = _rollout(kube, namespace, name).get("status") or {}
            if st.get("phase") != "Progressing" or st.get("canaryWeight") != 10:
                return False
            if _weights(kube, namespace, f"{name}-route") != [90, 10]:
                return False
        return True

    wait_until(f"all {ROLLOUTS} Rollouts at their gate, routes at 90/10", mid_flight, timeout=90)
    # still being worked on (checks at the gate), not idle: each is reconciled again
    counts = {name: reconciles(op, namespace, name) for name in names}
    wait_until(
        "every Rollout reconciled again at its gate",
        lambda: all(reconciles(op, namespace, n) > counts[n] for n in names),
        timeout=60,
    )
    assert lease_holder(kube, namespace=namespace) == "op-a"

    assert op.proc is not None
    start = time.monotonic()
    op.proc.send_signal(signal.SIGTERM)
    try:
        code = op.proc.wait(timeout=GRACE_PERIOD)
    except subprocess.TimeoutExpired:
        op.proc.kill()  # what the kubelet does after the grace period
        op.proc.wait(timeout=10)
        pytest.fail(
            f"the operator did not exit within the {GRACE_PERIOD:.0f} s grace period after "
            f"SIGTERM; log tail:\n{op.log()[-3000:]}"
        )
    elapsed = time.monotonic() - start
    figure(
        f"SIGTERM → exit {elapsed:.2f} s with {ROLLOUTS} Rollouts at a gate "
        f"(exit code {code}; bound: {GRACE_PERIOD:.0f} s grace period)"
    )
    print(f"SIGTERM → exit in {elapsed:.2f} s, exit code {code}")
    log = op.log()
    print(log[-1500:])
    assert code == 0, log[-3000:]
    assert "operator stopped after" in log, log[-3000:]
    assert f"released lease {namespace}/canary-operator" in log, log[-3000:]
    assert lease_holder(kube, namespace=namespace) is None
    # the routes keep the weights of the step they were at (a stop is not a rollback)
    for name in names:
        assert _weights(kube, namespace, f"{name}-route") == [90, 10]
