"""Operator settings the pure state machine takes with each decision (flags of ``canary run``).

``decide`` reads no configuration: the operator passes these in (``Reconciler.contest``),
tests pass their own. Defaults are the documented ones.
"""

from __future__ import annotations

from dataclasses import dataclass

CONTEST_LIMIT = 3  # K: reverts by another field manager within the window that end the fight
CONTEST_WINDOW = 600.0  # seconds (10m)


@dataclass(frozen=True)
class ContestPolicy:
    """When a fight with another field manager ends (docs/state-machine.md "Contested").

    The ``limit``-th revert of the weights within ``window`` seconds contests the Rollout
    (``--contest-limit``, ``--contest-window``); so at most ``limit`` weight writes happen
    per window: the step's write and ``limit`` − 1 re-assertions."""

    limit: int = CONTEST_LIMIT
    window: float = CONTEST_WINDOW

    def __post_init__(self) -> None:
        if self.limit < 1:
            raise ValueError(f"contest limit must be at least 1, not {self.limit}")
        if not self.window > 0:
            raise ValueError(f"contest window must be positive, not {self.window}")
