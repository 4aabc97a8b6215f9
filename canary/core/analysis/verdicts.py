"""Judging one metric over one window, and a check as a whole.

The rules, in order (each a one-line reason in ``MetricResult.message``):

1. Too few canary requests (known count < ``minRequests``) → INCONCLUSIVE, never FAIL: at
   5 % weight a quiet minute is not evidence (Flagger fails here). This comes first, so an
   empty answer caused by *no traffic* holds instead of tripping ``noData: fail``.
2. No canary value (no series, or NaN from 0/0) → the ``noData`` policy: hold → NO_DATA
   (the step holds), fail → FAIL, pass → PASS.
3. Absolute bounds ``min``/``max`` on the canary value.
4. Relative bounds against a reference: the stable value from the same query and window,
   or — when stable has no traffic (the last step at 100 %) — the ``baseline`` recorded at
   the previous step (with the stable request count it rested on, so the test below is
   two-sample: a baseline is an estimate, not the truth). ``maxIncrease``: canary −
   reference; ``maxRatio``: canary / reference, skipped with a note when the reference is 0.
   No reference at all → skipped with a note.
5. ``significance`` (error-rate only, where the value is a proportion of counted requests):
   a violated relative bound FAILs only if a one-sided test says the canary is worse at that
   level (p < significance). Otherwise the verdict is INCONCLUSIVE — the step holds and the
   next window brings more data — not PASS, because the observed rate *did* exceed the
   bound. Absolute bounds are never softened by significance.
6. ``significance`` on a ``latency`` quantile: a quantile q over n requests rests on the
   (1 − q)·n slowest of them; a violated relative bound FAILs only when that tail holds at
   least ``TAIL_REQUESTS`` requests (p99: 1,000 requests), else INCONCLUSIVE. One window
   of 60 requests at 5 % puts 0.6 requests in the p99 tail — the estimate is then the
   slowest request or two and trips maxRatio 1.5 in about one healthy window in ten
   (benchmarks/analysis_quality.py). Without ``significance`` it is judged as before.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from canary.core.analysis.stats import TestResult, binomial_greater, canary_worse
from canary.core.analysis.templates import DEFAULT_QUANTILE
from canary.core.models import Metric, NoDataPolicy
from canary.core.phases import Verdict
from canary.core.results import AnalysisResult, MetricResult, Sample

TAIL_REQUESTS = 10  # requests in a quantile's tail before a relative latency bound can fail


def _num(x: float) -> str:
    return f"{x:.4g}"


def _has_value(sample: Sample | None) -> bool:
    return (
        sample is not None
        and not sample.empty
        and sample.value is not None
        and not math.isnan(sample.value)
    )


def describe_bounds(metric: Metric) -> str:
    """``"max 0.05; maxIncrease 0.01"`` — the bounds as the Rollout spells them."""
    parts = [
        f"{label} {_num(value)}"
        for label, value in (
            ("min", metric.min),
            ("max", metric.max),
            ("maxIncrease", metric.max_increase),
            ("maxRatio", metric.max_ratio),
            ("significance", metric.significance),
        )
        if value is not None
    ]
    return "; ".join(parts) or "none"


def _reference(
    stable: Sample | None,
    stable_requests: float | None,
    min_requests: int,
    baseline: float | None,
    baseline_requests: float | None = None,
) -> tuple[float | None, str, float | None]:
    """(reference value, its name, its request count) for the relative bounds.

    Stable is the reference when it served traffic in the window; with fewer than
    ``minRequests`` stable requests the recorded baseline is preferred when there is one.
    """
    n = None
    usable = False
    if stable is not None and _has_value(stable):
        n = stable_requests if stable_requests is not None else stable.requests
        usable = n is None or n > 0
    if stable is not None and usable and (n is None or n >= min_requests or baseline is None):
        assert stable.value is not None
        return stable.value, "stable", n
    if baseline is not None and not math.isnan(baseline):
        return baseline, "baseline", baseline_requests or None
    return None, "", None


def _significance(
    metric: Metric, value: float, ref: float, ref_name: str, n1: float | None, n2: float | None
) -> TestResult | str:
    """The test result, or why it could not be run."""
    if metric.template != "error-rate":
        return "significance applies to error-rate and latency only"
    if n1 is None or (ref_name == "stable" and n2 is None):
        return "no request counts to test"
    if ref_name == "baseline" and n2 is None:
        return binomial_greater(value * n1, n1, ref)
    assert n2 is not None
    return canary_worse(value * n1, n1, ref * n2, n2)


def _tail(metric: Metric, n: float | None) -> float | None:
    """Requests in the latency quantile's tail: (1 − q)·n (None: count unknown)."""
    if n is None or math.isnan(n):
        return None
    return round((1 - (metric.quantile or DEFAULT_QUANTILE)) * n, 9)


