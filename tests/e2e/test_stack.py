"""The local control plane is real: API server, Gateway API, Traefik moving traffic, Prometheus."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

import pytest
from kubernetes import client

from canary.adapters.traefik import HttpTraefikApi
from stack import prom
from stack.loadgen import load
from stack.ready import wait_route_accepted, wait_traefik_serves
from stack.scenario import App, patch_weights

pytestmark = pytest.mark.e2e

GATEWAY_CRDS = [
    "gatewayclasses",
    "gateways",
    "httproutes",
    "grpcroutes",
    "referencegrants",
    "backendtlspolicies",
    "tlsroutes",
]


def condition(obj: Any, kind: str) -> dict[str, Any]:
    return dict(next(c for c in obj["status"]["conditions"] if c["type"] == kind))


@pytest.mark.timeout(60)
def test_smoke_api_server_crds_gatewayclass_gateway(
    cluster: dict[str, str], kube: client.ApiClient, kubectl: Any
) -> None:
    version = json.loads(kubectl("get", "--raw", "/version").stdout)
    assert version["gitVersion"] == "v1.36.3"

    ext = client.ApiextensionsV1Api(kube)
    for plural in GATEWAY_CRDS:
        crd = ext.read_custom_resource_definition(f"{plural}.gateway.networking.k8s.io")
        assert crd.status is not None and crd.status.conditions, plural
        established = next(c for c in crd.status.conditions if c.type == "Established")
        assert established.status == "True", plural

    objects = client.CustomObjectsApi(kube)
    gc: Any = objects.get_cluster_custom_object(
        "gateway.networking.k8s.io", "v1", "gatewayclasses", "traefik"
    )
    assert condition(gc, "Accepted")["status"] == "True"
    gw: Any = objects.get_namespaced_custom_object(
        "gateway.networking.k8s.io", "v1", "infra", "gateways", "prod-gateway"
    )
    assert condition(gw, "Programmed")["status"] == "True"
    assert gw["status"]["listeners"][0]["attachedRoutes"] >= 1

    # RBAC is on: Traefik's own ServiceAccount may read routes but not create namespaces.
    sa = "--as=system:serviceaccount:traefik:traefik-controller"
    assert (
        kubectl("auth", "can-i", "list", "httproutes.gateway.networking.k8s.io", sa).stdout.strip()
        == "yes"
    )
    assert kubectl("auth", "can-i", "create", "namespaces", sa, check=False).stdout.strip() == "no"


@pytest.mark.timeout(90)
def test_split_on_the_wire_90_10(
    cluster: dict[str, str], kube: client.ApiClient, figure: Callable[[str], None]
) -> None:
    """Given the seed's api-route at 90/10, 1,000 requests reach the backends 90/10 (±1 pp)."""
    ns, route = "app-team-a", "api-route"
    live: Any = client.CustomObjectsApi(kube).get_namespaced_custom_object(
        "gateway.networking.k8s.io", "v1", ns, "httproutes", route
    )
    assert [b["weight"] for b in live["spec"]["rules"][0]["backendRefs"]] == [90, 10]
    wait_route_accepted(kube, namespace=ns, name=route)
    wait_traefik_serves(
        HttpTraefikApi(base_url=cluster["TRAEFIK_API_URL"]),
        namespace=ns,
        route=route,
        rule=0,
        weights={0: 90, 1: 10},
    )
    counters = f'sum by (service) (http_requests_total{{namespace="{ns}"}})'
    before = prom.by_label(cluster["PROMETHEUS_URL"], counters, "service")

    report = load(
        url=f"{cluster['GATEWAY_URL']}/users",
        rate=200,
        count=1000,
        headers={"Host": "api.example.com", "X-Api-Version": "v2"},
    )

    assert report.completed == 1000 and report.errors == 0
    assert dict(report.by_code) == {200: 1000}
    assert report.rps >= 100  # the generator sustains the e2e load through Traefik
    figure(f"90/10 split of 1000 requests: {dict(report.by_backend)} at {report.rps:.0f} rps")
    assert abs(report.share("user-service-v2") - 0.90) <= 0.01, report.to_dict()
    assert abs(report.share("user-service-v3") - 0.10) <= 0.01, report.to_dict()
    # Prometheus scraped both backends' own counters, and they saw what the client saw.
    expected = {
        b: before.get(b, 0.0) + report.by_backend[b] for b in ("user-service-v2", "user-service-v3")
    }
    after = prom.wait_for_values(cluster["PROMETHEUS_URL"], counters, "service", expected)
    assert after == pytest.approx(expected), (before, after)
    traefik = prom.by_label(
        cluster["PROMETHEUS_URL"],
        "sum by (service) (traefik_service_requests_total"
        f'{{service=~"httproute-{ns}-{route}-.*"}})',
        "service",
    )
    assert any("user-service-v2" in s for s in traefik) and any(
        "user-service-v3" in s for s in traefik
    )


