"""When the operator runs a check (analysis_due / analysis_window) and the time helpers."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from canary.core.models import Condition
from canary.core.phases import Verdict
from canary.core.rollout.schedule import (
    analysis_due,
    analysis_window,
    next_analysis_at,
    parse_time,
    rfc3339,
    seconds_since,
)
from tests.unit.core.test_machine import TS, status, verified
from tests.unit.core.test_machine_support import T0, Sim, make_spec

SPEC = make_spec()  # interval 30s, one metric


@pytest.mark.parametrize(
    ("given", "due_after"),
    [
        (verified(), 30),
        (verified(last_analysis_at=rfc3339(T0 + timedelta(seconds=40))), 70),
        (verified(last_analysis_at=rfc3339(T0 - timedelta(seconds=40))), 30),  # older step
        (verified(phase="Paused"), None),
        (verified(promoted_full=True), None),
        (status(), None),  # not verified yet
        (verified(conditions=[]), None),
        (
            verified(conditions=[Condition(type="SplitVerified", status="False")]),
            None,
        ),
        (verified(verified_at="garbage"), None),
    ],
)
def test_next_analysis_at(given: object, due_after: int | None) -> None:
    due = next_analysis_at(SPEC, given)  # type: ignore[arg-type]
    assert due == (None if due_after is None else T0 + timedelta(seconds=due_after))


def test_no_metrics_means_no_checks() -> None:
    assert next_analysis_at(make_spec(analysis={}), verified()) is None


def test_window_is_the_last_interval_once_due() -> None:
    assert not analysis_due(SPEC, verified(), T0 + timedelta(seconds=29))
    now = T0 + timedelta(seconds=31)
    window = analysis_window(SPEC, verified(), now)
    assert window is not None and window.end == now and window.seconds == 30
    assert window.start == now - timedelta(seconds=30) >= T0
    assert analysis_due(SPEC, verified(), now.replace(tzinfo=None))  # naive = UTC


def test_the_sim_runs_checks_only_when_due() -> None:
    sim = Sim()
    sim.settle()
    assert not analysis_due(sim.rollout.spec, sim.status, sim.now)
    sim.tick(30)
    assert analysis_due(sim.rollout.spec, sim.status, sim.now)
    sim.analyse(Verdict.PASS)
    assert not analysis_due(sim.rollout.spec, sim.status, sim.now)


def test_time_helpers() -> None:
    assert rfc3339(datetime(2025, 1, 1, 12)) == "2025-01-01T12:00:00Z"
    assert parse_time(TS) == T0
    assert parse_time("2025-01-01T12:00:00") == T0
    assert parse_time("not a time") is None and parse_time(None) is None
    assert seconds_since(None, T0) is None
    assert seconds_since(TS, T0 + timedelta(seconds=5)) == 5.0
