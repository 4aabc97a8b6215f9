"""Builtin templates rendered and evaluated against recorded metric samples.

Each error-rate query is ``(sum(errors) or vector(0)) / sum(all)``: the first selector
picks the error series, the second all requests. Treating sample values as the window's
increase, the test computes the ratio the query would return — a wrong metric or label
name selects nothing and fails.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest

from canary.core.analysis.promql import TemplateError
from canary.core.analysis.templates import Backend, Target, builtin, request_count, selector
from canary.core.models import Flavor
from tests.unit.analysis.promlite import load, matching, selectors, total

TRAEFIK_TARGET = Target(route="app", rule=0, canary_index=1, stable_index=0)
CANARY_DEFAULT = Backend("app-canary", "default", "canary")
STABLE_DEFAULT = Backend("app-stable", "default", "stable")

SEED_TARGET = Target(route="api-route", rule=0, canary_index=1, stable_index=0)
CANARY_SEED = Backend("user-service-v3", "app-team-a", "canary")
STABLE_SEED = Backend("user-service-v2", "app-team-a", "stable")


@dataclass(frozen=True)
class Case:
    flavor: Flavor
    sample: str
    namespace: str
    target: Target
    canary: Backend
    stable: Backend
    canary_counts: tuple[float, float]  # (5xx, all) canary requests in the sample
    stable_total: float
    canary_inf_bucket: float  # the canary's +Inf latency bucket in the sample

    def __str__(self) -> str:
        return self.flavor


CASES = [
    Case("traefik", "traefik.prom", "default", TRAEFIK_TARGET, CANARY_DEFAULT, STABLE_DEFAULT,
         (10, 120), 1000, 90),
    Case("envoy-gateway", "envoy-gateway.prom", "app-team-a", SEED_TARGET, CANARY_SEED,
         STABLE_SEED, (5, 50), 950, 50),
    Case("istio", "istio.prom", "app-team-a", SEED_TARGET, CANARY_SEED, STABLE_SEED, (3, 50),
         950, 50),
    Case("app", "app.prom", "app-team-a", SEED_TARGET, CANARY_SEED, STABLE_SEED, (2, 50), 950,
         50),
]  # fmt: skip


def _unique(query: str) -> list[Any]:
    """The query's distinct selectors, in order (``counted`` repeats each three times)."""
    out: list[Any] = []
    for sel in selectors(query):
        if sel not in out:
            out.append(sel)
    return out


def _error_rate(query: str, sample: str) -> tuple[float, float]:
    series = load(sample)
    errors_sel, all_sel = _unique(query)
    return total(errors_sel, series), total(all_sel, series)


@pytest.mark.parametrize("c", CASES, ids=str)
def test_error_rate_per_backend(c: Case) -> None:
    q = builtin(
        "error-rate",
        c.flavor,
        namespace=c.namespace,
        targets=[c.target],
        backend=c.canary,
        interval="1m",
    )
    assert q.count_based and q.unit == "ratio"
    assert q.value.startswith("(sum((") and " or vector(0)) / " in q.value
    assert " offset 1m) >= 0 or " in q.value  # counted: a series born in the window counts
    assert _error_rate(q.value, c.sample) == c.canary_counts
    [req] = _unique(q.requests)
    assert total(req, load(c.sample)) == c.canary_counts[1]
    qs = builtin(
        "error-rate",
        c.flavor,
        namespace=c.namespace,
        targets=[c.target],
        backend=c.stable,
        interval="1m",
    )
    errors, n = _error_rate(qs.value, c.sample)
    assert n == c.stable_total and errors <= n


@pytest.mark.parametrize("c", CASES, ids=str)
def test_latency_selects_only_the_backend_buckets(c: Case) -> None:
    q = builtin(
        "latency",
        c.flavor,
        namespace=c.namespace,
        targets=[c.target],
        backend=c.canary,
        interval="30s",
    )
    assert q.value.startswith("histogram_quantile(0.99, sum by (le) ((")
    assert " offset 30s) >= 0 or " in q.value
    assert q.unit == "seconds" and not q.count_based
    [sel] = _unique(q.value)
    hits = matching(sel, load(c.sample))
    assert hits and all(s.name.endswith("_bucket") and "le" in s.labels for s in hits)
    assert (
        max(s.value for s in hits) == c.canary_inf_bucket
    )  # the +Inf bucket counts the canary's requests
    scaled = c.flavor in ("istio", "envoy-gateway")  # milliseconds → seconds
    assert q.value.endswith(") / 1000") == scaled


@pytest.mark.parametrize("c", CASES, ids=str)
def test_request_rate(c: Case) -> None:
    q = builtin(
        "request-rate",
        c.flavor,
        namespace=c.namespace,
        targets=[c.target],
        backend=c.canary,
        interval="1m",
    )
    assert q.value.startswith("sum(rate(") and q.unit == "requests/s"
    [sel] = selectors(q.value)
    assert total(sel, load(c.sample)) == c.canary_counts[1]


