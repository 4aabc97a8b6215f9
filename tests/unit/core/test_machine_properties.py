"""Invariants of the state machine under random observations, checks and commands.

A fake operator (``Sim``) runs random walks: time passes, checks complete with any
verdict, the route flaps, someone edits the weights, commands arrive (ids repeat).
After every decision we check the contracts that must hold whatever happened.
"""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from canary.core.models import RolloutSpec
from canary.core.phases import HANDS_OFF_PHASES, STABLE_ONLY_PHASES, Phase, Verdict
from canary.core.rollout.machine import decide
from canary.core.rollout.observation import Command
from canary.core.rollout.reconcile_plan import Plan
from tests.unit.core.test_machine_support import Sim, check, live, make_rollout, make_spec

VERBS = ["promote", "promote-full", "abort", "retry", "pause", "resume", "bogus"]


@st.composite
def specs(draw: st.DrawFn) -> RolloutSpec:
    weights = sorted(draw(st.sets(st.integers(0, 100), min_size=1, max_size=4)))
    pauses = st.sampled_from([None, "0s", "20s", "1m"])
    steps = [{"weight": w, "pause": draw(pauses)} for w in weights]
    analysis = {
        "interval": "20s",
        "failureLimit": draw(st.integers(0, 2)),
        "noData": draw(st.sampled_from(["hold", "fail", "pass"])),
        "metrics": [{"name": "error-rate", "template": "error-rate", "max": 0.05}],
    }
    steps = [{k: v for k, v in s.items() if v is not None} for s in steps]
    return make_spec(
        steps=steps,
        analysis=analysis,
        onFailure=draw(st.sampled_from(["rollback", "pause"])),
        progressDeadline="5m",
    )


actions = st.one_of(
    st.tuples(st.just("tick"), st.integers(0, 400)),
    st.tuples(st.just("check"), st.sampled_from(list(Verdict)), st.integers(0, 60)),
    st.tuples(st.just("cmd"), st.sampled_from(VERBS), st.sampled_from("abc")),
    st.tuples(st.just("ready"), st.sampled_from([True, False, None])),
    st.tuples(st.just("verified"), st.sampled_from([True, False, None])),
    st.tuples(st.just("drift"), st.integers(0, 100)),
    st.tuples(st.just("idle")),
)


def _overrides(sim: Sim, action: tuple[Any, ...]) -> dict[str, Any] | None:
    kind = action[0]
    if kind == "tick":
        sim.tick(action[1])
        return {}
    if kind == "check":
        return {"analysis": check(action[1], samples=action[2] * 10)}
    if kind == "cmd":
        return {"command": Command(action[1], action[2])}
    if kind == "ready":
        sim.ready = action[1]
    elif kind == "verified":
        sim.verified = action[1]
    elif kind == "drift":
        sim.weights = live(action[1])
    return {}


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(spec=specs(), walk=st.lists(actions, min_size=1, max_size=40))
def test_invariants_hold_on_any_walk(spec: RolloutSpec, walk: list[tuple[Any, ...]]) -> None:
    sim = Sim(rollout=make_rollout(spec))
    last = len(spec.steps) - 1
    ceiling: int | None = None  # canary may not rise above this after a failure acted
    for action in walk:
        overrides = _overrides(sim, action) or {}
        before = sim.status
        live_before = sim.weights
        observation = sim.observe(**overrides)
        plan = sim.decide(**overrides)
        after = sim.status

        # the only canary weights ever written are a step's weight or 0 (a restore), and
        # nothing at all in the hands-off phases (Succeeded, Failed)
        allowed = {s.weight for s in spec.steps} | {0}
        for w in plan.desired:
            assert w.canary in allowed, (w, allowed)
        if after.phase in HANDS_OFF_PHASES:
            assert plan.desired == () and not plan.write_routes, plan
        assert after.canary_weight is None or 0 <= after.canary_weight <= 100

        # a repeated command id is not acted on again
        cmd = observation.command
        if cmd is not None and before.last_command and before.last_command.id == cmd.id:
            assert plan.command_ack is None and after.last_command == before.last_command
        acted = plan.command_ack is not None and not plan.command_ack.result.startswith("ignored")

        # no step is skipped (promote --full and retry are the explicit exceptions)
        old = -1 if before.step_index is None else before.step_index
        new = -1 if after.step_index is None else after.step_index
        if not (acted and cmd is not None and cmd.verb in ("promote-full", "retry")):
            assert new <= old + 1 or (new == last and after.promoted_full)

        # rollback and abort mean stable 100 / canary 0, and RolledBack only once live
        if after.phase in STABLE_ONLY_PHASES:
            assert all((w.stable, w.canary) == (100, 0) for w in plan.desired)
        if after.phase == Phase.ROLLED_BACK and before.phase != Phase.ROLLED_BACK:
            # confirmed live, or the deadline passed and the message says so
            assert all((w.stable, w.canary) == (100, 0) for w in live_before) or (
                "not confirmed within progressDeadline" in after.message
            ), after.message

        # after a failure verdict acted, the canary weight never rises (until a command)
        judged_fail = after.failures > before.failures
        if judged_fail:
            assert (after.canary_weight or 0) <= (before.canary_weight or 0) or acted
        if acted or after.spec_hash != before.spec_hash:
            ceiling = None
        if judged_fail and after.phase in (Phase.ROLLING_BACK, Phase.PAUSED):
            ceiling = after.canary_weight
        if ceiling is not None:
            assert (after.canary_weight or 0) <= ceiling

        event(f"phase {after.phase}")
        # level-triggered and idempotent: the same observation again changes nothing
        again = decide(sim.rollout, after, observation, sim.now)
        assert again.status_patch == {}
        assert again.desired == plan.desired
        assert again.command_ack is None


def _plan_for(sim: Sim, **overrides: Any) -> Plan:
    return decide(sim.rollout, sim.status, sim.observe(**overrides), sim.now)


@settings(max_examples=100, deadline=None)
@given(walk=st.lists(actions, max_size=30), verb=st.sampled_from(VERBS))
def test_a_command_id_acts_once_whatever_came_before(
    walk: list[tuple[Any, ...]], verb: str
) -> None:
    sim = Sim()
    for action in walk:
        sim.decide(**(_overrides(sim, action) or {}))
    first = sim.decide(command=Command(verb, "the-id"))
    assert first.command_ack is not None and first.command_ack.id == "the-id"
    sim.tick(30)
    second = _plan_for(sim, command=Command(verb, "the-id"))
    assert second.command_ack is None
    assert second.status.last_command == first.command_ack


@settings(max_examples=100, deadline=None)
@given(walk=st.lists(actions, max_size=30))
def test_rollback_ends_at_stable_100(walk: list[tuple[Any, ...]]) -> None:
    sim = Sim(
        rollout=make_rollout(
            make_spec(
                analysis={"failureLimit": 0, "metrics": [{"name": "e", "template": "error-rate"}]}
            )
        )
    )
    for action in walk:
        sim.decide(**(_overrides(sim, action) or {}))
    sim.ready, sim.verified = True, True
    sim.decide(command=Command("abort", "final-abort"))
    sim.settle()
    if sim.phase in STABLE_ONLY_PHASES:
        assert sim.weights == live(0)
        assert sim.phase in (Phase.ROLLED_BACK, Phase.ABORTED)
