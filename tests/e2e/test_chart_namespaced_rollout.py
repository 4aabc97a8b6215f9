"""Issue 11 item 4, namespaced mode: the operator as the chart's namespaced identity only.

Given the chart rendered with `watchNamespaces=[<team>]` and
`rbac.readOnlyNamespaces=[<gw>]` — the route's parent Gateway lives in <gw>, a namespace
the operator may only read — its ServiceAccount, Roles, ClusterRole and bindings created
on the real API server, and `canary run` started with a token minted for that
ServiceAccount and nothing else, with the namespace arguments the chart renders
(`--namespace <team> --read-namespace <gw>`, plus `--kube-qps/--kube-burst`):

- a healthy Rollout is verified on its first step (SplitVerified True, held at a manual
  gate so no timer is raced), is promoted, and reaches `Succeeded` — without a Forbidden
  answer in the operator's log;
- a Rollout whose canary fails half its requests (error-rate on real Traefik metrics) is
  rolled back by that failing check while held at a manual gate (not by its
  progressDeadline, which is set far beyond the test);
- a Rollout in a third namespace the chart does not watch stays untouched after the
  watched one progressed: no status, no finalizer, its route's weights and generation as
  created, and no reconcile of it on the operator's /metrics.

The Gateway is a second Gateway of the stack's Traefik GatewayClass (Traefik serves every
Gateway of its class), on the stack's web port, with a listener for the team's hostname
and `allowedRoutes` from the team namespace only.

Before issue 11's watch-backed caches (scoped to --namespace + --read-namespace) this
fails: the operator lists Gateways cluster-wide, the namespaced RBAC answers 403, and
SplitVerified never turns True (the assertion message quotes the operator's 403 lines).
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client
from operator_support import GATEWAY_GROUP, Traffic, reconciles, rollout_manifest, wait_until
from test_chart_e2e import (
    TokenIdentity,
    assert_only_token_credentials,
    install_chart_rbac,
    mint_identity,
    render_chart,
    unique_namespace,
)
from test_cli_e2e import canary

from stack.scenario import ensure_namespace

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(300)]

GATEWAY_NAME = "shared-gw"
# The operator reads these from the chart's rendered Deployment and passes them on.
CHART_ARGS = ("--namespace=", "--read-namespace=", "--kube-qps=", "--kube-burst=")
ERROR_RATE = [{"name": "error-rate", "template": "error-rate", "flavor": "traefik", "max": 0.05}]


@dataclass
class Namespaced:
    """The namespaced install: who runs, where the Gateway lives, the running operator."""

    team: str
    gateway_ns: str
    identity: TokenIdentity
    op: Any
    rendered_args: list[str]

    def forbidden(self) -> list[str]:
        return [line for line in self.op.log().splitlines() if "forbidden" in line.lower()]


def _create_gateway(kube: client.ApiClient, *, namespace: str, team: str, port: int) -> None:
    """A Gateway of the stack's `traefik` class in `namespace`, admitting routes of `team`."""
    body: Any = {
        "apiVersion": f"{GATEWAY_GROUP}/v1",
        "kind": "Gateway",
        "metadata": {"name": GATEWAY_NAME, "namespace": namespace},
        "spec": {
            "gatewayClassName": "traefik",
            "listeners": [
                {
                    "name": "team",
                    "protocol": "HTTP",
                    "port": port,  # = Traefik's web entryPoint
                    "hostname": f"{team}.example.com",
                    "allowedRoutes": {
                        "namespaces": {
                            "from": "Selector",
                            "selector": {"matchLabels": {"kubernetes.io/metadata.name": team}},
                        }
                    },
                }
            ],
        },
    }
    client.CustomObjectsApi(kube).create_namespaced_custom_object(
        GATEWAY_GROUP, "v1", namespace, "gateways", body
    )


