"""The watch-backed cache on the real kube-apiserver (issue 11, item 1).

Given a ClusterCache scoped to the test namespace with a 2 s watch timeout (so the
server closes every watch within the test), when a Service, an HTTPRoute and an
EndpointSlice are created, the Service changed after its watch was reopened and the
route deleted, then the cache shows each step (waits on the cache, no sleeps) and the
apiserver's audit log shows one LIST per kind and more than one WATCH: the closed
watches were resumed from their resourceVersion, never relisted. The requests are also
counted client-side (a hook on ``call_api``) and every LIST took a rate-limit token while
no watch did.

A second test runs the cache as a ServiceAccount that may list Services but not
HTTPRoutes: the route informer reports the 403 naming kind and namespace, the cache is
not synced; once a Role grants the routes, it recovers by itself.
"""

from __future__ import annotations

import json
from collections import Counter
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from audit import AuditLog
from conftest import LOCAL
from kubernetes import client
from operator_support import wait_until
from test_chart_e2e import mint_identity

from canary.adapters import kube as kube_adapter
from canary.adapters.informer import EVALUATOR_KINDS, SERVICE, Change, ClusterCache
from canary.adapters.ratelimit import TokenBucket, limit_requests

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(180)]

ROUTE = next(k for k in EVALUATOR_KINDS if k.kind == "HTTPRoute")
GROUP = "gateway.networking.k8s.io"


class CountingBucket(TokenBucket):
    def __init__(self) -> None:
        super().__init__(100, 200)
        self.taken = 0

    def acquire(self) -> float:
        self.taken += 1
        return super().acquire()


def _record_requests(api: client.ApiClient) -> list[tuple[str, dict[str, str]]]:
    """Hook ``call_api``: every request's path and query, in order."""
    seen: list[tuple[str, dict[str, str]]] = []
    hooked: Any = api
    original = hooked.call_api

    def call_api(method: str, url: str, *args: Any, **kwargs: Any) -> Any:
        parts = urlsplit(url)
        seen.append((parts.path, {k: v[0] for k, v in parse_qs(parts.query).items()}))
        return original(method, url, *args, **kwargs)

    hooked.call_api = call_api
    return seen


def _service(name: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": name},
        # headless: needs no ClusterIP from the stack's small Service range
        "spec": {"clusterIP": "None", "ports": [{"port": 80, "targetPort": 8080}]},
    }


def test_cache_follows_changes_and_resumes_closed_watches_without_relisting(
    kube: client.ApiClient, cluster: dict[str, str], namespace: str, figure: Any
) -> None:
    api = kube_adapter.load_api_client(kubeconfig=cluster["KUBECONFIG"])
    requests = _record_requests(api)
    bucket = CountingBucket()
    limit_requests(api, bucket)
    changes: list[Change] = []
    cache = ClusterCache(api, namespaces=[namespace], on_change=changes.append, watch_timeout=2)
    core, custom = client.CoreV1Api(kube), client.CustomObjectsApi(kube)
    discovery = client.DiscoveryV1Api(kube)
    cache.start()
    try:
        assert cache.wait_synced(30), cache.errors()
        assert cache.errors() == []
        # Given objects created after the first LIST: they arrive by the watch.
        core.create_namespaced_service(namespace, _service("web"))
        custom.create_namespaced_custom_object(
            GROUP,
            "v1",
            namespace,
            "httproutes",
            {
                "apiVersion": f"{GROUP}/v1",
                "kind": "HTTPRoute",
                "metadata": {"name": "web-route"},
                "spec": {
                    "parentRefs": [{"name": "prod-gateway", "namespace": "infra"}],
                    "rules": [{"backendRefs": [{"name": "web", "port": 80}]}],
                },
            },
        )
        discovery.create_namespaced_endpoint_slice(
            namespace,
            {
                "apiVersion": "discovery.k8s.io/v1",
                "kind": "EndpointSlice",
                "metadata": {"name": "web-1", "labels": {"kubernetes.io/service-name": "web"}},
                "addressType": "FQDN",  # an object only: nothing is sent there
                "endpoints": [{"addresses": ["web.example.test"], "conditions": {"ready": True}}],
                "ports": [{"name": "", "port": 8080, "protocol": "TCP"}],
            },
        )
        route = wait_until("route cached", lambda: cache.get("HTTPRoute", namespace, "web-route"))
        svc = wait_until("service cached", lambda: cache.get("Service", namespace, "web"))
        eps = wait_until("slice cached", lambda: cache.get("EndpointSlice", namespace, "web-1"))
        assert route["apiVersion"] == f"{GROUP}/v1" and route["kind"] == "HTTPRoute"
        assert route["metadata"].get("managedFields"), "route managedFields are kept"
        assert "managedFields" not in svc["metadata"] and "managedFields" not in eps["metadata"]
        assert svc["kind"] == "Service" and eps["kind"] == "EndpointSlice"

        # When the server has closed the Services watch (timeoutSeconds=2) and it was reopened
        # from the resourceVersion the cache had reached …
        svc_path = f"/api/v1/namespaces/{namespace}/services"

        def resumed() -> list[dict[str, str]]:
            watches = [q for p, q in requests if p == svc_path and q.get("watch") == "true"]
            return watches[1:]

        reopened = wait_until("the services watch reopened", resumed, timeout=30)
        assert all(q.get("resourceVersion") for q in reopened), reopened
        # … a change made now still arrives.
        core.patch_namespaced_service("web", namespace, {"metadata": {"labels": {"step": "2"}}})
        wait_until(
            "label seen",
            lambda: (
                (cache.get("Service", namespace, "web") or {})
                .get("metadata", {})
                .get("labels", {})
                .get("step")
                == "2"
            ),
        )
        custom.delete_namespaced_custom_object(GROUP, "v1", namespace, "httproutes", "web-route")
        wait_until("route gone", lambda: cache.get("HTTPRoute", namespace, "web-route") is None)
        assert ("DELETED", "HTTPRoute", "web-route") in [
            (c.type, c.kind, c.obj["metadata"]["name"]) for c in changes
        ]
        assert cache.version == len(changes)
        names = {(d["kind"], d["metadata"]["name"]) for d in cache.docs()}
        assert {("Service", "web"), ("EndpointSlice", "web-1")} <= names
        assert ("HTTPRoute", "web-route") not in names
    finally:
        cache.stop()

    # Then: client-side, one LIST per informer; every LIST (and only LISTs) took a token.
    lists = Counter(p for p, q in requests if q.get("watch") != "true")
    watches = Counter(p for p, q in requests if q.get("watch") == "true")
    assert set(lists.values()) == {1}, lists
    assert len(lists) == len(cache.informers) == 8
    assert bucket.taken == sum(lists.values())
    figure(f"client-side: {sum(lists.values())} LISTs, {sum(watches.values())} WATCHes")

    # And the apiserver's own record says the same (needs the stack's audit log).
    if not cluster.get("AUDIT_LOG"):
        pytest.skip("no audit log (start the stack with CANARY_AUDIT=1): client-side count only")
    audit = AuditLog(cluster["AUDIT_LOG"])

    def in_audit() -> tuple[Counter[str], Counter[str]] | None:
        mine = [e for e in audit.entries() if e.namespace == namespace]
        listed = Counter(e.resource for e in mine if e.verb == "list")
        watched = Counter(e.resource for e in mine if e.verb == "watch")
        # every watch the cache opened on services has been completed and logged
        return (listed, watched) if watched["services"] >= watches[svc_path] else None

    listed, watched = wait_until("audit log has the closed watches", in_audit, timeout=30)
    figure(f"audit log, namespace {namespace}: list {dict(listed)}, watch {dict(watched)}")
    for resource in ("services", "endpointslices", "httproutes", "gateways"):
        assert listed[resource] == 1, (resource, listed)
    assert watched["services"] >= 2, watched


