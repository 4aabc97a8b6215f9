"""Lifecycle and ownership: one test per row of the table in docs/state-machine.md.

| phase                       | route writes                  | drift            | delete        |
|-----------------------------|-------------------------------|------------------|---------------|
| Pending, Progressing,       | the step's weights            | re-asserted      | onDelete:     |
| Paused, RollingBack         | (RollingBack: stable 100)     | (Drift Event)    | restore|keep  |
| RolledBack, Aborted         | stable 100 / canary 0 stays   | re-asserted      | route as is   |
| Succeeded, Failed           | never again                   | reported only    | route as is   |
"""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from typing import Any

import pytest

from canary.core.models import RolloutStatus
from canary.core.phases import Cond, Reason
from canary.core.rollout.hashing import spec_hash
from canary.core.rollout.machine import decide
from canary.core.rollout.observation import Command, Observation
from canary.core.rollout.schedule import rfc3339
from tests.unit.core.test_machine_support import RULES, T0, live, make_rollout, make_spec

SPEC = make_spec()
TS = rfc3339(T0)


def given(phase: str, applied: int | None, **fields: Any) -> RolloutStatus:
    base: dict[str, Any] = {
        "phase": phase,
        "spec_hash": spec_hash(SPEC),
        "step_index": 2 if phase == "Succeeded" else 1,
        "step_started_at": TS,
        "phase_started_at": TS,
        "last_applied_weights": list(live(applied)) if applied is not None else [],
    }
    base.update(fields)
    return RolloutStatus.model_validate(base)


def seen(canary: int, **overrides: Any) -> Observation:
    base = Observation(
        addressed=RULES,
        live_weights=live(canary),
        route_ready=True,
        split_verified=True,
        data_plane_applied=True,
    )
    return replace(base, **overrides)


def deleting(status: RolloutStatus, canary: int, on_delete: str = "restore") -> Any:
    spec = make_spec(onDelete=on_delete)
    rollout = make_rollout(spec)
    stamped = rollout.model_copy(
        update={"metadata": rollout.metadata.model_copy(update={"deletion_timestamp": TS})}
    )
    status = status.model_copy(update={"spec_hash": spec_hash(spec)})
    return decide(stamped, status, seen(canary, deleting=True), T0 + timedelta(seconds=1))


# -- Succeeded and Failed: hands off ------------------------------------------------------


@pytest.mark.parametrize("phase", ["Succeeded", "Failed"])
def test_hands_off_phases_never_write_and_report_drift(phase: str) -> None:
    released = 100 if phase == "Succeeded" else 50
    status = given(phase, released)
    plan = decide(make_rollout(), status, seen(30), T0)  # someone set canary 30
    assert plan.status.phase == phase
    assert plan.desired == () and not plan.write_routes
    drifted = plan.status.condition(Cond.DRIFTED)
    assert drifted is not None and drifted.status == "True" and "rule 0 70/30" in drifted.message
    assert [e.reason for e in plan.events if e.type == "Warning"] == [Reason.DRIFT]
    # reported once: the same drift again writes no status and posts no Event
    again = decide(make_rollout(), plan.status, seen(30), T0 + timedelta(minutes=5))
    assert again.status_patch == {} and again.events == () and not again.write_routes
    # the weights come back: Drifted turns False, still nothing written
    back = decide(make_rollout(), plan.status, seen(released), T0 + timedelta(minutes=6))
    cond = back.status.condition(Cond.DRIFTED)
    assert cond is not None and cond.status == "False" and not back.write_routes


@pytest.mark.parametrize("phase", ["Succeeded", "Failed"])
def test_a_successor_taking_over_the_rule_is_not_drift(phase: str) -> None:
    status = given(phase, 100 if phase == "Succeeded" else 50)
    taken = (("HTTPRoute/api-route", 0, "next"),)
    plan = decide(make_rollout(), status, seen(5, taken_over=taken), T0)  # next's step 1
    assert plan.events == () and not plan.write_routes
    drifted = plan.status.condition(Cond.DRIFTED)
    assert drifted is not None
    assert (drifted.status, drifted.reason) == ("False", Reason.TAKEN_OVER)
    assert drifted.message == "taken over (not drift): HTTPRoute/api-route rule 0 by Rollout next"


@pytest.mark.parametrize("phase", ["Succeeded", "Failed"])
def test_deleting_a_hands_off_rollout_leaves_the_route(phase: str) -> None:
    plan = deleting(given(phase, 100 if phase == "Succeeded" else 50), 100)
    assert plan.desired == () and not plan.write_routes
    assert plan.requeue_after is None  # the finalizer may go at once
    assert plan.status.message == "deleting: leaving the route as it is"


