"""Commands: every verb in every phase (applied / in effect / ignored), each id once."""

from __future__ import annotations

import pytest

from canary.core.models import RolloutStatus
from canary.core.phases import COMMAND_ANNOTATION, COMMAND_ID_ANNOTATION, Cond, Reason, Verdict
from canary.core.rollout.command_effects import APPLIED, IGNORED, IN_EFFECT
from canary.core.rollout.machine import decide
from canary.core.rollout.observation import Command, command_from_annotations
from tests.unit.core.test_machine import T0, obs, status, verified
from tests.unit.core.test_machine_support import Sim, live, make_rollout, make_spec

STATES: dict[str, tuple[RolloutStatus, int]] = {
    "pending": (status(phase="Pending", step_index=None, last_applied_weights=[]), 10),
    "progressing": (verified(), 5),
    "paused": (status(phase="Paused", pause_reason="user"), 5),
    "succeeded": (
        status(phase="Succeeded", step_index=2, last_applied_weights=list(live(100))),
        100,
    ),
    "rollingback": (status(phase="RollingBack", last_applied_weights=list(live(0))), 0),
    "rolledback": (status(phase="RolledBack", last_applied_weights=list(live(0))), 0),
    "aborted": (status(phase="Aborted", last_applied_weights=list(live(0))), 0),
    "failed": (status(phase="Failed", step_index=None, last_applied_weights=[]), 10),
}
IG, A, E = IGNORED, APPLIED, IN_EFFECT
# verb → state → (result kind, phase right after the command)
EXPECTED: dict[str, dict[str, tuple[str, str]]] = {
    "promote": {
        "pending": (IG, "Pending"),
        "progressing": (A, "Progressing"),
        "paused": (A, "Progressing"),
        "succeeded": (E, "Succeeded"),
        "rollingback": (IG, "RollingBack"),
        "rolledback": (IG, "RolledBack"),
        "aborted": (IG, "Aborted"),
        "failed": (IG, "Failed"),
    },
    "promote-full": {
        "pending": (IG, "Pending"),
        "progressing": (A, "Progressing"),
        "paused": (A, "Progressing"),
        "succeeded": (E, "Succeeded"),
        "rollingback": (IG, "RollingBack"),
        "rolledback": (IG, "RolledBack"),
        "aborted": (IG, "Aborted"),
        "failed": (IG, "Failed"),
    },
    "abort": {
        "pending": (A, "Aborted"),
        "progressing": (A, "Aborted"),
        "paused": (A, "Aborted"),
        "succeeded": (IG, "Succeeded"),
        "rollingback": (A, "Aborted"),
        "rolledback": (E, "RolledBack"),
        "aborted": (E, "Aborted"),
        "failed": (IG, "Failed"),
    },
    "retry": {
        "pending": (IG, "Pending"),
        "progressing": (IG, "Progressing"),
        "paused": (IG, "Paused"),
        "succeeded": (IG, "Succeeded"),
        "rollingback": (IG, "RollingBack"),
        "rolledback": (A, "Progressing"),
        "aborted": (A, "Progressing"),
        "failed": (A, "Pending"),
    },
    "pause": {
        "pending": (A, "Paused"),
        "progressing": (A, "Paused"),
        "paused": (E, "Paused"),
        "succeeded": (IG, "Succeeded"),
        "rollingback": (IG, "RollingBack"),
        "rolledback": (IG, "RolledBack"),
        "aborted": (IG, "Aborted"),
        "failed": (IG, "Failed"),
    },
    "resume": {
        "pending": (E, "Pending"),
        "progressing": (E, "Progressing"),
        "paused": (A, "Progressing"),
        "succeeded": (IG, "Succeeded"),
        "rollingback": (IG, "RollingBack"),
        "rolledback": (IG, "RolledBack"),
        "aborted": (IG, "Aborted"),
        "failed": (IG, "Failed"),
    },
}
CASES = [(verb, state) for verb, row in EXPECTED.items() for state in row]


@pytest.mark.parametrize(("verb", "state"), CASES, ids=[f"{v}-{s}" for v, s in CASES])
def test_command_in_phase(verb: str, state: str) -> None:
    given, canary = STATES[state]
    kind, phase = EXPECTED[verb][state]
    # route not ready, so that each row shows the command's own transition only
    ready = state not in ("pending", "rollingback", "failed")
    observed = obs(canary, route_ready=ready, command=Command(verb, "c-1"))
    plan = decide(make_rollout(), given, observed, T0)
    assert plan.command_ack is not None
    assert plan.command_ack.result.startswith(kind + ":"), plan.command_ack.result
    assert plan.status.last_command == plan.command_ack
    assert plan.status.phase == phase
    acks = [e for e in plan.events if verb in e.message and "c-1" in e.message]
    assert len(acks) == 1
    assert (acks[0].reason == Reason.COMMAND_IGNORED) is (kind == IGNORED)
    # the same id again is not acted on
    again = decide(make_rollout(), plan.status, observed, T0)
    assert again.command_ack is None
    assert not any("c-1" in e.message for e in again.events)


def test_promote_while_paused_before_step_1_starts_step_1_not_2() -> None:
    paused = status(phase="Paused", pause_reason="user", step_index=None, last_applied_weights=[])
    observed = obs(10, live_weights=live(10), command=Command("promote", "p"))
    plan = decide(make_rollout(), paused, observed, T0)
    assert plan.command_ack is not None and plan.command_ack.result.startswith(APPLIED)
    assert plan.status.phase == "Progressing" and plan.status.step_index == 0
    assert plan.status.canary_weight == 5


