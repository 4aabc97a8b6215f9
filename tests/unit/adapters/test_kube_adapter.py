"""kube.py: error mapping, content types and shapes, against a scripted fake API server.

The 422 bodies are the ones kube-apiserver v1.36 answered in tests/e2e/test_adapters_kube.py.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from kubernetes import client
from kubernetes.client.exceptions import ApiException

from canary.adapters import errors
from canary.adapters.kube import (
    GENERIC_422_MESSAGE,
    KubeClusterReader,
    KubeEvents,
    KubeRollouts,
    KubeRoutes,
    is_patch_apply_failure,
    load_api_client,
    translate,
)
from tests.unit.adapters.httpfake import FakeHTTP, Request

# What kube-apiserver answers to a JSON Patch whose `test` op fails (handlers/patch.go:
# NewGenericServerResponse(422, ...) — the json-patch text is dropped).
TEST_FAILED_422 = {
    "kind": "Status",
    "apiVersion": "v1",
    "metadata": {},
    "status": "Failure",
    "message": GENERIC_422_MESSAGE,
    "reason": "Invalid",
    "details": {},
    "code": 422,
}
# What it answers when the patched object fails CRD validation.
INVALID_422 = {
    "kind": "Status",
    "apiVersion": "v1",
    "metadata": {},
    "status": "Failure",
    "message": 'HTTPRoute.gateway.networking.k8s.io "r" is invalid: '
    "spec.rules[0].backendRefs[0].weight: Invalid value: -1: "
    "spec.rules[0].backendRefs[0].weight in body should be greater than or equal to 0",
    "reason": "Invalid",
    "details": {
        "name": "r",
        "group": "gateway.networking.k8s.io",
        "kind": "HTTPRoute",
        "causes": [
            {
                "reason": "FieldValueInvalid",
                "message": "Invalid value: -1: spec.rules[0].backendRefs[0].weight in body "
                "should be greater than or equal to 0",
                "field": "spec.rules[0].backendRefs[0].weight",
            }
        ],
    },
    "code": 422,
}


def status(code: int, reason: str, message: str) -> dict[str, Any]:
    return {"kind": "Status", "apiVersion": "v1", "status": "Failure", "code": code,
            "reason": reason, "message": message}  # fmt: skip


class _Resp:
    def __init__(self, code: int, body: Any) -> None:
        self.status = code
        self.reason = "x"
        self.data = json.dumps(body).encode() if body is not None else b""
        self.headers: dict[str, str] = {}


def api_exc(code: int, body: Any) -> ApiException:
    return ApiException(http_resp=_Resp(code, body))


# --------------------------------------------------------------------------- mapping


@pytest.mark.parametrize(
    ("code", "body", "json_patch", "expected"),
    [
        (404, status(404, "NotFound", 'httproutes "r" not found'), False, errors.NotFound),
        (401, status(401, "Unauthorized", "Unauthorized"), False, errors.Forbidden),
        (403, status(403, "Forbidden", "cannot patch"), False, errors.Forbidden),
        (409, status(409, "Conflict", "the object has been modified"), False, errors.Conflict),
        (422, TEST_FAILED_422, True, errors.PatchTestFailed),
        (422, TEST_FAILED_422, False, errors.InvalidObject),  # only a JSON Patch can fail a test
        (422, INVALID_422, True, errors.InvalidObject),
        (400, status(400, "BadRequest", "error decoding patch"), True, errors.InvalidObject),
        (429, status(429, "TooManyRequests", "slow down"), False, errors.KubeUnavailable),
        (500, status(500, "InternalError", "etcd"), False, errors.KubeUnavailable),
        (503, None, False, errors.KubeUnavailable),
        (504, status(504, "Timeout", "timeout"), False, errors.KubeUnavailable),
        (410, status(410, "Expired", "too old resource version"), False, errors.KubeError),
    ],
)
def test_translate_maps_status_to_error_class(
    code: int, body: Any, json_patch: bool, expected: type[errors.KubeError]
) -> None:
    err = translate(api_exc(code, body), what="op", json_patch=json_patch)
    assert type(err) is expected
    assert err.status == code


@pytest.mark.parametrize(
    "message",
    [
        "testing value /metadata/generation failed: test failed",  # json-patch v5 text
        "Testing value /spec/rules/0/backendRefs/0/name failed",  # json-patch v4 text
        "test operation does not apply: is missing path: /spec/rules/3",
    ],
)
def test_patch_apply_failure_recognised_by_library_text_too(message: str) -> None:
    assert is_patch_apply_failure(api_exc(422, status(422, "Invalid", message)))


def test_generic_message_with_causes_is_not_a_test_failure() -> None:
    body = {**TEST_FAILED_422, "details": {"causes": [{"field": "spec", "message": "x"}]}}
    assert not is_patch_apply_failure(api_exc(422, body))
    assert not is_patch_apply_failure(api_exc(422, "not json at all"))


def test_invalid_message_keeps_the_field() -> None:
    err = translate(api_exc(422, INVALID_422), what="json-patch HTTPRoute ns/r", json_patch=True)
    assert "backendRefs[0].weight" in str(err)


# --------------------------------------------------------------------------- wire


@pytest.fixture
def api(http: FakeHTTP) -> client.ApiClient:
    cfg = client.Configuration()
    cfg.host = http.url
    return client.ApiClient(cfg)


ROUTE_PATH = "/apis/gateway.networking.k8s.io/v1/namespaces/ns/httproutes/r"


def test_json_patch_is_sent_as_json_patch_with_the_list_body(
    http: FakeHTTP, api: client.ApiClient
) -> None:
    route = {"apiVersion": "gateway.networking.k8s.io/v1", "kind": "HTTPRoute",
             "metadata": {"name": "r", "namespace": "ns", "generation": 2}}  # fmt: skip
    http.script("PATCH", ROUTE_PATH, (200, route))
    ops = [
        {"op": "test", "path": "/metadata/generation", "value": 1},
        {"op": "replace", "path": "/spec/rules/0/backendRefs/0/weight", "value": 95},
    ]
    out = KubeRoutes(api).json_patch(kind="HTTPRoute", namespace="ns", name="r", ops=ops)
    (req,) = http.only("PATCH")
    assert req.headers["content-type"] == "application/json-patch+json"
    assert req.json() == ops
    assert req.query["fieldManager"] == ["canary"]
    assert out == route


def test_json_patch_422_test_failure_and_invalid(http: FakeHTTP, api: client.ApiClient) -> None:
    http.script("PATCH", ROUTE_PATH, (422, TEST_FAILED_422), (422, INVALID_422))
    routes = KubeRoutes(api)
    with pytest.raises(errors.PatchTestFailed) as failed:
        routes.json_patch(kind="HTTPRoute", namespace="ns", name="r", ops=[])
    assert isinstance(failed.value.__cause__, ApiException)
    with pytest.raises(errors.InvalidObject, match="greater than or equal to 0"):
        routes.json_patch(kind="HTTPRoute", namespace="ns", name="r", ops=[])


def test_route_get_grpc_and_unknown_kind(http: FakeHTTP, api: client.ApiClient) -> None:
    path = "/apis/gateway.networking.k8s.io/v1/namespaces/ns/grpcroutes/g"
    http.script("GET", path, (200, {"kind": "GRPCRoute", "metadata": {"name": "g"}}))
    assert KubeRoutes(api).get(kind="GRPCRoute", namespace="ns", name="g")["kind"] == "GRPCRoute"
    with pytest.raises(errors.InvalidObject):
        KubeRoutes(api).get(kind="TCPRoute", namespace="ns", name="g")


def test_connection_refused_is_unavailable() -> None:
    cfg = client.Configuration()
    cfg.host = "http://127.0.0.1:9"  # discard port: nothing listens
    cfg.retries = False
    with pytest.raises(errors.KubeUnavailable):
        KubeRoutes(client.ApiClient(cfg)).get(kind="HTTPRoute", namespace="ns", name="r")


ROLLOUT_PATH = "/apis/canary.dev/v1alpha1/namespaces/ns/rollouts/ro"


def test_patch_status_sends_only_the_diff_as_merge_patch(
    http: FakeHTTP, api: client.ApiClient
) -> None:
    http.script("PATCH", ROLLOUT_PATH + "/status", (200, {"status": {"phase": "Progressing"}}))
    KubeRollouts(api).patch_status(
        namespace="ns", name="ro", patch={"phase": "Progressing", "message": None}
    )
    (req,) = http.only("PATCH")
    assert req.path == ROLLOUT_PATH + "/status"
    assert req.headers["content-type"] == "application/merge-patch+json"
    assert req.json() == {"status": {"phase": "Progressing", "message": None}}


def test_annotate_is_a_metadata_merge_patch(http: FakeHTTP, api: client.ApiClient) -> None:
    http.script("PATCH", ROLLOUT_PATH, (200, {"metadata": {"name": "ro"}}))
    KubeRollouts(api).annotate(
        namespace="ns", name="ro", annotations={"canary.dev/command": "promote", "x": None}
    )
    (req,) = http.only("PATCH")
    assert req.path == ROLLOUT_PATH
    assert req.json() == {"metadata": {"annotations": {"canary.dev/command": "promote", "x": None}}}


def test_rollout_list_sets_kind_and_get_not_found(http: FakeHTTP, api: client.ApiClient) -> None:
    http.script("GET", "/apis/canary.dev/v1alpha1/rollouts",
                (200, {"items": [{"metadata": {"name": "a", "namespace": "x"}}]}))  # fmt: skip
    (item,) = KubeRollouts(api).list(namespace=None)
    assert (item["apiVersion"], item["kind"]) == ("canary.dev/v1alpha1", "Rollout")
    with pytest.raises(errors.NotFound) as nf:
        KubeRollouts(api).get(namespace="ns", name="missing")
    assert nf.value.status == 404


def _watch_stream(*events: dict[str, Any]) -> bytes:
    return b"".join(json.dumps(e).encode() + b"\n" for e in events)


def test_watch_yields_type_and_dict_and_raises_on_error_events(
    http: FakeHTTP, api: client.ApiClient
) -> None:
    obj = {"apiVersion": "canary.dev/v1alpha1", "kind": "Rollout",
           "metadata": {"name": "ro", "namespace": "ns", "resourceVersion": "7"}}  # fmt: skip
    http.script(
        "GET",
        "/apis/canary.dev/v1alpha1/namespaces/ns/rollouts",
        (200, _watch_stream({"type": "ADDED", "object": obj}, {"type": "MODIFIED", "object": obj})),
    )
    got = list(KubeRollouts(api).watch(namespace="ns", name="ro", timeout=5))
    assert [t for t, _ in got] == ["ADDED", "MODIFIED"]
    assert got[0][1]["metadata"]["name"] == "ro"
    req = http.only("GET")[0]
    assert req.query["watch"] == ["True"] or req.query["watch"] == ["true"]
    assert req.query["fieldSelector"] == ["metadata.name=ro"]
    assert req.query["timeoutSeconds"] == ["5"]

    gone = {"type": "ERROR", "object": status(410, "Expired", "too old resource version")}
    http.script("GET", "/apis/canary.dev/v1alpha1/rollouts", (200, _watch_stream(gone)))
    with pytest.raises(errors.KubeError) as err:
        list(KubeRollouts(api).watch(namespace=None, timeout=5))
    assert err.value.status == 410


def test_snapshot_lists_every_kind_as_dicts_and_skips_missing_crds(
    http: FakeHTTP, api: client.ApiClient
) -> None:
    def items(*names: str) -> tuple[int, Any]:
        return 200, {"items": [{"metadata": {"name": n, "namespace": "app"}} for n in names]}

    gw = "/apis/gateway.networking.k8s.io"
    http.script("GET", f"{gw}/v1/gatewayclasses", (200, {"items": [{"metadata": {"name": "t"}}]}))
    http.script("GET", f"{gw}/v1/namespaces/app/gateways", items("gw"))
    http.script("GET", f"{gw}/v1/namespaces/app/httproutes", items("r1", "r2"))
    # grpcroutes: not scripted → 404 → CRD not installed, skipped
    http.script("GET", f"{gw}/v1beta1/namespaces/app/referencegrants", items("rg"))
    http.script("GET", "/api/v1/namespaces", (200, {"items": [{"metadata": {"name": "app"}}]}))
    http.script("GET", "/api/v1/namespaces/app/services", (200, {
        "items": [{"metadata": {"name": "svc", "namespace": "app"},
                   "spec": {"ports": [{"port": 80, "targetPort": 8080}]}}]}))  # fmt: skip
    http.script("GET", "/apis/discovery.k8s.io/v1/namespaces/app/endpointslices", (200, {
        "items": [{"metadata": {"name": "svc-1", "namespace": "app"}, "addressType": "FQDN",
                   "endpoints": [{"addresses": ["b.test"]}]}]}))  # fmt: skip

    objs = KubeClusterReader(api).snapshot(namespaces=["app"])
    kinds = [(o["apiVersion"], o["kind"], o["metadata"]["name"]) for o in objs]
    assert kinds == [
        ("gateway.networking.k8s.io/v1", "GatewayClass", "t"),
        ("gateway.networking.k8s.io/v1", "Gateway", "gw"),
        ("gateway.networking.k8s.io/v1", "HTTPRoute", "r1"),
        ("gateway.networking.k8s.io/v1", "HTTPRoute", "r2"),
        ("gateway.networking.k8s.io/v1beta1", "ReferenceGrant", "rg"),
        ("v1", "Namespace", "app"),
        ("v1", "Service", "svc"),
        ("discovery.k8s.io/v1", "EndpointSlice", "svc-1"),
    ]
    svc = objs[6]
    assert svc["spec"]["ports"][0] == {"port": 80, "targetPort": 8080}  # camelCase, no Nones


ROLLOUT = {
    "apiVersion": "canary.dev/v1alpha1",
    "kind": "Rollout",
    "metadata": {"name": "ro", "namespace": "ns", "uid": "u-1", "resourceVersion": "3"},
}


def created_event(req: Request) -> tuple[int, Any]:
    """The API server's answer: the Event as stored (echo; name from generateName)."""
    body = req.json()
    if req.method == "PATCH":
        body = {"involvedObject": {"kind": "Rollout"}, **body}
    return 201, {**body, "metadata": {"name": "ro.abc", "namespace": "ns"}}