def test_succeeded_keeps_its_last_shares_on_show() -> None:
    status = given("Succeeded", 100, effective_weight=100.0, observed_weight=99.5)
    plan = decide(make_rollout(), status, seen(100), T0)
    assert plan.status.effective_weight == 100.0 and plan.status.observed_weight == 99.5
    assert "effectiveWeight" not in plan.status_patch and not plan.write_routes


# -- RolledBack and Aborted: stable 100 / canary 0 stays asserted -----------------------


@pytest.mark.parametrize("phase", ["RolledBack", "Aborted"])
def test_restored_phases_keep_stable_100_asserted(phase: str) -> None:
    status = given(phase, 0)
    plan = decide(make_rollout(), status, seen(40), T0)  # traffic pushed back to the canary
    assert plan.status.phase == phase
    assert plan.write_routes and {(d.stable, d.canary) for d in plan.desired} == {(100, 0)}
    assert Reason.DRIFT in {e.reason for e in plan.events}


@pytest.mark.parametrize("phase", ["RolledBack", "Aborted"])
def test_deleting_a_restored_rollout_leaves_the_route(phase: str) -> None:
    plan = deleting(given(phase, 0), 0)
    assert plan.desired == () and not plan.write_routes and plan.requeue_after is None


# -- an invalid spec edit keeps the phase (RolledBack, Aborted, Succeeded) -----------------

BAD = "spec.analysis.metrics[0].flavor: set flavor or query"


@pytest.mark.parametrize("phase", ["RolledBack", "Aborted"])
def test_an_invalid_spec_keeps_restored_phases_asserting_stable_100(phase: str) -> None:
    status = given(phase, 0)
    plan = decide(make_rollout(), status, seen(40, invalid=BAD), T0)
    assert plan.status.phase == phase  # not Failed (which would stop asserting)
    assert plan.write_routes and {(d.stable, d.canary) for d in plan.desired} == {(100, 0)}
    invalid = plan.status.condition(Cond.INVALID)
    assert invalid is not None
    assert (invalid.status, invalid.reason) == ("True", Reason.INVALID_SPEC)
    assert invalid.message == (
        f"{BAD}; {phase} kept: stable 100 / canary 0 stays asserted on HTTPRoute/api-route rule 0"
    )
    assert [e.reason for e in plan.events if e.type == "Warning"] == [
        Reason.INVALID_SPEC,
        Reason.DRIFT,
    ]
    # retry is refused while the spec is invalid; the weights stay asserted
    again = decide(
        make_rollout(), plan.status, seen(40, invalid=BAD, command=Command("retry", "r1")), T0
    )
    assert again.status.phase == phase and again.write_routes
    assert again.command_ack is not None and again.command_ack.result.startswith("ignored")


@pytest.mark.parametrize("phase", ["RolledBack", "Aborted"])
def test_an_invalid_spec_with_nothing_safe_to_assert_writes_nothing_and_says_why(
    phase: str,
) -> None:
    why = "spec.stable, canary, routes or steps changed since it applied stable 100 / canary 0"
    plan = decide(make_rollout(), given(phase, 0), Observation(invalid=BAD, unasserted=why), T0)
    assert plan.status.phase == phase
    assert plan.desired == () and not plan.write_routes
    invalid = plan.status.condition(Cond.INVALID)
    assert invalid is not None and invalid.status == "True"
    assert invalid.message == (
        f"{BAD}; {phase} kept: nothing can be asserted safely ({why}); the route is not written"
    )


def test_an_invalid_spec_keeps_a_succeeded_release_hands_off() -> None:
    plan = decide(make_rollout(), given("Succeeded", 100), seen(100, invalid=BAD), T0)
    assert plan.status.phase == "Succeeded" and not plan.write_routes and plan.desired == ()
    invalid = plan.status.condition(Cond.INVALID)
    assert invalid is not None and invalid.status == "True"
    assert invalid.message == f"{BAD}; Succeeded kept: hands off, the route is not written"
    completed = plan.status.condition(Cond.COMPLETED)
    assert completed is not None and completed.status == "True"
    # valid again: Invalid turns False, still Succeeded and hands off
    valid = decide(make_rollout(), plan.status, seen(100), T0 + timedelta(seconds=5))
    cond = valid.status.condition(Cond.INVALID)
    assert valid.status.phase == "Succeeded" and cond is not None and cond.status == "False"


def test_an_invalid_spec_mid_flight_still_fails() -> None:
    plan = decide(make_rollout(), given("Progressing", 5), seen(5, invalid=BAD), T0)
    assert plan.status.phase == "Failed" and not plan.write_routes


# -- mid-flight: onDelete applies ---------------------------------------------------------


@pytest.mark.parametrize("phase", ["Progressing", "Paused", "RollingBack"])
def test_deleting_mid_flight_restores_with_on_delete_restore(phase: str) -> None:
    plan = deleting(given(phase, 50), 50)
    assert plan.write_routes and {(d.stable, d.canary) for d in plan.desired} == {(100, 0)}
    assert plan.requeue_after is not None  # the finalizer stays until it is served


