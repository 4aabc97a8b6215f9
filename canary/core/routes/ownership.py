"""One owner per rule: which Rollout may set the weights of a route rule.

A Rollout owns the weights of its addressed rules while it is active (Pending,
Progressing, Paused, RollingBack) and after a rollback or abort (RolledBack, Aborted keep
stable 100 / canary 0 asserted). Two owners of one rule would re-assert each other's
weights forever, so a second Rollout addressing an owned rule is Invalid (reason
``RuleOwned``, naming the owner) and never writes; once the owner is deleted, succeeds or
is changed to address other rules, the second one starts.

Who wins is a pure function of what every Rollout's status says, so every replica and
every reconcile agrees, whatever order the Rollouts are looked at in:

1. a Rollout that holds the rule (it has applied weights to it in an owning phase);
2. else the oldest (creationTimestamp), then the name.

Contenders are Rollouts in an owning phase, new ones not yet reconciled (no phase), and
ones that are Failed only because another Rollout owned their rule (they start once it is
free, in the same order). Succeeded and other Failed Rollouts never write, so they never
block anyone; a Rollout being deleted blocks only while its onDelete restore may write.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from canary.core.models import RolloutSpec, RolloutStatus
from canary.core.phases import (
    ENDED_ON_STABLE_PHASES,
    MID_FLIGHT_PHASES,
    OWNING_PHASES,
    Cond,
    Phase,
    Reason,
)
from canary.core.routes.rules import InvalidRollout, resolve_rules

RuleKey = tuple[str, int]  # ("HTTPRoute/api-route", rule index)


@dataclass(frozen=True)
class Claim:
    """What one Rollout claims: the rules it addresses and the ones it already holds."""

    name: str
    created: str  # metadata.creationTimestamp (RFC 3339 sorts as text); "" unknown
    phase: str | None
    contender: bool  # it writes, or will once it starts
    rules: frozenset[RuleKey]
    held: frozenset[RuleKey]

    def rank(self, rule: RuleKey) -> tuple[int, str, str]:
        return (0 if rule in self.held else 1, self.created or "~", self.name)


def _contender(status: RolloutStatus, deleting: bool) -> bool:
    phase = status.phase
    if deleting:
        return phase in MID_FLIGHT_PHASES  # its onDelete restore may still write
    if phase is None or phase in OWNING_PHASES:
        return True
    invalid = status.condition(Cond.INVALID)
    return (
        phase == Phase.FAILED
        and invalid is not None
        and invalid.status == "True"
        and invalid.reason == Reason.RULE_OWNED
    )


def claim_of(
    body: Mapping[str, Any], routes: Mapping[str, Mapping[str, Any]], namespace: str
) -> Claim | None:
    """The claim of the Rollout ``body`` on the live ``routes`` ("Kind/name" → object).

    None when its spec cannot be parsed (such a Rollout goes Failed and never writes),
    except in RolledBack/Aborted: those keep their phase and stable 100 / canary 0 on the
    rules they hold, so they claim what they hold. Rules it addresses on a route that no
    longer resolves count by what it holds.
    """
    meta = body.get("metadata") or {}
    try:
        status = RolloutStatus.model_validate(body.get("status") or {})
    except ValidationError:
        return None
    try:
        spec: RolloutSpec | None = RolloutSpec.model_validate(body.get("spec") or {})
    except ValidationError:
        if status.phase not in ENDED_ON_STABLE_PHASES:
            return None
        spec = None
    held = frozenset(
        (w.route, w.rule) for w in status.last_applied_weights if status.phase in OWNING_PHASES
    )
    rules: set[RuleKey] = set(held)
    if spec is not None:
        rules.update(_addressed(spec, routes, namespace))
    return Claim(
        name=str(meta.get("name", "")),
        created=str(meta.get("creationTimestamp") or ""),
        phase=status.phase,
        contender=_contender(status, bool(meta.get("deletionTimestamp"))),
        rules=frozenset(rules),
        held=held,
    )


def _addressed(
    spec: RolloutSpec, routes: Mapping[str, Mapping[str, Any]], namespace: str
) -> set[RuleKey]:
    out: set[RuleKey] = set()
    for i, ref in enumerate(spec.routes):
        label = f"{ref.kind}/{ref.name}"
        live = routes.get(label)
        if live is None:
            continue
        try:
            resolved = resolve_rules(live, spec, ref, namespace=namespace, route_index=i)
        except InvalidRollout:
            continue
        out.update((label, rule.index) for rule in resolved.rules)
    return out


def owner_conflict(me: Claim, others: Iterable[Claim]) -> str | None:
    """Why ``me`` may not write (a message naming the owner), or None when it may."""
    for other in sorted(others, key=lambda c: c.name):
        if other.name == me.name or not other.contender:
            continue
        for rule in sorted(me.rules & other.rules):
            if other.rank(rule) < me.rank(rule):
                route, index = rule
                state = other.phase or "new"
                return (
                    f"spec.routes: {route} rule {index} is owned by Rollout {other.name} "
                    f"({state}); "
                    f"one owner per rule: this Rollout starts once that one is deleted, "
                    f"succeeds or addresses other rules"
                )
    return None


def taken_over(
    name: str,
    released: Iterable[RuleKey],
    live: Mapping[RuleKey, tuple[int, int]],
    bodies: Iterable[Mapping[str, Any]],
    routes: Mapping[str, Mapping[str, Any]],
    namespace: str,
) -> dict[RuleKey, str]:
    """Which of the rules a hands-off Rollout ``name`` released another Rollout now sets:
    rule → that Rollout's name.

    A successor's writes are not drift: the rule is taken over when another Rollout owns
    it now (an owning phase, addressing or holding it: one owner per rule) or when its
    own last applied weights for the rule are the live ones (a successor that has since
    finished wrote them). Anything else that changed the weights is someone else.
    """
    wanted = set(released)
    out: dict[RuleKey, str] = {}
    for body in sorted(bodies, key=lambda b: str((b.get("metadata") or {}).get("name", ""))):
        other = str((body.get("metadata") or {}).get("name", ""))
        if other == name:
            continue
        claim = claim_of(body, routes, namespace)
        if claim is not None and claim.contender and claim.phase in OWNING_PHASES:
            for rule in wanted & claim.rules:
                out.setdefault(rule, other)
        try:
            status = RolloutStatus.model_validate(body.get("status") or {})
        except ValidationError:
            continue
        for w in status.last_applied_weights:
            rule = (w.route, w.rule)
            if rule in wanted and live.get(rule) == (w.stable, w.canary):
                out.setdefault(rule, other)
    return out
