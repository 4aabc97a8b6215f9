"""Operator e2e, issue 10 items 3 and 7: one bad object harms no one; Prometheus is fenced.

On the real local control plane (kube-apiserver, Traefik as the Gateway, Prometheus):

3. Given an HTTPRoute whose RegularExpression path is valid RE2 but not Python ``re``
   (``/\\pL+``, accepted by the API server and served by Traefik) and an EndpointSlice
   without the ``kubernetes.io/service-name`` label, both in another namespace, when a
   healthy Rollout runs in the test namespace, then it succeeds (before, every Rollout's
   SplitVerified was False: "cannot evaluate the routes"). Neither object was missed:
   the operator's log names the bad route it skipped; the unlabelled slice, which nothing
   can need, is skipped without a log line, so the apiserver's audit log shows the
   operator listed that namespace's EndpointSlices after the slice was created, and
   ``canary lint-routes`` (the same parser) on the slice as served lists it as an ignored
   object belonging to no Service.
7. Given an operator whose allowlist holds only the stack's Prometheus, when a Rollout
   names another ``analysis.address`` (a listener of this test on 127.0.0.1), then its
   checks are errors saying why (``Healthy`` Unknown, reason ``AnalysisError``, and a
   Warning Event), the step holds until progressDeadline and the Rollout is RolledBack
   (onFailure) — and the named address never received a request.

Needs the audit log (AUDIT_LOG in cluster.env; `make e2e` starts the stack with it).
"""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar

import pytest
from audit import AuditLog
from kubernetes import client
from operator_support import Traffic, rollout_events, rollout_manifest, wait_until

from stack.scenario import GATEWAY, ensure_namespace

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(180)]

GW = "gateway.networking.k8s.io"
CANARY = str(Path(sys.executable).parent / "canary")
RE2_ONLY = r"/\pL+"  # a Unicode letter class: RE2 (Go, Traefik) yes, Python re no


def _rollout(kube: client.ApiClient, namespace: str, name: str = "rollout") -> dict[str, Any]:
    obj: Any = client.CustomObjectsApi(kube).get_namespaced_custom_object(
        "canary.dev", "v1alpha1", namespace, "rollouts", name
    )
    return dict(obj)


def _phase(obj: dict[str, Any]) -> str | None:
    return (obj.get("status") or {}).get("phase")


def _in_phase(kube: client.ApiClient, namespace: str, *phases: str) -> dict[str, Any] | None:
    obj = _rollout(kube, namespace)
    return obj if _phase(obj) in phases else None


@pytest.fixture
def bad_objects(kube: client.ApiClient) -> Iterator[str]:
    """Both bad objects of the issue in a namespace of their own; deleted afterwards."""
    ns = f"t-bad-objects-{secrets.token_hex(3)}"
    ensure_namespace(kube, name=ns)  # admitted by infra/prod-gateway like any test's
    custom = client.CustomObjectsApi(kube)
    discovery = client.DiscoveryV1Api(kube)
    route = {
        "apiVersion": f"{GW}/v1",
        "kind": "HTTPRoute",
        "metadata": {"name": "re2-only", "namespace": ns},
        "spec": {
            "parentRefs": [{"name": GATEWAY[1], "namespace": GATEWAY[0]}],
            "hostnames": [f"{ns}.example.com"],
            "rules": [
                {
                    "matches": [{"path": {"type": "RegularExpression", "value": RE2_ONLY}}],
                    "backendRefs": [{"name": "nowhere", "port": 8080}],
                }
            ],
        },
    }
    custom.create_namespaced_custom_object(GW, "v1", ns, "httproutes", route)
    orphan: Any = {
        "apiVersion": "discovery.k8s.io/v1",
        "kind": "EndpointSlice",
        "metadata": {"name": "orphan", "namespace": ns},  # no kubernetes.io/service-name
        "addressType": "FQDN",
        "endpoints": [{"addresses": ["orphan.canary.test"]}],
        "ports": [{"name": "http", "port": 8080, "protocol": "TCP"}],
    }
    discovery.create_namespaced_endpoint_slice(ns, orphan)
    yield ns
    custom.delete_namespaced_custom_object(GW, "v1", ns, "httproutes", "re2-only")
    discovery.delete_namespaced_endpoint_slice("orphan", ns)


