"""Whether a command applies in a phase: one rule per verb, asked by both sides.

The operator asks before acting on a command (``canary.core.rollout.command_effects``,
which then makes the change); the CLI asks before writing one
(``canary.cli.send_command.precheck``), so ``canary pause`` of a paused rollout answers
at once what the operator would answer. Three answers:

- :class:`Applies`        the command changes the rollout (result ``applied: …``);
- :class:`InEffect`       it is already in effect, e.g. pause while paused (``in effect: …``);
- :class:`NotApplicable`  it does not apply in this phase (``ignored: …``, with the reason).

Only the vocabulary (``canary.core.phases``) is imported: the CLI loads this module
without the models.
"""

from __future__ import annotations

from dataclasses import dataclass

from canary.core.phases import (
    ENDED_ON_STABLE_PHASES,
    PAUSE_USER,
    STABLE_ONLY_PHASES,
    Phase,
    Verb,
)


@dataclass(frozen=True)
class Applies:
    """The command changes the rollout."""


@dataclass(frozen=True)
class InEffect:
    """The command is already in effect; ``detail`` says how."""

    detail: str


@dataclass(frozen=True)
class NotApplicable:
    """The command does not apply in this phase; ``reason`` says why."""

    reason: str


Applicability = Applies | InEffect | NotApplicable
APPLIES = Applies()

# a step is active: promote opens its gate (a paused rollout resumes)
ACTIVE_PHASES = frozenset({Phase.PROGRESSING, Phase.PAUSED})
# the rollout moves on its own: pause holds it, resume has nothing to do
MOVING_PHASES = frozenset({Phase.PENDING, Phase.PROGRESSING})


def applicability(
    verb: str,
    phase: str | None,
    *,
    pause_reason: str | None = None,
    contested: bool = False,
) -> Applicability:
    """What ``verb`` does in ``phase`` (None: not started yet).

    ``pause_reason`` is ``status.pauseReason`` (None: a user pause); ``contested`` is
    True while a contest holds the route writes (``canary.core.rollout.contest``)."""
    shown = phase or "not started"
    if verb in (Verb.PROMOTE, Verb.PROMOTE_FULL):
        if phase == Phase.SUCCEEDED:
            return InEffect("already succeeded")
        if phase in ACTIVE_PHASES:
            return APPLIES
        return NotApplicable(f"cannot promote in phase {shown}")
    if verb == Verb.ABORT:
        if phase in ENDED_ON_STABLE_PHASES:
            return InEffect(f"already {phase}: stable 100 / canary 0")
        if phase is None or phase in (Phase.SUCCEEDED, Phase.FAILED):
            return NotApplicable(f"cannot abort in phase {shown}")
        return APPLIES
    if verb == Verb.RETRY:
        if phase in ENDED_ON_STABLE_PHASES or phase == Phase.FAILED:
            return APPLIES
        return NotApplicable(f"nothing to retry in phase {shown}")
    if verb == Verb.PAUSE:
        if phase == Phase.PAUSED:
            return InEffect(f"already paused ({pause_reason or PAUSE_USER})")
        if phase in MOVING_PHASES:
            return APPLIES
        return NotApplicable(f"cannot pause in phase {shown}")
    if verb == Verb.RESUME:
        if contested and phase in STABLE_ONLY_PHASES:
            return APPLIES  # re-assert stable 100 / canary 0, keep the phase
        if phase in MOVING_PHASES:
            return InEffect("not paused")
        if phase == Phase.PAUSED:
            return APPLIES
        return NotApplicable(f"cannot resume in phase {shown}")
    return NotApplicable(f"unknown verb {verb!r}; use " + ", ".join(Verb))
