"""kube.py and guarded_patch against the real kube-apiserver of the local stack.

Given a route with three backendRefs, when a foreign writer edits it between our read and
our write, then the API server refuses our guarded patch (422, a failed `test`), we
re-read and converge without touching the foreign backend. A schema-invalid weight is a
different 422 and must map to InvalidObject.
"""

from __future__ import annotations

import subprocess
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest
import yaml
from kubernetes import client

from canary.adapters import errors
from canary.adapters.kube import (
    KubeClusterReader,
    KubeEvents,
    KubeRollouts,
    KubeRoutes,
    load_api_client,
)
from canary.adapters.ports import Obj
from canary.adapters.routewrite import guarded_patch

pytestmark = pytest.mark.e2e

REPO = Path(__file__).resolve().parents[2]
GW = "gateway.networking.k8s.io"


def make_route(kube: client.ApiClient, namespace: str) -> Obj:
    body = {
        "apiVersion": f"{GW}/v1",
        "kind": "HTTPRoute",
        "metadata": {"name": "api-route", "namespace": namespace},
        "spec": {
            "hostnames": ["api.example.com"],
            "rules": [
                {
                    "matches": [{"headers": [{"name": "X-Api-Version", "value": "v2"}]}],
                    "filters": [
                        {
                            "type": "RequestHeaderModifier",
                            "requestHeaderModifier": {"add": [{"name": "X-Seen", "value": "1"}]},
                        }
                    ],
                    "backendRefs": [
                        {"name": "user-service-v2", "port": 8080, "weight": 90},
                        {"name": "user-service-v3", "port": 8080, "weight": 10},
                        {"name": "legacy", "port": 8080, "weight": 5},
                    ],
                }
            ],
        },
    }
    out: Obj = client.CustomObjectsApi(kube).create_namespaced_custom_object(  # type: ignore[assignment]
        GW, "v1", namespace, "httproutes", body
    )
    return out


def refs(route: Obj) -> list[tuple[str, int]]:
    return [(r["name"], r["weight"]) for r in route["spec"]["rules"][0]["backendRefs"]]


def set_canary(weight: int) -> Any:
    """Route writes (README "How a step works"): test generation and identity at the
    index, replace weights."""

    def compute(live: Obj) -> list[dict[str, Any]] | None:
        want = {"user-service-v2": 100 - weight, "user-service-v3": weight}
        ops: list[dict[str, Any]] = [
            {"op": "test", "path": "/metadata/generation", "value": live["metadata"]["generation"]}
        ]
        for i, ref in enumerate(live["spec"]["rules"][0]["backendRefs"]):
            if ref["name"] in want:
                base = f"/spec/rules/0/backendRefs/{i}"
                ops += [
                    {"op": "test", "path": f"{base}/name", "value": ref["name"]},
                    {"op": "test", "path": f"{base}/port", "value": ref["port"]},
                    {"op": "replace", "path": f"{base}/weight", "value": want[ref["name"]]},
                ]
        return ops

    return compute


class RacingRoutes:
    """KubeRoutes with a foreign writer that strikes once, just before our first write."""

    def __init__(self, inner: KubeRoutes, kube: client.ApiClient) -> None:
        self.inner = inner
        self.kube = kube
        self.raced = False
        self.outcomes: list[str] = []

    def get(self, *, kind: str, namespace: str, name: str) -> Obj:
        return self.inner.get(kind=kind, namespace=namespace, name=name)

    def json_patch(
        self, *, kind: str, namespace: str, name: str, ops: Sequence[Mapping[str, Any]]
    ) -> Obj:
        if not self.raced:
            self.raced = True
            # someone else reorders the rule: a new backend first (the generation moves on)
            client.CustomObjectsApi(self.kube).patch_namespaced_custom_object(
                GW, "v1", namespace, "httproutes", name,
                [{"op": "add", "path": "/spec/rules/0/backendRefs/0",
                  "value": {"name": "mirror", "port": 8080, "weight": 1}}],
                _content_type="application/json-patch+json",
            )  # fmt: skip
        try:
            out = self.inner.json_patch(kind=kind, namespace=namespace, name=name, ops=ops)
        except errors.KubeError as exc:
            self.outcomes.append(type(exc).__name__)
            raise
        self.outcomes.append("ok")
        return out


def test_guarded_patch_converges_after_a_concurrent_edit(
    kube: client.ApiClient, namespace: str
) -> None:
    before = make_route(kube, namespace)
    racing = RacingRoutes(KubeRoutes(kube), kube)

    out = guarded_patch(
        routes=racing, kind="HTTPRoute", namespace=namespace, name="api-route",
        compute_ops=set_canary(50),
    )  # fmt: skip

    assert out is not None
    assert racing.outcomes == ["PatchTestFailed", "ok"]
    assert refs(out) == [
        ("mirror", 1), ("user-service-v2", 50), ("user-service-v3", 50), ("legacy", 5),
    ]  # fmt: skip
    rule = out["spec"]["rules"][0]
    assert rule["filters"] == before["spec"]["rules"][0]["filters"]
    assert rule["matches"] == before["spec"]["rules"][0]["matches"]
    assert out["metadata"]["generation"] == before["metadata"]["generation"] + 2


