"""The one-line check summary that Healthy and the Events carry says why a query failed."""

from __future__ import annotations

from canary.core.phases import Verdict
from canary.core.results import AnalysisResult, MetricResult
from canary.core.rollout.checks import summary


def test_an_error_says_why_and_other_verdicts_their_value() -> None:
    refused = "analysis.address http://x:9090 is not on the operator's Prometheus allowlist"
    result = AnalysisResult(
        Verdict.ERROR,
        (
            MetricResult("error-rate", Verdict.ERROR, message=refused),
            MetricResult("latency", Verdict.PASS, value=0.12),
            MetricResult("rps", Verdict.ERROR),  # no message: the verdict alone
        ),
    )
    assert summary(result) == (
        f"error-rate error: {refused}; latency pass (0.12); rps error (no data)"
    )
    assert summary(AnalysisResult(Verdict.PASS, ())) == "no metrics"
