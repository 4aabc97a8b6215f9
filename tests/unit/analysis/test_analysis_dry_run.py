"""dryRun metrics (measured, recorded, reported, never acted on) and consecutivePasses."""

from __future__ import annotations

from typing import Any

import pytest

from canary.cli.render import measurement_line
from canary.core.analysis import judge, judge_metric, summarize
from canary.core.models import Analysis, Metric, RolloutSpec
from canary.core.phases import Reason, Verdict
from canary.core.results import AnalysisResult, MetricResult, Sample
from canary.core.rollout import checks
from tests.unit.core.test_machine_support import Sim, make_rollout, make_spec

KW: dict[str, Any] = dict(
    canary_requests=500,
    stable_requests=5000,
    min_requests=20,
    no_data="hold",
    baseline=None,
    query="q",
)


def _dry(**kw: Any) -> Metric:
    return Metric(name="latency-new", template="latency", dry_run=True, **kw)


def test_a_dry_run_failure_is_measured_but_not_counted() -> None:
    failing = judge_metric(_dry(max=0.2), Sample(0.9), Sample(0.1), **KW)
    assert failing.verdict == Verdict.FAIL and failing.dry_run
    passing = judge_metric(
        Metric(name="error-rate", template="error-rate", max=0.05), Sample(0.0), Sample(0.0), **KW
    )
    assert judge([failing, passing]) == Verdict.PASS
    assert judge([failing]) == Verdict.PASS  # only dry-run metrics: nothing acts
    live = MetricResult(name="x", verdict=Verdict.FAIL)
    assert judge([failing, passing, live]) == Verdict.FAIL


def test_a_dry_run_is_recorded_reported_and_named_in_events() -> None:
    failing = judge_metric(_dry(max=0.2), Sample(0.9), Sample(0.1), **KW)
    result = summarize([failing], time="2025-01-01T12:01:00Z")
    history = checks.record([], result, result.time)
    assert history[0].measurements[0].dry_run and history[0].measurements[0].verdict == "fail"
    (event,) = checks.failing_events(result)
    assert event.reason == Reason.ANALYSIS_DRY_RUN
    assert event.message.startswith("dry run, not acted on: latency-new: canary 0.9")
    assert "(dry run)" in checks.summary(result)
    policy = Analysis(min_requests=20)
    assert checks.verdict_of(result, policy) == Verdict.PASS
    shown = measurement_line("latency-new", history[0].measurements[0].dump())
    assert "fail (dry run), 500 samples" in shown


def test_dry_run_is_in_the_schema_and_round_trips() -> None:
    spec = make_spec(
        analysis={
            "metrics": [{"name": "p99", "template": "latency", "max": 0.5, "dryRun": True}],
        }
    )
    assert spec.analysis.metrics[0].dry_run
    assert RolloutSpec.model_validate(spec.dump()) == spec


def test_the_machine_never_acts_on_a_dry_run_failure() -> None:
    spec = make_spec(
        steps=[{"weight": 5, "pause": "1m"}, {"weight": 100}],
        analysis={
            "interval": "30s",
            "failureLimit": 0,
            "metrics": [
                {"name": "error-rate", "template": "error-rate", "max": 0.05},
                {"name": "latency-new", "template": "latency", "max": 0.2, "dryRun": True},
            ],
        },
    )
    sim = Sim(rollout=make_rollout(spec))
    sim.settle()
    ok = MetricResult(name="error-rate", verdict=Verdict.PASS, value=0.0, samples=500)
    dry = judge_metric(spec.analysis.metrics[1], Sample(0.9), Sample(0.1), **KW)
    for _ in range(3):
        sim.tick(30)
        plan = sim.decide(analysis=summarize([ok, dry], time=sim.now.isoformat()))
        assert {e.reason for e in plan.events} >= {Reason.ANALYSIS_DRY_RUN}
        sim.settle()
    assert sim.status.failures == 0
    assert sim.status.step_index == 1  # the pause ended on passing checks
    measured = {m.name: m.measurements[-1] for m in sim.status.analysis}
    assert measured["latency-new"].dry_run and measured["latency-new"].verdict == "fail"


def _check(verdict: Verdict, at: str) -> AnalysisResult:
    return AnalysisResult(
        verdict=verdict,
        results=(MetricResult(name="error-rate", verdict=verdict, value=0.0, samples=500),),
        time=at,
    )


@pytest.mark.parametrize(
    ("needed", "verdicts", "advances_at"),
    [
        (None, "PPPP", 2),  # default: the pause (1m) elapsed and the last check passed
        (3, "PPPP", 3),
        (3, "PFPPP", 5),  # a failure resets the run
        (3, "PIPPP", 5),  # so does an inconclusive check
        (1, "PIP", 3),
    ],
)
def test_consecutive_passes_gate_the_end_of_a_step(
    needed: int | None, verdicts: str, advances_at: int
) -> None:
    first: dict[str, Any] = {"weight": 5, "pause": "1m"}
    if needed is not None:
        first["consecutivePasses"] = needed
    spec = make_spec(
        steps=[first, {"weight": 50}],
        analysis={
            "interval": "30s",
            "failureLimit": 5,
            "metrics": [{"name": "error-rate", "template": "error-rate", "max": 0.05}],
        },
    )
    sim = Sim(rollout=make_rollout(spec))
    sim.settle()
    letters = {"P": Verdict.PASS, "F": Verdict.FAIL, "I": Verdict.INCONCLUSIVE}
    for n, letter in enumerate(verdicts, 1):
        sim.tick(30)
        sim.decide(analysis=_check(letters[letter], sim.now.isoformat()))
        sim.settle()
        if sim.status.step_index == 1:
            assert n == advances_at
            return
    pytest.fail(f"step 1 never ended (passes in a row: {sim.status.step_passes})")


def test_consecutive_passes_is_validated() -> None:
    with pytest.raises(ValueError, match=r"consecutivePasses|consecutive_passes"):
        make_spec(steps=[{"weight": 5, "pause": "1m", "consecutivePasses": 0}])
