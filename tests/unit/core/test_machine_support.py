"""A tiny fake operator for the state-machine tests: observe, decide, execute, repeat.

``Sim`` keeps the live raw weights of one route rule, applies each plan the way the
operator does (write the desired weights, merge-patch the status), and lets a test move
the clock. Tests read Given / When / Then on top of it.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from canary.core.models import AppliedWeight, Rollout, RolloutSpec, RolloutStatus
from canary.core.phases import Verdict
from canary.core.results import AnalysisResult, MetricResult
from canary.core.rollout.machine import decide
from canary.core.rollout.observation import Command, Observation, RuleRef
from canary.core.rollout.reconcile_plan import Plan
from canary.core.rollout.settings import ContestPolicy
from canary.core.rollout.statusdiff import apply

ROUTE = "HTTPRoute/api-route"
RULES = (RuleRef(ROUTE, 0),)
T0 = datetime(2025, 1, 1, 12, 0, 0, tzinfo=UTC)


def make_spec(**overrides: Any) -> RolloutSpec:
    doc: dict[str, Any] = {
        "routes": [{"name": "api-route"}],
        "stable": {"name": "user-service-v2", "port": 80},
        "canary": {"name": "user-service-v3", "port": 80},
        "steps": [{"weight": 5, "pause": "1m"}, {"weight": 50, "pause": "1m"}, {"weight": 100}],
        "analysis": {
            "interval": "30s",
            "metrics": [{"name": "error-rate", "template": "error-rate", "max": 0.05}],
        },
    }
    doc.update(overrides)
    return RolloutSpec.model_validate(doc)


def make_rollout(spec: RolloutSpec | None = None, generation: int = 1) -> Rollout:
    return Rollout(
        metadata={"name": "api", "namespace": "app-team-a", "generation": generation},
        spec=spec or make_spec(),
    )


def live(canary: int, stable: int | None = None) -> tuple[AppliedWeight, ...]:
    return (
        AppliedWeight(
            route=ROUTE, rule=0, stable=100 - canary if stable is None else stable, canary=canary
        ),
    )


def check(
    verdict: Verdict, value: float = 0.01, stable: float = 0.01, samples: int = 500, at: str = ""
) -> AnalysisResult:
    return AnalysisResult(
        verdict=verdict,
        results=(
            MetricResult(
                name="error-rate",
                verdict=verdict,
                value=value,
                stable_value=stable,
                samples=samples,
                bound="max 0.05",
                query="sum(rate(x[30s]))",
            ),
        ),
        time=at,
    )


@dataclass
class Sim:
    """Given a rollout and a route with ``weights`` live, run decisions like the operator."""

    rollout: Rollout = field(default_factory=make_rollout)
    status: RolloutStatus = field(default_factory=RolloutStatus)
    weights: tuple[AppliedWeight, ...] = field(default_factory=lambda: live(10, 90))
    now: datetime = T0
    ready: bool | None = True
    verified: bool | None = True
    plans: list[Plan] = field(default_factory=list)
    writes: list[tuple[AppliedWeight, ...]] = field(default_factory=list)
    contest: ContestPolicy | None = None  # the operator's --contest-limit/-window (None: default)

    def observe(self, **overrides: Any) -> Observation:
        base = Observation(
            addressed=RULES,
            live_weights=self.weights,
            route_ready=self.ready,
            split_verified=self.verified,
            effective_share=self.weights[0].canary / 100 if self.weights else None,
        )
        return replace(base, **overrides)

    def decide(self, **overrides: Any) -> Plan:
        """One reconcile: observe, decide, then write routes and status as told."""
        plan = decide(self.rollout, self.status, self.observe(**overrides), self.now, self.contest)
        self.plans.append(plan)
        if plan.write_routes:
            self.weights = plan.desired
            self.writes.append(plan.desired)
        doc = apply(self.status.dump(), plan.status_patch)
        self.status = RolloutStatus.model_validate(doc)
        assert self.status == plan.status
        return plan

    def settle(self, **overrides: Any) -> Plan:
        """Reconcile until nothing is written any more (at most 6 times)."""
        plan = self.decide(**overrides)
        for _ in range(6):
            if not plan.write_routes and not plan.status_patch:
                break
            plan = self.decide(**{k: v for k, v in overrides.items() if k != "command"})
        return plan

    def tick(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)

    def command(self, verb: str, cid: str | None = None) -> Plan:
        return self.decide(command=Command(verb, cid or f"{verb}-{len(self.plans)}"))

    def analyse(self, verdict: Verdict, **kw: Any) -> Plan:
        return self.decide(analysis=check(verdict, **kw))

    @property
    def phase(self) -> str | None:
        return self.status.phase

    @property
    def canary(self) -> int:
        return self.weights[0].canary


def test_sim_writes_the_first_step_and_patches_status() -> None:
    sim = Sim()
    plan = sim.decide()
    assert plan.write_routes and sim.canary == 5
    assert sim.phase == "Progressing"