@pytest.mark.timeout(120)
def test_weight_change_is_followed_by_the_observed_split(
    kube: client.ApiClient,
    cluster: dict[str, str],
    deploy: Callable[..., App],
    figure: Callable[[str], None],
) -> None:
    """Patch 90/10 → 50/50; the observed split follows within 30 s (latency reported)."""
    app = deploy(weights=(90, 10))
    traefik = HttpTraefikApi(base_url=cluster["TRAEFIK_API_URL"])

    t0 = time.monotonic()
    patch_weights(kube, namespace=app.namespace, name=app.route, rule=0, weights=[50, 50])
    wait_route_accepted(kube, namespace=app.namespace, name=app.route, timeout=30)
    t_status = time.monotonic() - t0
    t_api = None
    t_wire = None
    while time.monotonic() - t0 < 30 and (t_api is None or t_wire is None):
        served = traefik.served_rule(namespace=app.namespace, route=app.route, rule=0)
        if t_api is None and served.serves({0: 50, 1: 50}):
            t_api = time.monotonic() - t0
        if t_wire is None:
            # 10 requests: deterministic WRR gives exactly 5/5 at 50/50, 9/1 at 90/10
            batch = load(url=app.url, rate=1000, count=10, headers=app.headers)
            if batch.by_backend[app.canary] >= 4:
                t_wire = time.monotonic() - t0
    assert t_wire is not None, "the observed split did not follow the patch within 30 s"

    report = load(url=app.url, rate=200, count=1000, headers=app.headers)
    assert report.completed == 1000
    assert abs(report.share(app.canary) - 0.5) <= 0.01, report.to_dict()
    api = "not seen" if t_api is None else f"{t_api:.3f} s"
    figure(
        f"patch→status {t_status:.3f} s, patch→Traefik API {api},"
        f" patch→new split on the wire {t_wire:.3f} s"
    )


@pytest.mark.timeout(120)
def test_fault_knob_shows_in_prometheus(
    cluster: dict[str, str], deploy: Callable[..., App], figure: Callable[[str], None]
) -> None:
    """Canary error rate 0.2 → Prometheus' 5xx ratio for the canary is 0.2 ± 0.02."""
    app = deploy(weights=(50, 50))
    assert app.set_faults(app.canary, error_rate=0.2)["error_rate"] == 0.2

    report = load(url=app.url, rate=150, count=600, headers=app.headers)
    assert report.completed == 600
    assert report.error_ratio(app.canary) == pytest.approx(0.2, abs=0.01)
    assert report.error_ratio(app.stable) == 0.0

    url = cluster["PROMETHEUS_URL"]
    sel = f'namespace="{app.namespace}",service="{app.canary}"'
    prom.wait_for_values(
        url,
        f"sum by (service) (http_requests_total{{{sel}}})",
        "service",
        {app.canary: report.by_backend[app.canary]},
    )
    app_ratio = prom.scalar(
        url, f'sum(http_requests_total{{{sel},code=~"5.."}}) / sum(http_requests_total{{{sel}}})'
    )
    ns, route = app.namespace, app.route
    svc = f"httproute-{ns}-{route}-.*-svc-{ns}-{app.canary}-1@kubernetesgateway"
    traefik_ratio = prom.scalar(
        url,
        f'sum(traefik_service_requests_total{{service=~"{svc}",code=~"5.."}})'
        f' / sum(traefik_service_requests_total{{service=~"{svc}"}})',
    )
    figure(f"canary 5xx ratio in Prometheus: backend metrics {app_ratio}, Traefik {traefik_ratio}")
    assert app_ratio == pytest.approx(0.2, abs=0.02)
    assert traefik_ratio == pytest.approx(0.2, abs=0.02)


def test_cluster_env_has_the_contract_keys(cluster: dict[str, str]) -> None:
    keys = {
        "KUBECONFIG",
        "GATEWAY_URL",
        "PROMETHEUS_URL",
        "TRAEFIK_API_URL",
        "STABLE_CONTROL_URL",
        "CANARY_CONTROL_URL",
    }
    assert keys <= set(cluster)
