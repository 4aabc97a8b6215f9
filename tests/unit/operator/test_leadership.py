"""The Lease loop and the write guard, with a fake Lease and a fake monotonic clock.

What client-go guarantees and we check here: the holder steps down when a renewal is not
confirmed within the renew deadline — also while that renewal hangs; a standby takes over
only a whole lease after it last *saw* the record change; a decision read before a pause
is not acted on; every guarded write (each route-patch retry included) asks first.
"""

from __future__ import annotations

import itertools
import threading
from datetime import UTC, datetime
from typing import Any

import pytest

from canary.adapters import errors
from canary.adapters.fakes import FakeEvents, FakeRollouts, FakeRoutes
from canary.adapters.routewrite import guarded_patch
from canary.core.election import LeaseRecord, LeaseTimings
from canary.operator import failpoints
from canary.operator.leadership import (
    GuardedEvents,
    GuardedRollouts,
    GuardedRoutes,
    Leadership,
    NotLeader,
)

TIMINGS = LeaseTimings(15, 10, 2)
WALL = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class FakeLease:
    """One Lease record; writes check the resourceVersion like the API server's replace."""

    namespace, name = "ns", "canary-operator"

    def __init__(self) -> None:
        self.record: LeaseRecord | None = None
        self.writes: list[tuple[str, str]] = []  # (verb, identity)
        self._rv = itertools.count(1)
        self.hang: threading.Event | None = None  # set: renew blocks until it is set
        self.entered = threading.Event()
        self.on_get: Any = None  # called inside get (a clock jump, a foreign write)
        self.fail: Exception | None = None

    def put(self, holder: str | None, renew: str = "t0") -> None:
        self.record = LeaseRecord(holder, renew, 15, str(next(self._rv)))

    def get(self) -> tuple[LeaseRecord, Any] | None:
        if self.fail:
            raise self.fail
        got = None if self.record is None else (self.record, self.record.resource_version)
        if self.on_get:
            self.on_get()
        return got

    def _write(self, verb: str, read_rv: Any, holder: str | None, now: datetime) -> LeaseRecord:
        self.entered.set()
        if self.hang is not None:
            self.hang.wait(10)
        if verb != "create" and (self.record is None or read_rv != self.record.resource_version):
            raise errors.Conflict("lease changed", status=409)
        if verb == "create" and self.record is not None:
            raise errors.Conflict("lease exists", status=409)
        self.writes.append((verb, str(holder)))
        self.record = LeaseRecord(holder, now.isoformat(), 15, str(next(self._rv)))
        return self.record

    def create(self, *, identity: str, now: datetime) -> LeaseRecord:
        return self._write("create", None, identity, now)

    def renew(self, lease: Any, *, now: datetime) -> LeaseRecord:
        assert self.record is not None
        return self._write("renew", lease, self.record.holder, now)

    def take_over(self, lease: Any, *, identity: str, now: datetime) -> LeaseRecord:
        return self._write("take-over", lease, identity, now)

    def release(self, lease: Any) -> None:
        self._write("release", lease, None, WALL)


def leadership(lease: FakeLease, clock: Clock, identity: str = "me") -> Leadership:
    return Leadership(
        lease, identity=identity, timings=TIMINGS, clock=clock, wall_clock=lambda: WALL
    )


def test_creates_renews_and_steps_down_when_renewals_stop_confirming() -> None:
    lease, clock = FakeLease(), Clock()
    me = leadership(lease, clock)
    me.tick()
    assert me.may_write() and lease.writes == [("create", "me")]
    clock.now += 2
    me.tick()
    assert lease.writes[-1] == ("renew", "me") and me.may_write()
    # the API server goes away: renewals fail, leadership ends 10 s after the last one began
    lease.fail = errors.KubeUnavailable("connection refused")
    for _ in range(4):
        clock.now += 2
        me.tick()
        assert me.may_write(), clock.now
    clock.now += 2  # 10 s since the last confirmed renewal started
    me.tick()
    assert not me.may_write()
    with pytest.raises(NotLeader, match="does not hold lease ns/canary-operator"):
        me.guard()


def test_a_hung_renewal_ends_leadership_while_it_still_hangs() -> None:
    lease, clock = FakeLease(), Clock()
    me = leadership(lease, clock)
    me.tick()
    assert me.may_write()
    lease.hang = threading.Event()
    lease.entered.clear()
    clock.now += 2
    t = threading.Thread(target=me.tick, daemon=True)
    t.start()
    assert lease.entered.wait(5)  # the renewal request is in flight and does not return
    clock.now += 8.1  # 10.1 s after the last confirmed renewal began
    assert t.is_alive() and not me.may_write()
    # when the hung call finally succeeds, it counts from when it began (2 s earlier)
    lease.hang.set()
    t.join(5)
    assert me.may_write()
    clock.now += 8.0  # ... so it is past the deadline again 10 s after *its* start
    assert not me.may_write()


