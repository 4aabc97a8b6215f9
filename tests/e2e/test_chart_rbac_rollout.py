"""Issue 7, the RBAC proof: the operator walks a healthy rollout as the chart's identity only.

Given the chart's ServiceAccount, ClusterRole and bindings created from the rendered
templates on the real API server (release in the test namespace, default values: all
namespaces) and a token minted for that ServiceAccount, when `canary run` is started with
that token and nothing else — no KUBECONFIG, no admin certificate in its environment —
then it holds the Lease the chart grants (`leaderElection.leaseName` in the release
namespace), walks the seed's api-route 5 → 50 → 100 on real traffic to `Succeeded`
without a single Forbidden answer, and `kubectl auth can-i` as the same identity says it
cannot read Secrets or write Deployments.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from operator_support import Traffic, rollout_manifest, wait_until
from test_chart_e2e import (  # noqa: F401 - chart_identity: pytest registers the imported fixture
    CREDENTIAL_VARS,
    TokenIdentity,
    assert_only_token_credentials,
    chart_identity,
)

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(240)]

LEASE_NAME = "canary-operator"  # chart/values.yaml leaderElection.leaseName (default)


def _process_env(pid: int) -> dict[str, str]:
    """The environment the kernel recorded for `pid` at exec time."""
    raw = Path(f"/proc/{pid}/environ").read_bytes()
    pairs = (item.split(b"=", 1) for item in raw.split(b"\0") if b"=" in item)
    return {k.decode(errors="replace"): v.decode(errors="replace") for k, v in pairs}


def _rollout(kubectl: Any, namespace: str) -> dict[str, Any]:
    out = kubectl("-n", namespace, "get", "rollouts.canary.dev", "rollout", "-o", "json")
    return dict(json.loads(out.stdout))


def test_operator_completes_a_rollout_as_the_chart_service_account(
    chart_identity: TokenIdentity,  # noqa: F811 - the imported fixture
    deploy: Any,
    operator: Any,
    kubectl: Any,
    namespace: str,
    figure: Any,
) -> None:
    me = chart_identity
    whoami = json.loads(me.kubectl("auth", "whoami", "-o", "json").stdout)["status"]["userInfo"]
    print("kubectl auth whoami (as the operator's token):", json.dumps(whoami))
    figure(f"kubectl auth whoami: {whoami['username']} groups={whoami.get('groups')}")
    assert whoami["username"] == me.username
    assert "system:masters" not in whoami.get("groups", [])

    app = deploy(weights=(90, 10))
    # The operator fixture holds its Lease in the test namespace, which is the release
    # namespace here: exactly where the chart's lease Role grants create/get/update.
    op = operator(env=me.operator_env())
    assert op.proc is not None
    seen = _process_env(op.proc.pid)
    assert not set(CREDENTIAL_VARS) & set(seen), set(CREDENTIAL_VARS) & set(seen)
    assert_only_token_credentials(seen)
    assert seen["CANARY_KUBE_TOKEN_FILE"] == str(me.token_file)
    wait_until("the operator holds the chart's Lease", op.is_leader, timeout=30)
    lease = json.loads(kubectl("-n", namespace, "get", "lease", LEASE_NAME, "-o", "json").stdout)
    assert lease["spec"]["holderIdentity"] == "op-a"

    kubectl("apply", "-f", "-", input=rollout_manifest(namespace=namespace))
    with Traffic(url=app.url, headers=app.headers, rate=60):
        final = wait_until(
            "Succeeded under the chart's RBAC",
            lambda: (
                (o := _rollout(kubectl, namespace)).get("status", {}).get("phase") == "Succeeded"
                and o
            ),
            timeout=150,
        )
    status = final["status"]
    print(kubectl("-n", namespace, "get", "rollouts.canary.dev", "-o", "wide").stdout)
    figure(
        f"as {me.username}: phase {status['phase']}, step {status['stepLabel']}, "
        f"weight {status['canaryWeight']}, effective {status.get('effectiveWeight')}"
    )
    assert status["canaryWeight"] == 100
    completed = {c["type"]: c["status"] for c in status.get("conditions", [])}
    assert completed.get("Completed") == "True"
    route = json.loads(
        kubectl("-n", namespace, "get", "httproute", "api-route", "-o", "json").stdout
    )
    assert [b.get("weight") for b in route["spec"]["rules"][0]["backendRefs"]] == [0, 100]
    # Every request the operator made was allowed: no 403 in its log.
    forbidden = [line for line in op.log().splitlines() if "forbidden" in line.lower()]
    assert not forbidden, "\n".join(forbidden[:10])
    # ... and it was the only writer: one process folds a repeated Event into one object
    # (count + 1), so the same reason and message twice means a second operator (e.g. an
    # admin-credentialed cluster-wide one) acted here too and the proof would not hold.
    events = json.loads(kubectl("-n", namespace, "get", "events", "-o", "json").stdout)["items"]
    emitted = [
        (e["reason"], e["message"])
        for e in events
        if e["involvedObject"].get("name") == "rollout" and e.get("reportingComponent") == "canary"
    ]
    assert emitted and len(emitted) == len(set(emitted)), sorted(emitted)

    # What the identity cannot do — the authorizer's answer and a real request.
    checks = {
        "get secrets": me.can("get", "secrets", "-n", namespace),
        "list secrets -A": me.can("list", "secrets", "-A"),
        "create deployments.apps": me.can("create", "deployments.apps", "-n", namespace),
        "patch deployments.apps": me.can("patch", "deployments.apps", "-n", namespace),
        "delete deployments.apps -n app-team-a": me.can(
            "delete", "deployments.apps", "-n", "app-team-a"
        ),
    }
    figure(
        "kubectl auth can-i: " + ", ".join(f"{k}={'yes' if v else 'no'}" for k, v in checks.items())
    )
    print("kubectl auth can-i as", me.username, json.dumps(checks))
    assert not any(checks.values()), checks
    denied = me.kubectl("get", "secrets", "-n", namespace, check=False)
    assert denied.returncode != 0 and "forbidden" in denied.stderr.lower(), denied.stderr
