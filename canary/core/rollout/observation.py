"""What the operator saw in one reconcile, as one frozen value.

The state machine never reads the cluster or Prometheus. The operator gathers everything
it can (route resolution, live weights, route status, the evaluator's verdict on the
split, traffic shares, a completed analysis check, a pending command) into an
``Observation`` and hands it to ``canary.core.rollout.machine.decide``. Unknown facts stay
``None``: the machine decides what "cannot tell" means for each of them (see
docs/state-machine.md), so the operator never has to guess.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from canary.core.models import AppliedWeight
from canary.core.phases import COMMAND_ANNOTATION, COMMAND_ID_ANNOTATION, Reason
from canary.core.results import AnalysisResult
from canary.core.routes.fieldmanagers import Writer


@dataclass(frozen=True)
class RuleRef:
    """One addressed rule: ``route`` is "Kind/name" (e.g. "HTTPRoute/api-route")."""

    route: str
    rule: int  # 0-based index in spec.rules


@dataclass(frozen=True)
class Command:
    """A CI verb from the annotations ``canary.dev/command`` / ``canary.dev/command-id``.

    ``verb`` is kept as the raw string so that an unknown verb can be acknowledged
    (and ignored, with a reason) instead of being dropped silently.
    """

    verb: str
    id: str


def command_from_annotations(annotations: Mapping[str, str]) -> Command | None:
    """The command the annotations carry, or None when either annotation is missing."""
    verb = annotations.get(COMMAND_ANNOTATION, "").strip()
    cid = annotations.get(COMMAND_ID_ANNOTATION, "").strip()
    if not verb or not cid:
        return None
    return Command(verb=verb, id=cid)


@dataclass(frozen=True)
class Observation:
    """Everything observed in one reconcile; all optional where unknown.

    - ``invalid``: the spec (with the live routes) cannot be acted on; a message naming
      the field, e.g. "spec.routes[0].rules: 2 rules list both backends; name the rules";
      ``invalid_reason`` the Invalid condition's reason (InvalidSpec, or RuleOwned when
      another Rollout owns an addressed rule).
    - ``addressed``: the rules the rollout re-weights, resolved by ``canary.core.routes.patching``.
    - ``live_weights``: raw stable/canary weights in each addressed rule right now.
    - ``route_ready``: every addressed route Accepted + ResolvedRefs at its generation
      (None: cannot tell yet); ``route_reason`` says why not.
    - ``data_plane_applied``: the gateway serves the live weights (None: cannot tell,
      which does not block).
    - ``effective_share``: the canary's share (0..1) of the addressed rules' traffic per
      the evaluator (minimum over rules and matches); ``split_verified`` its verdict on
      the live weights; ``split_culprit`` names what shadows or breaks the split.
    - ``divergence``: for routes predicted with a data-plane profile (Traefik's), where
      that profile and the Gateway API spec route an addressed rule's requests
      differently ("" none; None: only the spec profile applied).
    - ``observed_share``/``observed_requests``: canary / (canary + stable) seen in traffic
      since the weights went live, and how many requests that is (0: not measurable).
    - ``analysis``: a check that completed since the last decide (None: none ran).
    - ``command``: the command annotations, if any (acted on once per id).
    - ``deleting``: the Rollout carries a deletionTimestamp.
    - ``writers``: per addressed route, the last manager other than canary that owns
      ``spec.rules`` (from managedFields; ``canary.core.routes.fieldmanagers``).
    - ``taken_over``: in Succeeded/Failed, the released rules another Rollout now sets
      (route, rule, that Rollout's name): its writes are not reported as drift.
    - ``unasserted``: with ``invalid`` set on a RolledBack/Aborted Rollout, ``addressed``
      holds only the rules it applied stable 100 / canary 0 to and can still set safely;
      this says why the others (or all of them) are not asserted ("" none left out).
    """

    invalid: str | None = None
    invalid_reason: str = Reason.INVALID_SPEC
    addressed: tuple[RuleRef, ...] = ()
    live_weights: tuple[AppliedWeight, ...] = ()
    route_ready: bool | None = None
    route_reason: str = ""
    data_plane_applied: bool | None = None
    effective_share: float | None = None
    split_verified: bool | None = None
    split_culprit: str | None = None
    divergence: str | None = None
    observed_share: float | None = None
    observed_requests: int = 0
    analysis: AnalysisResult | None = None
    command: Command | None = None
    deleting: bool = False
    writers: tuple[Writer, ...] = ()
    unasserted: str = ""
    taken_over: tuple[tuple[str, int, str], ...] = ()