def test_latency_quantile_is_configurable() -> None:
    q = builtin("latency", "app", namespace="a", targets=[], backend=CANARY_SEED,
                interval="1m", quantile=0.95)  # fmt: skip
    assert q.value.startswith("histogram_quantile(0.95,")


def test_traefik_verbatim_service_label_is_selected() -> None:
    sel = selector("traefik", namespace="default", targets=[TRAEFIK_TARGET], backend=CANARY_DEFAULT)
    [parsed] = selectors("m{" + sel + "}")
    verbatim = (  # scraped from a running Traefik 3.7.15 (samples/traefik.prom)
        "httproute-default-app-gw-default-gw-ep-web-0-dd33ce23f86bafc8cd0e"
        "-svc-default-app-canary-1@kubernetesgateway"
    )
    assert parsed.matches("m", {"service": verbatim})
    assert not parsed.matches("m", {"service": verbatim.replace("-1@", "-1-wrr@")})
    assert not parsed.matches("m", {"service": verbatim.replace("-ep-web-0-", "-ep-web-1-")})


def test_traefik_grpcroute_prefix_and_several_rules() -> None:
    targets = [
        Target(route="app", rule=0, route_kind="GRPCRoute"),
        Target(route="app", rule=1),
        Target(route="app", rule=1),  # duplicates collapse
    ]
    q = builtin("error-rate", "traefik", namespace="default", targets=targets,
                backend=CANARY_DEFAULT, interval="1m")  # fmt: skip
    assert q.value.count("(?:grpcroute-default-app-") == 6  # errors and all, 3 times each
    errors, n = _error_rate(q.value, "traefik.prom")
    assert (errors, n) == (2000, 2000)  # the grpcroute series and rule 1 of the httproute


def test_traefik_normalizes_dotted_names() -> None:
    sel = selector("traefik", namespace="default", targets=[Target(route="api.v2", rule=0)],
                   backend=Backend("svc.x", "default", "canary"))  # fmt: skip
    assert "-api-v2-gw-" in sel and "-svc-x-" in sel


def test_envoy_gateway_needs_the_backend_index() -> None:
    with pytest.raises(TemplateError, match="canary backendRef index"):
        selector("envoy-gateway", namespace="a", targets=[Target(route="r", rule=0)],
                 backend=CANARY_SEED)  # fmt: skip


def test_envoy_gateway_never_blends_the_shared_rule_cluster() -> None:
    # by default Envoy Gateway has ONE cluster per rule; selecting it would mix both backends
    sel = selector("envoy-gateway", namespace="app-team-a", targets=[SEED_TARGET],
                   backend=CANARY_SEED)  # fmt: skip
    [parsed] = selectors("envoy_cluster_upstream_rq_xx{" + sel + "}")
    names = {s.labels["envoy_cluster_name"] for s in matching(parsed, load("envoy-gateway.prom"))}
    assert names == {"httproute/app-team-a/api-route/rule/0/backend/1"}


def test_gateway_flavors_need_a_target() -> None:
    for flavor in ("traefik", "envoy-gateway"):
        with pytest.raises(TemplateError, match="at least one addressed rule"):
            selector(flavor, namespace="a", targets=[], backend=CANARY_SEED)  # type: ignore[arg-type]


def test_istio_counts_the_source_reporter_only() -> None:
    q = builtin("error-rate", "istio", namespace="app-team-a", targets=[], backend=CANARY_SEED,
                interval="1m")  # fmt: skip
    # the destination-reported copy of the same 47 requests must not double the count
    assert _error_rate(q.value, "istio.prom") == (3, 50)


@pytest.mark.parametrize("route", ['x"}', "X", "a/b"])
def test_hostile_route_names_are_rejected(route: str) -> None:
    with pytest.raises(TemplateError):
        builtin("error-rate", "traefik", namespace="a", targets=[Target(route=route, rule=0)],
                backend=CANARY_SEED, interval="1m")  # fmt: skip


def test_hostile_route_kind_is_rejected() -> None:
    with pytest.raises(TemplateError, match="route_kind"):
        selector("traefik", namespace="a", targets=[Target(route="r", rule=0, route_kind="x")],
                 backend=CANARY_SEED)  # fmt: skip


def test_request_count_companion() -> None:
    q = request_count("app", namespace="a", targets=[], backend=CANARY_SEED, interval="2m")
    sel = 'http_requests_total{namespace="app-team-a",service="user-service-v3"}'
    assert q == f"sum(({sel} - {sel} offset 2m) >= 0 or {sel})"