def test_a_standby_takes_over_a_whole_lease_after_it_last_saw_a_change() -> None:
    lease, clock = FakeLease(), Clock()
    lease.put("other", renew="2001-01-01T00:00:00Z")  # renewTime in the distant past
    me = leadership(lease, clock)
    me.tick()
    assert not me.may_write() and lease.writes == []  # seen just now: alive
    for _ in range(3):  # the holder keeps renewing: never a takeover
        clock.now += 10
        lease.put("other", renew=f"r{clock.now}")
        me.tick()
        assert not me.may_write() and lease.writes == []
    clock.now += 14.9  # it stops: 14.9 s after our last sighting, still standby
    me.tick()
    assert lease.writes == []
    clock.now += 0.1
    me.tick()
    assert lease.writes == [("take-over", "me")] and me.may_write()


def test_a_released_lease_is_taken_at_once() -> None:
    lease, clock = FakeLease(), Clock()
    lease.put(None)
    me = leadership(lease, clock)
    me.tick()
    assert lease.writes == [("take-over", "me")] and me.may_write()


def test_seeing_another_holder_ends_leadership_at_once() -> None:
    lease, clock = FakeLease(), Clock()
    me = leadership(lease, clock)
    me.tick()
    assert me.may_write()
    lease.put("other")  # someone took it (we were paused, say)
    clock.now += 2
    me.tick()
    assert not me.may_write()
    assert lease.writes == [("create", "me")]  # and we wrote nothing to the Lease


def test_a_decision_read_before_a_pause_is_not_written() -> None:
    lease, clock = FakeLease(), Clock()
    me = leadership(lease, clock)
    me.tick()
    clock.now += 2

    def paused() -> None:  # stopped right after the read for longer than 15 − 10 s
        clock.now += 5.1

    lease.on_get = paused
    me.tick()
    assert lease.writes == [("create", "me")]  # no renewal from the stale read
    lease.on_get = lambda: setattr(clock, "now", clock.now + 4.9)  # a slow read: still fresh
    me.tick()
    assert lease.writes[-1] == ("renew", "me")


def test_losing_a_takeover_race_is_not_leadership() -> None:
    lease, clock = FakeLease(), Clock()
    lease.put(None)
    me = leadership(lease, clock)

    def rival() -> None:
        lease.put("rival")  # writes between our read and our write

    lease.on_get = rival
    me.tick()
    assert not me.may_write() and lease.writes == []


def test_stop_releases_only_a_lease_we_validly_hold() -> None:
    lease, clock = FakeLease(), Clock()
    me = leadership(lease, clock)
    me.tick()
    me.stop()
    assert lease.writes[-1] == ("release", "None") and not me.may_write()
    lease2, clock2 = FakeLease(), Clock()
    late = leadership(lease2, clock2)
    late.tick()
    clock2.now += 11  # past the renew deadline: someone may hold it by now
    late.stop()
    assert lease2.writes == [("create", "me")]


def test_stop_waits_for_a_renewal_in_flight_then_releases() -> None:
    """SIGTERM while the loop renews: the release is sent after the renewal answered (not
    alongside it — the e2e shutdown test saw 409 "the object has been modified" and a
    Lease kept until it expired), and no round runs after the release."""
    lease, clock = FakeLease(), Clock()
    me = leadership(lease, clock)
    me.tick()
    lease.hang = threading.Event()
    lease.entered.clear()
    clock.now += 2
    renewing = threading.Thread(target=me.tick, daemon=True)
    renewing.start()
    assert lease.entered.wait(5)  # the renewal is in flight
    stopping = threading.Thread(target=me.stop, daemon=True)
    stopping.start()
    stopping.join(0.3)
    assert stopping.is_alive()  # waits for the round instead of racing it
    lease.hang.set()
    lease.hang = None
    renewing.join(5)
    stopping.join(5)
    assert not stopping.is_alive()
    assert lease.writes == [("create", "me"), ("renew", "me"), ("release", "None")]
    me.tick()  # a round after stop (the loop woke up late) writes nothing
    assert lease.writes[-1] == ("release", "None") and len(lease.writes) == 3
    assert not me.may_write()