def test_repeated_id_acts_once_even_later() -> None:
    sim = Sim()
    sim.settle()
    sim.decide(command=Command("promote", "p1"))
    assert sim.status.step_index == 1
    sim.settle()
    sim.tick(600)
    sim.decide(command=Command("promote", "p1"))
    assert sim.status.step_index == 1


def test_unknown_verb_is_acknowledged_and_ignored() -> None:
    plan = decide(make_rollout(), verified(), obs(command=Command("skip", "x")), T0)
    assert plan.command_ack is not None and plan.command_ack.result.startswith(
        "ignored: unknown verb"
    )
    assert plan.status.phase == "Progressing"


def test_command_on_an_invalid_rollout_is_ignored_with_the_reason() -> None:
    observed = obs(invalid="spec.routes[0]: not found", command=Command("promote", "p"))
    plan = decide(make_rollout(), verified(), observed, T0)
    assert plan.command_ack is not None
    assert plan.command_ack.result == "ignored: the spec is invalid: spec.routes[0]: not found"


def test_promote_full_jumps_to_the_last_step_and_skips_analysis() -> None:
    sim = Sim()
    sim.settle()
    sim.decide(command=Command("promote-full", "f"))
    assert sim.status.step_index == 2 and sim.canary == 100 and sim.phase == "Progressing"
    sim.decide(analysis=None)
    assert sim.phase == "Succeeded"
    assert [w[0].canary for w in sim.writes] == [5, 100]


def test_promote_full_at_the_last_step_succeeds_once_verified() -> None:
    spec = make_spec(steps=[{"weight": 100}])
    sim = Sim(rollout=make_rollout(spec))
    sim.settle()
    assert sim.status.condition(Cond.AWAITING_PROMOTION).status == "True"  # type: ignore[union-attr]
    sim.decide(command=Command("promote-full", "f"))
    assert sim.phase == "Succeeded"


def test_retry_after_rollback_starts_over_with_failures_reset() -> None:
    sim = Sim(
        rollout=make_rollout(
            make_spec(
                analysis={"failureLimit": 0, "metrics": [{"name": "e", "template": "error-rate"}]}
            )
        )
    )
    sim.settle()
    sim.tick(30)
    sim.analyse(Verdict.FAIL)
    sim.settle()
    assert sim.phase == "RolledBack" and sim.canary == 0
    sim.decide(command=Command("retry", "r"))
    assert sim.phase == "Progressing" and sim.status.failures == 0 and sim.canary == 5
    healthy = sim.status.condition(Cond.HEALTHY)
    assert healthy is not None and healthy.status == "Unknown"


def test_abort_writes_stable_100_and_stays_there() -> None:
    sim = Sim()
    sim.settle()
    sim.decide(command=Command("abort", "a"))
    assert sim.phase == "Aborted" and sim.weights == live(0)
    sim.tick(3600)
    assert sim.settle().status_patch == {}


def test_pause_keeps_weights_and_resume_restarts_the_hold() -> None:
    sim = Sim()
    sim.settle()
    sim.tick(50)
    sim.analyse(Verdict.PASS)
    sim.decide(command=Command("pause", "p"))
    assert sim.phase == "Paused" and sim.canary == 5
    sim.tick(600)
    sim.settle()
    assert sim.phase == "Paused"
    sim.decide(command=Command("resume", "r"))
    assert sim.phase == "Progressing" and sim.status.step_index == 0
    assert sim.status.verified_at == sim.status.last_command.at  # type: ignore[union-attr]
    sim.tick(59)
    sim.decide(analysis=None)
    assert sim.status.step_index == 0  # the full pause again, and a check must pass again


def test_pause_before_the_first_step_resumes_to_pending() -> None:
    sim = Sim(ready=False)
    sim.decide()
    sim.decide(command=Command("pause", "p"))
    assert sim.phase == "Paused" and sim.writes == []
    sim.decide(command=Command("resume", "r"))
    assert sim.phase == "Pending"


def test_retry_after_a_pending_deadline_waits_for_the_route_again() -> None:
    sim = Sim(ready=False)
    sim.decide()
    sim.tick(601)
    sim.decide()
    assert sim.phase == "Failed" and sim.writes == []
    sim.ready = True
    sim.decide(command=Command("retry", "r"))
    assert sim.phase == "Progressing" and sim.canary == 5


@pytest.mark.parametrize(
    ("annotations", "expected"),
    [
        ({COMMAND_ANNOTATION: "promote", COMMAND_ID_ANNOTATION: "42"}, Command("promote", "42")),
        ({COMMAND_ANNOTATION: "promote"}, None),
        ({COMMAND_ID_ANNOTATION: "42"}, None),
        ({COMMAND_ANNOTATION: " abort ", COMMAND_ID_ANNOTATION: " 7 "}, Command("abort", "7")),
    ],
)
def test_command_from_annotations(annotations: dict[str, str], expected: Command | None) -> None:
    assert command_from_annotations(annotations) == expected


def test_long_ids_are_clipped_and_still_act_once() -> None:
    cid = "x" * 400
    plan = decide(make_rollout(), verified(), obs(command=Command("pause", cid)), T0)
    assert plan.command_ack is not None and len(plan.command_ack.id) == 253
    again = decide(make_rollout(), plan.status, obs(command=Command("pause", cid)), T0)
    assert again.command_ack is None
