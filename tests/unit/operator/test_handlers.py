"""The kopf glue (canary/operator/handlers.py) with fakes: leader and standby, prompt passes,
deletion and the finalizer, kopf's settings, and the resync scheduler behind them."""

from __future__ import annotations

import copy
from concurrent.futures import Executor, Future
from datetime import UTC, datetime
from typing import Any

import kopf
import pytest

from canary.adapters import errors
from canary.core.phases import COMMAND_ID_ANNOTATION
from canary.core.rollout.machine import POLL_SECONDS
from canary.operator.handlers import (
    DELETE_DELAY,
    FINALIZER,
    KOPF_FINALIZER,
    RETRY_DELAY,
    Controller,
    configure_kopf,
    lease_request_timeout,
)
from canary.operator.leadership import GuardedEvents, GuardedRollouts, GuardedRoutes, NotLeader
from canary.operator.resync import Resync
from tests.unit.operator.test_reconcile import NS, World

T0 = datetime(2026, 11, 26, 12, 0, 0, tzinfo=UTC)


class Lead:
    def __init__(self, leader: bool = True) -> None:
        self.leader = leader

    def may_write(self) -> bool:
        return self.leader

    def guard(self) -> None:
        if not self.leader:
            raise NotLeader("standby")


class Recorder:
    """A ResyncPort that records what the watch told it."""

    def __init__(self) -> None:
        self.upserts: list[tuple[tuple[str, str], bool]] = []
        self.forgotten: list[tuple[str, str]] = []

    def upsert(self, key: tuple[str, str], body: dict[str, Any], *, prompt: bool = False) -> None:
        self.upserts.append((key, prompt))

    def forget(self, key: tuple[str, str]) -> None:
        self.forgotten.append(key)


def _guarded(world: World, lead: Lead) -> Controller:
    r = world.reconciler
    r.rollouts = GuardedRollouts(r.rollouts, lead.guard)
    r.routes = GuardedRoutes(r.routes, lead.guard)
    r.events = GuardedEvents(r.events, lead.guard)
    return Controller(r, lead, clock=lambda: T0)


def _body(world: World) -> dict[str, Any]:
    return copy.deepcopy(world.rollouts.get(namespace=NS, name="r"))


def _weights(world: World) -> list[int]:
    return [b["weight"] for b in world.route()["spec"]["rules"][0]["backendRefs"]]


# --- leader and standby ------------------------------------------------------------------


def test_leader_pass_adds_our_finalizer_and_reconciles() -> None:
    w = World()
    c = _guarded(w, Lead(True))
    # weights were just written: the pass asks to look again soon (the plan's requeue)
    assert c.run_pass(_body(w)) == POLL_SECONDS
    obj = w.rollouts.get(namespace=NS, name="r")
    assert obj["metadata"]["finalizers"] == [FINALIZER]
    assert obj["status"]["phase"] == "Progressing" and _weights(w) == [95, 5, 5]
    rv = obj["metadata"]["resourceVersion"]
    c.run_pass(_body(w))  # the finalizer is there: not written again
    assert w.rollouts.get(namespace=NS, name="r")["metadata"]["finalizers"] == [FINALIZER]
    assert w.rollouts.get(namespace=NS, name="r")["metadata"]["resourceVersion"] >= rv


def test_standby_pass_reads_nothing_and_writes_nothing() -> None:
    w = World()
    before = _body(w)
    gets = w.routes.gets
    c = _guarded(w, Lead(False))
    assert c.run_pass(_body(w)) is None
    assert _body(w) == before  # no status, no finalizer
    assert w.routes.gets == gets and w.routes.patches == [] and w.events.reasons() == []


def test_leadership_lost_in_the_middle_of_a_pass_stops_before_the_next_write() -> None:
    w = World()
    lead = Lead(True)
    c = _guarded(w, lead)

    def lose(*_: Any) -> None:  # the status was written; the Lease is lost before the route
        lead.leader = False

    w.routes.before_patch = None
    original = w.reconciler.routes.json_patch

    def patch(**kw: Any) -> Any:
        lose()
        return original(**kw)

    w.reconciler.routes.json_patch = patch  # type: ignore[method-assign]
    assert c.run_pass(_body(w)) is None  # NotLeader is logged, not raised, not retried soon
    assert w.rollouts.get(namespace=NS, name="r")["status"]["phase"] == "Progressing"
    assert w.routes.patches == [] and _weights(w) == [90, 10, 5]


