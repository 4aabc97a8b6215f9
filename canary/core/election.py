"""Single-writer election over a coordination.k8s.io Lease: the decisions, without I/O or clock.

kopf's peering freezes every operator of equal priority, so it is no leader election. We
use the Kubernetes Lease the way client-go's ``tools/leaderelection`` does:

* A candidate never compares its clock with the holder's ``renewTime``. It records *when
  it observed* the Lease record change (holder, renewTime, resourceVersion) on its own
  monotonic clock, and takes over only when ``leaseDurationSeconds`` have passed since
  that observation without a further change. Clock skew between nodes does not matter.
* The holder renews every ``retry_period``. It counts as leader only while its last
  confirmed renewal is younger than ``renew_deadline`` (< ``lease_duration``), measured
  from the moment it *started* that renewal: a renewal that hangs or fails makes it step
  down before any candidate may take over.
* Every write of the Lease carries the resourceVersion it was read at, so two candidates
  cannot both win a takeover (the adapter's job).

All times here are seconds on the caller's monotonic clock (``now`` is an argument).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

# client-go's JitterFactor: renewDeadline must exceed retryPeriod * JITTER_FACTOR.
JITTER_FACTOR = 1.2


class LeaseAction(StrEnum):
    CREATE = "create"  # no Lease yet: create it with us as holder
    RENEW = "renew"  # the record names us: bump renewTime
    TAKE_OVER = "take-over"  # released, or unchanged for a whole lease: become the holder
    STANDBY = "standby"  # someone else holds a live Lease: do not write


@dataclass(frozen=True)
class LeaseTimings:
    """client-go's defaults: 15 s / 10 s / 2 s."""

    lease_duration: float = 15.0  # a candidate waits this long after the last observed change
    renew_deadline: float = 10.0  # the holder steps down when not renewed within this
    retry_period: float = 2.0  # between two attempts to acquire or renew

    def problems(self) -> list[str]:
        """What makes these timings unsafe (client-go's NewLeaderElector checks)."""
        out: list[str] = []
        if self.lease_duration <= 0 or self.renew_deadline <= 0 or self.retry_period <= 0:
            out.append("lease duration, renew deadline and retry period must be > 0")
        if self.lease_duration <= self.renew_deadline:
            out.append(
                f"lease duration ({self.lease_duration:g} s) must be greater than the "
                f"renew deadline ({self.renew_deadline:g} s)"
            )
        if self.renew_deadline <= JITTER_FACTOR * self.retry_period:
            out.append(
                f"renew deadline ({self.renew_deadline:g} s) must be greater than "
                f"{JITTER_FACTOR} × the retry period ({self.retry_period:g} s)"
            )
        return out

    @classmethod
    def derived(
        cls,
        lease_duration: float,
        renew_deadline: float | None = None,
        retry_period: float | None = None,
    ) -> LeaseTimings:
        """Unset values in client-go's proportions: deadline 2/3, retry 2/15 of the lease."""
        return cls(
            lease_duration=lease_duration,
            renew_deadline=renew_deadline if renew_deadline is not None else lease_duration * 2 / 3,
            retry_period=retry_period if retry_period is not None else lease_duration * 2 / 15,
        )


@dataclass(frozen=True)
class LeaseRecord:
    """What the Lease says. ``renew_time`` is kept as written: compared, never trusted."""

    holder: str | None
    renew_time: str | None
    duration_seconds: int | None
    resource_version: str | None = None
    transitions: int = 0

    def version(self) -> tuple[str | None, str | None, str | None]:
        """What tells one renewal from the next."""
        return (self.holder, self.renew_time, self.resource_version)


@dataclass(frozen=True)
class Observed:
    """A record version and when *we* first saw it (our monotonic seconds)."""

    version: tuple[str | None, str | None, str | None]
    at: float


def observe(previous: Observed | None, record: LeaseRecord, *, now: float) -> Observed:
    """Keep the first-seen time while the record is unchanged; restart it on any change."""
    version = record.version()
    if previous is not None and previous.version == version:
        return previous
    return Observed(version=version, at=now)


def decide_lease(
    record: LeaseRecord | None,
    *,
    identity: str,
    observed: Observed | None,
    now: float,
    default_duration: float,
) -> LeaseAction:
    """What a candidate named ``identity`` does with ``record`` (read just now) at ``now``.

    ``observed`` is the result of :func:`observe` for this very record; expiry is judged
    only by how long *we* have seen it unchanged, never by its ``renewTime``.
    """
    if record is None:
        return LeaseAction.CREATE
    if record.holder == identity:
        return LeaseAction.RENEW
    if not record.holder:
        return LeaseAction.TAKE_OVER  # released on shutdown
    if observed is None or observed.version != record.version():
        return LeaseAction.STANDBY  # a change seen just now: the holder is alive
    duration = record.duration_seconds or default_duration
    return LeaseAction.TAKE_OVER if now - observed.at >= duration else LeaseAction.STANDBY


def holds_leadership(renewed_at: float | None, *, now: float, renew_deadline: float) -> bool:
    """True while our last confirmed renewal, timed from its start, is within the deadline."""
    if renewed_at is None:
        return False
    return 0.0 <= now - renewed_at < renew_deadline


def still_fresh(read_at: float, *, now: float, max_age: float) -> bool:
    """A decision made from a read at ``read_at`` may still be acted on at ``now``.

    A process stopped between its read and its write (SIGSTOP, a long GC pause) must read
    again instead of writing from what it saw before the pause.
    """
    return 0.0 <= now - read_at <= max_age
