"""Rollout models: defaults, the rules the CRD's CEL also enforces, durations."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from canary.core.durations import DurationError, format_duration, parse_duration
from canary.core.models import Rollout, RolloutSpec, RolloutStatus


def _spec(**over: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "routes": [{"name": "api-route"}],
        "stable": {"name": "user-service-v2", "port": 8080},
        "canary": {"name": "user-service-v3", "port": 8080},
        "steps": [{"weight": 5, "pause": "30s"}, {"weight": 50}, {"weight": 100}],
    }
    base.update(over)
    return base


def test_defaults() -> None:
    spec = RolloutSpec.model_validate(_spec())
    assert spec.analysis.interval == "1m"
    assert spec.analysis.failure_limit == 1
    assert spec.analysis.min_requests == 20
    assert spec.analysis.no_data == "hold"
    assert spec.on_failure == "rollback"
    assert spec.progress_deadline == "10m"
    assert spec.manage_backends is False
    assert spec.routes[0].kind == "HTTPRoute"
    assert spec.stable.kind == "Service"


def test_dump_is_camel_case_and_round_trips() -> None:
    spec = RolloutSpec.model_validate(_spec(onFailure="pause", progressDeadline="5m"))
    dumped = spec.dump()
    assert dumped["onFailure"] == "pause"
    assert dumped["progressDeadline"] == "5m"
    assert RolloutSpec.model_validate(dumped) == spec


@pytest.mark.parametrize(
    "over, fragment",
    [
        ({"steps": []}, "steps"),
        ({"steps": [{"weight": 50}, {"weight": 50}]}, "strictly increasing"),
        ({"steps": [{"weight": 60}, {"weight": 50}]}, "strictly increasing"),
        ({"steps": [{"weight": 101}]}, "less than or equal to 100"),
        ({"steps": [{"weight": -1}]}, "greater than or equal to 0"),
        ({"canary": {"name": "user-service-v2", "port": 8080}}, "different backends"),
        ({"steps": [{"weight": 5, "pause": "5 minutes"}]}, "pattern"),
        ({"progressDeadline": "10"}, "pattern"),
        ({"routes": []}, "routes"),
        ({"routes": [{"name": "r", "rules": [-1]}]}, "0-based"),
        ({"routes": [{"name": "r", "rules": [""]}]}, "not empty"),
        ({"manageBackends": True}, "explicit rules"),
        ({"unknownField": 1}, "Extra inputs"),
        ({"analysis": {"metrics": [{"name": "a"}]}}, "exactly one of template or query"),
        (
            {"analysis": {"metrics": [{"name": "a", "template": "latency", "query": "x"}]}},
            "exactly one of template or query",
        ),
        ({"routes": [{"name": "r"}, {"name": "r"}]}, "is already spec.routes[0]"),
        (
            {"analysis": {"metrics": [{"name": "a", "query": "x"}, {"name": "a", "query": "y"}]}},
            "unique",
        ),
    ],
)
def test_invalid_specs(over: dict[str, Any], fragment: str) -> None:
    with pytest.raises(ValidationError) as err:
        RolloutSpec.model_validate(_spec(**over))
    assert fragment in str(err.value)


def test_same_name_in_other_namespace_is_a_different_backend() -> None:
    spec = RolloutSpec.model_validate(
        _spec(canary={"name": "user-service-v2", "namespace": "other", "port": 8080})
    )
    assert spec.canary.key("app") != spec.stable.key("app")


def test_whole_rollout_and_status_helpers() -> None:
    obj = {
        "apiVersion": "canary.dev/v1alpha1",
        "kind": "Rollout",
        "metadata": {"name": "r", "namespace": "app", "generation": 3, "extra": "ignored"},
        "spec": _spec(),
        "status": {
            "phase": "Progressing",
            "conditions": [{"type": "Healthy", "status": "True"}],
            "kopf": {"progress": {}},
        },
    }
    rollout = Rollout.model_validate(obj)
    assert rollout.metadata.generation == 3
    assert rollout.status.condition("Healthy") is not None
    assert rollout.status.condition("Invalid") is None
    assert RolloutStatus().step_label == "-"


@pytest.mark.parametrize(
    "text, seconds",
    [("0", 0.0), ("30s", 30.0), ("5m", 300.0), ("1h30m", 5400.0), ("250ms", 0.25), ("1.5s", 1.5)],
)
def test_parse_duration(text: str, seconds: float) -> None:
    assert parse_duration(text) == pytest.approx(seconds)


@pytest.mark.parametrize("text", ["", "5", "5 m", "m", "1d", "-5s"])
def test_parse_duration_rejects(text: str) -> None:
    with pytest.raises(DurationError):
        parse_duration(text)


@pytest.mark.parametrize(
    "seconds, text", [(0.25, "250ms"), (30, "30s"), (90, "1m30s"), (3600, "1h"), (0.999, "999ms")]
)
def test_format_duration(seconds: float, text: str) -> None:
    assert format_duration(seconds) == text


def test_format_duration_zero() -> None:
    assert format_duration(1.0) == "1s"
    assert format_duration(3601) == "1h1s"