@pytest.mark.parametrize(
    "error",
    [errors.KubeUnavailable("connection refused"), errors.TraefikUnavailable("GET: refused")],
    ids=["kube", "traefik"],
)
def test_adapter_errors_ask_for_a_retry_soon(error: errors.AdapterError) -> None:
    w = World()
    c = _guarded(w, Lead(True))

    def unavailable(**_: Any) -> Any:
        raise error

    w.rollouts.patch_status = unavailable  # type: ignore[method-assign]
    assert c.run_pass(_body(w)) == RETRY_DELAY


# --- deletion ----------------------------------------------------------------------------


def _delete(w: World) -> dict[str, Any]:
    obj = w.rollouts.get(namespace=NS, name="r")
    obj["metadata"]["deletionTimestamp"] = "2026-11-26T12:00:05Z"
    w.rollouts.objects[(NS, "r")] = obj
    return copy.deepcopy(obj)


def test_deletion_restores_then_drops_the_finalizer_once_served() -> None:
    w = World()
    c = _guarded(w, Lead(True))
    c.run_pass(_body(w))  # step 1 at 5 %, finalizer on
    w.accept()
    w.run(T0)
    assert _weights(w) == [95, 5, 5]
    body = _delete(w)
    # the restore is written but the gateway does not serve it yet: keep the finalizer
    assert c.run_pass(body) == DELETE_DELAY
    assert _weights(w) == [100, 0, 5]
    assert FINALIZER in w.rollouts.get(namespace=NS, name="r")["metadata"]["finalizers"]
    # the gateway serves stable 100 / canary 0: the finalizer goes, the object with it
    w.accept()
    w.traefik.set(namespace=NS, route="api-route", rule=0, weights=[{0: 100, 1: 0, 2: 5}])
    w.snapshot_with_route()
    for _ in range(3):
        if c.run_pass(_body(w) if (NS, "r") in w.rollouts.objects else body) is None:
            break
    assert (NS, "r") not in w.rollouts.objects


def test_a_standby_never_touches_a_deleting_rollout() -> None:
    w = World()
    _guarded(w, Lead(True)).run_pass(_body(w))
    body = _delete(w)
    before = _body(w)
    standby = _guarded(w, Lead(False))
    assert standby.run_pass(body) is None
    assert _body(w) == before and _weights(w) == [95, 5, 5]


def test_a_deleting_rollout_without_our_finalizer_is_left_alone() -> None:
    w = World()
    body = _delete(w)
    assert _guarded(w, Lead(True)).run_pass(body) is None
    assert w.routes.patches == [] and "finalizers" not in _body(w)["metadata"]


# --- the watch: what is prompted ----------------------------------------------------------


def _event(type_: str | None, **meta: Any) -> dict[str, Any]:
    status = meta.pop("status", {"phase": "Progressing"})
    return {
        "type": type_,
        "object": {"metadata": {"namespace": NS, "name": "r", **meta}, "status": status},
    }


def test_events_record_every_rollout_and_prompt_only_when_needed() -> None:
    c = Controller(World().reconciler, Lead(False))
    rec = Recorder()
    c.resync = rec  # type: ignore[assignment]
    c.on_event(_event("ADDED", status={}))  # never reconciled: prompt
    c.on_event(_event("MODIFIED"))  # our own status write: no prompt
    c.on_event(_event(None))  # kopf's initial listing: recorded
    c.on_event(
        _event("MODIFIED", annotations={COMMAND_ID_ANNOTATION: "c1"})
    )  # an unacknowledged command: prompt
    c.on_event(
        _event(
            "MODIFIED",
            annotations={COMMAND_ID_ANNOTATION: "c1"},
            status={"phase": "Paused", "lastCommand": {"id": "c1"}},
        )
    )  # acknowledged: no prompt
    c.on_event(
        _event("MODIFIED", generation=3, status={"phase": "Paused", "observedGeneration": 2})
    )  # the spec changed since the status was written: prompt
    c.on_event(
        _event("MODIFIED", generation=3, status={"phase": "Paused", "observedGeneration": 3})
    )  # the status has seen this spec: no prompt
    c.on_event(_event("MODIFIED", deletionTimestamp="t"))  # deletion starts: prompt once
    c.on_event(_event("MODIFIED", deletionTimestamp="t"))  # our restore's status: no prompt
    c.on_event(_event("DELETED"))
    assert rec.upserts == [
        ((NS, "r"), True),
        ((NS, "r"), False),
        ((NS, "r"), False),
        ((NS, "r"), True),
        ((NS, "r"), False),
        ((NS, "r"), True),
        ((NS, "r"), False),
        ((NS, "r"), True),
        ((NS, "r"), False),
    ]
    assert rec.forgotten == [(NS, "r")]


