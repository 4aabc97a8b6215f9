"""Contested: another field manager reverting the weights K times in the window ends the
fight (docs/state-machine.md "Contested"). Given / When / Then on the fake operator.

K and the window are operator settings (``ContestPolicy``: --contest-limit,
--contest-window); the tests run with the defaults unless they name others."""

from __future__ import annotations

import random
from datetime import timedelta
from typing import Any

import pytest

from canary.core.durations import format_duration
from canary.core.phases import Cond, Phase, Reason, Verdict
from canary.core.rollout import contest
from canary.core.rollout.observation import Command
from canary.core.rollout.schedule import rfc3339
from canary.core.rollout.settings import CONTEST_LIMIT, CONTEST_WINDOW, ContestPolicy
from canary.core.routes.fieldmanagers import Writer, rules_owner, weight_paths, writers
from canary.core.routes.rules import ResolvedRoute, ResolvedRule
from tests.unit.core.test_machine_support import ROUTE, Sim, live

GIT = live(10, 90)  # what the GitOps tool keeps applying
PATHS = ("/spec/rules/0/backendRefs/0/weight", "/spec/rules/0/backendRefs/1/weight")
K = CONTEST_LIMIT  # the default
# non-default settings the tests also run with: K = 1 (the first revert contests), 2, 5
POLICIES = [
    ContestPolicy(),
    ContestPolicy(limit=1, window=60.0),
    ContestPolicy(limit=2, window=120.0),
    ContestPolicy(limit=5, window=3600.0),
]


def by(manager: str | None, sim: Sim, seconds_ago: float = 0.0) -> tuple[Writer, ...]:
    when = (sim.now - timedelta(seconds=seconds_ago)).replace(microsecond=0)
    return (Writer(ROUTE, manager, rfc3339(when), "Apply", PATHS),)


def at_step_1(policy: ContestPolicy | None = None) -> Sim:
    sim = Sim(weights=GIT, contest=policy)
    sim.settle()
    assert sim.phase == Phase.PROGRESSING and sim.canary == 5
    return sim


def revert(sim: Sim, manager: str | None = "kustomize-controller", after: float = 10) -> Any:
    """The GitOps tool re-applies Git's weights ``after`` seconds later; one reconcile."""
    sim.tick(after)
    sim.weights = GIT
    return sim.decide(writers=by(manager, sim))


def contested(sim: Sim) -> bool:
    c = sim.status.condition(Cond.CONTESTED)
    return c is not None and c.status == "True"


@pytest.mark.parametrize("policy", POLICIES, ids=lambda p: f"K{p.limit}")
def test_the_kth_revert_pauses_with_contested_and_stops_writing(policy: ContestPolicy) -> None:
    k = policy.limit
    sim = at_step_1(policy)
    writes_before = len(sim.writes)
    for _ in range(k - 1):
        plan = revert(sim)
        assert plan.write_routes and any(e.reason == Reason.DRIFT for e in plan.events)
    assert not contested(sim) and sim.phase == Phase.PROGRESSING
    plan = revert(sim)
    assert not plan.write_routes and sim.canary == 10  # Git's weights stay: no fight
    assert sim.phase == Phase.PAUSED and sim.status.pause_reason == contest.PAUSE_CONTESTED
    cond = sim.status.condition(Cond.CONTESTED)
    assert cond is not None and cond.status == "True" and cond.reason == Reason.CONTESTED
    for needle in ("kustomize-controller", "spec.rules", PATHS[0], ".spec.ignore", "resume"):
        assert needle in cond.message
    window = format_duration(policy.window)
    assert f"reverted the weights {k} times within {window} " in cond.message
    assert sim.status.contest is not None and len(sim.status.contest.reverts) == k
    warnings = [e for e in plan.events if e.type == "Warning" and e.reason == Reason.CONTESTED]
    assert len(warnings) == 1 and "kustomize-controller" in warnings[0].message
    # the step's write and K - 1 re-assertions: never more than K writes in the window
    assert len(sim.writes) - writes_before + 1 == k
    for _ in range(3):  # later reverts: nothing written, nothing new said
        plan = revert(sim)
        assert not plan.write_routes and not plan.events