def test_events_create_then_bump_count(http: FakeHTTP, api: client.ApiClient) -> None:
    http.script("POST", "/api/v1/namespaces/ns/events", created_event)
    http.script("PATCH", "/api/v1/namespaces/ns/events/ro.abc", created_event)
    events = KubeEvents(api, instance="test-host")
    events.emit(obj=ROLLOUT, type_="Normal", reason="StepAdvanced", message="weight 5")
    events.emit(obj=ROLLOUT, type_="Normal", reason="StepAdvanced", message="weight 5")

    (post,) = http.only("POST")
    body = post.json()
    assert body["involvedObject"] == {
        "apiVersion": "canary.dev/v1alpha1", "kind": "Rollout", "name": "ro",
        "namespace": "ns", "uid": "u-1", "resourceVersion": "3",
    }  # fmt: skip
    assert (body["reason"], body["message"], body["type"], body["count"]) == (
        "StepAdvanced", "weight 5", "Normal", 1,
    )  # fmt: skip
    assert body["source"] == {"component": "canary"}
    assert body["reportingComponent"] == "canary"
    assert body["reportingInstance"] == "test-host"
    assert body["metadata"]["generateName"] == "ro."
    (patch,) = http.only("PATCH")
    assert patch.json()["count"] == 2
    assert patch.headers["content-type"] == "application/merge-patch+json"