def _gateway_programmed(kube: client.ApiClient, namespace: str) -> bool:
    gw: Any = client.CustomObjectsApi(kube).get_namespaced_custom_object(
        GATEWAY_GROUP, "v1", namespace, "gateways", GATEWAY_NAME
    )
    conds = {c["type"]: c["status"] for c in (gw.get("status") or {}).get("conditions", [])}
    return conds.get("Programmed") == "True"


def _rollout(kube: client.ApiClient, namespace: str, name: str = "rollout") -> dict[str, Any]:
    obj: Any = client.CustomObjectsApi(kube).get_namespaced_custom_object(
        "canary.dev", "v1alpha1", namespace, "rollouts", name
    )
    return dict(obj)


def _status(obj: dict[str, Any]) -> dict[str, Any]:
    return dict(obj.get("status") or {})


def _in_phase(kube: client.ApiClient, namespace: str, phase: str) -> dict[str, Any] | None:
    obj = _rollout(kube, namespace)
    return obj if _status(obj).get("phase") == phase else None


def _conditions(obj: dict[str, Any]) -> dict[str, str]:
    return {c["type"]: c["status"] for c in _status(obj).get("conditions", [])}


def _route(kube: client.ApiClient, namespace: str, name: str = "api-route") -> dict[str, Any]:
    obj: Any = client.CustomObjectsApi(kube).get_namespaced_custom_object(
        GATEWAY_GROUP, "v1", namespace, "httproutes", name
    )
    return dict(obj)


def _weights(route: dict[str, Any]) -> list[int]:
    return [int(b.get("weight", 1)) for b in route["spec"]["rules"][0]["backendRefs"]]


def _split_verified(obj: dict[str, Any]) -> dict[str, Any]:
    for cond in _status(obj).get("conditions", []):
        if cond["type"] == "SplitVerified":
            return dict(cond)
    return {}


def _wait_verified_at_gate(
    ns: Namespaced, kube: client.ApiClient, *, weight: int, or_rolled_back: bool = False
) -> dict[str, Any]:
    """The Rollout holds at its first step (a manual gate) with SplitVerified True — or,
    with `or_rolled_back`, its check already failed (a verdict needs a verified split).

    On timeout the message quotes the SplitVerified condition and the operator's Forbidden
    log lines: the pre-issue-11 operator fails exactly here (its cluster-wide LISTs are
    denied by the namespaced RBAC).
    """

    def verified() -> dict[str, Any] | None:
        obj = _rollout(kube, ns.team)
        st = _status(obj)
        if or_rolled_back and st.get("phase") in ("RollingBack", "RolledBack"):
            return obj
        ok = (
            st.get("phase") == "Progressing"
            and st.get("canaryWeight") == weight
            and _split_verified(obj).get("status") == "True"
        )
        return obj if ok else None

    try:
        found: dict[str, Any] = wait_until(
            f"SplitVerified True at {weight} % (manual gate)", verified, timeout=90
        )
    except AssertionError as exc:
        obj = _rollout(kube, ns.team)
        cond = _split_verified(obj)
        raise AssertionError(
            f"{exc}\nSplitVerified {cond.get('status')} ({cond.get('reason')}): "
            f"{cond.get('message')}\nphase {_status(obj).get('phase')}, message "
            f"{_status(obj).get('message')!r}\noperator log, Forbidden lines "
            f"({len(ns.forbidden())}):\n" + "\n".join(ns.forbidden()[:5])
        ) from None
    return found


