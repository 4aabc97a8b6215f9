"""What the operator must do after one ``decide``: a value, executed by the kopf glue.

The operator executes a ``Plan`` in this order: (1) when ``status_patch`` is not empty,
merge-patch the status subresource with it; (2) post ``events``; (3) when
``write_routes``, patch every rule in ``desired`` (guarded JSON Patch, see
``canary.core.routes.patching``); (4) requeue after ``requeue_after`` seconds (None: wait
for the next watch event). Status first: a crash between the writes must never leave the route ahead
of the recorded step (the next decide would write the previous step's weights back);
Events next, since the next decide will not repeat them. If the route write then fails,
the status is still right: the machine records weights as applied only once it
*observes* them live, and re-asserts them on the next decide.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from canary.core.models import AppliedWeight, LastCommand, RolloutStatus

EventType = Literal["Normal", "Warning"]


@dataclass(frozen=True)
class Event:
    """One Kubernetes Event on the Rollout (reason is a ``phases.Reason`` value)."""

    type: EventType
    reason: str
    message: str


@dataclass(frozen=True)
class Plan:
    """The decision of one reconcile.

    - ``desired``: the full raw weights for every addressed rule (level-triggered); empty
      before the first step, for Failed/invalid, and when nothing is addressed.
    - ``write_routes``: the live weights differ from ``desired`` (re-assert them).
    - ``status_patch``: camelCase JSON merge patch against the current status; ``{}`` when
      nothing changed (then skip the write).
    - ``command_ack``: the command acted on in this decide (also in ``status.lastCommand``).
    - ``status``: the complete new status (what ``status_patch`` produces); for callers
      that chain decisions (tests, ``canary plan``).
    """

    desired: tuple[AppliedWeight, ...] = ()
    write_routes: bool = False
    status_patch: dict[str, Any] = field(default_factory=dict)
    events: tuple[Event, ...] = ()
    requeue_after: float | None = None
    command_ack: LastCommand | None = None
    status: RolloutStatus = field(default_factory=RolloutStatus)
