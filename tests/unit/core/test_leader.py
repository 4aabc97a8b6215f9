from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from canary.core.leader import LeaseAction, LeaseState, decide_lease

NOW = datetime(2026, 11, 26, 12, 0, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    "state, action",
    [
        (None, LeaseAction.CREATE),
        (LeaseState("me", NOW - timedelta(seconds=100), 15), LeaseAction.RENEW),
        (LeaseState("other", NOW - timedelta(seconds=5), 15), LeaseAction.STANDBY),
        (LeaseState("other", NOW - timedelta(seconds=15), 15), LeaseAction.TAKE_OVER),
        (LeaseState("other", NOW - timedelta(seconds=16), 15), LeaseAction.TAKE_OVER),
        (LeaseState(None, None, 15), LeaseAction.TAKE_OVER),
        (LeaseState("other", None, 15), LeaseAction.TAKE_OVER),
    ],
)
def test_decide_lease(state: LeaseState | None, action: LeaseAction) -> None:
    assert decide_lease(state, identity="me", now=NOW) is action
