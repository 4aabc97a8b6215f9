"""The Prometheus side of one check is bounded (issue 10.7): an allowlist of addresses, a
time budget for all of a check's queries, and errors that say why — with fakes."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from canary.adapters.errors import MetricsError
from canary.adapters.fakes import FakeClusterReader, FakeRoutes
from canary.adapters.prometheus import PrometheusMetrics, RefusedMetrics
from canary.core.models import Rollout, RolloutStatus
from canary.core.results import Sample, Verdict
from canary.operator.config import OperatorConfig
from canary.operator.observe import Observer, resolve
from canary.operator.reconcile import prometheus_for
from tests.unit.operator.test_reconcile import T0, _rollout, _route


class SlowMetrics:
    """Every query takes one second of the test's clock; records the deadlines given."""

    def __init__(self) -> None:
        self.t = 0.0
        self.deadlines: list[float | None] = []

    def clock(self) -> float:
        return self.t

    def query(self, *, promql: str, at: float | None = None, deadline: float | None = None):  # type: ignore[no-untyped-def]
        self.deadlines.append(deadline)
        self.t += 1.0
        return Sample(value=0.0 if "errors" in promql else 100.0)


def _check(budget: float, metrics: SlowMetrics, names: list[str]) -> dict[str, Any]:
    body = _rollout(
        interval="10s",
        minRequests=1,
        metrics=[
            {"name": n, "query": f"errors_{n}{{{{backend}}}}", "flavor": "traefik", "max": 1}
            for n in names
        ],
    )
    rollout = Rollout.model_validate(body)
    routes = FakeRoutes([_route()])
    observer = Observer(
        routes=routes,
        cluster=FakeClusterReader([]),
        metrics_for=lambda _r: metrics,
        check_budget=budget,
        clock=metrics.clock,
    )
    status = RolloutStatus.model_validate(
        {
            "phase": "Progressing",
            "stepIndex": 0,
            "canaryWeight": 5,
            "verifiedAt": (T0 - timedelta(seconds=30)).isoformat(),
            "conditions": [
                {"type": "SplitVerified", "status": "True", "reason": "Verified",
                 "message": "", "lastTransitionTime": T0.isoformat()}
            ],
        }
    )  # fmt: skip
    result = observer._analysis(rollout, resolve(rollout, routes), status, T0)
    assert result is not None
    return {m.name: m for m in result.results}


def test_queries_past_the_budget_are_errors_naming_it() -> None:
    metrics = SlowMetrics()
    by_name = _check(3.0, metrics, ["a", "b", "c"])
    # metric a: canary and stable, value + request count each = 4 queries, 4 s of clock;
    # the budget (3 s) ran out before b was asked, so b and c are errors saying so
    assert by_name["a"].verdict != Verdict.ERROR
    for name in ("b", "c"):
        assert by_name[name].verdict == Verdict.ERROR
        assert "check budget of 3s" in by_name[name].message
    assert metrics.deadlines == [3.0] * 4  # every query got the check's deadline


def test_no_budget_asks_everything() -> None:
    metrics = SlowMetrics()
    by_name = _check(0.0, metrics, ["a", "b"])
    assert all(m.verdict != Verdict.ERROR for m in by_name.values())
    assert metrics.deadlines == [None] * 8


def _rollout_at(address: str | None) -> Rollout:
    body = _rollout(interval="10s")
    if address is not None:
        body["spec"]["analysis"]["address"] = address
    return Rollout.model_validate(body)


def test_only_allowed_addresses_get_a_client() -> None:
    config = OperatorConfig(
        prometheus_url="http://prometheus.monitoring:9090",
        prometheus_allow=("http://thanos.monitoring:10902",),
    )
    metrics_for = prometheus_for(config)
    default = metrics_for(_rollout_at(None))
    assert isinstance(default, PrometheusMetrics)
    assert metrics_for(_rollout_at("HTTP://prometheus.monitoring:9090/")) is default
    assert isinstance(metrics_for(_rollout_at("http://thanos.monitoring:10902")), PrometheusMetrics)
    refused = metrics_for(_rollout_at("http://169.254.169.254:80/latest"))
    assert isinstance(refused, RefusedMetrics)
    with pytest.raises(MetricsError, match="not on the operator's Prometheus allowlist"):
        refused.query(promql="up")
    assert prometheus_for(OperatorConfig())(_rollout_at(None)) is None  # nothing configured
    only_default = prometheus_for(OperatorConfig(prometheus_url="http://p:9090"))
    assert isinstance(only_default(_rollout_at("http://thanos.monitoring:10902")), RefusedMetrics)
