"""One writer: the Lease loop, the ``may_write`` check, and ports that ask it before writing.

As client-go's ``tools/leaderelection`` (the decisions are pure, in ``canary.core.election``):
a background thread tries to acquire or renew the Lease every ``retry_period``. We count as
leader only while our last confirmed renewal (timed from its *start*, on our monotonic
clock) is younger than ``renew_deadline``; a renewal that fails or hangs therefore ends our
leadership by itself, before ``lease_duration`` lets a standby take over. A standby judges
expiry by how long *it* has seen the Lease record unchanged, never by the holder's clock.

:class:`GuardedRollouts`, :class:`GuardedRoutes` and :class:`GuardedEvents` wrap the ports
the Reconciler writes through: every write (status patch, Event, finalizer, each route
patch including every retry after a 422) first passes its failpoint, then the leadership
check, right before the request. A process that lost the Lease raises :class:`NotLeader`
there and writes nothing.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, Protocol

from canary.adapters import errors
from canary.adapters.ports import EventsPort, Obj, RolloutsPort, RoutesPort
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
from canary.operator import failpoints

log = logging.getLogger("canary.operator")


class NotLeader(Exception):
    """This process does not hold the Lease (any more): it must not write."""


class LeasePort(Protocol):
    namespace: str
    name: str

    def get(self) -> tuple[LeaseRecord, Any] | None: ...

    def create(self, *, identity: str, now: datetime) -> LeaseRecord: ...

    def renew(self, lease: Any, *, now: datetime) -> LeaseRecord: ...

    def take_over(self, lease: Any, *, identity: str, now: datetime) -> LeaseRecord: ...

    def release(self, lease: Any) -> None: ...


class Leadership:
    """Holds the Lease from a background thread; ``may_write()`` is cheap and exact."""

    def __init__(
        self,
        lease: LeasePort,
        *,
        identity: str,
        timings: LeaseTimings,
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        on_change: Callable[[bool], None] | None = None,
    ) -> None:
        self._lease = lease
        self.identity = identity
        self.timings = timings
        self._clock = clock
        self._wall = wall_clock
        self._on_change = on_change
        self._renewed_at: float | None = None  # start of our last confirmed renewal
        self._observed: Observed | None = None
        self._reported = False
        self._lock = threading.Lock()
        self._stop = threading.Event()
        # One round or the release at a time: a renewal in flight when stop() releases
        # would change the resourceVersion under the release (409, Lease kept until it
        # expires), and a round after the release would take the Lease again.
        self._round_lock = threading.Lock()
        self._thread = threading.Thread(target=self._loop, name="canary-lease", daemon=True)

    # -- the check ------------------------------------------------------------------

    def may_write(self) -> bool:
        with self._lock:
            renewed_at = self._renewed_at
        return holds_leadership(
            renewed_at, now=self._clock(), renew_deadline=self.timings.renew_deadline
        )

    @property
    def is_leader(self) -> bool:
        return self.may_write()

    def guard(self) -> None:
        """Raise :class:`NotLeader` unless a write is allowed right now."""
        if not self.may_write():
            raise NotLeader(f"{self.identity} does not hold lease {self._where()}")

    # -- the loop -------------------------------------------------------------------

    def start(self) -> None:
        self.tick()
        self._thread.start()

    def stop(self) -> None:
        """Stop the loop and release the Lease if we still validly hold it.

        Waits (at most the renew deadline) for a round in flight to finish first.
        """
        self._stop.set()
        if not self._round_lock.acquire(timeout=self.timings.renew_deadline):
            log.warning("lease %s: a lease request still hangs; not released", self._where())
            with self._lock:
                self._renewed_at = None
            self._report()
            return
        try:
            if not self.may_write():
                return
            got = self._lease.get()
            if got is not None and got[0].holder == self.identity and self.may_write():
                self._lease.release(got[1])
                log.info("released lease %s", self._where())
        except errors.AdapterError as exc:
            log.warning("lease %s: cannot release: %s", self._where(), exc)
        finally:
            self._round_lock.release()
            with self._lock:
                self._renewed_at = None
            self._report()

    def _loop(self) -> None:
        while not self._stop.wait(self.timings.retry_period):
            self.tick()

    def tick(self) -> None:
        """One round: read, decide, maybe write. Never raises. Nothing once stopped."""
        with self._round_lock:
            if self._stop.is_set():
                return
            try:
                self._round()
            except Exception as exc:  # the API server is away: our leadership decays by itself
                log.warning("lease %s: %s", self._where(), exc)
        self._report()

    def _round(self) -> None:
        started = self._clock()
        got = self._lease.get()
        now = self._clock()
        record, obj = got if got is not None else (None, None)
        self._observed = observe(self._observed, record, now=now) if record else None
        action = decide_lease(
            record,
            identity=self.identity,
            observed=self._observed,
            now=now,
            default_duration=self.timings.lease_duration,
        )
        if action is LeaseAction.STANDBY:
            with self._lock:
                self._renewed_at = None  # someone else holds it: stop at once
            return
        failpoints.hit("before-lease-write")
        # Paused between read and write for longer than the margin a holder keeps before
        # a takeover is possible (lease duration − renew deadline): read again rather than
        # send a write decided on what may be stale (it would only get 409, but it must
        # not reach the API server at all).
        margin = self.timings.lease_duration - self.timings.renew_deadline
        if not still_fresh(started, now=self._clock(), max_age=margin):
            return
        wall = self._wall()
        try:
            if action is LeaseAction.CREATE:
                written = self._lease.create(identity=self.identity, now=wall)
            elif action is LeaseAction.RENEW:
                written = self._lease.renew(obj, now=wall)
            else:
                written = self._lease.take_over(obj, identity=self.identity, now=wall)
        except errors.Conflict:
            return  # another candidate wrote first; the next round reads what it wrote
        with self._lock:
            self._renewed_at = started
        self._observed = observe(self._observed, written, now=self._clock())

    def _report(self) -> None:
        leader = self.may_write()
        if leader == self._reported:
            return
        self._reported = leader
        log.info(
            "%s lease %s as %s", "acquired" if leader else "lost", self._where(), self.identity
        )
        if self._on_change is not None:
            self._on_change(leader)

    def _where(self) -> str:
        return f"{self._lease.namespace}/{self._lease.name}"


# --------------------------------------------------------------------------- guarded ports

Guard = Callable[[], None]


class GuardedRollouts:
    """A RolloutsPort whose writes pass a failpoint and ``guard()`` first."""

    def __init__(self, inner: RolloutsPort, guard: Guard) -> None:
        self._inner, self._guard = inner, guard

    def get(self, *, namespace: str, name: str) -> Obj:
        return self._inner.get(namespace=namespace, name=name)

    def list(self, *, namespace: str | None) -> list[Obj]:
        return self._inner.list(namespace=namespace)

    def watch(
        self, *, namespace: str | None, name: str | None = None, timeout: float | None = None
    ) -> Iterator[tuple[str, Obj]]:
        return self._inner.watch(namespace=namespace, name=name, timeout=timeout)

    def patch_status(self, *, namespace: str, name: str, patch: Mapping[str, Any]) -> Obj:
        failpoints.hit("before-status-write")
        self._guard()
        return self._inner.patch_status(namespace=namespace, name=name, patch=patch)

    def annotate(self, *, namespace: str, name: str, annotations: Mapping[str, str | None]) -> Obj:
        failpoints.hit("before-status-write")
        self._guard()
        return self._inner.annotate(namespace=namespace, name=name, annotations=annotations)

    def set_finalizers(
        self, *, namespace: str, name: str, finalizers: Sequence[str], resource_version: str
    ) -> Obj:
        failpoints.hit("before-finalizer-write")
        self._guard()
        return self._inner.set_finalizers(
            namespace=namespace, name=name, finalizers=finalizers, resource_version=resource_version
        )


class GuardedRoutes:
    """A RoutesPort whose ``json_patch`` (each attempt of ``guarded_patch``) is guarded."""

    def __init__(self, inner: RoutesPort, guard: Guard) -> None:
        self._inner, self._guard = inner, guard

    def get(self, *, kind: str, namespace: str, name: str) -> Obj:
        return self._inner.get(kind=kind, namespace=namespace, name=name)

    def json_patch(
        self, *, kind: str, namespace: str, name: str, ops: Sequence[Mapping[str, Any]]
    ) -> Obj:
        failpoints.hit("before-route-write")
        self._guard()
        return self._inner.json_patch(kind=kind, namespace=namespace, name=name, ops=ops)


class GuardedEvents:
    """An EventsPort whose ``emit`` is guarded."""

    def __init__(self, inner: EventsPort, guard: Guard) -> None:
        self._inner, self._guard = inner, guard

    def emit(self, *, obj: Mapping[str, Any], type_: str, reason: str, message: str) -> None:
        failpoints.hit("before-event-write")
        self._guard()
        self._inner.emit(obj=obj, type_=type_, reason=reason, message=message)

    def list_for(self, *, obj: Mapping[str, Any], limit: int = 20) -> list[Obj]:
        return self._inner.list_for(obj=obj, limit=limit)