@pytest.fixture
def namespaced(
    cluster: dict[str, str],
    kube: client.ApiClient,
    kubectl: Any,
    operator: Callable[..., Any],
    namespace: str,
    tmp_path: Path,
) -> Iterator[Namespaced]:
    """Team = the test's namespace (also the release namespace, holding the Lease); the
    Gateway in a fresh read-only namespace; the operator running as the chart's identity."""
    team = namespace
    gateway_ns = unique_namespace("gw")
    ensure_namespace(kube, name=gateway_ns, labels={"canary-e2e": "gateway-only"})
    port = int(cluster["GATEWAY_URL"].rsplit(":", 1)[1])
    _create_gateway(kube, namespace=gateway_ns, team=team, port=port)
    wait_until("Traefik programs the shared Gateway", lambda: _gateway_programmed(kube, gateway_ns))

    release = f"canary-{secrets.token_hex(3)}"
    docs = render_chart(
        release=release,
        namespace=team,
        values=[f"watchNamespaces={{{team}}}", f"rbac.readOnlyNamespaces={{{gateway_ns}}}"],
    )
    roles = {
        (d["metadata"]["namespace"], d["metadata"]["name"]) for d in docs if d["kind"] == "Role"
    }
    assert (gateway_ns, f"{release}-read") in roles, roles  # the read-only Role is rendered
    (deployment,) = [d for d in docs if d["kind"] == "Deployment"]
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    rendered = [a for a in container["args"] if a.startswith(CHART_ARGS)]
    assert [a for a in rendered if a.startswith(("--namespace=", "--read-namespace="))] == [
        f"--namespace={team}",
        f"--read-namespace={gateway_ns}",
    ], rendered
    cleanup = install_chart_rbac(kubectl, docs)
    try:
        me = mint_identity(
            kubectl, cluster, namespace=team, service_account=release, directory=tmp_path / "sa"
        )
        # The fixture's operator already passes --namespace <team> (and its Lease there).
        extra = tuple(a for a in rendered if not a.startswith("--namespace="))
        op = operator(env=me.operator_env(), extra_args=extra)
        assert op.proc is not None
        assert_only_token_credentials(me.operator_env())
        wait_until("the operator holds the chart's Lease", op.is_leader, timeout=30)
        print("operator args from the chart:", " ".join(rendered))
        yield Namespaced(
            team=team, gateway_ns=gateway_ns, identity=me, op=op, rendered_args=rendered
        )
    finally:
        cleanup()
        try:
            client.CustomObjectsApi(kube).delete_namespaced_custom_object(
                GATEWAY_GROUP, "v1", gateway_ns, "gateways", GATEWAY_NAME
            )
        except client.ApiException as exc:
            if exc.status != 404:
                raise