def test_stale_test_is_patch_test_failed_and_bad_weight_is_invalid(
    kube: client.ApiClient, namespace: str
) -> None:
    route = make_route(kube, namespace)
    routes = KubeRoutes(kube)
    gen = route["metadata"]["generation"]
    where = {"kind": "HTTPRoute", "namespace": namespace, "name": "api-route"}

    with pytest.raises(errors.PatchTestFailed) as stale:
        routes.json_patch(**where, ops=[
            {"op": "test", "path": "/metadata/generation", "value": gen + 1},
            {"op": "replace", "path": "/spec/rules/0/backendRefs/0/weight", "value": 1},
        ])  # fmt: skip
    assert stale.value.status == 422

    with pytest.raises(errors.PatchTestFailed):  # wrong identity at the index
        routes.json_patch(**where, ops=[
            {"op": "test", "path": "/spec/rules/0/backendRefs/0/name", "value": "user-service-v3"},
            {"op": "replace", "path": "/spec/rules/0/backendRefs/0/weight", "value": 1},
        ])  # fmt: skip

    with pytest.raises(errors.InvalidObject, match="weight") as invalid:
        routes.json_patch(**where, ops=[
            {"op": "test", "path": "/metadata/generation", "value": gen},
            {"op": "replace", "path": "/spec/rules/0/backendRefs/0/weight", "value": -1},
        ])  # fmt: skip
    assert invalid.value.status == 422

    with pytest.raises(errors.NotFound):
        routes.get(kind="HTTPRoute", namespace=namespace, name="nope")
    assert refs(routes.get(**where)) == [
        ("user-service-v2", 90), ("user-service-v3", 10), ("legacy", 5),
    ]  # fmt: skip


@pytest.fixture(scope="session")
def rollout_crd(kube: client.ApiClient, kubectl: Any) -> None:
    """The Rollout CRD: applied server-side from crds/ when the stack lacks it."""
    ext = client.ApiextensionsV1Api(kube)
    try:
        ext.read_custom_resource_definition("rollouts.canary.dev")
        return
    except client.ApiException as exc:
        if exc.status != 404:
            raise
    kubectl("apply", "--server-side", "--field-manager=canary-e2e", "-f",
            str(REPO / "crds" / "rollout.yaml"))  # fmt: skip
    kubectl("wait", "--for=condition=Established", "--timeout=30s",
            "crd/rollouts.canary.dev")  # fmt: skip


def make_rollout(kube: client.ApiClient, namespace: str) -> Obj:
    body = yaml.safe_load((REPO / "examples" / "rollout.yaml").read_text())
    body["metadata"] = {"name": "canary-api", "namespace": namespace}
    out: Obj = client.CustomObjectsApi(kube).create_namespaced_custom_object(  # type: ignore[assignment]
        "canary.dev", "v1alpha1", namespace, "rollouts", body
    )
    return out


def test_rollout_status_diff_annotations_and_watch(
    kube: client.ApiClient, namespace: str, rollout_crd: None
) -> None:
    created = make_rollout(kube, namespace)
    rollouts = KubeRollouts(kube)

    rollouts.patch_status(
        namespace=namespace, name="canary-api",
        patch={"phase": "Progressing", "stepIndex": 0, "stepLabel": "1/3", "message": "step 1"},
    )  # fmt: skip
    out = rollouts.patch_status(
        namespace=namespace, name="canary-api", patch={"stepLabel": "2/3", "message": None}
    )
    status = out["status"]
    assert status["phase"] == "Progressing" and status["stepLabel"] == "2/3"
    assert status.get("message", "") == ""  # removed (the CRD defaults it to "")
    assert out["metadata"]["generation"] == created["metadata"]["generation"]
    managers = {(m["manager"], m.get("subresource")) for m in out["metadata"]["managedFields"]}
    assert ("canary", "status") in managers

    rollouts.annotate(
        namespace=namespace, name="canary-api",
        annotations={"canary.dev/command": "promote", "canary.dev/command-id": "c1"},
    )  # fmt: skip
    got = rollouts.get(namespace=namespace, name="canary-api")
    assert got["metadata"]["annotations"]["canary.dev/command-id"] == "c1"
    assert got["status"]["stepLabel"] == "2/3"
    listed = rollouts.list(namespace=namespace)
    assert [(o["kind"], o["metadata"]["name"]) for o in listed] == [("Rollout", "canary-api")]

    start = time.monotonic()
    events = []
    for type_, obj in rollouts.watch(namespace=namespace, name="canary-api", timeout=2):
        events.append((type_, obj["metadata"]["name"]))
        break
    assert events == [("ADDED", "canary-api")]
    assert time.monotonic() - start < 10

    with pytest.raises(errors.InvalidObject):  # the status schema is structural
        rollouts.patch_status(namespace=namespace, name="canary-api", patch={"stepIndex": "two"})


