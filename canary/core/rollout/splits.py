"""Desired raw weights, their comparison with the live route, and split verification.

A step weight *w* is written as canary *w* / stable 100 − *w* in every addressed rule
(docs/state-machine.md); rollback and abort are canary 0 / stable 100. Whether the split
is really served is decided in a fixed order, each stage holding the step with a named
reason: weights live → route ready → data plane applied → evaluator verified → observed
traffic agrees within max(0.02, 3σ) when it is measurable.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

from canary.core.models import AppliedWeight
from canary.core.phases import Reason
from canary.core.rollout.observation import Observation, RuleRef

MIN_SHARE_TOLERANCE = 0.02  # absolute; below this, traffic noise is not worth a hold


def weights_for(addressed: tuple[RuleRef, ...], canary: int) -> tuple[AppliedWeight, ...]:
    """Raw weights canary / 100 − canary for every addressed rule, in order."""
    return tuple(
        AppliedWeight(route=r.route, rule=r.rule, stable=100 - canary, canary=canary)
        for r in addressed
    )


def _index(
    weights: tuple[AppliedWeight, ...] | list[AppliedWeight],
) -> dict[tuple[str, int], AppliedWeight]:
    return {(w.route, w.rule): w for w in weights}


def differs(desired: tuple[AppliedWeight, ...], live: tuple[AppliedWeight, ...]) -> bool:
    """True when any desired rule is missing from ``live`` or has other raw weights."""
    current = _index(live)
    return any(current.get((d.route, d.rule)) != d for d in desired)


def drifted(
    desired: tuple[AppliedWeight, ...],
    live: tuple[AppliedWeight, ...],
    applied: list[AppliedWeight],
) -> tuple[AppliedWeight, ...]:
    """Live rules someone else changed: ≠ what we last applied and ≠ what we want."""
    last = _index(applied)
    wanted = _index(desired)
    return tuple(
        w
        for w in live
        if (w.route, w.rule) in last
        and (w.route, w.rule) in wanted
        and w != last[(w.route, w.rule)]
        and w != wanted[(w.route, w.rule)]
    )


def share_tolerance(expected: float, requests: int) -> float:
    """max(0.02, 3σ) for a binomial share ``expected`` over ``requests`` requests."""
    sigma = math.sqrt(max(expected * (1 - expected), 0.0) / requests)
    return max(MIN_SHARE_TOLERANCE, 3 * sigma)


@dataclass(frozen=True)
class SplitCheck:
    """The SplitVerified condition for one observation."""

    status: Literal["True", "False", "Unknown"]
    reason: str
    message: str

    @property
    def ok(self) -> bool:
        return self.status == "True"


def verify(desired: tuple[AppliedWeight, ...], canary: int, obs: Observation) -> SplitCheck:
    """Is the split ``desired`` (canary raw weight ``canary``) live and really served?"""
    if not desired:
        if obs.split_verified is False and obs.split_culprit:
            # before step 1 (e.g. Pending on a route whose canary ref cannot resolve): no
            # weights of ours yet, but the evaluator already names why no split would be
            return SplitCheck("False", Reason.SPLIT_NOT_VERIFIED, obs.split_culprit)
        return SplitCheck("Unknown", "NotActing", "no weights to verify")
    if differs(desired, obs.live_weights):
        return SplitCheck("False", Reason.WEIGHTS_APPLIED, "waiting for the weights to go live")
    if obs.route_ready is not True:
        why = obs.route_reason or "route status does not confirm the generation yet"
        return SplitCheck("False", Reason.WAITING_FOR_ROUTE, why)
    if obs.data_plane_applied is False:
        return SplitCheck(
            "False", Reason.WAITING_FOR_DATA_PLANE, "the gateway does not serve the weights yet"
        )
    if obs.split_verified is not True:
        why = obs.split_culprit or "the evaluator has not confirmed the split"
        return SplitCheck("False", Reason.SPLIT_NOT_VERIFIED, why)
    expected = canary / 100
    if obs.observed_share is not None and obs.observed_requests > 0:
        tolerance = share_tolerance(expected, obs.observed_requests)
        if abs(obs.observed_share - expected) > tolerance:
            return SplitCheck(
                "False",
                Reason.SPLIT_NOT_VERIFIED,
                f"traffic shows {obs.observed_share:.1%} canary, expected {expected:.1%} "
                f"± {tolerance:.1%} over {obs.observed_requests} requests",
            )
    share = "" if obs.effective_share is None else f" (effective share {obs.effective_share:.1%})"
    return SplitCheck("True", Reason.SPLIT_VERIFIED, f"canary {canary}% verified{share}")