@pytest.mark.parametrize(
    "policy", [p for p in POLICIES if p.limit > 1], ids=lambda p: f"K{p.limit}"
)
def test_reverts_spread_wider_than_the_window_never_contest(policy: ContestPolicy) -> None:
    k = policy.limit
    sim = at_step_1(policy)
    sim.rollout = sim.rollout.model_copy(
        update={"spec": sim.rollout.spec.model_copy(update={"progress_deadline": "24h"})}
    )
    for _ in range(2 * k):
        plan = revert(sim, after=policy.window / (k - 1) + 1)
        assert plan.write_routes
    assert not contested(sim) and len(sim.status.contest.reverts if sim.status.contest else []) < k


@pytest.mark.parametrize("policy", POLICIES, ids=lambda p: f"K{p.limit}")
@pytest.mark.parametrize("seed", range(4))
def test_never_more_than_k_writes_in_any_window(policy: ContestPolicy, seed: int) -> None:
    """Reverts at random gaps (some wider than the window): every window of the policy's
    length holds at most K weight writes, from the step's write until the contest."""
    rng = random.Random(seed)
    sim = at_step_1(policy)
    sim.rollout = sim.rollout.model_copy(
        update={"spec": sim.rollout.spec.model_copy(update={"progress_deadline": "240h"})}
    )
    times = [sim.now]
    for _ in range(8 * policy.limit):
        plan = revert(sim, after=rng.choice([1, 5, policy.window / 3, policy.window + 1]))
        if plan.write_routes:
            times.append(sim.now)
    for start in times:
        inside = [t for t in times if timedelta(0) <= t - start < timedelta(seconds=policy.window)]
        assert len(inside) <= policy.limit, (start, times)


def test_the_same_revert_seen_twice_counts_once() -> None:
    sim = at_step_1()
    revert(sim)
    writer = by("kustomize-controller", sim)
    for _ in range(K):  # our write did not land (or the watch replays): same managedFields time
        sim.weights = GIT
        sim.decide(writers=writer)
    assert not contested(sim)
    assert sim.status.contest is not None and len(sim.status.contest.reverts) == 1


@pytest.mark.parametrize("manager", [None, "canary"])
def test_no_foreign_manager_is_plain_drift(manager: str | None) -> None:
    sim = at_step_1()
    for _ in range(K + 1):
        plan = revert(sim, manager=manager)
        assert plan.write_routes
    assert not contested(sim) and sim.status.contest is None
    assert sim.status.condition(Cond.CONTESTED) is None  # never shown


def test_a_write_older_than_the_step_is_not_a_revert() -> None:
    sim = at_step_1()
    for _ in range(K + 1):
        sim.tick(10)
        sim.weights = GIT
        started = sim.now - timedelta(hours=1)  # Git's apply predates our step
        writer = (Writer(ROUTE, "kustomize-controller", rfc3339(started), "Apply", PATHS),)
        assert sim.decide(writers=writer).write_routes
    assert not contested(sim)


def test_a_revert_in_the_same_second_as_the_step_start_counts() -> None:
    """managedFields times have one-second resolution; a GitOps tool that reverts within
    the second our step started must count, or K + 1 writes happen (seen with Flux)."""
    sim = at_step_1()
    writes_before = len(sim.writes)
    sim.tick(0.4)  # still the step's first second
    sim.weights = GIT
    assert sim.decide(writers=by("kustomize-controller", sim)).write_routes
    for _ in range(K - 1):
        revert(sim, after=2)
    assert contested(sim)
    assert len(sim.writes) - writes_before + 1 <= K


def test_a_write_seen_in_the_pass_that_starts_the_step_is_no_revert() -> None:
    """GitOps applies a rule change that keeps our weights, and a promote starts the next
    step within the same second: the pass that starts asserting the new weights has
    nothing of ours to revert yet (seen with Flux and the watch-driven operator)."""
    sim = at_step_1()
    sim.tick(0.3)
    flux = by("kustomize-controller", sim)  # same second as the promote below
    plan = sim.decide(writers=flux, command=Command("promote", "p1"))
    assert plan.write_routes
    assert sim.status.contest is None and sim.status.condition(Cond.CONTESTED) is None


