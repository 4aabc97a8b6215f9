"""The state machine's transitions, one row each (Given status + observation → Then)."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from typing import Any

import pytest

from canary.core.models import Condition, RolloutStatus
from canary.core.phases import HANDS_OFF_PHASES, PAUSE_FAILURE, Cond, Reason, Verdict
from canary.core.rollout.hashing import spec_hash
from canary.core.rollout.machine import POLL_SECONDS, decide
from canary.core.rollout.observation import Observation
from canary.core.rollout.schedule import rfc3339
from tests.unit.core.test_machine_support import (
    RULES,
    T0,
    Sim,
    check,
    live,
    make_rollout,
    make_spec,
)

SPEC = make_spec()
HASH = spec_hash(SPEC)
TS = rfc3339(T0)


def status(**fields: Any) -> RolloutStatus:
    """A status of a rollout with SPEC, already started (defaults: step 1 written, live)."""
    base: dict[str, Any] = {
        "phase": "Progressing",
        "spec_hash": HASH,
        "step_index": 0,
        "step_started_at": TS,
        "hold_since": TS,
        "phase_started_at": TS,
        "last_applied_weights": list(live(5)),
    }
    base.update(fields)
    return RolloutStatus.model_validate(base)


def verified(**fields: Any) -> RolloutStatus:
    """Progressing at step 1, split verified at T0, no check yet."""
    cond = Condition(type="SplitVerified", status="True", last_transition_time=TS)
    base: dict[str, Any] = {"verified_at": TS, "hold_since": None, "conditions": [cond]}
    return status(**{**base, **fields})


def obs(canary: int = 5, **overrides: Any) -> Observation:
    base = Observation(
        addressed=RULES,
        live_weights=live(canary),
        route_ready=True,
        split_verified=True,
        effective_share=canary / 100,
    )
    return replace(base, **overrides)


def minutes(m: float) -> Any:
    return T0 + timedelta(minutes=m)


ONE_FAIL_LEFT = {"failures": 0}
# id: (status, observation, now, expected phase, expected step index, write, desired canary,
#      event reasons that must appear)
ROWS: dict[
    str, tuple[RolloutStatus, Observation, Any, str, int | None, bool, int | None, set[str]]
] = {
    "start: route ready → step 1 written": (
        RolloutStatus(),
        obs(10, live_weights=live(10, 90)),
        T0,
        "Progressing",
        0,
        True,
        5,
        {Reason.STARTED, Reason.STEP_ADVANCED, Reason.WEIGHTS_APPLIED},
    ),
    "start: route not ready → Pending, route untouched": (
        RolloutStatus(),
        obs(10, live_weights=live(10, 90), route_ready=False, route_reason="not Accepted"),
        T0,
        "Pending",
        None,
        False,
        None,
        {Reason.STARTED},
    ),
    "start: no rule addressed yet → Pending": (
        RolloutStatus(),
        obs(addressed=(), live_weights=()),
        T0,
        "Pending",
        None,
        False,
        None,
        {Reason.STARTED},
    ),
    "pending past the deadline → Failed, route untouched": (
        status(phase="Pending", step_index=None, last_applied_weights=[]),
        obs(10, route_ready=False),
        minutes(10),
        "Failed",
        None,
        False,
        None,
        {Reason.DEADLINE_EXCEEDED},
    ),
    "pending without a hold clock starts one": (
        status(phase="Pending", step_index=None, last_applied_weights=[], hold_since=None),
        obs(10, route_ready=None),
        T0,
        "Pending",
        None,
        False,
        None,
        set(),
    ),
    "weights not live yet → write, hold": (
        status(last_applied_weights=[]),
        obs(10, live_weights=live(10, 90)),
        T0,
        "Progressing",
        0,
        True,
        5,
        {Reason.WEIGHTS_APPLIED},
    ),
    "live, route not ready → wait": (
        status(),
        obs(route_ready=False),
        T0,
        "Progressing",
        0,
        False,
        5,
        set(),
    ),
    "live, data plane not applied → wait": (
        status(),
        obs(data_plane_applied=False),
        T0,
        "Progressing",
        0,
        False,
        5,
        set(),
    ),
    "live, evaluator disagrees → wait": (
        status(),
        obs(split_verified=False, split_culprit="HTTPRoute/other shadows rule 0"),
        T0,
        "Progressing",
        0,
        False,
        5,
        set(),
    ),
    "live and verified → hold clock starts": (
        status(),
        obs(),
        T0,
        "Progressing",
        0,
        False,
        5,
        {Reason.SPLIT_VERIFIED},
    ),
    "unverified past the deadline → RollingBack": (
        status(),
        obs(route_ready=False),
        minutes(10),
        "RollingBack",
        0,
        True,
        0,
        {Reason.DEADLINE_EXCEEDED},
    ),
    "pause elapsed, last check passed → next step": (
        verified(step_verdict="pass"),
        obs(),
        minutes(1),
        "Progressing",
        1,
        True,
        50,
        {Reason.STEP_ADVANCED},
    ),
    "pause elapsed, no check passed yet → hold": (
        verified(),
        obs(),
        minutes(1),
        "Progressing",
        0,
        False,
        5,
        set(),
    ),
    "pause not elapsed, check passed → hold": (
        verified(step_verdict="pass"),
        obs(),
        minutes(0.5),
        "Progressing",
        0,
        False,
        5,
        set(),
    ),
    "fresh pass after the pause → next step in the same decision": (
        verified(),
        obs(analysis=check(Verdict.PASS)),
        minutes(1),
        "Progressing",
        1,
        True,
        50,
        {Reason.ANALYSIS_PASSED, Reason.STEP_ADVANCED},
    ),
    "first failure, failureLimit 1 → tolerated": (
        verified(),
        obs(analysis=check(Verdict.FAIL, value=0.3)),
        minutes(0.5),
        "Progressing",
        0,
        False,
        5,
        {Reason.ANALYSIS_FAILED},
    ),
    "second failure, failureLimit 1 → RollingBack": (
        verified(failures=1),
        obs(analysis=check(Verdict.FAIL, value=0.3)),
        minutes(0.5),
        "RollingBack",
        0,
        True,
        0,
        {Reason.FAILURE_LIMIT, Reason.ANALYSIS_FAILED},
    ),
    "inconclusive → hold, not a failure": (
        verified(),
        obs(analysis=check(Verdict.INCONCLUSIVE, samples=3)),
        minutes(1),
        "Progressing",
        0,
        False,
        5,
        {Reason.ANALYSIS_INCONCLUSIVE},
    ),
    "error → hold, never a pass": (
        verified(),
        obs(analysis=check(Verdict.ERROR)),
        minutes(1),
        "Progressing",
        0,
        False,
        5,
        {Reason.ANALYSIS_ERROR},
    ),
    "inconclusive held past the deadline → RollingBack": (
        verified(step_verdict="inconclusive", hold_since=TS),
        obs(),
        minutes(10),
        "RollingBack",
        0,
        True,
        0,
        {Reason.DEADLINE_EXCEEDED},
    ),
    "RollingBack, restored and route ready → RolledBack": (
        status(phase="RollingBack", last_applied_weights=list(live(0))),
        obs(0),
        T0,
        "RolledBack",
        0,
        False,
        0,
        {Reason.ROLLED_BACK},
    ),
    "RollingBack, restored but route not ready → wait": (
        status(phase="RollingBack", last_applied_weights=list(live(0))),
        obs(0, route_ready=False),
        T0,
        "RollingBack",
        0,
        False,
        0,
        set(),
    ),
    "RollingBack, restored but the gateway not serving it yet → wait": (
        status(phase="RollingBack", phase_started_at=TS, last_applied_weights=list(live(0))),
        obs(0, data_plane_applied=False),
        T0,
        "RollingBack",
        0,
        False,
        0,
        set(),
    ),
    "RollingBack, the gateway never confirms → RolledBack after the deadline": (
        status(phase="RollingBack", phase_started_at=TS, last_applied_weights=list(live(0))),
        obs(0, data_plane_applied=False),
        minutes(10),
        "RolledBack",
        0,
        False,
        0,
        {Reason.ROLLBACK_UNCONFIRMED},
    ),
    "RollingBack, not written yet → write": (
        status(phase="RollingBack"),
        obs(5),
        T0,
        "RollingBack",
        0,
        True,
        0,
        {Reason.WEIGHTS_APPLIED},
    ),
    "RolledBack holds stable 100 / canary 0": (
        status(phase="RolledBack", last_applied_weights=list(live(0))),
        obs(0),
        minutes(60),
        "RolledBack",
        0,
        False,
        0,
        set(),
    ),
    "Succeeded reports drift and writes nothing (hands off)": (
        status(phase="Succeeded", step_index=2, last_applied_weights=list(live(100))),
        obs(40),
        T0,
        "Succeeded",
        2,
        False,
        100,
        {Reason.DRIFT},
    ),
    "user-paused holds its weights, ignores checks": (
        status(phase="Paused", pause_reason="user"),
        obs(analysis=check(Verdict.FAIL)),
        minutes(30),
        "Paused",
        0,
        False,
        5,
        {Reason.ANALYSIS_FAILED},
    ),
    "spec hash changed → Pending again, from the live weights": (
        status(phase="Succeeded", step_index=2, spec_hash="0" * 64),
        obs(100, route_ready=False),
        T0,
        "Pending",
        None,
        False,
        None,
        {Reason.RESTARTED},
    ),
    "invalid spec → Failed, no route write": (
        status(),
        obs(invalid="spec.routes[0].rules: 2 rules list both backends; name the rules"),
        T0,
        "Failed",
        0,
        False,
        None,
        {Reason.INVALID_SPEC},
    ),
}


@pytest.mark.parametrize("row", list(ROWS), ids=list(ROWS))
def test_transition(row: str) -> None:
    given, observed, now, phase, step, write, canary, reasons = ROWS[row]
    plan = decide(make_rollout(), given, observed, now)
    assert plan.status.phase == phase
    assert plan.status.step_index == step
    assert plan.write_routes is write
    assert plan.status.canary_weight == canary
    if canary is None or phase in HANDS_OFF_PHASES:  # hands off: nothing is written
        assert plan.desired == ()
    else:
        assert {(d.stable, d.canary) for d in plan.desired} == {(100 - canary, canary)}
    assert reasons <= {e.reason for e in plan.events}
    # the same observation again changes nothing
    again = decide(make_rollout(), plan.status, observed, now)
    assert again.status_patch == {}


def test_invalid_names_the_field_in_condition_and_message() -> None:
    msg = "spec.routes[0].rules: 2 rules list both backends; name the rules"
    plan = decide(make_rollout(), status(), obs(invalid=msg), T0)
    invalid = plan.status.condition(Cond.INVALID)
    assert invalid is not None and invalid.status == "True" and invalid.message == msg
    assert plan.status.message == msg
    assert plan.desired == () and not plan.write_routes


def test_pending_names_the_evaluator_culprit_in_split_verified() -> None:
    """Before step 1 the route is not ours, but a culprit the evaluator sees (a canary ref
    without a ReferenceGrant leaves ResolvedRefs False: Pending) shows in SplitVerified."""
    culprit = "backend other/v3:8080 of rule 0 is unresolved: no ReferenceGrant"
    waiting = obs(10, live_weights=live(10, 90), route_ready=False, route_reason="ResolvedRefs")
    unresolved = replace(waiting, split_verified=False, split_culprit=culprit)
    plan = decide(make_rollout(), RolloutStatus(), unresolved, T0)
    split = plan.status.condition(Cond.SPLIT_VERIFIED)
    assert plan.status.phase == "Pending" and plan.desired == () and not plan.write_routes
    assert split is not None and split.status == "False"
    assert split.reason == Reason.SPLIT_NOT_VERIFIED and split.message == culprit
    # without a culprit there is nothing to verify before step 1
    plan = decide(make_rollout(), RolloutStatus(), waiting, T0)
    split = plan.status.condition(Cond.SPLIT_VERIFIED)
    assert split is not None and split.status == "Unknown" and split.reason == "NotActing"


def test_invalid_then_valid_again_restarts() -> None:
    sim = Sim()
    sim.decide(invalid="spec.routes[0]: HTTPRoute api-route not found")
    assert sim.phase == "Failed" and sim.writes == []
    sim.decide()
    assert sim.phase == "Progressing" and sim.status.step_index == 0
    assert any(e.reason == Reason.STARTED for e in sim.plans[-1].events)
    sim.decide(invalid="spec.routes[0]: HTTPRoute api-route not found")
    assert sim.phase == "Failed" and sim.canary == 5  # the route is left alone
    sim.decide()
    assert any(e.reason == Reason.RESTARTED for e in sim.plans[-1].events)


def test_last_step_passed_succeeds() -> None:
    spec = make_spec(steps=[{"weight": 5, "pause": "1m"}, {"weight": 50, "pause": "1m"}])
    given = verified(step_index=1, step_verdict="pass", last_applied_weights=list(live(50)))
    given = given.model_copy(update={"spec_hash": spec_hash(spec)})
    plan = decide(make_rollout(spec), given, obs(50), minutes(1))
    assert plan.status.phase == "Succeeded" and plan.desired == ()  # hands off from here
    assert Reason.SUCCEEDED in {e.reason for e in plan.events}
    assert plan.requeue_after is None


def test_happy_path_walks_every_step_then_promote_succeeds() -> None:
    sim = Sim()
    seen = []
    for _ in range(20):
        sim.settle()
        seen.append(sim.canary)
        if sim.status.condition(Cond.AWAITING_PROMOTION).status == "True":  # type: ignore[union-attr]
            break
        sim.tick(30)
        sim.analyse(Verdict.PASS)
    assert sim.canary == 100 and sim.phase == "Progressing"
    assert [w[0].canary for w in sim.writes] == [5, 50, 100]
    sim.command("promote")
    assert sim.phase == "Succeeded"
    completed = sim.status.condition(Cond.COMPLETED)
    assert completed is not None and completed.status == "True"


def test_without_metrics_the_pause_alone_ends_a_step() -> None:
    spec = make_spec(
        analysis={}, steps=[{"weight": 20, "pause": "30s"}, {"weight": 60, "pause": "0s"}]
    )
    sim = Sim(rollout=make_rollout(spec))
    sim.settle()
    assert sim.canary == 20
    sim.tick(29)
    sim.settle()
    assert sim.canary == 20
    sim.tick(1)
    sim.settle()
    assert sim.canary == 60 and sim.phase == "Succeeded"
    healthy = sim.status.condition(Cond.HEALTHY)
    assert healthy is not None and (healthy.status, healthy.reason) == ("True", "NoMetrics")


@pytest.mark.parametrize(("limit", "acts_on"), [(0, 1), (1, 2), (3, 4)])
def test_failure_limit_tolerates_n_failures_and_the_next_acts(limit: int, acts_on: int) -> None:
    spec = make_spec(analysis={"failureLimit": limit, "metrics": SPEC.analysis.dump()["metrics"]})
    sim = Sim(rollout=make_rollout(spec))
    sim.settle()
    for n in range(1, acts_on + 1):
        sim.tick(30)
        sim.analyse(Verdict.FAIL, value=0.4)
        assert sim.status.failures == n
        if n < acts_on:
            assert sim.phase == "Progressing"
            healthy = sim.status.condition(Cond.HEALTHY)
            assert healthy is not None and healthy.status == "False"
    assert sim.phase == "RollingBack" and sim.canary == 0
    sim.settle()
    assert sim.phase == "RolledBack"


def test_rolled_back_message_keeps_why() -> None:
    spec = make_spec(analysis={"failureLimit": 0, "metrics": SPEC.analysis.dump()["metrics"]})
    sim = Sim(rollout=make_rollout(spec))
    sim.settle()
    sim.tick(30)
    sim.analyse(Verdict.FAIL, value=0.4)
    assert sim.status.message.startswith("rolling back: failed check 1 exceeds failureLimit")
    sim.settle()
    assert sim.phase == "RolledBack"
    assert sim.status.message.startswith(
        "stable 100 / canary 0 restored: failed check 1 exceeds failureLimit"
    ), sim.status.message


def test_failures_are_cumulative_across_steps() -> None:
    sim = Sim()
    sim.settle()
    sim.tick(30)
    sim.analyse(Verdict.FAIL)
    sim.tick(30)
    sim.analyse(Verdict.PASS)
    sim.settle()
    assert sim.status.step_index == 1 and sim.status.failures == 1
    sim.tick(30)
    sim.analyse(Verdict.FAIL)
    assert sim.phase == "RollingBack"


def test_on_failure_pause_pauses_with_reason_failure() -> None:
    sim = Sim(
        rollout=make_rollout(
            make_spec(
                onFailure="pause",
                analysis={"failureLimit": 0, "metrics": SPEC.analysis.dump()["metrics"]},
            )
        )
    )
    sim.settle()
    sim.tick(30)
    sim.analyse(Verdict.FAIL)
    assert sim.phase == "Paused" and sim.status.pause_reason == PAUSE_FAILURE
    assert sim.canary == 5  # the weights stay as they are
    assert sim.plans[-1].requeue_after is None


@pytest.mark.parametrize(
    ("policy", "phase", "failures", "verdict"),
    [
        ("hold", "Progressing", 0, "nodata"),
        ("fail", "RollingBack", 1, "fail"),
        ("pass", "Progressing", 0, "pass"),
    ],
)
def test_no_data_policy(policy: str, phase: str, failures: int, verdict: str) -> None:
    metrics = SPEC.analysis.dump()["metrics"]
    sim = Sim(
        rollout=make_rollout(
            make_spec(analysis={"noData": policy, "failureLimit": 0, "metrics": metrics})
        )
    )
    sim.settle()
    sim.tick(30)
    sim.analyse(Verdict.NO_DATA, samples=0)
    assert (sim.phase, sim.status.failures, sim.status.step_verdict) == (phase, failures, verdict)


def test_min_requests_guards_a_pass() -> None:
    sim = Sim()
    sim.settle()
    sim.tick(60)
    sim.analyse(Verdict.PASS, samples=7)  # minRequests default 20
    assert sim.status.step_verdict == "inconclusive" and sim.status.step_index == 0
    healthy = sim.status.condition(Cond.HEALTHY)
    assert healthy is not None and healthy.status == "Unknown"


def test_inconclusive_at_a_manual_gate_does_not_run_out_the_deadline() -> None:
    spec = make_spec(steps=[{"weight": 10}, {"weight": 100}])
    sim = Sim(rollout=make_rollout(spec))
    sim.settle()
    sim.tick(30)
    sim.analyse(Verdict.INCONCLUSIVE, samples=1)
    sim.tick(3600)
    sim.settle()
    assert sim.phase == "Progressing"
    gate = sim.status.condition(Cond.AWAITING_PROMOTION)
    assert gate is not None and gate.status == "True"


def test_inconclusive_clears_when_a_check_passes() -> None:
    sim = Sim()
    sim.settle()
    sim.tick(30)
    sim.analyse(Verdict.INCONCLUSIVE, samples=1)
    assert sim.status.hold_since is not None
    sim.tick(15)
    sim.analyse(Verdict.PASS)
    assert sim.status.hold_since is None and sim.status.step_index == 0


def test_observed_share_outside_tolerance_holds() -> None:
    sim = Sim()
    sim.decide()
    sim.decide(observed_share=0.15, observed_requests=1000)
    split = sim.status.condition(Cond.SPLIT_VERIFIED)
    assert split is not None and split.status == "False" and "traffic shows" in split.message
    assert sim.status.verified_at is None
    sim.decide(observed_share=0.06, observed_requests=1000)
    assert sim.status.verified_at is not None
    assert sim.status.observed_weight == 6.0


def test_analysis_edit_does_not_restart_but_applies() -> None:
    sim = Sim()
    sim.settle()
    sim.tick(30)
    sim.analyse(Verdict.FAIL)
    edited = make_spec(
        analysis={"interval": "30s", "failureLimit": 5, "metrics": SPEC.analysis.dump()["metrics"]}
    )
    sim.rollout = make_rollout(edited, generation=2)
    sim.tick(30)
    sim.analyse(Verdict.FAIL)
    assert sim.phase == "Progressing" and sim.status.failures == 2
    assert sim.status.observed_generation == 2


def test_spec_change_restarts_at_step_one_from_the_live_weights() -> None:
    sim = Sim()
    sim.settle()
    sim.tick(60)
    sim.analyse(Verdict.PASS)
    sim.settle()
    assert sim.canary == 50
    sim.rollout = make_rollout(make_spec(canary={"name": "user-service-v4", "port": 80}), 2)
    plan = sim.decide()
    assert plan.events[0].reason == Reason.RESTARTED
    assert sim.status.failures == 0 and sim.status.analysis == []
    assert sim.canary == 5 and sim.status.step_index == 0


def test_drift_is_a_warning_and_reasserted() -> None:
    sim = Sim()
    sim.settle()
    sim.weights = live(30)
    plan = sim.decide()
    assert plan.write_routes and sim.canary == 5
    drift = [e for e in plan.events if e.reason == Reason.DRIFT]
    assert drift and drift[0].type == "Warning" and "30" in drift[0].message


def test_deleting_waits_until_the_gateway_serves_the_restore() -> None:
    rollout = make_rollout()
    rollout = rollout.model_copy(
        update={"metadata": rollout.metadata.model_copy(update={"deletion_timestamp": TS})}
    )
    given = status(phase="Progressing", step_index=0, last_applied_weights=list(live(5)))
    unserved = obs(0, deleting=True, data_plane_applied=False)
    assert decide(rollout, given, unserved, T0).requeue_after is not None
    assert decide(rollout, given, obs(0, deleting=True), T0).requeue_after is None
    late = decide(rollout, given, unserved, minutes(10))  # not confirmed by the deadline
    assert late.requeue_after is None and not late.write_routes


@pytest.mark.parametrize(
    ("phase", "on_delete", "restores"),
    [
        ("Progressing", "restore", True),
        ("Progressing", "keep", False),
        ("Pending", "restore", False),
    ],
)
def test_deleting(phase: str, on_delete: str, restores: bool) -> None:
    rollout = make_rollout(make_spec(onDelete=on_delete))
    given = status(phase=phase, last_applied_weights=[] if phase == "Pending" else list(live(5)))
    plan = decide(rollout, given, obs(5, deleting=True), T0)
    assert plan.write_routes is restores
    assert bool(plan.desired) is restores
    again = decide(rollout, plan.status, obs(0 if restores else 5, deleting=True), T0)
    assert not again.write_routes and again.status_patch == {} and again.events == ()


def test_measurements_keep_the_last_ten_and_the_baseline() -> None:
    sim = Sim()
    sim.settle()
    for n in range(12):
        sim.tick(1)
        sim.decide(analysis=check(Verdict.PASS, stable=0.001 * n, at=rfc3339(sim.now)))
    (metric,) = sim.status.analysis
    assert len(metric.measurements) == 10
    assert metric.measurements[-1].stable_value == pytest.approx(0.011)
    assert sim.status.baseline == {"error-rate": pytest.approx(0.011)}


def test_the_same_check_handed_in_twice_counts_once() -> None:
    sim = Sim()
    sim.settle()
    sim.tick(30)
    result = check(Verdict.FAIL, at=rfc3339(sim.now))
    sim.decide(analysis=result)
    sim.decide(analysis=result)
    assert sim.status.failures == 1


def test_baseline_is_not_taken_at_full_weight() -> None:
    spec = make_spec(steps=[{"weight": 100, "pause": "10s"}])
    sim = Sim(rollout=make_rollout(spec))
    sim.settle()
    sim.tick(30)
    sim.analyse(Verdict.PASS, stable=0.5)
    assert sim.status.baseline == {}


def test_conditions_keep_transition_time_while_status_is_unchanged() -> None:
    sim = Sim()
    sim.settle()
    ready = sim.status.condition(Cond.ROUTE_READY)
    sim.tick(30)
    sim.decide(route_reason="all parents Accepted")
    assert sim.status.condition(Cond.ROUTE_READY).last_transition_time == ready.last_transition_time  # type: ignore[union-attr]
    sim.tick(1)
    sim.decide(route_ready=False)
    assert sim.status.condition(Cond.ROUTE_READY).last_transition_time == rfc3339(sim.now)  # type: ignore[union-attr]


def test_requeue_follows_what_is_due() -> None:
    sim = Sim()
    assert sim.decide().requeue_after == POLL_SECONDS  # writing
    assert sim.decide().requeue_after == 30.0  # first check due in 30 s
    sim.tick(25)
    assert sim.decide().requeue_after == 5.0
    sim.tick(5)
    sim.analyse(Verdict.PASS)
    assert sim.decide().requeue_after == 30.0  # pause ends at 60 s, next check at 60 s


def test_status_reports_labels_and_weights() -> None:
    sim = Sim()
    assert sim.status.step_label == "-"
    sim.decide()
    sim.decide(route_ready=False)
    assert (sim.status.step_label, sim.status.canary_weight) == ("1/3", 5)
    sim.decide(effective_share=0.0476)
    assert sim.status.effective_weight == 4.76
    assert sim.status.message.startswith("step 1/3 at canary 5%: holding 1m until")


def test_data_plane_divergence_condition_is_shown_only_when_a_profile_predicts() -> None:
    plan = decide(make_rollout(), verified(), obs(), T0)
    assert plan.status.condition(Cond.DATA_PLANE_DIVERGENCE) is None  # spec profile only
    found = "HTTPRoute/api-route: Traefik 3.7.15 routes … [method-vs-prefix: …]"
    plan = decide(make_rollout(), verified(), obs(divergence=found), T0)
    cond = plan.status.condition(Cond.DATA_PLANE_DIVERGENCE)
    assert cond is not None and cond.status == "True" and cond.message == found
    assert cond.reason == Reason.DIVERGES
    # a pass that did not evaluate keeps the last word; a clean one clears it
    kept = decide(make_rollout(), plan.status, obs(effective_share=None), T0)
    assert kept.status.condition(Cond.DATA_PLANE_DIVERGENCE) == cond
    # an evaluated pass with every route on the spec (moved off Traefik) turns it False
    moved = decide(make_rollout(), plan.status, obs(), T0)
    off = moved.status.condition(Cond.DATA_PLANE_DIVERGENCE)
    assert off is not None and off.status == "False" and off.reason == Reason.NO_PROFILE
    clean = decide(make_rollout(), plan.status, obs(divergence=""), T0)
    cleared = clean.status.condition(Cond.DATA_PLANE_DIVERGENCE)
    assert cleared is not None and cleared.status == "False" and cleared.reason == Reason.AS_SPEC