def test_bad_objects_elsewhere_do_not_stop_a_rollout(
    deploy: Any, operator: Any, kubectl: Any, kube: client.ApiClient, namespace: str,
    bad_objects: str, cluster: dict[str, str], tmp_path: Path,
) -> None:  # fmt: skip
    if not cluster.get("AUDIT_LOG"):
        pytest.fail(
            "this test reads the apiserver audit log: restart the stack with CANARY_AUDIT=1 "
            "(make cluster-down; CANARY_AUDIT=1 make cluster-up)"
        )
    app = deploy(weights=(90, 10))
    started = datetime.now(UTC)  # after the bad objects were created
    # the operator reads the bad objects' namespace too (else it would never see them)
    op = operator(extra_args=("--read-namespace", bad_objects, "--read-namespace", "infra"))
    steps = [{"weight": 20, "pause": "4s"}, {"weight": 100, "pause": "2s"}]
    metrics = [{"name": "error-rate", "template": "error-rate", "flavor": "traefik", "max": 0.05}]
    kubectl(
        "apply", "-f", "-",
        input=rollout_manifest(namespace=namespace, steps=steps, metrics=metrics),
    )  # fmt: skip
    with Traffic(url=app.url, headers=app.headers, rate=60):
        final = wait_until(
            "Succeeded or a terminal failure",
            lambda: _in_phase(kube, namespace, "Succeeded", "RolledBack", "Failed"),
            timeout=120,
        )
    assert _phase(final) == "Succeeded", json.dumps(final.get("status"), indent=1)
    # the operator did see the bad route (the test is not vacuous) and skipped it
    assert f"route evaluator skips HTTPRoute {bad_objects}/re2-only" in op.log()
    assert "bad escape" in op.log()
    # and it read the unlabelled slice: only the operator lists a namespace's
    # EndpointSlices (Traefik watches them cluster-wide), and it did so after the slice
    # was created, so its cache held it
    listed = [
        e
        for e in AuditLog(cluster["AUDIT_LOG"]).entries()
        if (e.verb, e.resource, e.namespace, e.code) == ("list", "endpointslices", bad_objects, 200)
        and e.received >= started
    ]
    assert listed, f"no LIST of EndpointSlices in {bad_objects} since {started}"
    # which the route evaluator's parser skips as belonging to no Service (a lint note)
    served = tmp_path / "orphan.json"
    served.write_text(
        kubectl("-n", bad_objects, "get", "endpointslice", "orphan", "-o", "json").stdout
    )
    env = {**os.environ, "KUBECONFIG": cluster["KUBECONFIG"]}
    lint = subprocess.run(
        [CANARY, "lint-routes", "-f", str(served), "-o", "json"],
        capture_output=True, text=True, env=env, timeout=60,
    )  # fmt: skip
    problems = json.loads(lint.stdout)["problems"]
    notes = [p for p in problems if p["object"] == f"EndpointSlice {bad_objects}/orphan"]
    assert [p["code"] for p in notes] == ["ignored-object"], problems
    assert "belongs to no Service" in notes[0]["message"], notes


class _Recorder(BaseHTTPRequestHandler):
    """Counts every request; answers like an empty Prometheus."""

    seen: ClassVar[list[str]] = []

    def do_GET(self) -> None:
        self.seen.append(self.path)
        body = b'{"status":"success","data":{"resultType":"vector","result":[]}}'
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_POST = do_GET

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def elsewhere() -> Iterator[tuple[str, list[str]]]:
    """An HTTP listener on 127.0.0.1 that a Rollout names as its Prometheus."""
    seen: ClassVar[list[str]] = []
    handler = type("Recorder", (_Recorder,), {"seen": seen})
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}", seen
    finally:
        httpd.shutdown()
        httpd.server_close()


def test_an_address_off_the_allowlist_is_a_check_error_then_onfailure(
    deploy: Any, operator: Any, kubectl: Any, kube: client.ApiClient, namespace: str,
    elsewhere: tuple[str, list[str]],
) -> None:  # fmt: skip
    address, seen = elsewhere
    deploy(weights=(90, 10))
    operator()  # --prometheus-url is the stack's Prometheus; no --prometheus-allow
    metrics = [{"name": "error-rate", "template": "error-rate", "flavor": "traefik", "max": 0.05}]
    doc = json.loads(
        rollout_manifest(
            namespace=namespace,
            steps=[{"weight": 20, "pause": "5s"}, {"weight": 100}],
            metrics=metrics,
            deadline="15s",
        )
    )
    doc["spec"]["analysis"]["address"] = address
    kubectl("apply", "-f", "-", input=json.dumps(doc))
    final = wait_until(
        "RolledBack",
        lambda: _in_phase(kube, namespace, "RolledBack", "Succeeded"),
        timeout=90,
    )
    status = final["status"]
    assert _phase(final) == "RolledBack", json.dumps(status, indent=1)
    # the condition docs/analysis.md promises: Healthy Unknown, AnalysisError, saying why
    # (no check ran after the rollback: it stays on show)
    healthy = next(c for c in status["conditions"] if c["type"] == "Healthy")
    assert (healthy["status"], healthy["reason"]) == ("Unknown", "AnalysisError"), healthy
    assert (
        f"analysis.address {address} is not on the operator's Prometheus allowlist"
        in (healthy["message"])
    ), healthy
    events = rollout_events(kube, namespace=namespace, name="rollout")
    errors = [e for e in events if e["reason"] == "AnalysisError"]
    assert errors, events
    assert (
        f"analysis.address {address} is not on the operator's Prometheus allowlist"
        in (errors[0]["message"])
    )
    assert any(
        "progressDeadline" in (e["message"] or "") and "error" in (e["message"] or "")
        for e in events
    ), events
    route = json.loads(
        kubectl("-n", namespace, "get", "httproute", "api-route", "-o", "json").stdout
    )
    assert [b["weight"] for b in route["spec"]["rules"][0]["backendRefs"]] == [100, 0]
    assert seen == []  # the operator never sent a request to the refused address