def test_on_change_reports_transitions() -> None:
    lease, clock = FakeLease(), Clock()
    seen: list[bool] = []
    me = Leadership(
        lease, identity="me", timings=TIMINGS, clock=clock, wall_clock=lambda: WALL,
        on_change=seen.append,
    )  # fmt: skip
    me.tick()
    lease.put("other")
    clock.now += 2
    me.tick()
    assert seen == [True, False]


# --------------------------------------------------------------------------- guarded ports


ROUTE = {
    "kind": "HTTPRoute",
    "metadata": {"name": "r", "namespace": "ns", "generation": 1},
    "spec": {
        "rules": [{"backendRefs": [{"name": "a", "weight": 90}, {"name": "b", "weight": 10}]}]
    },
}


def _ops(live: dict[str, Any]) -> list[dict[str, object]]:
    gen = live["metadata"]["generation"]
    return [
        {"op": "test", "path": "/metadata/generation", "value": gen},
        {"op": "replace", "path": "/spec/rules/0/backendRefs/1/weight", "value": 50},
    ]


class Switch:
    def __init__(self) -> None:
        self.leader = True
        self.checks = 0

    def guard(self) -> None:
        self.checks += 1
        if not self.leader:
            raise NotLeader("not the holder")


def test_every_route_patch_retry_rechecks_leadership() -> None:
    routes, switch = FakeRoutes([ROUTE]), Switch()

    def foreign_then_lose(fake: FakeRoutes, kind: str, ns: str, name: str) -> None:
        # a foreign spec edit makes our test op fail (422) and we lose the Lease meanwhile
        fake.before_patch = None
        fake.edit(kind=kind, namespace=ns, name=name, fn=lambda o: o["spec"].update(x=1))
        switch.leader = False

    routes.before_patch = foreign_then_lose
    guarded = GuardedRoutes(routes, switch.guard)
    with pytest.raises(NotLeader):
        guarded_patch(
            routes=guarded, kind="HTTPRoute", namespace="ns", name="r", compute_ops=_ops,
            wait=lambda _state: 0.0,  # type: ignore[arg-type,return-value]
        )  # fmt: skip
    assert switch.checks == 2  # first attempt (refused with 422), then the retry: refused here
    assert len(routes.patches) == 1  # the retry never reached the API server
    live = routes.get(kind="HTTPRoute", namespace="ns", name="r")
    assert [b["weight"] for b in live["spec"]["rules"][0]["backendRefs"]] == [90, 10]


def test_status_finalizer_and_event_writes_are_refused_without_leadership() -> None:
    rollouts = FakeRollouts([{"metadata": {"name": "x", "namespace": "ns"}}])
    events, switch = FakeEvents(), Switch()
    g_rollouts = GuardedRollouts(rollouts, switch.guard)
    g_events = GuardedEvents(events, switch.guard)
    g_rollouts.patch_status(namespace="ns", name="x", patch={"phase": "Pending"})
    switch.leader = False
    rv = rollouts.get(namespace="ns", name="x")["metadata"]["resourceVersion"]
    obj = rollouts.get(namespace="ns", name="x")
    for write in (
        lambda: g_rollouts.patch_status(namespace="ns", name="x", patch={"phase": "Failed"}),
        lambda: g_rollouts.annotate(namespace="ns", name="x", annotations={"a": "b"}),
        lambda: g_rollouts.set_finalizers(
            namespace="ns", name="x", finalizers=["f"], resource_version=rv
        ),
        lambda: g_events.emit(obj=obj, type_="Normal", reason="R", message="m"),
    ):
        with pytest.raises(NotLeader):
            write()
    after = rollouts.get(namespace="ns", name="x")
    assert after["status"] == {"phase": "Pending"} and after["metadata"]["resourceVersion"] == rv
    assert events.reasons() == []
    # reads still pass through
    assert g_rollouts.get(namespace="ns", name="x")["metadata"]["name"] == "x"


def test_the_failpoint_comes_before_the_leadership_check(monkeypatch: pytest.MonkeyPatch) -> None:
    order: list[str] = []
    monkeypatch.setattr(failpoints, "hit", lambda name: order.append(f"failpoint {name}"))
    routes = FakeRoutes([ROUTE])

    def guard() -> None:
        order.append("guard")

    GuardedRoutes(routes, guard).json_patch(
        kind="HTTPRoute", namespace="ns", name="r", ops=_ops(routes.get(
            kind="HTTPRoute", namespace="ns", name="r"))
    )  # fmt: skip
    assert order == ["failpoint before-route-write", "guard"]
