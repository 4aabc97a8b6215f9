"""The Rollout's conditions, computed as a value each decision.

Order and meaning are fixed (docs/state-machine.md, "Status and conditions"): Completed
(True only in Succeeded), AwaitingPromotion (True at a manual gate), RouteReady,
SplitVerified, Healthy (last verdicts pass; False after a failed check; Unknown while
inconclusive), Invalid.
``lastTransitionTime`` changes only when a condition's status changes, as Kubernetes
conventions ask, so a condition whose reason or message changes does not look new to
``kubectl wait``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from canary.core.models import Condition
from canary.core.phases import Cond
from canary.core.rollout.checks import clip

ORDER = (
    Cond.COMPLETED,
    Cond.AWAITING_PROMOTION,
    Cond.ROUTE_READY,
    Cond.SPLIT_VERIFIED,
    Cond.HEALTHY,
    Cond.INVALID,
    Cond.DRIFTED,  # only in Succeeded and Failed (hands off), when weights were applied
    Cond.DATA_PLANE_DIVERGENCE,  # only for routes predicted with a data-plane profile
    Cond.CONTESTED,  # only once another field manager reverted the weights
    Cond.ROLLBACK_CONFIRMED,  # only in RollingBack and RolledBack
)


@dataclass(frozen=True)
class Want:
    """A condition's desired status, reason and message (time is added by ``merge``)."""

    status: Literal["True", "False", "Unknown"]
    reason: str
    message: str = ""


def merge(
    old: list[Condition], wanted: dict[Cond, Want], at: str, generation: int
) -> list[Condition]:
    """The new condition list in ``ORDER`` (then any foreign ones kept as they were)."""
    previous = {c.type: c for c in old}
    out: list[Condition] = []
    for type_ in ORDER:
        if type_ not in wanted:  # an optional condition that does not apply now
            continue
        want = wanted[type_]
        before = previous.get(type_)
        since = before.last_transition_time if before and before.status == want.status else at
        out.append(
            Condition(
                type=type_,
                status=want.status,
                reason=clip(want.reason, 128),
                message=clip(want.message, 1024),
                last_transition_time=since,
                observed_generation=generation,
            )
        )
    out.extend(c for c in old if c.type not in ORDER)
    return out[:16]