# One row per owning phase: what a contest does to it (docs/state-machine.md).
@pytest.mark.parametrize(
    ("setup", "phase_after"),
    [
        ("progressing", Phase.PAUSED),
        ("paused", Phase.PAUSED),
        ("aborted", Phase.ABORTED),
        ("rolledback", Phase.ROLLED_BACK),
    ],
)
def test_contest_per_phase(setup: str, phase_after: Phase) -> None:
    sim = at_step_1()
    if setup == "paused":
        sim.command("pause")
    elif setup == "aborted":
        sim.command("abort")
        sim.settle()
    elif setup == "rolledback":
        sim.command("abort")
        sim.settle()
        sim.status = sim.status.model_copy(update={"phase": Phase.ROLLED_BACK.value})
    want = sim.weights
    git = live(40, 60)
    for _ in range(K):
        sim.tick(10)
        sim.weights = git
        sim.decide(writers=by("argocd-controller", sim))
    assert contested(sim) and sim.phase == phase_after
    assert sim.weights == git and want != git
    cond = sim.status.condition(Cond.CONTESTED)
    assert cond is not None and "ignoreDifferences" in cond.message


def test_a_contested_rollback_keeps_its_phase_and_ends_at_its_deadline() -> None:
    """RollingBack is never paused: contested, it stops writing, keeps its phase and ends
    RolledBack (RollbackUnconfirmed) at progressDeadline, still contested."""
    sim = at_step_1()
    sim.tick(30)
    sim.analyse(Verdict.FAIL)
    sim.tick(30)
    sim.ready = None  # the gateway has not confirmed the rollback's write yet
    plan = sim.analyse(Verdict.FAIL)
    assert sim.phase == Phase.ROLLING_BACK and plan.write_routes and sim.canary == 0
    for _ in range(K):
        revert(sim)
    assert contested(sim) and sim.phase == Phase.ROLLING_BACK and sim.canary == 10
    assert sim.status.pause_reason is None  # not paused: the rollback goes on
    warnings = [e for e in sim.plans[-1].events if e.reason == Reason.CONTESTED]
    assert len(warnings) == 1 and "(stays RollingBack)" in warnings[0].message
    sim.ready = True
    before = len(sim.plans)
    sim.tick(600)  # progressDeadline (10m) since the rollback began
    sim.settle(writers=by("kustomize-controller", sim, seconds_ago=600))
    assert sim.phase == Phase.ROLLED_BACK and sim.canary == 10 and contested(sim)
    assert not any(p.write_routes for p in sim.plans[before:])
    reasons = [e.reason for p in sim.plans[before:] for e in p.events]
    assert Reason.ROLLBACK_UNCONFIRMED in reasons
    assert "not confirmed within progressDeadline" in sim.status.message


def test_pending_is_never_contested() -> None:
    """Pending asserts no weights (the route is not ready yet): a GitOps tool's writes
    are neither reverted nor counted."""
    sim = Sim(weights=GIT, ready=False)
    sim.settle()
    assert sim.phase == Phase.PENDING
    for _ in range(K + 1):
        plan = revert(sim)
        assert not plan.write_routes
    assert sim.phase == Phase.PENDING and sim.status.contest is None
    assert sim.status.condition(Cond.CONTESTED) is None


def test_policy_defaults_and_bounds() -> None:
    assert ContestPolicy() == ContestPolicy(limit=3, window=600.0)
    assert (CONTEST_LIMIT, CONTEST_WINDOW) == (3, 600.0)
    for bad in ({"limit": 0}, {"window": 0.0}, {"window": -1.0}):
        with pytest.raises(ValueError):
            ContestPolicy(**bad)  # type: ignore[arg-type]


def test_hands_off_phases_never_count() -> None:
    sim = at_step_1()
    sim.command("promote-full")
    sim.settle()
    assert sim.phase == Phase.SUCCEEDED
    for _ in range(K + 1):
        plan = revert(sim)
        assert not plan.write_routes
    assert sim.status.contest is None


def test_resume_re_asserts_once_and_counting_starts_again() -> None:
    sim = at_step_1()
    for _ in range(K):
        revert(sim)
    assert contested(sim)
    sim.tick(5)
    sim.command("resume")
    plan = sim.settle(writers=by("kustomize-controller", sim, seconds_ago=5))
    assert sim.phase == Phase.PROGRESSING and sim.canary == 5 and not contested(sim)
    cond = sim.status.condition(Cond.CONTESTED)
    assert cond is not None and cond.status == "False" and cond.reason == Reason.NOT_CONTESTED
    assert not plan.write_routes  # settled: written once, live
    for _ in range(K - 1):  # the fight goes on: K more reverts are needed again
        assert revert(sim).write_routes
    assert not contested(sim)
    revert(sim)
    assert contested(sim) and sim.phase == Phase.PAUSED


