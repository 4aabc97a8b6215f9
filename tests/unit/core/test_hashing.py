"""What restarts a rollout: stable, canary, routes, steps — not analysis or policies."""

from __future__ import annotations

from typing import Any

import pytest

from canary.core.rollout.hashing import spec_hash
from tests.unit.core.test_machine_support import make_spec

BASE = spec_hash(make_spec())


@pytest.mark.parametrize(
    "edit",
    [
        {"stable": {"name": "user-service-v1", "port": 80}},
        {"canary": {"name": "user-service-v4", "port": 80}},
        {"canary": {"name": "user-service-v3", "port": 8080}},
        {"routes": [{"name": "api-route", "rules": [0]}]},
        {"routes": [{"name": "other-route"}]},
        {"steps": [{"weight": 5, "pause": "1m"}, {"weight": 100}]},
        {"steps": [{"weight": 5, "pause": "2m"}, {"weight": 50, "pause": "1m"}, {"weight": 100}]},
    ],
)
def test_traffic_plan_edits_change_the_hash(edit: dict[str, Any]) -> None:
    assert spec_hash(make_spec(**edit)) != BASE


@pytest.mark.parametrize(
    "edit",
    [
        {"analysis": {"interval": "5m", "failureLimit": 3}},
        {"onFailure": "pause"},
        {"progressDeadline": "1h"},
        {"onDelete": "keep"},
        {"stable": {"name": "user-service-v2", "port": 80, "kind": "Service"}},  # a default
    ],
)
def test_other_edits_keep_the_hash(edit: dict[str, Any]) -> None:
    assert spec_hash(make_spec(**edit)) == BASE


def test_hash_is_a_64_char_hex_digest() -> None:
    assert len(BASE) == 64 and int(BASE, 16) >= 0