def test_deleting_pending_after_a_restart_restores_what_it_applied() -> None:
    plan = deleting(given("Pending", 50, step_index=None), 50)
    assert plan.write_routes and {(d.stable, d.canary) for d in plan.desired} == {(100, 0)}


def test_deleting_pending_that_never_acted_leaves_the_route() -> None:
    plan = deleting(given("Pending", None, step_index=None), 10)
    assert plan.desired == () and not plan.write_routes


@pytest.mark.parametrize("phase", ["Progressing", "Paused", "RollingBack"])
def test_deleting_mid_flight_with_on_delete_keep_leaves_the_route(phase: str) -> None:
    plan = deleting(given(phase, 50), 50, on_delete="keep")
    assert plan.desired == () and not plan.write_routes and plan.requeue_after is None


# -- every wait bounded -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("observation", "cause"),
    [
        (seen(0, route_ready=False, route_reason="Accepted=False"), "route not ready: Accepted"),
        (seen(0, data_plane_applied=False), "the gateway does not serve"),
        (seen(30), "the weights are not live"),
    ],
)
def test_rollback_unconfirmed_ends_rolled_back_at_the_deadline(
    observation: Observation, cause: str
) -> None:
    status = given("RollingBack", 0, message="rolling back: error-rate 0.2 > 0.05")
    before = decide(make_rollout(), status, observation, T0 + timedelta(minutes=9))
    assert before.status.phase == "RollingBack"
    plan = decide(make_rollout(), status, observation, T0 + timedelta(minutes=10))
    assert plan.status.phase == "RolledBack"
    assert cause in plan.status.message and "error-rate 0.2" in plan.status.message
    assert Reason.ROLLBACK_UNCONFIRMED in {e.reason for e in plan.events}
    # the stable-100 write stands and stays asserted
    assert {(d.stable, d.canary) for d in plan.desired} == {(100, 0)}
    # every cause is named in a condition, not only in the message and the Event
    waiting = before.status.condition(Cond.ROLLBACK_CONFIRMED)
    assert waiting is not None and (waiting.status, waiting.reason) == ("False", "Confirming")
    assert cause in waiting.message
    cond = plan.status.condition(Cond.ROLLBACK_CONFIRMED)
    assert cond is not None
    assert (cond.type, cond.status, cond.reason) == (
        "RollbackConfirmed",
        "False",
        Reason.ROLLBACK_UNCONFIRMED,
    )
    assert cond.message.startswith("stable 100 / canary 0 written, not confirmed: ")
    assert cause in cond.message
    # it stays on show in RolledBack while the cause lasts, and turns True once confirmed
    later = decide(make_rollout(), plan.status, observation, T0 + timedelta(minutes=11))
    kept = later.status.condition(Cond.ROLLBACK_CONFIRMED)
    assert kept is not None and kept.status == "False" and cause in kept.message
    fixed = decide(make_rollout(), plan.status, seen(0), T0 + timedelta(minutes=12))
    ok = fixed.status.condition(Cond.ROLLBACK_CONFIRMED)
    assert ok is not None and (ok.status, ok.reason) == ("True", Reason.ROLLED_BACK)
    assert fixed.status.phase == "RolledBack" and not fixed.write_routes


def test_rollback_confirmed_before_the_deadline() -> None:
    status = given("RollingBack", 0, message="rolling back: x")
    plan = decide(make_rollout(), status, seen(0), T0 + timedelta(seconds=3))
    assert plan.status.phase == "RolledBack"
    assert Reason.ROLLED_BACK in {e.reason for e in plan.events}
    cond = plan.status.condition(Cond.ROLLBACK_CONFIRMED)
    assert cond is not None and (cond.status, cond.reason) == ("True", Reason.ROLLED_BACK)


# -- one owner per rule -------------------------------------------------------------------


def test_rule_owned_by_another_rollout_is_invalid_and_never_writes() -> None:
    why = "spec.routes: HTTPRoute/api-route rule 0 is owned by Rollout other (Progressing)"
    observation = Observation(invalid=why, invalid_reason=Reason.RULE_OWNED)
    plan = decide(make_rollout(), RolloutStatus(), observation, T0)
    assert plan.status.phase == "Failed" and plan.desired == () and not plan.write_routes
    invalid = plan.status.condition(Cond.INVALID)
    assert invalid is not None and invalid.reason == Reason.RULE_OWNED
    assert "Rollout other" in invalid.message
    # the owner lets go: the Rollout starts
    free = decide(make_rollout(), plan.status, seen(10), T0 + timedelta(seconds=5))
    assert free.status.phase == "Progressing" and free.write_routes
