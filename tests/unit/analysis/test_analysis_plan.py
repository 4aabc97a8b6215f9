"""The measurement plan: which queries the metrics adapter runs for a check."""

from __future__ import annotations

from typing import Any

import pytest

from canary.core.analysis.measurements import measurement_plan
from canary.core.analysis.promql import TemplateError
from canary.core.analysis.templates import Target
from canary.core.models import RolloutSpec
from tests.unit.analysis.promlite import load, selectors, total

TARGETS = [Target(route="api-route", rule=0, canary_index=1, stable_index=0)]


def spec(*metrics: dict[str, Any], interval: str = "1m") -> RolloutSpec:
    return RolloutSpec.model_validate(
        {
            "routes": [{"name": "api-route"}],
            "stable": {"name": "user-service-v2", "port": 80},
            "canary": {"name": "user-service-v3", "port": 80},
            "steps": [{"weight": 5}, {"weight": 100}],
            "analysis": {"interval": interval, "metrics": list(metrics)},
        }
    )


def test_builtin_metrics_plan_canary_then_stable() -> None:
    s = spec(
        {"name": "errors", "template": "error-rate", "flavor": "app", "max": 0.05},
        {"name": "p95", "template": "latency", "flavor": "app", "quantile": 0.95},
    )
    plan = measurement_plan(s, namespace="app-team-a", targets=TARGETS)
    assert [(p.metric, p.side, p.count_based) for p in plan] == [
        ("errors", "canary", True),
        ("errors", "stable", True),
        ("p95", "canary", False),
        ("p95", "stable", False),
    ]
    series = load("app.prom")
    assert total(selectors(plan[0].requests)[0], series) == 50
    assert total(selectors(plan[1].requests)[0], series) == 950
    assert "histogram_quantile(0.95," in plan[2].value


def test_custom_query_renders_per_backend() -> None:
    s = spec(
        {
            "name": "custom",
            "query": 'sum(rate(http_requests_total{namespace="{{namespace}}",'
            'service="{{backend}}",route=~"{{route|re}}",rule="{{rule}}",'
            'idx="{{backend_index}}",other="{{stable}}/{{canary}}"}[{{interval}}]))',
            "flavor": "app",
            "max": 10,
        },
        interval="30s",
    )
    canary, stable = measurement_plan(s, namespace="app-team-a", targets=TARGETS)
    assert 'service="user-service-v3"' in canary.value and 'idx="1"' in canary.value
    assert 'service="user-service-v2"' in stable.value and 'idx="0"' in stable.value
    assert "[30s]" in canary.value and 'route=~"api-route"' in canary.value
    assert canary.requests.startswith("sum((http_requests_total{")
    assert not canary.count_based


def test_custom_query_without_targets_or_index() -> None:
    s = spec({"name": "c", "query": 'x{s="{{backend}}"}', "flavor": "app"})
    plan = measurement_plan(s, namespace="a", targets=[Target(route="r", rule=0)])
    assert plan[0].value == 'x{s="user-service-v3"}'
    plan = measurement_plan(s, namespace="a", targets=[])
    assert plan[1].value == 'x{s="user-service-v2"}'


def test_custom_query_errors_name_the_metric_and_variable() -> None:
    s = spec({"name": "bad", "query": 'x{s="{{service}}"}'})
    with pytest.raises(TemplateError, match=r"metric bad: unknown variable \{\{service\}\}"):
        measurement_plan(s, namespace="a", targets=TARGETS)


def test_cross_namespace_backend() -> None:
    s = spec({"name": "errors", "template": "error-rate", "flavor": "app"})
    s = s.model_copy(update={"canary": s.canary.model_copy(update={"namespace": "team-b"})})
    plan = measurement_plan(s, namespace="app-team-a", targets=TARGETS)
    assert 'namespace="team-b"' in plan[0].value and 'namespace="app-team-a"' in plan[1].value


def test_request_count_query_backs_every_metric_when_set() -> None:
    s = spec({"name": "errors", "template": "error-rate", "flavor": "app", "max": 0.05})
    s = s.model_copy(
        update={
            "analysis": s.analysis.model_copy(
                update={"request_count": 'sum(increase(req{svc="{{backend}}"}[{{interval}}]))'}
            )
        }
    )
    plan = measurement_plan(s, namespace="app-team-a", targets=TARGETS)
    assert [p.requests for p in plan] == [
        'sum(increase(req{svc="user-service-v3"}[1m]))',
        'sum(increase(req{svc="user-service-v2"}[1m]))',
    ]


def test_template_without_flavor_is_refused_until_one_is_derived() -> None:
    s = spec({"name": "errors", "template": "error-rate", "max": 0.05})
    with pytest.raises(TemplateError, match="no flavor"):
        measurement_plan(s, namespace="app-team-a", targets=TARGETS)
