"""Single-writer election over a coordination.k8s.io Lease: the decision, without the I/O.

kopf's peering freezes every operator of equal priority, so it is no leader election. We
use the Kubernetes Lease the way client-go's leaderelection does: the holder renews
``renewTime``; a candidate takes over when ``renewTime + leaseDurationSeconds`` has passed.
Writes are guarded by the Lease's resourceVersion (the adapter's job), so two candidates
cannot both win a takeover.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum


class LeaseAction(StrEnum):
    CREATE = "create"  # no Lease yet: create it with us as holder
    RENEW = "renew"  # we hold it: bump renewTime
    TAKE_OVER = "take-over"  # the holder stopped renewing: become the holder
    STANDBY = "standby"  # someone else holds a live Lease: do not write


@dataclass(frozen=True)
class LeaseState:
    holder: str | None
    renew_time: datetime | None
    duration_seconds: int
    transitions: int = 0


def decide_lease(state: LeaseState | None, *, identity: str, now: datetime) -> LeaseAction:
    """What a candidate named ``identity`` should do with the Lease at ``now``."""
    if state is None:
        return LeaseAction.CREATE
    if state.holder == identity:
        return LeaseAction.RENEW
    if not state.holder or state.renew_time is None:
        return LeaseAction.TAKE_OVER
    expiry = state.renew_time + timedelta(seconds=state.duration_seconds)
    return LeaseAction.TAKE_OVER if now >= expiry else LeaseAction.STANDBY
