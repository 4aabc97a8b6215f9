"""The rollout state machine: ``decide(rollout, status, observation, now) -> Plan``.

Pure and level-triggered: each call computes, from spec + status + what the operator
observed, the full desired raw weights of every addressed rule, the new status (sent
as a merge-patch diff, {} when unchanged), Events and when to look again. The operator
only executes the plan. Time comes in as ``now``; nothing here reads a clock.

One decision runs these stages in order (the first that applies may end it):

====  ========================================  =============================================
 #    when                                      then
====  ========================================  =============================================
 1    ``obs.deleting``                          mid-flight (Pending, Progressing, Paused,
                                                RollingBack) with onDelete restore: stable
                                                100 / canary 0; any other phase: the route is
                                                left as it is; done once served or overdue
 2    ``obs.invalid``                           → Failed, Invalid=True naming the field; no
                                                route write; a new command is ignored
 3    no status / specHash ≠ hash(spec) /       → Pending (Started / Restarted): failures,
      Failed+Invalid that is valid again        baseline, history reset; live weights kept
 4    a fresh ``obs.analysis``                  recorded (last 10 per metric, Warning per
                                                failing metric); judged in Progressing only
 5    ``obs.command`` with a new id             the verb's transition (commands.py), acked
 6    the phase's row in ``TRANSITIONS``        repeated while the phase or step changes
====  ========================================  =============================================

``TRANSITIONS`` (stage 6), by phase — guards are checked top to bottom:

===========  ==================================================  ======================
phase        guard                                               → next
===========  ==================================================  ======================
Pending      rules addressed and route ready                     Progressing, step 1
Pending      waiting ≥ progressDeadline                          Failed (deadline)
Progressing  fresh check FAIL, failures > failureLimit           onFailure: RollingBack
                                                                 or Paused ("failure")
Progressing  split verified, promoted --full, last step          Succeeded
Progressing  split verified, pause elapsed, last check pass      next step / Succeeded
             (no metrics: the pause alone; no pause: a manual
             gate, AwaitingPromotion=True, until promote)
Progressing  unverified or inconclusive/no data/error held       onFailure: RollingBack
             ≥ progressDeadline (not at a manual gate)           or Paused ("failure")
RollingBack  stable 100 / canary 0 live, route ready and served    RolledBack
             by the gateway
RollingBack  not confirmed within progressDeadline                RolledBack (reason
                                                                 RollbackUnconfirmed)
others       —                                                   (hold; commands only)
===========  ==================================================  ======================

Lifecycle and ownership: Progressing, Paused, RollingBack, RolledBack and Aborted assert
their weights (RolledBack/Aborted keep stable 100 / canary 0 so traffic never drifts back
to a known-bad canary); Succeeded and Failed never write the route again — drift there is
reported (condition Drifted, a Warning Event), never reverted. One owner per rule
(``canary.core.routes.ownership``): a Rollout addressing a rule another one owns is Invalid
(reason RuleOwned) until that one lets go.

Failures are cumulative over the rollout: ``failureLimit`` failed checks are tolerated
and the next one acts (failureLimit 0: the first failure acts; default 1: the second).
docs/state-machine.md has the full table, the commands and the invariants.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Literal

from canary.core.models import AppliedWeight, Condition, Rollout, RolloutStatus
from canary.core.phases import HANDS_OFF_PHASES, MID_FLIGHT_PHASES, Cond, Phase, Reason
from canary.core.rollout import checks, command_effects, contest
from canary.core.rollout.conditions import Want, merge
from canary.core.rollout.hashing import spec_hash
from canary.core.rollout.observation import Observation
from canary.core.rollout.reconcile_plan import Plan
from canary.core.rollout.schedule import aware, next_analysis_at, parse_time, rfc3339, seconds_since
from canary.core.rollout.settings import ContestPolicy
from canary.core.rollout.splits import SplitCheck, differs, drifted, weights_for
from canary.core.rollout.statusdiff import diff
from canary.core.rollout.transitions import (
    Run,
    at_gate,
    describe_hold,
    pause_remaining,
    pending,
    progressing,
    resting,
    rolling_back,
)

POLL_SECONDS = 5.0  # look again this soon while waiting on the route, gateway or traffic
MIN_REQUEUE = 1.0  # never requeue sooner than this
_MAX_PASSES = 8  # a decision settles within a few phase/step changes

Handler = Callable[[Run], None]

TRANSITIONS: dict[Phase, Handler] = {
    Phase.PENDING: pending,
    Phase.PROGRESSING: progressing,
    Phase.PAUSED: resting,
    Phase.SUCCEEDED: resting,
    Phase.ROLLING_BACK: rolling_back,
    Phase.ROLLED_BACK: resting,
    Phase.ABORTED: resting,
    Phase.FAILED: resting,
}


def decide(
    rollout: Rollout,
    status: RolloutStatus,
    obs: Observation,
    now: datetime,
    contest_policy: ContestPolicy | None = None,
) -> Plan:
    """The plan for one reconcile of ``rollout`` whose current status is ``status``.

    ``contest_policy``: the operator's Contested settings (None: the defaults)."""
    ts = rfc3339(now)
    policy = contest_policy or ContestPolicy()
    run = Run(spec=rollout.spec, obs=obs, now=now, ts=ts, s=status, contest=policy)
    generation = rollout.metadata.generation
    if obs.deleting:
        return _deleting(run, status, rollout.metadata.deletion_timestamp)
    if obs.invalid is not None:
        _invalid(run, obs.invalid)
    else:
        _start_if_needed(run, spec_hash(rollout.spec))
        _record_analysis(run)
        if command_effects.is_new(run, obs.command):
            assert obs.command is not None
            command_effects.handle(run, obs.command)
        _settle(run)
    return _assemble(run, status, generation)


