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
from canary.core.phases import Phase, Reason, Verb
from canary.core.rollout import checks, contest
from canary.core.rollout.conditions import Want
from canary.core.rollout.observation import Command
from canary.core.rollout.transitions import (
    PAUSE_USER,
    Run,
    advance,
    goto,
    start_step,
)

APPLIED = "applied"
IN_EFFECT = "in effect"
IGNORED = "ignored"

Outcome = tuple[str, str]  # (APPLIED | IN_EFFECT | IGNORED, detail)
_ACTIVE = frozenset({Phase.PROGRESSING, Phase.PAUSED})
_RESTORED = frozenset({Phase.ROLLED_BACK, Phase.ABORTED})


def _phase(run: Run) -> str:
    return run.s.phase or "not started"


def promote(run: Run) -> Outcome:
    """Open the current gate: skip the rest of the hold (a paused rollout resumes)."""
    if run.s.phase == Phase.SUCCEEDED:
        return IN_EFFECT, "the rollout already succeeded"
    if run.s.phase not in _ACTIVE:
        return IGNORED, f"cannot promote in phase {_phase(run)}"
    if run.index is None:  # paused before step 1: resume; step 1 (not 2) follows when ready
        return resume(run)
    before = run.label()
    advance(run)
    return APPLIED, f"step {before} promoted; now {run.s.phase} at step {run.label()}"


def promote_full(run: Run) -> Outcome:
    """Go to the last step now; succeed as soon as its split is verified (no analysis)."""
    if run.s.phase == Phase.SUCCEEDED:
        return IN_EFFECT, "the rollout already succeeded"
    if run.s.phase not in _ACTIVE:
        return IGNORED, f"cannot promote in phase {_phase(run)}"
    last = len(run.steps) - 1
    if run.index == last:
        goto(run, Phase.PROGRESSING, Reason.PROMOTED, f"step {run.label()}: promoted fully")
    else:
        start_step(run, last, Reason.PROMOTED)
    run.update(promoted_full=True)
    return APPLIED, f"jumped to the last step {run.label()} (canary {run.steps[last].weight}%)"


def abort(run: Run) -> Outcome:
    """Stable 100 / canary 0 now; phase Aborted."""
    if run.s.phase in _RESTORED:
        return IN_EFFECT, f"already {run.s.phase}: stable 100 / canary 0"
    if run.s.phase in (Phase.SUCCEEDED, Phase.FAILED) or run.s.phase is None:
        return IGNORED, f"cannot abort in phase {_phase(run)}"
    goto(run, Phase.ABORTED, Reason.ABORTED, "aborted by command: stable 100 / canary 0")
    return APPLIED, "aborted: writing stable 100 / canary 0"


def retry(run: Run) -> Outcome:
    """After RolledBack/Aborted: step 1 again, failures reset; after a deadline Failed: Pending."""
    if run.s.phase in _RESTORED:
        run.update(failures=0, promoted_full=False)
        run.healthy = Want("Unknown", Reason.RETRIED, "no check since the retry")
        start_step(run, 0, Reason.RETRIED)
        return APPLIED, "restarted at step 1"
    if run.s.phase == Phase.FAILED:
        run.update(failures=0, promoted_full=False, step_index=None, hold_since=run.ts)
        goto(run, Phase.PENDING, Reason.RETRIED, "retrying: waiting for the route")
        return APPLIED, "waiting for the route again"
    return IGNORED, f"nothing to retry in phase {_phase(run)}"


def pause(run: Run) -> Outcome:
    """Hold where we are (the weights stay); the hold clock restarts on resume."""
    if run.s.phase == Phase.PAUSED:
        return IN_EFFECT, f"already paused ({run.s.pause_reason or PAUSE_USER})"
    if run.s.phase not in (Phase.PENDING, Phase.PROGRESSING):
        return IGNORED, f"cannot pause in phase {_phase(run)}"
    goto(run, Phase.PAUSED, Reason.PAUSED, f"paused by command at step {run.label()}")
    run.update(pause_reason=PAUSE_USER)
    return APPLIED, f"paused at step {run.label()}"


def resume(run: Run) -> Outcome:
    """Continue after a pause: the step re-verifies its split and holds its full pause.

    A contested RollingBack, RolledBack or Aborted Rollout keeps its phase and re-asserts
    stable 100 / canary 0 (``canary.core.rollout.contest``)."""
    if run.s.phase in _RESTORED | {Phase.ROLLING_BACK} and contest.contested(run):
        return APPLIED, f"contest cleared: re-asserting stable 100 / canary 0 in {run.s.phase}"
    if run.s.phase in (Phase.PENDING, Phase.PROGRESSING):
        return IN_EFFECT, "not paused"
    if run.s.phase != Phase.PAUSED:
        return IGNORED, f"cannot resume in phase {_phase(run)}"
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
    handler = COMMANDS.get(command.verb)
    if refuse is not None:
        kind, detail = IGNORED, refuse
    elif handler is None:
        kind, detail = IGNORED, f"unknown verb {command.verb!r}; use " + ", ".join(COMMANDS)
    else:
        events_before = len(run.events)
        was_contested = contest.contested(run)
        kind, detail = handler(run)
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
