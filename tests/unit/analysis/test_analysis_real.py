"""The real-stack half of the analysis benchmark (benchmarks/analysis_real.py): its pure
helpers — outcome names, the ranges 20 real runs are compared with, the table — and the
simulation's scaled timing it is compared against."""

from __future__ import annotations

import importlib.util
import math
import random
import statistics
import sys
from pathlib import Path
from types import ModuleType

from canary.core.models import Metric


def _load(name: str) -> ModuleType:
    path = Path(__file__).resolve().parents[3] / "benchmarks" / f"{name}.py"
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


ar = _load("analysis_real")
aq = sys.modules["analysis_quality"]


def test_outcomes_are_named_as_the_simulation_names_them() -> None:
    msg_fail = "rolling back: failed check 2 exceeds failureLimit 1: error-rate fail"
    msg_deadline = "stable 100 / canary 0 restored: step 1/4 held past progressDeadline 100s"
    assert ar.classify("RollingBack", msg_fail) == "rollback-failure"
    assert ar.classify("RolledBack", msg_deadline) == "rollback-deadline"
    assert ar.classify("RolledBack", "rolled back by hand") == "rollback-other"
    assert ar.classify("Succeeded", "") == "succeeded"
    assert ar.classify("Progressing", "step 2/4") == "unfinished"
    assert ar.classify(None, "") == "unfinished"
    assert ar.classify("Paused", "") == "other:Paused"


def test_count_range_is_the_central_95_percent_of_the_binomial() -> None:
    assert ar.count_range(0.0, 20) == (0, 0)
    assert ar.count_range(1.0, 20) == (20, 20)
    lo, hi = ar.count_range(0.5, 20)
    assert (lo, hi) == (6, 14)  # P(X <= 5) = 0.021, P(X <= 6) = 0.058: 6..14
    lo, hi = ar.count_range(0.04, 20)
    assert lo == 0 and 2 <= hi <= 3
    # the range holds >= 95 % of the mass
    p, n = 0.3, 20
    lo, hi = ar.count_range(p, n)
    mass = sum(math.comb(n, k) * p**k * (1 - p) ** (n - k) for k in range(lo, hi + 1))
    assert mass >= 0.95


def test_median_range_contains_the_median_of_a_typical_sample() -> None:
    values = [float(x) for x in range(1, 101)]
    lo, hi = ar.median_range(values, 20)
    assert lo < statistics.median(values) < hi
    assert lo > 20 and hi < 81  # a median of 20 is not the whole range
    rng = random.Random(1)
    inside = sum(lo <= statistics.median(rng.choices(values, k=20)) <= hi for _ in range(400))
    assert inside >= 360  # ~95 %
    assert ar.median_range(values, 1000)[1] - ar.median_range(values, 1000)[0] < hi - lo
    nan_lo, nan_hi = ar.median_range([], 20)
    assert math.isnan(nan_lo) and math.isnan(nan_hi)


def test_real_side_counts_rollbacks_deadlines_and_times() -> None:
    runs = [
        ar.RealRun("a", "+5pp errors", end="rollback-failure", checks=3, analysis_seconds=32.0),
        ar.RealRun("b", "+5pp errors", end="rollback-deadline", checks=12, analysis_seconds=125.5),
        ar.RealRun("c", "+5pp errors", end="succeeded", checks=22),
        ar.RealRun("d", "+5pp errors", end="unfinished", checks=9),
    ]
    side = ar.side_of_real(runs)
    assert (side.runs, side.rollbacks, side.deadline, side.within3) == (4, 2, 1, 1)
    assert side.checks == [3, 12] and side.seconds == [32.0, 125.5]


def test_comparison_table_puts_simulation_range_and_real_side_by_side() -> None:
    sim = ar.Side(runs=1000, rollbacks=980, deadline=950, within3=0, checks=[18] * 980,
                  seconds=[180.0] * 980)  # fmt: skip
    real = ar.Side(runs=20, rollbacks=19, deadline=19, within3=0, checks=[17] * 19,
                   seconds=[175.0] * 19)  # fmt: skip
    healthy_sim = ar.Side(runs=1000, rollbacks=0, deadline=0, within3=0, checks=[], seconds=[])
    healthy = ar.Side(runs=20, rollbacks=0, deadline=0, within3=0, checks=[], seconds=[])
    text = ar.comparison([("healthy", healthy_sim, healthy), ("+5pp errors", sim, real)])
    lines = text.splitlines()
    assert lines[2].startswith("| healthy | false rollbacks | 0/1000 = 0.0 % (≤ 0.3) | 0–0 of 20")
    assert "**0/20**" in lines[2]
    assert len(lines) == 2 + 1 + 4  # healthy with no rollbacks has no time rows
    assert "| +5pp errors | rolled back | 980/1000 = 98.0 %" in lines[3]
    assert "**19/20**" in lines[3]
    assert "| median checks to the rollback | 18 | 18–18 | 17 |" in lines[5]
    assert (
        "| 180 (checks × interval) | 180–180 | 175 (first window's start → RolledBack) |"
        in lines[6]
    )


def test_rollout_metrics_are_the_simulated_policy() -> None:
    assert tuple(Metric.model_validate(m) for m in ar.METRICS) == aq.POLICIES[ar.POLICY]
    ar.check_policy()


def test_steps_scale_the_pauses_and_end_at_100() -> None:
    assert ar.steps(ar.TIMING) == [
        {"weight": 5, "pause": "50s"},
        {"weight": 25, "pause": "50s"},
        {"weight": 50, "pause": "50s"},
        {"weight": 100, "pause": "50s"},
    ]


def test_scaled_timing_changes_the_simulated_rollout_time() -> None:
    """A healthy canary at plenty of traffic ends after its pauses: 4 steps of 5 checks at
    the recommended 1m/5m, the same number of checks at 10s/50s — the timing scales."""
    policy = aq.analysis_policy(ar.TIMING)
    assert policy.interval == "10s"
    for timing in (aq.RECOMMENDED, ar.TIMING):
        out = aq.run_rollout(
            random.Random(3),
            aq.POLICIES["significance"],
            aq.analysis_policy(timing),
            canary_rps=50 * timing.interval / 60,  # the same requests per window
            base=0.0,
            fault=ar.HEALTHY,
            form="delta",
            timing=timing,
        )
        assert out.end == "succeeded"
        assert out.checks == 4 * 5  # pause / interval checks at each of the 4 steps