# -- stages -------------------------------------------------------------------------------


def _deleting(run: Run, old: RolloutStatus, deleted_at: str | None) -> Plan:
    """Restore (onDelete) before the finalizer goes: ``requeue_after`` None means done.

    onDelete applies only mid-flight (Pending, Progressing, Paused, RollingBack). Deleting
    a Rollout in any other phase never changes the route: a Succeeded release keeps its
    split (the old version may be gone), RolledBack/Aborted already left stable 100 /
    canary 0, Failed never acted. The restore is done once live and served by the
    gateway (route status and the data plane lag the write), at most progressDeadline
    from the deletion.
    """
    mid_flight = run.s.phase in MID_FLIGHT_PHASES
    acted = run.canary_weight() is not None or bool(run.s.last_applied_weights)
    if run.spec.on_delete == "restore" and mid_flight and acted:
        desired = weights_for(run.obs.addressed, 0)
        message = "deleting: restoring stable 100 / canary 0"
    else:
        desired = ()
        message = "deleting: leaving the route as it is"
    if run.s.message != message:
        run.normal(Reason.ROLLING_BACK if desired else Reason.DELETING, message)
        run.update(message=message)
    write = bool(desired) and differs(desired, run.obs.live_weights)
    unserved = bool(desired) and not write and run.obs.data_plane_applied is False
    waiting = unserved and (seconds_since(deleted_at, run.now) or 0.0) < run.deadline()
    return Plan(
        desired=desired,
        write_routes=write,
        status_patch=diff(old.dump(), run.s.dump()),
        events=tuple(run.events),
        requeue_after=POLL_SECONDS if write or waiting else None,
        status=run.s,
    )


def _invalid(run: Run, message: str) -> None:
    was = run.s.condition(Cond.INVALID)
    if run.s.phase != Phase.FAILED or was is None or was.status != "True":
        from canary.core.rollout.transitions import goto

        goto(run, Phase.FAILED, run.obs.invalid_reason, message, warning=True)
    run.update(message=checks.clip(message, 1024), hold_since=None)
    if command_effects.is_new(run, run.obs.command):
        assert run.obs.command is not None
        command_effects.handle(run, run.obs.command, refuse=f"the spec is invalid: {message}")


def _start_if_needed(run: Run, digest: str) -> None:
    s = run.s
    invalid = s.condition(Cond.INVALID)
    recovered = s.phase == Phase.FAILED and invalid is not None and invalid.status == "True"
    if s.phase is not None and s.spec_hash == digest and not recovered:
        return
    reason = Reason.STARTED if s.phase is None or s.spec_hash is None else Reason.RESTARTED
    why = {
        Reason.STARTED: "started: waiting for the route before step 1",
        Reason.RESTARTED: "restarted (stable/canary/routes/steps changed or the spec is valid "
        "again): step 1 follows from the live weights",
    }[reason]
    run.s = RolloutStatus(
        phase=Phase.PENDING.value,
        spec_hash=digest,
        phase_started_at=run.ts,
        hold_since=run.ts,
        last_command=s.last_command,
        conditions=s.conditions,
        message=why,
    )
    run.healthy = Want("Unknown", reason, "no check yet")
    run.normal(reason, why)


