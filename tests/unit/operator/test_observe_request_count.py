"""``analysis.requestCount`` backs both ``minRequests`` and the observed share (docs/
analysis.md): with it set, no flavor's request counter is asked, on a Traefik Gateway or
on one whose controller has no known flavor."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from canary.adapters.fakes import FakeClusterReader
from canary.core.results import Sample
from tests.unit.operator.test_reconcile import NS, T0, World, _gateway_docs

COUNT = 'sum(increase(my_requests_total{backend="{{backend}}"}[{{interval}}]))'
ERRORS = 'sum(rate(my_errors_total{backend="{{backend}}"}[{{interval}}]))'


def _docs(controller: str) -> list[dict[str, Any]]:
    return [
        {**d, "spec": {**d["spec"], "controllerName": controller}}
        if d["kind"] == "GatewayClass"
        else d
        for d in _gateway_docs()
    ]


@pytest.mark.parametrize("controller", ["traefik.io/gateway-controller", "example.com/other"])
def test_request_count_backs_min_requests_and_the_observed_share(controller: str) -> None:
    w = World(requestCount=COUNT, metrics=[{"name": "errors", "query": ERRORS, "max": 0.1}])
    w.metrics.scripts = {
        "my_errors_total": Sample(value=0.0),
        'my_requests_total{backend="v3"}': Sample(value=2.0),  # below minRequests 3
        'my_requests_total{backend="v2"}': Sample(value=398.0),
        "traefik_service_requests_total": Sample(value=5000.0),  # would be enough
    }
    w.run(T0)  # step 1 written
    w.accept()
    w.traefik.set(namespace=NS, route="api-route", rule=0, weights=[{0: 95, 1: 5, 2: 5}])
    w.observer.cluster = FakeClusterReader([*_docs(controller), w.route()])
    w.run(T0 + timedelta(seconds=1))  # verified: the check is due one interval (7s) later
    w.run(T0 + timedelta(seconds=9))
    status = w.rollouts.get(namespace=NS, name="r")["status"]
    queries = [q for q, _ in w.metrics.queries]
    assert any("my_requests_total" in q for q in queries), queries
    assert not any("traefik_service_requests_total" in q for q in queries), queries
    # the observed share: 2 / (2 + 398)
    assert status["observedWeight"] == 0.5
    # minRequests: 2 canary requests by requestCount → inconclusive, not judged
    [errors] = status["analysis"]
    [check] = errors["measurements"]
    assert check["verdict"] == "inconclusive", check
    assert check["message"] == "2 canary requests < minRequests 3"
    assert status["stepVerdict"] == "inconclusive"
