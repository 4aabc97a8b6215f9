"""Verdict rules, table-driven: one row, one assert."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest

from canary.core.analysis.verdicts import (
    describe_bounds,
    error_result,
    judge,
    judge_metric,
    summarize,
)
from canary.core.models import Metric, NoDataPolicy
from canary.core.phases import Verdict
from canary.core.results import MetricResult, Sample

NAN = float("nan")


def metric(**kw: Any) -> Metric:
    kw.setdefault("name", "errors")
    kw.setdefault("template", "error-rate")
    return Metric(**kw)


@dataclass(frozen=True)
class Row:
    why: str
    metric: Metric
    canary: Sample
    stable: Sample | None
    verdict: Verdict
    message: str  # substring of the message
    canary_requests: float | None = 100
    stable_requests: float | None = 1000
    min_requests: int = 20
    no_data: NoDataPolicy = "hold"
    baseline: float | None = None

    def __str__(self) -> str:
        return self.why


ROWS = [
    Row("too few requests", metric(max=0.05), Sample(0.5), Sample(0.0), Verdict.INCONCLUSIVE,
        "12 canary requests < minRequests 20", canary_requests=12),
    Row("too few requests beats no data", metric(max=0.05), Sample(None, empty=True), None,
        Verdict.INCONCLUSIVE, "0 canary requests", canary_requests=0, no_data="fail"),
    Row("requests from the sample", metric(max=0.05), Sample(0.5, requests=3), None,
        Verdict.INCONCLUSIVE, "3 canary requests", canary_requests=None),
    Row("no data, hold", metric(max=0.05), Sample(None, empty=True), None, Verdict.NO_DATA,
        "holding (noData: hold)"),
    Row("no data, fail", metric(max=0.05), Sample(None, empty=True), None, Verdict.FAIL,
        "noData: fail", no_data="fail"),
    Row("no data, pass", metric(max=0.05), Sample(None, empty=True), None, Verdict.PASS,
        "noData: pass", no_data="pass"),
    Row("NaN is no data", metric(max=0.05), Sample(NAN), None, Verdict.NO_DATA, "no data"),
    Row("max passes", metric(max=0.05), Sample(0.01), Sample(0.0), Verdict.PASS,
        "0.01 within max 0.05"),
    Row("max fails", metric(max=0.05), Sample(0.12), Sample(0.0), Verdict.FAIL, "0.12 > max 0.05"),
    Row("min fails", metric(template="request-rate", min=5.0), Sample(1.0), None, Verdict.FAIL,
        "1 < min 5"),
    Row("maxIncrease fails", metric(max_increase=0.01), Sample(0.05), Sample(0.02), Verdict.FAIL,
        "0.05 − stable 0.02 > maxIncrease 0.01"),
    Row("maxIncrease passes", metric(max_increase=0.01), Sample(0.025), Sample(0.02),
        Verdict.PASS, "stable 0.02"),
    Row("maxRatio fails", metric(template="latency", max_ratio=1.5), Sample(0.9), Sample(0.3),
        Verdict.FAIL, "0.9 / stable 0.3 = 3 > maxRatio 1.5"),
    Row("maxRatio skipped when stable is 0", metric(max_ratio=2), Sample(0.01), Sample(0.0),
        Verdict.PASS, "maxRatio skipped: stable is 0"),
    Row("no reference at all", metric(max_increase=0.01), Sample(0.5), Sample(None, empty=True),
        Verdict.PASS, "relative bounds skipped: no stable value or baseline"),
    Row("stable without traffic uses the baseline", metric(max_increase=0.01), Sample(0.05),
        Sample(0.0), Verdict.FAIL, "baseline 0.01", stable_requests=0, baseline=0.01),
    Row("empty stable uses the baseline", metric(max_increase=0.01), Sample(0.015),
        Sample(None, empty=True), Verdict.PASS, "baseline 0.01", baseline=0.01),
    Row("quiet stable prefers the baseline", metric(max_increase=0.01), Sample(0.015),
        Sample(0.5), Verdict.PASS, "baseline 0.01", stable_requests=3, baseline=0.01),
    Row("quiet stable without a baseline is still used", metric(max_increase=0.01),
        Sample(0.015), Sample(0.5), Verdict.PASS, "stable 0.5", stable_requests=3),
    Row("stable of unknown volume", metric(max_increase=0.01), Sample(0.015), Sample(0.01),
        Verdict.PASS, "stable 0.01", stable_requests=None),
    Row("significant increase fails", metric(max_increase=0.01, significance=0.05),
        Sample(0.08), Sample(0.01), Verdict.FAIL, "(fisher)", canary_requests=100,
        stable_requests=1000),
    Row("increase not significant holds", metric(max_increase=0.01, significance=0.05),
        Sample(0.05), Sample(0.02), Verdict.INCONCLUSIVE, "but not significant",
        canary_requests=20, stable_requests=1000),
    Row("not significant but max violated fails", metric(max=0.03, max_increase=0.01,
        significance=0.05), Sample(0.05), Sample(0.02), Verdict.FAIL, "0.05 > max 0.03",
        canary_requests=20, stable_requests=1000),
    Row("significance against the baseline", metric(max_increase=0.005, significance=0.05),
        Sample(0.1), Sample(None, empty=True), Verdict.FAIL, "(binomial)", canary_requests=200,
        baseline=0.01),
    Row("latency tail too thin holds", metric(template="latency", max_increase=0.1,
        significance=0.05), Sample(0.9), Sample(0.3), Verdict.INCONCLUSIVE,
        "rests on 1 tail requests < 10"),
    Row("latency tail of 10 fails", metric(template="latency", max_increase=0.1,
        significance=0.05), Sample(0.9), Sample(0.3), Verdict.FAIL, "0.9 − stable 0.3",
        canary_requests=1000),
    Row("latency p90 tail of 10 fails", metric(template="latency", max_ratio=1.5,
        quantile=0.9, significance=0.05), Sample(0.9), Sample(0.3), Verdict.FAIL,
        "maxRatio 1.5", canary_requests=100),
    Row("latency thin tail but max violated fails", metric(template="latency", max=0.5,
        max_ratio=1.5, significance=0.05), Sample(0.9), Sample(0.3), Verdict.FAIL,
        "0.9 > max 0.5", canary_requests=100),
    Row("latency without counts: significance ignored", metric(template="latency",
        max_ratio=1.5, significance=0.05), Sample(0.9), Sample(0.3), Verdict.FAIL,
        "no request counts for the quantile's tail", canary_requests=None, min_requests=0),
    Row("significance ignored for request-rate", metric(template="request-rate", max_ratio=1.5,
        significance=0.05), Sample(9.0), Sample(3.0), Verdict.FAIL,
        "significance applies to error-rate and latency only; significance ignored"),
    Row("significance needs counts", metric(max_increase=0.01, significance=0.05),
        Sample(0.5), Sample(0.0), Verdict.FAIL, "no request counts to test",
        canary_requests=None, min_requests=0),
    Row("significance with a passing bound is not run", metric(max_increase=0.01,
        significance=0.05), Sample(0.01), Sample(0.01), Verdict.PASS, "within"),
]  # fmt: skip


@pytest.mark.parametrize("row", ROWS, ids=str)
def test_judge_metric(row: Row) -> None:
    result = judge_metric(
        row.metric,
        row.canary,
        row.stable,
        canary_requests=row.canary_requests,
        stable_requests=row.stable_requests,
        min_requests=row.min_requests,
        no_data=row.no_data,
        baseline=row.baseline,
        query="q",
    )
    assert (result.verdict, row.message in result.message) == (row.verdict, True), result.message
    assert result.name == "errors" and result.query == "q"
    assert "\n" not in result.message


def test_result_fields() -> None:
    m = metric(max=0.05, max_increase=0.01)
    r = judge_metric(m, Sample(0.02), Sample(0.015), canary_requests=120.6, stable_requests=900,
                     min_requests=20, no_data="hold", baseline=None, query="Q")  # fmt: skip
    assert r.value == 0.02 and r.stable_value == 0.015 and r.samples == 121
    assert r.bound == "max 0.05; maxIncrease 0.01"
    r = judge_metric(m, Sample(None, empty=True), Sample(NAN), canary_requests=None,
                     stable_requests=None, min_requests=20, no_data="hold", baseline=None,
                     query="Q")  # fmt: skip
    assert r.value is None and r.stable_value is None and r.samples == 0


def test_describe_bounds() -> None:
    assert describe_bounds(metric()) == "none"
    assert describe_bounds(metric(min=1, max_ratio=2, significance=0.05)) == (
        "min 1; maxRatio 2; significance 0.05"
    )


def test_error_result() -> None:
    r = error_result(metric(max=0.1), query="q", message="connection refused\ntrace")
    assert (r.verdict, r.message, r.bound) == (Verdict.ERROR, "connection refused", "max 0.1")
    assert error_result(metric(), query="q", message="").message == "query failed"


def _r(v: Verdict) -> MetricResult:
    return MetricResult(name=str(v), verdict=v)


@pytest.mark.parametrize(
    ("verdicts", "overall"),
    [
        ([], Verdict.PASS),
        ([Verdict.PASS, Verdict.PASS], Verdict.PASS),
        ([Verdict.PASS, Verdict.NO_DATA], Verdict.INCONCLUSIVE),
        ([Verdict.INCONCLUSIVE, Verdict.PASS], Verdict.INCONCLUSIVE),
        ([Verdict.INCONCLUSIVE, Verdict.ERROR], Verdict.ERROR),
        ([Verdict.ERROR, Verdict.FAIL, Verdict.NO_DATA], Verdict.FAIL),
    ],
)
def test_judge(verdicts: list[Verdict], overall: Verdict) -> None:
    assert judge([_r(v) for v in verdicts]) == overall


def test_summarize() -> None:
    out = summarize([_r(Verdict.PASS)], time="2025-01-01T00:00:00Z")
    assert out.verdict == Verdict.PASS and len(out.results) == 1 and out.time.endswith("Z")
