"""Turning one completed analysis check into status history, a verdict and Events.

The analysis package judges each metric; this module applies the rollout-level policy
the state machine owns: ``noData`` (hold → the check holds, fail → it counts as a
failure, pass → it passes), ``minRequests`` as a guard on passes, the last 10
measurements per metric in ``status.analysis``, the stable baseline for the final
100 % step, and one Warning Event per failing metric naming its value and bound
(users must see the numbers behind a decision: flagger#1810).
"""

from __future__ import annotations

import math

from canary.core.models import Analysis, Measurement, MetricStatus
from canary.core.phases import Reason, Verdict
from canary.core.results import AnalysisResult, MetricResult
from canary.core.rollout.reconcile_plan import Event

HISTORY = 10  # measurements kept per metric (as Argo Rollouts)
MAX_METRICS = 10  # status.analysis maxItems
HOLDING_VERDICTS = frozenset({Verdict.INCONCLUSIVE, Verdict.NO_DATA, Verdict.ERROR})


def clip(text: str, limit: int) -> str:
    """``text`` cut to ``limit`` characters (status strings carry maxLength)."""
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _finite(value: float | None) -> float | None:
    return value if value is not None and math.isfinite(value) else None


def verdict_of(result: AnalysisResult, policy: Analysis) -> Verdict:
    """The check's verdict after the noData policy and the minRequests guard.

    A pass whose metrics report request counts, all below ``minRequests``, is
    inconclusive: the analysis package should already say so; this keeps the machine
    safe if a result slips through.
    """
    verdict = result.verdict
    if verdict == Verdict.NO_DATA and policy.no_data != "hold":
        verdict = Verdict.FAIL if policy.no_data == "fail" else Verdict.PASS
    if verdict == Verdict.PASS:
        counted = [r.samples for r in result.results if r.samples > 0 and not r.dry_run]
        if counted and max(counted) < policy.min_requests:
            verdict = Verdict.INCONCLUSIVE
    return verdict


def _measurement(r: MetricResult, at: str) -> Measurement:
    return Measurement(
        value=_finite(r.value),
        stable_value=_finite(r.stable_value),
        bound=clip(r.bound, 256),
        samples=max(r.samples, 0),
        dry_run=r.dry_run,
        verdict=r.verdict.value,
        time=at,
        query=clip(r.query, 8192),
        message=clip(r.message, 1024),
    )


def record(history: list[MetricStatus], result: AnalysisResult, at: str) -> list[MetricStatus]:
    """History with this check appended: the last 10 measurements of at most 10 metrics."""
    by_name = {m.name: list(m.measurements) for m in history}
    order = [m.name for m in history]
    for r in result.results:
        name = clip(r.name, 63)
        if name not in by_name:
            by_name[name] = []
            order.append(name)
        by_name[name] = [*by_name[name], _measurement(r, at)][-HISTORY:]
    return [MetricStatus(name=n, measurements=by_name[n]) for n in order][-MAX_METRICS:]


BASELINE_REQUESTS = ".requests"  # status.baseline["<metric>.requests"]: stable requests behind it


def baseline(current: dict[str, float], result: AnalysisResult, canary: int) -> dict[str, float]:
    """Stable values of passing metrics, kept while stable still gets traffic (< 100),
    with the stable request count each rested on (key ``<metric>.requests``; metric names
    are DNS labels, so the key cannot collide)."""
    if canary >= 100:
        return current
    out = dict(current)
    for r in result.results:
        stable = _finite(r.stable_value)
        if r.verdict == Verdict.PASS and stable is not None:
            name = clip(r.name, 63)
            out[name] = stable
            if r.stable_samples > 0:
                out[name + BASELINE_REQUESTS] = float(r.stable_samples)
            else:
                out.pop(name + BASELINE_REQUESTS, None)
    return out


def _num(value: float | None) -> str:
    return "no data" if value is None else f"{value:.4g}"


def failing_events(result: AnalysisResult) -> list[Event]:
    """One Warning per failing metric: name, canary value, bound, stable value, samples;
    a dryRun metric's says so (reason AnalysisDryRun) and is never acted on."""
    return [
        Event(
            "Warning",
            Reason.ANALYSIS_DRY_RUN if r.dry_run else Reason.ANALYSIS_FAILED,
            clip(
                ("dry run, not acted on: " if r.dry_run else "")
                + f"{r.name}: canary {_num(r.value)} violates {r.bound or 'its bound'} "
                f"(stable {_num(r.stable_value)}, {r.samples} requests)"
                + (f": {r.message}" if r.message else ""),
                1024,
            ),
        )
        for r in result.results
        if r.verdict == Verdict.FAIL
    ]


def summary(result: AnalysisResult) -> str:
    """One line: each metric's verdict and value — or, for a query that failed, why (the
    adapter's short sanitized message: an unreachable or refused Prometheus, bad PromQL)."""
    parts = [
        f"{r.name} error: {r.message}"
        if r.verdict == Verdict.ERROR and r.message
        else f"{r.name} {r.verdict.value}{' (dry run)' if r.dry_run else ''} ({_num(r.value)})"
        for r in result.results
    ]
    return "; ".join(parts) or "no metrics"