def judge_metric(
    metric: Metric,
    canary: Sample,
    stable: Sample | None,
    *,
    canary_requests: float | None,
    stable_requests: float | None,
    min_requests: int,
    no_data: NoDataPolicy,
    baseline: float | None,
    query: str,
    baseline_requests: float | None = None,
) -> MetricResult:
    """Judge one metric over one window (rules in the module docstring)."""
    n1 = canary_requests if canary_requests is not None else canary.requests
    bound = describe_bounds(metric)
    stable_value = stable.value if _has_value(stable) and stable is not None else None
    n_stable = stable_requests
    if n_stable is None and stable is not None:
        n_stable = stable.requests
    stable_n = max(0, round(n_stable)) if n_stable is not None and math.isfinite(n_stable) else 0

    def result(verdict: Verdict, message: str, value: float | None = None) -> MetricResult:
        return MetricResult(
            name=metric.name,
            verdict=verdict,
            value=value,
            stable_value=stable_value,
            samples=max(0, round(n1)) if n1 is not None and not math.isnan(n1) else 0,
            stable_samples=stable_n,
            bound=bound,
            query=query,
            message=message,
            dry_run=metric.dry_run,
        )

    if n1 is not None and n1 < min_requests:
        return result(
            Verdict.INCONCLUSIVE, f"{_num(n1)} canary requests < minRequests {min_requests}"
        )
    if not _has_value(canary):
        if no_data == "fail":
            return result(Verdict.FAIL, "no data for the canary (noData: fail)")
        if no_data == "pass":
            return result(Verdict.PASS, "no data for the canary (noData: pass)")
        return result(Verdict.NO_DATA, "no data for the canary; holding (noData: hold)")
    assert canary.value is not None
    value = canary.value

    failures: list[str] = []
    if metric.min is not None and value < metric.min:
        failures.append(f"{_num(value)} < min {_num(metric.min)}")
    if metric.max is not None and value > metric.max:
        failures.append(f"{_num(value)} > max {_num(metric.max)}")

    relative: list[str] = []
    notes: list[str] = []
    ref, ref_name, n2 = _reference(
        stable, stable_requests, min_requests, baseline, baseline_requests
    )
    if metric.max_increase is not None or metric.max_ratio is not None:
        if ref is None:
            notes.append("relative bounds skipped: no stable value or baseline")
        else:
            notes.append(f"{ref_name} {_num(ref)}")
            if metric.max_increase is not None and value - ref > metric.max_increase:
                relative.append(
                    f"{_num(value)} − {ref_name} {_num(ref)} > maxIncrease "
                    f"{_num(metric.max_increase)}"
                )
            if metric.max_ratio is not None:
                if ref == 0:
                    notes.append(f"maxRatio skipped: {ref_name} is 0")
                elif value / ref > metric.max_ratio:
                    relative.append(
                        f"{_num(value)} / {ref_name} {_num(ref)} = {_num(value / ref)} > "
                        f"maxRatio {_num(metric.max_ratio)}"
                    )

    if relative and metric.significance is not None and metric.template == "latency":
        tail = _tail(metric, n1)
        if tail is not None and tail < TAIL_REQUESTS:
            why = (
                f"{'; '.join(relative)} but the quantile rests on {_num(tail)} tail requests "
                f"< {TAIL_REQUESTS} (significance)"
            )
            if failures:
                return result(Verdict.FAIL, "; ".join([*failures, why]), value)
            return result(Verdict.INCONCLUSIVE, "; ".join([why, *notes]), value)
        if tail is None:
            notes.append("no request counts for the quantile's tail; significance ignored")
    elif relative and metric.significance is not None and ref is not None:
        test = _significance(metric, value, ref, ref_name, n1, n2)
        if isinstance(test, str):
            notes.append(f"{test}; significance ignored")
        elif test.p_value >= metric.significance:
            why = (
                f"{'; '.join(relative)} but not significant "
                f"(p={_num(test.p_value)} ≥ {_num(metric.significance)}, {test.method})"
            )
            if failures:
                return result(Verdict.FAIL, "; ".join([*failures, why]), value)
            return result(Verdict.INCONCLUSIVE, "; ".join([why, *notes]), value)
        else:
            notes.append(f"p={_num(test.p_value)} < {_num(metric.significance)} ({test.method})")

    failures.extend(relative)
    if failures:
        return result(Verdict.FAIL, "; ".join([*failures, *notes]), value)
    return result(Verdict.PASS, "; ".join([f"{_num(value)} within {bound}", *notes]), value)


def error_result(metric: Metric, *, query: str, message: str) -> MetricResult:
    """A query that failed (Prometheus down, bad PromQL): ERROR, never a pass."""
    return MetricResult(
        name=metric.name,
        verdict=Verdict.ERROR,
        bound=describe_bounds(metric),
        query=query,
        message=message.splitlines()[0] if message else "query failed",
        dry_run=metric.dry_run,
    )


def judge(results: Sequence[MetricResult]) -> Verdict:
    """FAIL if any failed, else ERROR if any errored, else INCONCLUSIVE if any was
    inconclusive or held for no data, else PASS (also with no metrics). ``dryRun`` metrics
    are left out: they are measured and reported, never acted on."""
    verdicts = {r.verdict for r in results if not r.dry_run}
    if Verdict.FAIL in verdicts:
        return Verdict.FAIL
    if Verdict.ERROR in verdicts:
        return Verdict.ERROR
    if verdicts & {Verdict.INCONCLUSIVE, Verdict.NO_DATA}:
        return Verdict.INCONCLUSIVE
    return Verdict.PASS


def summarize(results: Sequence[MetricResult], *, time: str) -> AnalysisResult:
    """All metrics of one check as an ``AnalysisResult`` (``time``: end of the window)."""
    return AnalysisResult(verdict=judge(results), results=tuple(results), time=time)