def test_namespaced_operator_completes_a_rollout_and_leaves_other_namespaces_alone(
    namespaced: Namespaced,
    deploy: Any,
    kube: client.ApiClient,
    kubectl: Any,
    cluster: dict[str, str],
    figure: Any,
) -> None:
    ns = namespaced
    me = ns.identity
    # The identity really is confined: nothing in the third namespace, only reads in <gw>.
    other = unique_namespace("unwatched")
    ensure_namespace(kube, name=other)
    assert not me.can("list", "rollouts.canary.dev", "-n", other)
    assert not me.can("patch", "httproutes.gateway.networking.k8s.io", "-n", other)
    assert me.can("watch", "gateways.gateway.networking.k8s.io", "-n", ns.gateway_ns)
    assert not me.can("patch", "httproutes.gateway.networking.k8s.io", "-n", ns.gateway_ns)
    assert not me.can("list", "gateways.gateway.networking.k8s.io", "-A")

    # The unwatched Rollout exists before the watched one starts (on the stack's Gateway).
    deploy(namespace=other, weights=(90, 10))
    kubectl("apply", "-f", "-", input=rollout_manifest(namespace=other))
    before = _route(kube, other)

    app = deploy(weights=(100, 0), gateway=(ns.gateway_ns, GATEWAY_NAME))
    route = _route(kube, ns.team)
    parents = [(p["namespace"], p["name"]) for p in route["spec"]["parentRefs"]]
    assert parents == [(ns.gateway_ns, GATEWAY_NAME)]  # served by Traefik (deploy waited)
    steps = [{"weight": 10}, {"weight": 50, "pause": "4s"}, {"weight": 100, "pause": "2s"}]
    kubectl(
        "apply", "-f", "-",
        input=rollout_manifest(namespace=ns.team, steps=steps, metrics=ERROR_RATE),
    )  # fmt: skip
    with Traffic(url=app.url, headers=app.headers, rate=60):
        at_gate = _wait_verified_at_gate(ns, kube, weight=10)
        assert _weights(_route(kube, ns.team)) == [90, 10]
        figure(f"at the gate: SplitVerified {json.dumps(_split_verified(at_gate))}")
        promoted = canary(cluster, "promote", "rollout", "-n", ns.team, "--wait")
        assert promoted.returncode == 0, promoted.stderr
        final = wait_until(
            "Succeeded as the namespaced identity",
            lambda: _in_phase(kube, ns.team, "Succeeded"),
            timeout=120,
        )  # fmt: skip
    status = _status(final)
    assert status["canaryWeight"] == 100
    assert _conditions(final).get("Completed") == "True"
    assert _weights(_route(kube, ns.team)) == [0, 100]
    assert not ns.forbidden(), "\n".join(ns.forbidden()[:10])
    denied = [c for c in _status(final)["conditions"] if "forbidden" in c["message"].lower()]
    assert not denied, denied

    # (c) after the watched one went all the way: the unwatched one was never touched.
    untouched = _rollout(kube, other)
    assert not untouched.get("status"), untouched.get("status")
    assert not untouched["metadata"].get("finalizers"), untouched["metadata"]
    after = _route(kube, other)
    assert _weights(after) == _weights(before) == [90, 10]
    assert after["metadata"]["generation"] == before["metadata"]["generation"]
    assert reconciles(ns.op, other) == 0.0
    assert reconciles(ns.op, ns.team) > 0.0  # the metric is there for the watched one
    assert other not in ns.op.log()
    elsewhere_route = f"{other}/api-route"
    figure(
        f"as {me.username} with {' '.join(ns.rendered_args)}: {ns.team}/rollout "
        f"{status['phase']} at {status['canaryWeight']}; {elsewhere_route} weights "
        f"{_weights(after)} (generation {after['metadata']['generation']}), "
        f"{other}/rollout status {untouched.get('status')!r}"
    )


def test_namespaced_operator_rolls_a_faulty_canary_back(
    namespaced: Namespaced,
    deploy: Any,
    kube: client.ApiClient,
    kubectl: Any,
    figure: Any,
) -> None:
    ns = namespaced
    app = deploy(weights=(100, 0), gateway=(ns.gateway_ns, GATEWAY_NAME))
    app.set_faults(app.canary, error_rate=0.5)
    # A manual gate at 20 %: only the failing check can end this step, and the deadline is
    # far beyond the test, so a rollback here is the analysis' verdict and nothing else.
    steps = [{"weight": 20}, {"weight": 100}]
    manifest = rollout_manifest(namespace=ns.team, steps=steps, metrics=ERROR_RATE, deadline="30m")
    kubectl("apply", "-f", "-", input=manifest)
    with Traffic(url=app.url, headers=app.headers, rate=60):
        _wait_verified_at_gate(ns, kube, weight=20, or_rolled_back=True)
        final = wait_until(
            "RolledBack by the error-rate check",
            lambda: _in_phase(kube, ns.team, "RolledBack"),
            timeout=120,
        )  # fmt: skip
    checks = [
        m
        for a in _status(final).get("analysis", [])
        if a["name"] == "error-rate"
        for m in a.get("measurements", [])
    ]
    failing = [m for m in checks if m.get("verdict") == "fail"]
    assert failing, checks
    assert _weights(_route(kube, ns.team)) == [100, 0]
    assert not ns.forbidden(), "\n".join(ns.forbidden()[:10])
    denied = [c for c in _status(final)["conditions"] if "forbidden" in c["message"].lower()]
    assert not denied, denied
    figure(
        f"as {ns.identity.username}: faulty canary (50 % errors at 20 %) → "
        f"{_status(final)['phase']}; failing check value {failing[0].get('value')}"
    )
