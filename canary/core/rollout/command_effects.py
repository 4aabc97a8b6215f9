"""The CI verbs (promote, promote-full, abort, retry, pause, resume) as transitions.

A command reaches the machine as annotations (never spec fields, so GitOps tools keep
owning the spec) and is acted on once per id: ``decide`` compares the id with
``status.lastCommand.id``. Every command is acknowledged in ``status.lastCommand`` and an
Event. ``result`` starts with one of three words the CLI maps to its exit code:

- ``applied: …``   the command changed the rollout (exit 0);
- ``in effect: …`` it was already in effect, e.g. pause while paused (exit 0);
- ``ignored: …``   it does not apply in this phase, with the reason (exit 1;
  Event reason CommandIgnored).
"""

from __future__ import annotations

from collections.abc import Callable

from canary.core.models import LastCommand
from canary.core.phases import PAUSE_USER, STABLE_ONLY_PHASES, Phase, Reason, Verb
from canary.core.rollout import checks, contest
from canary.core.rollout.applicability import InEffect, NotApplicable, applicability
from canary.core.rollout.conditions import Want
from canary.core.rollout.observation import Command
from canary.core.rollout.transitions import Run, advance, goto, start_step

APPLIED = "applied"
IN_EFFECT = "in effect"
IGNORED = "ignored"

Outcome = tuple[str, str]  # (APPLIED | IN_EFFECT | IGNORED, detail)


def act(run: Run, verb: str) -> Outcome:
    """``verb``'s effect on the rollout, if it applies here (``applicability``)."""
    answer = applicability(
        verb, run.s.phase, pause_reason=run.s.pause_reason, contested=contest.contested(run)
    )
    if isinstance(answer, InEffect):
        return IN_EFFECT, answer.detail
    if isinstance(answer, NotApplicable):
        return IGNORED, answer.reason
    return COMMANDS[verb](run)


# -- the effects: each runs only where ``applicability`` says the verb applies -------------


def promote(run: Run) -> Outcome:
    """Open the current gate: skip the rest of the hold (a paused rollout resumes)."""
    if run.index is None:  # paused before step 1: resume; step 1 (not 2) follows when ready
        return act(run, Verb.RESUME)
    before = run.label()
    advance(run)
    return APPLIED, f"step {before} promoted; now {run.s.phase} at step {run.label()}"


def promote_full(run: Run) -> Outcome:
    """Go to the last step now; succeed as soon as its split is verified (no analysis)."""
    last = len(run.steps) - 1
    if run.index == last:
        goto(run, Phase.PROGRESSING, Reason.PROMOTED, f"step {run.label()}: promoted fully")
    else:
        start_step(run, last, Reason.PROMOTED)
    run.update(promoted_full=True)
    return APPLIED, f"jumped to the last step {run.label()} (canary {run.steps[last].weight}%)"


def abort(run: Run) -> Outcome:
    """Stable 100 / canary 0 now; phase Aborted."""
    goto(run, Phase.ABORTED, Reason.ABORTED, "aborted by command: stable 100 / canary 0")
    return APPLIED, "aborted: writing stable 100 / canary 0"


def retry(run: Run) -> Outcome:
    """After RolledBack/Aborted: step 1 again, failures reset; after a deadline Failed: Pending."""
    if run.s.phase == Phase.FAILED:
        run.update(failures=0, promoted_full=False, step_index=None, hold_since=run.ts)
        goto(run, Phase.PENDING, Reason.RETRIED, "retrying: waiting for the route")
        return APPLIED, "waiting for the route again"
    run.update(failures=0, promoted_full=False)
    run.healthy = Want("Unknown", Reason.RETRIED, "no check since the retry")
    start_step(run, 0, Reason.RETRIED)
    return APPLIED, "restarted at step 1"


def pause(run: Run) -> Outcome:
    """Hold where we are (the weights stay); the hold clock restarts on resume."""
    goto(run, Phase.PAUSED, Reason.PAUSED, f"paused by command at step {run.label()}")
    run.update(pause_reason=PAUSE_USER)
    return APPLIED, f"paused at step {run.label()}"


def resume(run: Run) -> Outcome:
    """Continue after a pause: the step re-verifies its split and holds its full pause.

    A contested RollingBack, RolledBack or Aborted Rollout keeps its phase and re-asserts
    stable 100 / canary 0 (``canary.core.rollout.contest``)."""
    if run.s.phase in STABLE_ONLY_PHASES:
        return APPLIED, f"contest cleared: re-asserting stable 100 / canary 0 in {run.s.phase}"
    if run.index is None:
        run.update(hold_since=run.ts)
        goto(run, Phase.PENDING, Reason.RESUMED, "resumed: waiting for the route")
        return APPLIED, "resumed before the first step"
    run.update(verified_at=None, step_verdict=None, hold_since=run.ts)
    goto(run, Phase.PROGRESSING, Reason.RESUMED, f"resumed at step {run.label()}")
    return APPLIED, f"resumed at step {run.label()}"


COMMANDS: dict[str, Callable[[Run], Outcome]] = {
    Verb.PROMOTE: promote,
    Verb.PROMOTE_FULL: promote_full,
    Verb.ABORT: abort,
    Verb.RETRY: retry,
    Verb.PAUSE: pause,
    Verb.RESUME: resume,
}
_REASONS: dict[str, str] = {
    Verb.PROMOTE: Reason.PROMOTED,
    Verb.PROMOTE_FULL: Reason.PROMOTED,
    Verb.ABORT: Reason.ABORTED,
    Verb.RETRY: Reason.RETRIED,
    Verb.PAUSE: Reason.PAUSED,
    Verb.RESUME: Reason.RESUMED,
}


def is_new(run: Run, command: Command | None) -> bool:
    """A command whose id has not been acted on yet."""
    if command is None:
        return False
    last = run.s.last_command
    return last is None or last.id != checks.clip(command.id, 253)


def handle(run: Run, command: Command, refuse: str | None = None) -> None:
    """Act on ``command`` (or refuse it with the reason ``refuse``) and acknowledge it."""
    if refuse is not None:
        kind, detail = IGNORED, refuse
    else:
        events_before = len(run.events)
        was_contested = contest.contested(run)
        kind, detail = act(run, command.verb)
        if was_contested and kind == APPLIED and command.verb != Verb.PAUSE:
            contest.clear(run)  # a person acted: re-assert once; older reverts don't count
        del run.events[events_before:]  # the acknowledgement below is the one Event
    result = checks.clip(f"{kind}: {detail}", 1024)
    run.ack = LastCommand(
        id=checks.clip(command.id, 253),
        verb=checks.clip(command.verb, 32),
        at=run.ts,
        result=result,
    )
    run.update(last_command=run.ack)
    message = f"{command.verb} ({command.id}): {result}"
    if kind == IGNORED:
        run.warning(Reason.COMMAND_IGNORED, message)
    else:
        run.normal(_REASONS.get(command.verb, Reason.COMMAND_IGNORED), message)