def _record_analysis(run: Run) -> None:
    result = run.obs.analysis
    if result is None:
        return
    stamp = result.time if parse_time(result.time) else run.ts
    if stamp == run.s.last_analysis_at:  # the same check handed in twice
        return
    run.update(
        analysis=checks.record(run.s.analysis, result, stamp),
        last_analysis_at=stamp,
    )
    run.events.extend(checks.failing_events(result))
    if run.s.phase == Phase.PROGRESSING:
        run.analysis = result


def _settle(run: Run) -> None:
    for _ in range(_MAX_PASSES):
        before = (run.s.phase, run.s.step_index)
        TRANSITIONS[Phase(run.s.phase or Phase.PENDING)](run)
        if (run.s.phase, run.s.step_index) == before:
            return
    raise AssertionError("the transitions did not settle")  # each pass needs new live weights


# -- assembly -----------------------------------------------------------------------------


def _assemble(run: Run, old: RolloutStatus, generation: int) -> Plan:
    obs = run.obs
    desired = run.desired()
    write = bool(desired) and differs(desired, obs.live_weights)
    write, contested = contest.track(run, desired, write)  # may pause: re-read below
    desired = run.desired()
    stray = drifted(desired, obs.live_weights, run.s.last_applied_weights) if write else ()
    if stray:
        rules = ", ".join(f"{w.route} rule {w.rule} {w.stable}/{w.canary}" for w in stray)
        run.warning(Reason.DRIFT, f"live weights changed by someone else ({rules}); re-asserting")
    elif write:
        w = run.canary_weight()
        run.normal(Reason.WEIGHTS_APPLIED, f"writing stable {100 - (w or 0)} / canary {w}")
    applied: list[AppliedWeight] = list(run.s.last_applied_weights)
    if desired and not differs(desired, obs.live_weights):
        applied = list(desired)
    drift = _hands_off_drift(run, old)
    split = run.split()
    gate = run.s.phase == Phase.PROGRESSING and split.ok and at_gate(run)
    run.update(
        observed_generation=generation,
        step_label=run.label(),
        canary_weight=run.canary_weight(),
        effective_weight=_kept(run, "effective_weight", _percent(obs.effective_share)),
        observed_weight=_kept(run, "observed_weight", _percent(obs.observed_share)),
        last_applied_weights=applied[:128],
        message=_message(run, split),
        conditions=_conditions(run, split, gate, generation, drift, contested),
    )
    was_gate = old.condition(Cond.AWAITING_PROMOTION)
    if gate and (was_gate is None or was_gate.status != "True"):
        run.normal(Reason.AWAITING_PROMOTION, f"step {run.label()} waits for `canary promote`")
    new = RolloutStatus.model_validate(run.s.model_dump())
    return Plan(
        desired=desired,
        write_routes=write,
        status_patch=diff(old.dump(), new.dump()),
        events=tuple(run.events),
        requeue_after=_requeue(run, split, write),
        command_ack=run.ack,
        status=new,
    )


def _hands_off_drift(run: Run, old: RolloutStatus) -> Want | None:
    """In Succeeded and Failed the route is never written again; a change to the weights
    we last applied is reported (condition Drifted + one Warning Event), never reverted."""
    if run.s.phase not in HANDS_OFF_PHASES or not run.s.last_applied_weights:
        return None
    live = {(w.route, w.rule): w for w in run.obs.live_weights}
    changed = [
        (w, live[(w.route, w.rule)])
        for w in run.s.last_applied_weights
        if (w.route, w.rule) in live and live[(w.route, w.rule)] != w
    ]
    if not changed:
        return Want("False", Reason.NO_DRIFT, "live weights are the ones last applied")
    rules = ", ".join(
        f"{now.route} rule {now.rule} {now.stable}/{now.canary} (applied {w.stable}/{w.canary})"
        for w, now in changed
    )
    message = f"live weights changed by someone else: {rules}; not reverted in {run.s.phase}"
    before = old.condition(Cond.DRIFTED)
    if before is None or before.status != "True" or before.message != checks.clip(message, 1024):
        run.warning(Reason.DRIFT, message)
    return Want("True", Reason.DRIFT, message)


def _kept(run: Run, field: str, value: float | None) -> float | None:
    """A Succeeded release is no longer evaluated: its last shares stay on show."""
    if value is None and run.s.phase == Phase.SUCCEEDED:
        kept: float | None = getattr(run.s, field)
        return kept
    return value


def _percent(share: float | None) -> float | None:
    return None if share is None else round(share * 100, 2)