def test_resume_in_a_contested_rollback_keeps_the_phase() -> None:
    sim = at_step_1()
    sim.command("abort")
    sim.settle()
    for _ in range(K):
        revert(sim)
    assert contested(sim) and sim.phase == Phase.ABORTED and sim.canary == 10
    plan = sim.command("resume")
    assert plan.write_routes and sim.canary == 0 and sim.phase == Phase.ABORTED
    assert sim.status.last_command is not None
    assert sim.status.last_command.result.startswith("applied")


def test_resume_of_an_uncontested_rollback_is_still_ignored() -> None:
    sim = at_step_1()
    sim.command("abort")
    sim.settle()
    sim.command("resume")
    assert sim.status.last_command is not None
    assert sim.status.last_command.result.startswith("ignored")


def test_pause_keeps_the_contest() -> None:
    sim = at_step_1()
    for _ in range(K):
        revert(sim)
    plan = sim.decide(command=Command("pause", "p1"))
    assert contested(sim) and not plan.write_routes


# -- fieldmanagers: managedFields → the last writer of spec.rules --------------------------


def entry(manager: str, time: str, *fields: str, operation: str = "Apply", sub: str = "") -> Any:
    spec = {f"f:{f}": {} for f in fields}
    out: dict[str, Any] = {
        "manager": manager,
        "operation": operation,
        "time": time,
        "fieldsType": "FieldsV1",
        "fieldsV1": {"f:spec": spec} if not sub else {"f:status": {}},
    }
    if sub:
        out["subresource"] = sub
    return out


@pytest.mark.parametrize(
    ("entries", "owner"),
    [
        ([], (None, None, None)),
        (
            [entry("canary", "2026-01-01T00:00:09Z", "rules", operation="Update")],
            (None, None, None),
        ),
        (
            [
                entry("kubectl-client-side-apply", "2026-01-01T00:00:01Z", "rules", "parentRefs"),
                entry("kustomize-controller", "2026-01-01T00:00:05Z", "rules", "hostnames"),
                entry("traefik", "2026-01-01T00:00:09Z", "rules", sub="status"),
                entry("canary", "2026-01-01T00:00:09Z", "rules", operation="Update"),
            ],
            ("kustomize-controller", "2026-01-01T00:00:05Z", "Apply"),
        ),
        (
            [entry("kustomize-controller", "2026-01-01T00:00:05Z", "hostnames")],
            (None, None, None),
        ),  # owns other fields, not the rules
    ],
)
def test_rules_owner(entries: list[Any], owner: tuple[str | None, ...]) -> None:
    assert rules_owner({"metadata": {"managedFields": entries}}) == owner


def test_writers_name_the_weight_paths_of_each_route() -> None:
    res = ResolvedRoute(
        kind="HTTPRoute",
        name="api-route",
        namespace="ns",
        route_index=0,
        rules=(
            ResolvedRule(index=1, stable=0, canary=1),
            ResolvedRule(index=3, stable=2, canary=None),
        ),
    )
    assert weight_paths(res) == (
        "/spec/rules/1/backendRefs/0/weight",
        "/spec/rules/1/backendRefs/1/weight",
        "/spec/rules/3/backendRefs/2/weight",
    )
    route = {
        "metadata": {"managedFields": [entry("argocd-controller", "2026-01-01T00:00:05Z", "rules")]}
    }
    (w,) = writers({"HTTPRoute/api-route": route}, [res])
    assert (w.route, w.manager, w.operation) == (
        "HTTPRoute/api-route",
        "argocd-controller",
        "Apply",
    )
    assert w.paths == weight_paths(res)


@pytest.mark.parametrize(
    ("manager", "needle"),
    [
        ("kustomize-controller", ".spec.ignore"),
        ("argocd-controller", "RespectIgnoreDifferences=true"),
        ("helm", "stop helm from writing the weights"),
    ],
)
def test_recipe_per_manager(manager: str, needle: str) -> None:
    text = contest.recipe(manager)
    assert needle in text and "docs/gitops.md" in text and "canary resume" in text