# --- kopf settings -------------------------------------------------------------------------


def test_kopf_is_configured_to_write_nothing_and_to_time_out() -> None:
    settings = kopf.OperatorSettings()
    configure_kopf(settings)
    assert settings.posting.enabled is False
    assert settings.persistence.finalizer == KOPF_FINALIZER != FINALIZER
    assert settings.watching.server_timeout == 300
    assert settings.watching.client_timeout is not None and settings.watching.client_timeout > 300
    assert settings.watching.connect_timeout and settings.networking.connect_timeout
    assert settings.networking.request_timeout == 30


def test_no_kopf_handler_needs_a_finalizer_or_stores_progress() -> None:
    """Only watching handlers (``on.event``): no timers, daemons or change handlers, so kopf
    never adds or removes a finalizer, nor writes progress or diff-base annotations."""
    import canary.operator.handlers as handlers

    registry = kopf.OperatorRegistry()
    captured: dict[str, Any] = {}

    def fake_run(**kw: Any) -> None:
        captured.update(kw)

    from canary.operator.config import OperatorConfig

    orig_run, orig_load = kopf.run, handlers.load_api_client
    try:
        kopf.run = fake_run  # type: ignore[assignment]
        handlers.kopf.OperatorRegistry = lambda: registry  # type: ignore[method-assign]
        handlers.load_api_client = lambda **_: _FakeApi()  # type: ignore[assignment]
        handlers.run_operator(OperatorConfig(identity="me", lease_duration=6))
    finally:
        kopf.run = orig_run  # type: ignore[assignment]
        handlers.kopf.OperatorRegistry = kopf.OperatorRegistry  # type: ignore[misc]
        handlers.load_api_client = orig_load
    assert captured["registry"] is registry
    assert captured["standalone"] is True
    assert registry._watching.get_all_handlers()
    assert not registry._changing.get_all_handlers()
    assert not registry._spawning.get_all_handlers()


class _FakeApi:
    """Enough of an ApiClient for run_operator to build its adapters (never called)."""

    def __init__(self) -> None:
        from kubernetes import client

        self.configuration = client.Configuration()
        self._canary_rate_limited = False  # the operator hooks its client-side QPS limit

    def call_api(self, *args: Any, **kwargs: Any) -> Any:
        raise AssertionError("unexpected API call")

    def __getattr__(self, name: str) -> Any:
        raise AssertionError(f"unexpected API call: {name}")


def test_lease_requests_end_well_within_the_renew_deadline() -> None:
    from canary.core.election import LeaseTimings

    assert lease_request_timeout(LeaseTimings(15, 10, 2)) == 5.0
    assert lease_request_timeout(LeaseTimings(6, 4, 0.8)) == 2.0


# --- the resync scheduler --------------------------------------------------------------------


class Inline(Executor):
    def submit(self, fn: Any, /, *args: Any, **kwargs: Any) -> Future[Any]:
        fut: Future[Any] = Future()
        fut.set_result(fn(*args, **kwargs))
        return fut


class Tick:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_resync_runs_each_rollout_every_interval_and_only_while_leading() -> None:
    ran: list[str] = []
    lead, clock = Lead(False), Tick()
    r = Resync(
        lambda body: ran.append(body["name"]) or None, interval=5.0,
        active=lead.may_write, executor=Inline(), clock=clock,
    )  # fmt: skip
    r.upsert(("ns", "a"), {"name": "a"})
    r.upsert(("ns", "b"), {"name": "b"})
    assert r.dispatch() == [] and ran == []  # standby: nothing runs
    lead.leader = True
    assert r.dispatch() == [("ns", "a"), ("ns", "b")]  # due since they were seen
    assert r.dispatch() == []  # next one 5 s after each pass ended
    clock.now += 4.9
    assert r.dispatch() == []
    clock.now += 0.1
    assert r.dispatch() == [("ns", "a"), ("ns", "b")]
    r.upsert(("ns", "a"), {"name": "a2"}, prompt=True)  # a new command: at once
    assert r.dispatch() == [("ns", "a")] and ran[-1] == "a2"
    r.forget(("ns", "b"))
    clock.now += 5
    assert r.dispatch() == [("ns", "a")]
    assert r.known() == [("ns", "a")]