def _message(run: Run, split: SplitCheck) -> str:
    phase = run.s.phase
    if phase == Phase.PENDING:
        why = run.obs.route_reason or "route not ready"
        if not run.obs.addressed:
            why = "no rule addressed yet"
        return checks.clip(f"waiting for the route before step 1: {why}", 1024)
    if phase == Phase.PROGRESSING:
        if not split.ok:
            head = f"step {run.label()} at canary {run.canary_weight()}%"
            return checks.clip(f"{head}: {split.message}", 1024)
        return checks.clip(describe_hold(run), 1024)
    return run.s.message


def _conditions(
    run: Run,
    split: SplitCheck,
    gate: bool,
    generation: int,
    drift: Want | None,
    contested: Want | None = None,
) -> list[Condition]:
    obs, phase = run.obs, run.s.phase
    ready: Literal["True", "False", "Unknown"] = (
        "Unknown" if obs.route_ready is None else "True" if obs.route_ready else "False"
    )
    previous = run.s.condition(Cond.HEALTHY)
    healthy = run.healthy
    if healthy is None:
        healthy = (
            Want(previous.status, previous.reason, previous.message)
            if previous
            else Want("Unknown", "NoCheckYet", "no check yet")
        )
    if not run.spec.analysis.metrics:
        healthy = Want("True", "NoMetrics", "no metrics configured")
    wanted: dict[Cond, Want] = {
        Cond.COMPLETED: Want("True", Reason.SUCCEEDED, run.s.message)
        if phase == Phase.SUCCEEDED
        else Want("False", phase or "NotStarted"),
        Cond.AWAITING_PROMOTION: Want("True", Reason.AWAITING_PROMOTION, "canary promote")
        if gate
        else Want("False", "NotAtGate"),
        Cond.ROUTE_READY: Want(
            ready,
            "Ready" if obs.route_ready else Reason.WAITING_FOR_ROUTE,
            obs.route_reason,
        ),
        Cond.SPLIT_VERIFIED: _split_condition(run, split),
        Cond.HEALTHY: healthy,
        Cond.INVALID: Want("True", obs.invalid_reason, obs.invalid)
        if obs.invalid is not None
        else Want("False", "Valid"),
    }
    if drift is not None:
        wanted[Cond.DRIFTED] = drift
    divergence = _divergence_condition(run)
    if divergence is not None:
        wanted[Cond.DATA_PLANE_DIVERGENCE] = divergence
    if contested is not None:
        wanted[Cond.CONTESTED] = contested
    return merge(run.s.conditions, wanted, run.ts, generation)


def _divergence_condition(run: Run) -> Want | None:
    """Shown for routes whose data plane has a profile (Traefik): does it route the
    addressed rules' requests as the spec would? Unevaluated passes keep the last word."""
    found = run.obs.divergence
    if found is None:
        previous = run.s.condition(Cond.DATA_PLANE_DIVERGENCE)
        return (
            None if previous is None else Want(previous.status, previous.reason, previous.message)
        )
    if found:
        return Want("True", Reason.DIVERGES, found)
    return Want("False", Reason.AS_SPEC, "the data plane routes the addressed rules as the spec")


def _split_condition(run: Run, split: SplitCheck) -> Want:
    """A Succeeded release verifies nothing any more: SplitVerified keeps what the last
    step established (drift is reported by Drifted)."""
    previous = run.s.condition(Cond.SPLIT_VERIFIED)
    if run.s.phase == Phase.SUCCEEDED and previous is not None:
        return Want(previous.status, previous.reason, previous.message)
    return Want(split.status, split.reason, split.message)


def _requeue(run: Run, split: SplitCheck, write: bool) -> float | None:
    phase = run.s.phase
    if write or phase in (Phase.PENDING, Phase.ROLLING_BACK):
        return POLL_SECONDS
    if phase != Phase.PROGRESSING:
        return None
    if not split.ok:
        return POLL_SECONDS
    waits: list[float] = []
    remaining = pause_remaining(run)
    if remaining is not None and not at_gate(run):
        waits.append(remaining)
    due = next_analysis_at(run.spec, run.s)
    if due is not None:
        waits.append((due - aware(run.now)).total_seconds())
    held = seconds_since(run.s.hold_since, run.now)
    if held is not None:
        waits.append(run.deadline() - held)
    return max(min(waits), MIN_REQUEUE) if waits else None


__all__ = ["POLL_SECONDS", "TRANSITIONS", "decide"]