def test_the_operators_events_name_its_lease_identity_as_reporting_instance(
    http: FakeHTTP, api: client.ApiClient
) -> None:
    """The reconciler's Events say which replica wrote them: the Lease identity (the chart
    passes the Pod's name), not the hostname — a Pod on the host network has the node's."""
    from canary.operator.config import OperatorConfig
    from canary.operator.reconcile import Reconciler

    http.script("POST", "/api/v1/namespaces/ns/events", created_event)
    config = OperatorConfig(identity="canary-5d8f7c9b4-x2x7q")
    reconciler = Reconciler.from_api_client(api, config=config, cache=object())  # type: ignore[arg-type]
    reconciler.events.emit(obj=ROLLOUT, type_="Normal", reason="StepAdvanced", message="w 5")
    (post,) = http.only("POST")
    assert post.json()["reportingInstance"] == "canary-5d8f7c9b4-x2x7q"


def test_events_recreate_when_the_aggregated_event_expired(
    http: FakeHTTP, api: client.ApiClient
) -> None:
    http.script("POST", "/api/v1/namespaces/ns/events", created_event)
    http.script("PATCH", "/api/v1/namespaces/ns/events/ro.abc",
                (404, status(404, "NotFound", "gone")))  # fmt: skip
    events = KubeEvents(api)
    events.emit(obj=ROLLOUT, type_="Warning", reason="Drift", message="weights changed")
    events.emit(obj=ROLLOUT, type_="Warning", reason="Drift", message="weights changed")
    assert len(http.only("POST")) == 2


