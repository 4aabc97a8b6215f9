"""Evidence across checks: quiet windows accumulate, baselines carry their request count,
the exact tails stop early without changing the answer."""

from __future__ import annotations

import math
from datetime import timedelta
from typing import Any

import pytest

from canary.core.analysis import judge_metric, measurement_plan
from canary.core.analysis.measurements import window_range
from canary.core.analysis.stats import _log_comb, binomial_greater, fisher_greater
from canary.core.analysis.templates import Target
from canary.core.models import Condition, Measurement, Metric, MetricStatus, RolloutStatus
from canary.core.phases import Verdict
from canary.core.results import AnalysisResult, MetricResult, Sample
from canary.core.rollout import checks
from canary.core.rollout.schedule import analysis_window, rfc3339, sparse_since
from tests.unit.core.test_machine_support import T0, make_spec

SPEC = make_spec(
    analysis={
        "interval": "1m",
        "minRequests": 20,
        "metrics": [
            {"name": "error-rate", "template": "error-rate", "flavor": "traefik", "max": 0.05}
        ],
    }
)


def at(minutes: float) -> str:
    return rfc3339(T0 + timedelta(minutes=minutes))


def status(*checks_: tuple[float, str, int], **fields: Any) -> RolloutStatus:
    """Verified at T0; ``checks_``: (minute, verdict, canary requests) of error-rate."""
    cond = Condition(type="SplitVerified", status="True", last_transition_time=at(0))
    history = [Measurement(verdict=v, samples=n, time=at(m), value=0.0) for m, v, n in checks_]
    last = at(checks_[-1][0]) if checks_ else None
    base: dict[str, Any] = {
        "phase": "Progressing",
        "step_index": 0,
        "verified_at": at(0),
        "last_analysis_at": last,
        "conditions": [cond],
        "analysis": [MetricStatus(name="error-rate", measurements=history)] if history else [],
    }
    base.update(fields)
    return RolloutStatus.model_validate(base)


@pytest.mark.parametrize(
    ("history", "now", "start", "seconds"),
    [
        ([], 1, 0, 60),  # first check: one interval
        ([(1, "pass", 300)], 2, 1, 60),  # the last check had enough requests
        ([(1, "inconclusive", 12)], 2, 0, 120),  # quiet: reach back to the verification
        ([(1, "pass", 30), (2, "inconclusive", 12), (3, "inconclusive", 9)], 4, 1, 180),
        ([(1, "inconclusive", 300)], 2, 1, 60),  # inconclusive for another reason
        ([(1, "fail", 12)], 2, 1, 60),
    ],
)
def test_quiet_checks_widen_the_next_window(
    history: list[tuple[float, str, int]], now: float, start: float, seconds: float
) -> None:
    window = analysis_window(SPEC, status(*history), T0 + timedelta(minutes=now))
    assert window is not None
    assert (window.start, window.seconds) == (T0 + timedelta(minutes=start), seconds)


def test_checks_before_the_verification_do_not_count() -> None:
    s = status((1, "inconclusive", 5), verified_at=at(1.5))
    assert sparse_since(SPEC, s) is None
    assert sparse_since(SPEC, status((1, "inconclusive", 5), verified_at=None)) is None


def test_the_plan_renders_the_widened_window() -> None:
    custom = SPEC.analysis.model_copy(
        update={
            "metrics": [
                *SPEC.analysis.metrics,
                Metric(name="custom", query='sum(x{b="{{backend}}"}[{{interval}}])', flavor="app"),
            ]
        }
    )
    spec = SPEC.model_copy(update={"analysis": custom})
    plan = measurement_plan(spec, namespace="a", targets=[Target(route="r", rule=0)], window=120.0)
    builtins, custom_ = plan[:2], plan[2:]
    assert all("offset 2m)" in q.value and "offset 2m)" in q.requests for q in builtins)
    assert all("[2m]" in q.value and "offset 2m)" in q.requests for q in custom_)
    default = measurement_plan(spec, namespace="a", targets=[Target("r", 0)])
    assert "offset 1m)" in default[0].value
    assert (window_range(59.2), window_range(0.0), window_range(180.0)) == ("60s", "1s", "180s")


def _metric(**kw: Any) -> Metric:
    return Metric(name="error-rate", template="error-rate", **kw)


def test_baseline_keeps_the_stable_request_count() -> None:
    r = MetricResult(
        name="error-rate", verdict=Verdict.PASS, stable_value=0.002, stable_samples=600
    )
    kept = checks.baseline({}, AnalysisResult(Verdict.PASS, (r,)), 50)
    assert kept == {"error-rate": 0.002, "error-rate.requests": 600.0}
    unknown = MetricResult(name="error-rate", verdict=Verdict.PASS, stable_value=0.003)
    assert checks.baseline(kept, AnalysisResult(Verdict.PASS, (unknown,)), 50) == {
        "error-rate": 0.003
    }
    assert checks.baseline(kept, AnalysisResult(Verdict.PASS, (r,)), 100) == kept


def test_a_baseline_with_its_count_is_tested_two_sample() -> None:
    # 14 errors in 1,000 at 100 % vs a baseline of 0 errors in 600: the binomial against a
    # rate of exactly 0 says "impossible"; the two-sample test knows 0/600 is an estimate
    m = _metric(max_increase=0.01, significance=0.001)
    kw: dict[str, Any] = dict(
        canary_requests=1000, stable_requests=None, min_requests=20, no_data="hold", query="q"
    )
    point = judge_metric(m, Sample(0.014), None, baseline=0.0, **kw)
    assert point.verdict == Verdict.FAIL and "(binomial)" in point.message
    counted = judge_metric(m, Sample(0.014), None, baseline=0.0, baseline_requests=600, **kw)
    assert counted.verdict == Verdict.INCONCLUSIVE and "fisher" in counted.message
    assert judge_metric(m, Sample(0.014), Sample(0.0), **{**kw, "stable_requests": 700},
                        baseline=None).stable_samples == 700  # fmt: skip


def _full_binomial(x: int, n: int, p: float) -> float:
    return sum(
        math.exp(_log_comb(n, k) + k * math.log(p) + (n - k) * math.log1p(-p))
        for k in range(x, n + 1)
    )


def _full_fisher(x1: int, n1: int, x2: int, n2: int) -> float:
    total, errors = n1 + n2, x1 + x2
    den = _log_comb(total, n1)
    return sum(
        math.exp(_log_comb(errors, k) + _log_comb(total - errors, n1 - k) - den)
        for k in range(x1, min(n1, errors) + 1)
    )


@pytest.mark.parametrize(
    ("x", "n", "p"), [(1, 10, 0.1), (30, 3000, 0.01), (5, 3000, 0.001), (60, 60000, 0.001)]
)
def test_binomial_tail_stops_early_without_changing_the_answer(x: int, n: int, p: float) -> None:
    assert binomial_greater(x, n, p).p_value == pytest.approx(_full_binomial(x, n, p), rel=1e-12)


@pytest.mark.parametrize(
    ("x1", "n1", "x2", "n2"), [(3, 4, 1, 4), (3, 1000, 5, 19000), (20, 300, 10, 5700)]
)
def test_fisher_tail_stops_early_without_changing_the_answer(
    x1: int, n1: int, x2: int, n2: int
) -> None:
    assert fisher_greater(x1, n1, x2, n2) == pytest.approx(_full_fisher(x1, n1, x2, n2), rel=1e-12)