def test_events_are_written_aggregated_and_listed(
    kube: client.ApiClient, namespace: str, rollout_crd: None
) -> None:
    ro = make_rollout(kube, namespace)
    events = KubeEvents(kube, instance="e2e")
    events.emit(obj=ro, type_="Normal", reason="StepStarted", message="step 1/3: weight 5")
    events.emit(obj=ro, type_="Normal", reason="StepStarted", message="step 1/3: weight 5")
    events.emit(obj=ro, type_="Warning", reason="RouteDrift", message="weights were edited")

    listed = events.list_for(obj=ro)
    got = sorted((e["reason"], e["type"], e.get("count")) for e in listed)
    assert got == [("RouteDrift", "Warning", 1), ("StepStarted", "Normal", 2)]
    for e in listed:
        assert e["source"]["component"] == "canary"
        assert e["reportingComponent"] == "canary"
        assert e["involvedObject"]["uid"] == ro["metadata"]["uid"]


def test_snapshot_sees_routes_services_and_namespaces(
    kube: client.ApiClient, namespace: str
) -> None:
    make_route(kube, namespace)
    svc: Any = {
        "metadata": {"name": "user-service-v2"},
        "spec": {"ports": [{"port": 8080}]},
    }  # fmt: skip
    client.CoreV1Api(kube).create_namespaced_service(namespace, svc)
    objs = KubeClusterReader(kube).snapshot(namespaces=[namespace])
    keys = {(o["apiVersion"], o["kind"], o["metadata"]["name"]) for o in objs}
    assert (f"{GW}/v1", "HTTPRoute", "api-route") in keys
    assert ("v1", "Service", "user-service-v2") in keys
    assert ("v1", "Namespace", namespace) in keys
    assert any(k[1] == "GatewayClass" for k in keys)
    assert all(o["metadata"].get("namespace") in (None, namespace) for o in objs)


def test_token_only_client_outside_a_pod(
    kube: client.ApiClient,
    namespace: str,
    cluster: dict[str, str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A ServiceAccount token + CA + server, no KUBECONFIG: 403 until RBAC allows it."""
    make_route(kube, namespace)
    core, rbac = client.CoreV1Api(kube), client.RbacAuthorizationV1Api(kube)
    sa: Any = {"metadata": {"name": "canary"}}
    core.create_namespaced_service_account(namespace, sa)
    request: Any = {"spec": {"expirationSeconds": 600}}
    issued: Any = core.create_namespaced_service_account_token("canary", namespace, request)
    (tmp_path / "token").write_text(str(issued.status.token))
    for var in ("KUBECONFIG", "KUBERNETES_SERVICE_HOST"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("CANARY_KUBE_SERVER", cluster["APISERVER_URL"])
    monkeypatch.setenv("CANARY_KUBE_TOKEN_FILE", str(tmp_path / "token"))
    monkeypatch.setenv("CANARY_KUBE_CA_FILE", cluster["CA_FILE"])
    routes = KubeRoutes(load_api_client())
    where: dict[str, Any] = {"kind": "HTTPRoute", "namespace": namespace, "name": "api-route"}

    with pytest.raises(errors.Forbidden):
        routes.get(**where)

    role: Any = {
        "metadata": {"name": "canary-routes"},
        "rules": [{"apiGroups": [GW], "resources": ["httproutes"], "verbs": ["get", "patch"]}],
    }  # fmt: skip
    rbac.create_namespaced_role(namespace, role)
    binding: Any = {
        "metadata": {"name": "canary-routes"},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role",
                    "name": "canary-routes"},
        "subjects": [{"kind": "ServiceAccount", "name": "canary", "namespace": namespace}],
    }  # fmt: skip
    rbac.create_namespaced_role_binding(namespace, binding)
    deadline = time.monotonic() + 10
    while True:  # RBAC is eventually consistent (informer cache)
        try:
            assert routes.get(**where)["metadata"]["name"] == "api-route"
            break
        except errors.Forbidden:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)
    out = guarded_patch(routes=routes, **where, compute_ops=set_canary(5))
    assert out is not None and refs(out)[:2] == [("user-service-v2", 95), ("user-service-v3", 5)]


def test_kubectl_sees_what_we_wrote(kube: client.ApiClient, namespace: str, kubectl: Any) -> None:
    """The JSON Patch left only weights changed: kubectl's view of the rule is otherwise equal."""
    before = make_route(kube, namespace)
    guarded_patch(
        routes=KubeRoutes(kube), kind="HTTPRoute", namespace=namespace, name="api-route",
        compute_ops=set_canary(5),
    )  # fmt: skip
    proc: subprocess.CompletedProcess[str] = kubectl(
        "get", "httproute", "api-route", "-n", namespace, "-o", "yaml"
    )
    after = yaml.safe_load(proc.stdout)

    def strip(refs: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return [{k: v for k, v in b.items() if k != "weight"} for b in refs]

    assert strip(after["spec"]["rules"][0]["backendRefs"]) == strip(
        before["spec"]["rules"][0]["backendRefs"]
    )
    assert after["spec"]["hostnames"] == before["spec"]["hostnames"]