def test_resync_honours_the_delay_a_pass_asks_for_and_survives_errors() -> None:
    clock = Tick()
    calls: list[float] = []

    def run(body: dict[str, Any]) -> float | None:
        calls.append(clock.now)
        if len(calls) == 1:
            return 1.0
        raise RuntimeError("boom")

    r = Resync(run, interval=5.0, active=lambda: True, executor=Inline(), clock=clock)
    r.upsert(("ns", "a"), {})
    r.dispatch()
    clock.now += 1.0
    assert r.dispatch() == [("ns", "a")]  # the asked-for 1 s, not the 5 s interval
    clock.now += 4.9
    assert r.dispatch() == []  # after an exception: the usual interval
    clock.now += 0.1
    assert r.dispatch() == [("ns", "a")]


def test_resync_never_waits_longer_than_the_safety_net_interval() -> None:
    clock = Tick()
    r = Resync(
        lambda _b: 600.0, interval=300.0, active=lambda: True, executor=Inline(), clock=clock
    )
    r.upsert(("ns", "a"), {})
    r.dispatch()
    clock.now += 299.9
    assert r.dispatch() == []
    clock.now += 0.1
    assert r.dispatch() == [("ns", "a")]  # the pass asked for 600 s; the net is 300 s


def test_resync_wake_all_makes_everything_due_when_leadership_is_gained() -> None:
    clock = Tick()
    r = Resync(lambda _b: None, interval=60.0, active=lambda: True, executor=Inline(), clock=clock)
    r.upsert(("ns", "a"), {})
    r.dispatch()
    assert r.dispatch() == []
    r.wake_all()
    assert r.dispatch() == [("ns", "a")]


@pytest.mark.parametrize("prompt", [True, False])
def test_resync_never_runs_one_rollout_twice_at_once(prompt: bool) -> None:
    clock = Tick()
    held: list[Any] = []

    class Hold(Executor):
        def submit(self, fn: Any, /, *args: Any, **kwargs: Any) -> Future[Any]:
            held.append((fn, args))
            return Future()

    r = Resync(lambda _b: None, interval=1.0, active=lambda: True, executor=Hold(), clock=clock)
    r.upsert(("ns", "a"), {})
    assert r.dispatch() == [("ns", "a")]
    r.upsert(("ns", "a"), {"new": 1}, prompt=prompt)
    clock.now += 10
    assert r.dispatch() == []  # still running
    fn, args = held.pop()
    fn(*args)  # the pass ends
    assert r.dispatch() == ([("ns", "a")] if prompt else [])  # prompted meanwhile: at once


def test_resync_lists_a_namespaces_rollouts_for_one_owner_per_rule() -> None:
    r = Resync(lambda _b: None, interval=5.0, active=lambda: False, executor=Inline())
    r.upsert(("a", "x"), {"metadata": {"name": "x"}})
    r.upsert(("a", "y"), {"metadata": {"name": "y"}})
    r.upsert(("b", "z"), {"metadata": {"name": "z"}})
    assert sorted(b["metadata"]["name"] for b in r.bodies_in("a")) == ["x", "y"]
    r.forget(("a", "x"))
    assert [b["metadata"]["name"] for b in r.bodies_in("a")] == ["y"]
    assert r.bodies_in("c") == []


def test_resync_starts_only_as_many_passes_as_workers_the_longest_waiting_first() -> None:
    clock = Tick()
    held: list[Any] = []

    class Hold(Executor):
        def submit(self, fn: Any, /, *args: Any, **kwargs: Any) -> Future[Any]:
            held.append((fn, args))
            return Future()

    r = Resync(lambda _b: 1.0, interval=300.0, active=lambda: True, workers=2,
               executor=Hold(), clock=clock)  # fmt: skip
    r.upsert(("ns", "c"), {})
    clock.now += 1
    r.upsert(("ns", "a"), {})
    r.upsert(("ns", "b"), {})
    assert r.dispatch() == [("ns", "c"), ("ns", "a")]  # c waited longest; 2 workers
    assert r.dispatch() == []  # no free worker: b waits, it is not queued behind them
    fn, args = held.pop(0)
    fn(*args)  # c's pass ends: due again in 1 s
    assert r.dispatch() == [("ns", "b")]
