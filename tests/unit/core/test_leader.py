"""Lease decisions as client-go makes them: expiry by locally observed time, never by renewTime."""

from __future__ import annotations

import pytest

from canary.core.election import (
    LeaseAction,
    LeaseRecord,
    LeaseTimings,
    Observed,
    decide_lease,
    holds_leadership,
    observe,
    still_fresh,
)

OTHER = LeaseRecord("other", "2026-11-26T12:00:00.000000Z", 15, resource_version="7")
RENEWED = LeaseRecord("other", "2026-11-26T12:00:02.000000Z", 15, resource_version="8")
MINE = LeaseRecord("me", "2026-11-26T12:00:00.000000Z", 15, resource_version="7")
RELEASED = LeaseRecord(None, None, 15, resource_version="9")
# renewTime far in the future or far in the past says nothing: only a change counts
SKEWED_PAST = LeaseRecord("other", "2001-01-01T00:00:00Z", 15, resource_version="7")


def seen(record: LeaseRecord, at: float) -> Observed:
    return Observed(version=record.version(), at=at)


@pytest.mark.parametrize(
    "record, observed, now, action",
    [
        # no Lease: create it
        (None, None, 100.0, LeaseAction.CREATE),
        # the record names us: renew, however old it looks
        (MINE, seen(MINE, 0.0), 1000.0, LeaseAction.RENEW),
        (MINE, None, 0.0, LeaseAction.RENEW),
        # released (no holder): take over at once
        (RELEASED, seen(RELEASED, 100.0), 100.0, LeaseAction.TAKE_OVER),
        # someone else: standby until a whole lease passed since *we* saw it change
        (OTHER, seen(OTHER, 100.0), 100.0, LeaseAction.STANDBY),
        (OTHER, seen(OTHER, 100.0), 114.9, LeaseAction.STANDBY),
        (OTHER, seen(OTHER, 100.0), 115.0, LeaseAction.TAKE_OVER),
        (OTHER, seen(OTHER, 100.0), 130.0, LeaseAction.TAKE_OVER),
        # a renewal we have not observed before restarts the wait (observed is stale)
        (RENEWED, seen(OTHER, 100.0), 130.0, LeaseAction.STANDBY),
        (RENEWED, None, 130.0, LeaseAction.STANDBY),
        # a renewTime in 2001 is not "expired": we saw it just now
        (SKEWED_PAST, seen(SKEWED_PAST, 100.0), 101.0, LeaseAction.STANDBY),
        # the holder's leaseDurationSeconds rules; ours only when the record has none
        (LeaseRecord("other", "t", 5, "3"), Observed(("other", "t", "3"), 0.0), 5.0,
         LeaseAction.TAKE_OVER),
        (LeaseRecord("other", "t", None, "3"), Observed(("other", "t", "3"), 0.0), 9.0,
         LeaseAction.STANDBY),
        (LeaseRecord("other", "t", None, "3"), Observed(("other", "t", "3"), 0.0), 10.0,
         LeaseAction.TAKE_OVER),
    ],
)  # fmt: skip
def test_decide_lease(
    record: LeaseRecord | None, observed: Observed | None, now: float, action: LeaseAction
) -> None:
    got = decide_lease(record, identity="me", observed=observed, now=now, default_duration=10.0)
    assert got is action


def test_observe_keeps_the_first_sighting_and_restarts_on_any_change() -> None:
    first = observe(None, OTHER, now=10.0)
    assert first == Observed(OTHER.version(), 10.0)
    assert observe(first, OTHER, now=12.0) is first  # unchanged: the clock keeps running
    for changed in (
        RENEWED,  # renewTime and resourceVersion
        LeaseRecord("third", OTHER.renew_time, 15, resource_version="7"),  # holder
        LeaseRecord("other", OTHER.renew_time, 15, resource_version="99"),  # rv only
    ):
        assert observe(first, changed, now=13.0) == Observed(changed.version(), 13.0)


def test_a_standby_that_keeps_seeing_renewals_never_takes_over() -> None:
    observed = None
    for i in range(50):  # the holder renews every 2 s for 100 s
        record = LeaseRecord("other", f"t{i}", 15, resource_version=str(i))
        now = 2.0 * i
        observed = observe(observed, record, now=now)
        action = decide_lease(
            record, identity="me", observed=observed, now=now, default_duration=15
        )
        assert action is LeaseAction.STANDBY, (i, action)
    # it stops renewing: 15 s after the last change we saw, we take over — not before
    for now, want in ((98.0 + 14.9, LeaseAction.STANDBY), (98.0 + 15.0, LeaseAction.TAKE_OVER)):
        action = decide_lease(
            record, identity="me", observed=observed, now=now, default_duration=15
        )
        assert action is want


@pytest.mark.parametrize(
    "renewed_at, now, leader",
    [
        (None, 5.0, False),
        (100.0, 100.0, True),
        (100.0, 109.9, True),
        (100.0, 110.0, False),  # renew deadline 10 s: stepped down
        (100.0, 500.0, False),  # e.g. after SIGSTOP/SIGCONT
        (100.0, 99.0, False),  # a clock that went backwards is not trusted
    ],
)
def test_holds_leadership(renewed_at: float | None, now: float, leader: bool) -> None:
    assert holds_leadership(renewed_at, now=now, renew_deadline=10.0) is leader


@pytest.mark.parametrize(
    "read_at, now, fresh", [(10.0, 10.0, True), (10.0, 12.0, True), (10.0, 12.1, False)]
)
def test_still_fresh(read_at: float, now: float, fresh: bool) -> None:
    assert still_fresh(read_at, now=now, max_age=2.0) is fresh


@pytest.mark.parametrize(
    "timings, problem",
    [
        (LeaseTimings(15, 10, 2), None),
        (LeaseTimings(15, 15, 2), "must be greater than the renew deadline"),
        (LeaseTimings(15, 20, 2), "must be greater than the renew deadline"),
        (LeaseTimings(15, 2.4, 2), "must be greater than 1.2 × the retry period"),
        (LeaseTimings(15, 10, 0), "must be > 0"),
    ],
)
def test_timings_are_checked_as_client_go_does(timings: LeaseTimings, problem: str | None) -> None:
    problems = timings.problems()
    if problem is None:
        assert problems == []
    else:
        assert any(problem in p for p in problems), problems


def test_derived_timings_keep_client_go_proportions() -> None:
    assert LeaseTimings.derived(15) == LeaseTimings(15, 10, 2)
    six = LeaseTimings.derived(6)
    assert six.renew_deadline == pytest.approx(4) and six.retry_period == pytest.approx(0.8)
    assert six.problems() == []
    assert LeaseTimings.derived(15, 12, 3) == LeaseTimings(15, 12, 3)