def test_events_list_for_filters_by_uid_and_sorts(http: FakeHTTP, api: client.ApiClient) -> None:
    def ev(name: str, t: str) -> dict[str, Any]:
        return {"metadata": {"name": name, "namespace": "ns"}, "lastTimestamp": t,
                "involvedObject": {"kind": "Rollout", "name": "ro"}}  # fmt: skip

    http.script("GET", "/api/v1/namespaces/ns/events", (200, {"items": [
        ev("b", "2026-01-01T00:00:02Z"), ev("a", "2026-01-01T00:00:01Z"),
        ev("c", "2026-01-01T00:00:03Z")]}))  # fmt: skip
    out = KubeEvents(api).list_for(obj=ROLLOUT, limit=2)
    assert [e["metadata"]["name"] for e in out] == ["b", "c"]
    assert out[0]["kind"] == "Event"
    assert http.only("GET")[0].query["fieldSelector"] == ["involvedObject.uid=u-1"]


# --------------------------------------------------------------------------- config


def test_load_api_client_with_a_token_file_outside_a_pod(
    http: FakeHTTP, tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    token = tmp_path / "token"
    token.write_text("first\n")
    monkeypatch.setenv("CANARY_KUBE_SERVER", http.url)
    monkeypatch.setenv("CANARY_KUBE_TOKEN_FILE", str(token))
    monkeypatch.delenv("CANARY_KUBE_CA_FILE", raising=False)
    monkeypatch.setenv("KUBECONFIG", str(tmp_path / "nonexistent"))
    http.script("GET", ROUTE_PATH, (200, {"metadata": {"name": "r"}}))
    routes = KubeRoutes(load_api_client())
    routes.get(kind="HTTPRoute", namespace="ns", name="r")
    token.write_text("rotated\n")  # projected tokens rotate: re-read per request
    routes.get(kind="HTTPRoute", namespace="ns", name="r")
    auth = [r.headers["authorization"] for r in http.only("GET")]
    assert auth == ["Bearer first", "Bearer rotated"]


def test_load_api_client_explains_a_missing_config(
    tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    for var in ("CANARY_KUBE_SERVER", "KUBERNETES_SERVICE_HOST"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("KUBECONFIG", str(tmp_path / "nonexistent"))
    monkeypatch.setenv("HOME", str(tmp_path))
    with pytest.raises(errors.KubeError, match="no usable Kubernetes configuration"):
        load_api_client()
    monkeypatch.setenv("CANARY_KUBE_SERVER", "https://127.0.0.1:1")
    with pytest.raises(errors.KubeError, match="CANARY_KUBE_TOKEN_FILE"):
        load_api_client()