def test_forbidden_kind_reports_403_then_recovers_when_granted(
    kubectl: Any, cluster: dict[str, str], namespace: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    sa = "cache-reader"
    kubectl("-n", namespace, "create", "serviceaccount", sa)
    kubectl(
        "-n", namespace, "create", "role", "cache-reader",
        "--verb=get,list,watch", "--resource=services",
    )  # fmt: skip
    kubectl(
        "-n", namespace, "create", "rolebinding", "cache-reader",
        "--role=cache-reader", f"--serviceaccount={namespace}:{sa}",
    )  # fmt: skip
    me = mint_identity(
        kubectl, cluster, namespace=namespace, service_account=sa,
        directory=LOCAL / "informer-e2e" / namespace, duration="1h",
    )  # fmt: skip
    monkeypatch.setenv("CANARY_KUBE_SERVER", me.server)
    monkeypatch.setenv("CANARY_KUBE_TOKEN_FILE", str(me.token_file))
    monkeypatch.setenv("CANARY_KUBE_CA_FILE", me.ca_file)
    api = kube_adapter.load_api_client()
    cache = ClusterCache(
        api, namespaces=[namespace], kinds=[SERVICE, ROUTE], retry_delay=0.2, max_retry_delay=1.0
    )
    cache.start()
    try:
        errors = wait_until("the route informer's 403", cache.errors, timeout=30)
        print("informer errors as", me.username, json.dumps(errors))
        assert len(errors) == 1, errors
        assert errors[0].startswith(f"list httproutes in {namespace}: 403 Forbidden: "), errors
        assert me.username in errors[0] and "cannot list resource" in errors[0], errors
        assert not cache.synced
        services = next(i for i in cache.informers if i.kind.kind == "Service")
        assert services.wait_synced(30) and services.error is None
        # When the Role grants the routes, the informer recovers by itself.
        kubectl(
            "-n", namespace, "create", "role", "cache-routes", "--verb=get,list,watch",
            f"--resource=httproutes.{GROUP}",
        )  # fmt: skip
        kubectl(
            "-n", namespace, "create", "rolebinding", "cache-routes",
            "--role=cache-routes", f"--serviceaccount={namespace}:{sa}",
        )  # fmt: skip
        assert cache.wait_synced(30), cache.errors()
        wait_until("errors cleared", lambda: cache.errors() == [], timeout=30)
    finally:
        cache.stop()
