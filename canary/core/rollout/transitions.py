"""The phase handlers and the actions they share (start a step, succeed, act on failure).

``canary.core.rollout.machine`` owns the transition table and calls one handler per phase;
a handler reads the ``Run`` (spec, observation, time, the status being built) and
moves it with the actions below. Handlers are small and total: every branch either
changes the phase, changes the step, or leaves the status to the final assembly.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from canary.core.durations import parse_duration
from canary.core.models import AppliedWeight, LastCommand, RolloutSpec, RolloutStatus, Step
from canary.core.phases import (
    HANDS_OFF_PHASES,
    PAUSE_FAILURE,
    STABLE_ONLY_PHASES,
    Phase,
    Reason,
    Verdict,
)
from canary.core.results import AnalysisResult
from canary.core.rollout import checks
from canary.core.rollout.conditions import Want
from canary.core.rollout.observation import Observation
from canary.core.rollout.reconcile_plan import Event
from canary.core.rollout.schedule import aware, parse_time, rfc3339, seconds_since
from canary.core.rollout.settings import ContestPolicy
from canary.core.rollout.splits import SplitCheck, differs, verify, weights_for

_HEALTH = {
    Verdict.PASS: Want("True", Reason.ANALYSIS_PASSED),
    Verdict.FAIL: Want("False", Reason.ANALYSIS_FAILED),
    Verdict.INCONCLUSIVE: Want("Unknown", Reason.ANALYSIS_INCONCLUSIVE),
    Verdict.NO_DATA: Want("Unknown", Reason.ANALYSIS_INCONCLUSIVE),
    Verdict.ERROR: Want("Unknown", Reason.ANALYSIS_ERROR),
}


@dataclass
class Run:
    """One decision in progress: inputs, the status being built, and its side outputs."""

    spec: RolloutSpec
    obs: Observation
    now: datetime
    ts: str
    s: RolloutStatus
    events: list[Event] = field(default_factory=list)
    analysis: AnalysisResult | None = None  # a fresh check not judged yet
    healthy: Want | None = None  # set when a check was judged (or reset by a restart)
    ack: LastCommand | None = None
    contest: ContestPolicy = field(default_factory=ContestPolicy)  # operator settings

    # -- building the status -------------------------------------------------------------
    def update(self, **changes: Any) -> None:
        self.s = self.s.model_copy(update=changes)

    def normal(self, reason: str, message: str) -> None:
        self.events.append(Event("Normal", reason, checks.clip(message, 1024)))

    def warning(self, reason: str, message: str) -> None:
        self.events.append(Event("Warning", reason, checks.clip(message, 1024)))

    # -- derived views -------------------------------------------------------------------
    @property
    def steps(self) -> list[Step]:
        return self.spec.steps

    @property
    def index(self) -> int | None:
        if self.s.step_index is None:
            return None
        return min(self.s.step_index, len(self.steps) - 1)

    @property
    def step(self) -> Step | None:
        return None if self.index is None else self.steps[self.index]

    @property
    def last(self) -> bool:
        return self.index == len(self.steps) - 1

    def label(self, index: int | None = None) -> str:
        index = self.index if index is None else index
        return "-" if index is None else f"{index + 1}/{len(self.steps)}"

    def canary_weight(self) -> int | None:
        """The canary raw weight this phase wants (None: the route is not ours to set)."""
        phase = self.s.phase
        if phase in STABLE_ONLY_PHASES:
            return 0
        if phase in (Phase.PROGRESSING, Phase.SUCCEEDED, Phase.PAUSED) and self.step:
            return self.step.weight
        return None

    def desired(self) -> tuple[AppliedWeight, ...]:
        """The weights this phase asserts; none in the hands-off phases (Succeeded, Failed):
        a finished release never writes the route again."""
        weight = self.canary_weight()
        if weight is None or self.s.phase in HANDS_OFF_PHASES:
            return ()
        return weights_for(self.obs.addressed, weight)

    def split(self) -> SplitCheck:
        return verify(self.desired(), self.canary_weight() or 0, self.obs)

    def deadline(self) -> float:
        return parse_duration(self.spec.progress_deadline)

    def overdue(self) -> bool:
        waited = seconds_since(self.s.hold_since, self.now)
        return waited is not None and waited >= self.deadline()


# -- actions ------------------------------------------------------------------------------


def goto(run: Run, phase: Phase, reason: str, message: str, warning: bool = False) -> None:
    """Enter ``phase`` (message and Event say why); a fresh check is no longer judged."""
    changes: dict[str, Any] = {"phase": phase.value, "message": checks.clip(message, 1024)}
    if run.s.phase != phase:
        changes["phase_started_at"] = run.ts
    if phase != Phase.PAUSED:
        changes["pause_reason"] = None
    if phase not in (Phase.PENDING, Phase.PROGRESSING):
        changes["hold_since"] = None
    run.update(**changes)
    run.analysis = None
    (run.warning if warning else run.normal)(reason, message)


def start_step(run: Run, index: int, reason: str = Reason.STEP_ADVANCED) -> None:
    """Make step ``index`` current: its weights are written next, then verified."""
    weight = run.steps[index].weight
    run.update(
        step_index=index,
        step_started_at=run.ts,
        verified_at=None,
        step_verdict=None,
        step_passes=0,
        hold_since=run.ts,  # waiting for the split is bounded by progressDeadline
    )
    goto(run, Phase.PROGRESSING, reason, f"step {run.label(index)}: canary {weight}%")


def advance(run: Run) -> None:
    """The current step is done: the next one, or success after the last."""
    index = run.index or 0
    if index + 1 < len(run.steps):
        start_step(run, index + 1)
    else:
        succeed(run)


def succeed(run: Run) -> None:
    weight = run.step.weight if run.step else 0
    goto(run, Phase.SUCCEEDED, Reason.SUCCEEDED, f"canary at {weight}% at the last step")


def act_on_failure(run: Run, reason: str, message: str) -> None:
    """onFailure: rollback → RollingBack (stable 100 / canary 0); pause → Paused."""
    if run.spec.on_failure == "pause":
        goto(run, Phase.PAUSED, reason, f"paused: {message}", warning=True)
        run.update(pause_reason=PAUSE_FAILURE)
    else:
        goto(run, Phase.ROLLING_BACK, reason, f"rolling back: {message}", warning=True)


def judge(run: Run, result: AnalysisResult) -> None:
    """Apply one check to the current step: verdict, failures, baseline, Healthy."""
    policy = run.spec.analysis
    verdict = checks.verdict_of(result, policy)
    before = run.s.step_verdict
    run.update(
        step_verdict=verdict.value,
        step_passes=run.s.step_passes + 1 if verdict == Verdict.PASS else 0,
        baseline=checks.baseline(run.s.baseline, result, run.canary_weight() or 0),
    )
    detail = checks.summary(result)
    run.healthy = Want(_HEALTH[verdict].status, _HEALTH[verdict].reason, detail)
    if verdict == Verdict.FAIL:
        failures = run.s.failures + 1
        run.update(failures=failures)
        if failures > policy.failure_limit:
            act_on_failure(
                run,
                Reason.FAILURE_LIMIT,
                f"failed check {failures} exceeds failureLimit {policy.failure_limit}: {detail}",
            )
        else:
            run.warning(
                Reason.ANALYSIS_FAILED,
                f"failed check {failures} of {policy.failure_limit} tolerated: {detail}",
            )
    elif verdict.value != before:
        if verdict == Verdict.PASS:
            run.normal(Reason.ANALYSIS_PASSED, detail)
        elif verdict == Verdict.ERROR:
            run.warning(Reason.ANALYSIS_ERROR, f"holding: {detail}")
        else:
            run.normal(Reason.ANALYSIS_INCONCLUSIVE, f"holding: {detail}")


# -- phase handlers -----------------------------------------------------------------------


def pending(run: Run) -> None:
    """Validated; the route is untouched until it is ready, then step 1 begins."""
    if run.obs.addressed and run.obs.route_ready is True:
        start_step(run, 0)
        return
    if run.s.hold_since is None:
        run.update(hold_since=run.ts)
    if run.overdue():
        why = run.obs.route_reason or "the route is not ready"
        goto(
            run,
            Phase.FAILED,
            Reason.DEADLINE_EXCEEDED,
            f"route not ready within progressDeadline {run.spec.progress_deadline}: {why}",
            warning=True,
        )


def at_gate(run: Run) -> bool:
    """At a manual gate: the current step has no pause and no promote --full is pending."""
    return run.step is not None and run.step.pause is None and not run.s.promoted_full


def progressing(run: Run) -> None:
    """Write, verify, hold (pause and/or analysis or gate), then the next step."""
    split = run.split()
    if run.analysis is not None and run.s.verified_at is not None and not run.s.promoted_full:
        result, run.analysis = run.analysis, None
        judge(run, result)
        if run.s.phase != Phase.PROGRESSING:
            return
    if split.ok:
        if run.s.verified_at is None:
            run.update(verified_at=run.ts)
            run.normal(Reason.SPLIT_VERIFIED, f"step {run.label()}: {split.message}")
        if run.s.promoted_full and run.last:
            succeed(run)
            return
        if not at_gate(run) and step_done(run):
            advance(run)
            return
    holding = run.s.step_verdict in checks.HOLDING_VERDICTS and not at_gate(run)
    if split.ok and not holding:
        run.update(hold_since=None)
        return
    if run.s.hold_since is None:
        run.update(hold_since=run.ts)
    if run.overdue():
        why = split.message if not split.ok else f"last check {run.s.step_verdict}"
        act_on_failure(
            run,
            Reason.DEADLINE_EXCEEDED,
            f"step {run.label()} held past progressDeadline {run.spec.progress_deadline}: {why}",
        )


def step_done(run: Run) -> bool:
    """The pause has elapsed since verification and the last check here passed (the last
    ``consecutivePasses`` checks, when the step asks for more than one)."""
    step = run.step
    held = seconds_since(run.s.verified_at, run.now) or 0.0
    if step is None or step.pause is None or held < parse_duration(step.pause):
        return False
    if not run.spec.analysis.metrics:
        return True
    needed = step.consecutive_passes or 1
    return run.s.step_verdict == Verdict.PASS and (needed == 1 or run.s.step_passes >= needed)


def rolling_back(run: Run) -> None:
    """Stable 100 / canary 0 is written; RolledBack once live, the route ready and the
    gateway serving it (route status runs ahead of the data plane). Bounded by
    progressDeadline: a rollback that cannot be confirmed by then ends RolledBack anyway,
    the message naming what was not confirmed (the stable-100 write stands and stays
    asserted), so a waiting `canary status --wait` exits instead of waiting forever."""
    desired = run.desired()
    live = bool(desired) and not differs(desired, run.obs.live_weights)
    why = run.s.message.removeprefix("rolling back: ")  # keep why (act_on_failure)
    if live and run.obs.route_ready is True and run.obs.data_plane_applied is not False:
        done = "stable 100 / canary 0 restored"
        goto(run, Phase.ROLLED_BACK, Reason.ROLLED_BACK, f"{done}: {why}" if why else done)
        return
    waited = seconds_since(run.s.phase_started_at, run.now) or 0.0
    if waited < run.deadline():
        return
    if not live:
        cause = "the weights are not live on the route"
    elif run.obs.route_ready is not True:
        cause = f"route not ready: {run.obs.route_reason or 'no route status for the generation'}"
    else:
        cause = "the gateway does not serve the weights"
    done = (
        f"stable 100 / canary 0 written, not confirmed within progressDeadline "
        f"{run.spec.progress_deadline} ({cause})"
    )
    goto(
        run,
        Phase.ROLLED_BACK,
        Reason.ROLLBACK_UNCONFIRMED,
        f"{done}: {why}" if why else done,
        warning=True,
    )


def resting(run: Run) -> None:
    """Paused, Succeeded, RolledBack, Aborted, Failed: hold the weights, wait for a command."""


def pause_end(run: Run) -> datetime | None:
    """When the current step's pause ends (None: a manual gate, or not verified yet)."""
    step, since = run.step, parse_time(run.s.verified_at)
    if step is None or step.pause is None or since is None:
        return None
    return since + timedelta(seconds=parse_duration(step.pause))


def pause_remaining(run: Run) -> float | None:
    """Seconds until the current step's pause ends."""
    end = pause_end(run)
    return None if end is None else (end - aware(run.now)).total_seconds()


def describe_hold(run: Run) -> str:
    """The one-line message of a verified step (absolute times: no churn in status)."""
    head = f"step {run.label()} at canary {run.canary_weight()}%"
    end = pause_end(run)
    if at_gate(run) or end is None:
        return f"{head}: awaiting promotion (canary promote)"
    hold = f"holding {run.step.pause if run.step else ''} until {rfc3339(end)}"
    if not run.spec.analysis.metrics:
        return f"{head}: {hold}"
    return f"{head}: {hold}; last check {run.s.step_verdict or 'pending'}"
