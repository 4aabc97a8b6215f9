"""PrometheusMetrics against a scripted fake of Prometheus' HTTP API on 127.0.0.1.

The bodies are what Prometheus answers on /api/v1/query (real e2e tests use the real one).
"""

from __future__ import annotations

import math
from typing import Any

import pytest
from tenacity import wait_none

from canary.adapters.errors import MetricsError
from canary.adapters.prometheus import (
    MESSAGE_LIMIT,
    PrometheusMetrics,
    QueryLimiter,
    RefusedMetrics,
    sample_from_result,
)
from canary.core.results import Sample
from tests.unit.adapters.httpfake import FakeHTTP

TS = 1767225600.123


def vector(*values: str) -> dict[str, Any]:
    result = [{"metric": {"service": f"s{i}"}, "value": [TS, v]} for i, v in enumerate(values)]
    return {"status": "success", "data": {"resultType": "vector", "result": result}}


SCALAR = {"status": "success", "data": {"resultType": "scalar", "result": [TS, "0.25"]}}
MATRIX = {"status": "success", "data": {"resultType": "matrix", "result": [
    {"metric": {}, "values": [[TS, "1"], [TS + 15, "2"]]}]}}  # fmt: skip
BAD_DATA = {
    "status": "error",
    "errorType": "bad_data",
    "error": "invalid parameter \"query\": 1:14: parse error: unexpected right parenthesis ')'",
}
EXECUTION = {"status": "error", "errorType": "execution",
             "error": "found duplicate series for the match group"}  # fmt: skip
UNAVAILABLE = {"status": "error", "errorType": "unavailable", "error": "TSDB not ready"}

Q = "/api/v1/query"


@pytest.fixture
def prom(http: FakeHTTP) -> PrometheusMetrics:
    return PrometheusMetrics(http.url, timeout=2, attempts=3, wait=wait_none())


def test_one_series_is_its_value_and_time_and_timeout_are_sent(
    http: FakeHTTP, prom: PrometheusMetrics
) -> None:
    http.script("GET", Q, (200, vector("0.05")))
    assert prom.query(promql="sum(rate(x[1m]))", at=1767225600.0) == Sample(value=0.05)
    (req,) = http.requests
    assert req.query["query"] == ["sum(rate(x[1m]))"]
    assert req.query["time"] == ["1767225600.000"]
    assert req.query["timeout"] == ["2s"]


def test_empty_vector_is_no_data_not_an_error(http: FakeHTTP, prom: PrometheusMetrics) -> None:
    http.script("GET", Q, (200, vector()))
    assert prom.query(promql="sum(rate(x[1m]))") == Sample(value=None, empty=True)


def test_nan_is_no_data(http: FakeHTTP, prom: PrometheusMetrics) -> None:
    """0/0 — no canary requests in the window — is no data, not a value."""
    http.script("GET", Q, (200, vector("NaN")))
    assert prom.query(promql="a/b") == Sample(value=None, empty=True)


def test_inf_is_a_value(http: FakeHTTP, prom: PrometheusMetrics) -> None:
    http.script("GET", Q, (200, vector("+Inf")))
    value = prom.query(promql="histogram_quantile(0.99, x)").value
    assert value is not None and math.isinf(value)


def test_scalar(http: FakeHTTP, prom: PrometheusMetrics) -> None:
    http.script("GET", Q, (200, SCALAR))
    assert prom.query(promql="scalar(x)") == Sample(value=0.25)


def test_several_series_is_an_error_naming_the_count(
    http: FakeHTTP, prom: PrometheusMetrics
) -> None:
    http.script("GET", Q, (200, vector("1", "2", "3")))
    with pytest.raises(MetricsError, match="3 series"):
        prom.query(promql="rate(x[1m])")


def test_range_vector_is_an_error(http: FakeHTTP, prom: PrometheusMetrics) -> None:
    http.script("GET", Q, (200, MATRIX))
    with pytest.raises(MetricsError, match="range vector"):
        prom.query(promql="x[1m]")


def test_bad_query_is_an_error_with_prometheus_message_and_not_retried(
    http: FakeHTTP, prom: PrometheusMetrics
) -> None:
    http.script("GET", Q, (400, BAD_DATA))
    with pytest.raises(MetricsError) as err:
        prom.query(promql="sum(rate(x[1m])))")
    assert "bad_data" in str(err.value)
    assert "parse error: unexpected right parenthesis" in str(err.value)
    assert len(http.requests) == 1


def test_execution_error_is_not_retried(http: FakeHTTP, prom: PrometheusMetrics) -> None:
    http.script("GET", Q, (422, EXECUTION))
    with pytest.raises(MetricsError, match="duplicate series"):
        prom.query(promql="a / on(x) b")
    assert len(http.requests) == 1


def test_503_then_200_is_retried(http: FakeHTTP, prom: PrometheusMetrics) -> None:
    http.script("GET", Q, (503, UNAVAILABLE), (200, vector("0.5")))
    assert prom.query(promql="up") == Sample(value=0.5)
    assert len(http.requests) == 2


def test_persistent_5xx_gives_up_after_the_bound(http: FakeHTTP, prom: PrometheusMetrics) -> None:
    http.script("GET", Q, (503, UNAVAILABLE))
    with pytest.raises(MetricsError, match="failed 3 times"):
        prom.query(promql="up")
    assert len(http.requests) == 3


def test_unreachable_is_retried_then_an_error() -> None:
    prom = PrometheusMetrics("http://127.0.0.1:9", timeout=1, attempts=2, wait=wait_none())
    with pytest.raises(MetricsError, match="failed 2 times") as err:
        prom.query(promql="up")
    assert err.value.__cause__ is not None


@pytest.mark.parametrize(
    ("result", "expected"),
    [
        ([], Sample(value=None, empty=True)),
        ([{"metric": {}, "value": [TS, "0"]}], Sample(value=0.0)),  # zero is a value
        ([TS, "NaN"], Sample(value=None, empty=True)),
    ],
)
def test_sample_from_result(result: Any, expected: Sample) -> None:
    assert sample_from_result(result, promql="q") == expected


def test_non_numeric_value_is_an_error() -> None:
    with pytest.raises(MetricsError, match="non-numeric"):
        sample_from_result([TS, "hello"], promql="q")


# -- sanitized messages, budgets, the concurrency bound (issue 10.7) ----------------------

HTML = b"<html><body><h1>502 Bad Gateway</h1><p>secret-internal-host:8080</p></body></html>"


def test_a_body_that_is_not_prometheus_json_is_never_repeated(
    http: FakeHTTP, prom: PrometheusMetrics
) -> None:
    http.script("GET", Q, (400, HTML))
    with pytest.raises(MetricsError) as err:
        prom.query(promql="up")
    message = str(err.value)
    assert "secret-internal-host" not in message and "<html>" not in message
    assert f"not Prometheus' error JSON ({len(HTML)} bytes)" in message


def test_prometheus_errors_are_one_short_line(http: FakeHTTP, prom: PrometheusMetrics) -> None:
    long_error = {"status": "error", "errorType": "bad_data", "error": "x\n" * 400}
    http.script("GET", Q, (400, long_error))
    with pytest.raises(MetricsError) as err:
        prom.query(promql="sum(rate(" + "y" * 300 + "[1m]))")
    message = str(err.value)
    assert "\n" not in message and len(message) < 2 * MESSAGE_LIMIT
    assert "bad_data: x x x" in message and "…" in message


class Clock:
    """A monotonic clock the test moves by hand."""

    def __init__(self, t: float = 100.0) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t


def test_a_passed_deadline_sends_nothing(http: FakeHTTP) -> None:
    clock = Clock()
    prom = PrometheusMetrics(http.url, timeout=2, wait=wait_none(), clock=clock)
    with pytest.raises(MetricsError, match="check budget exhausted before the query"):
        prom.query(promql="up", deadline=clock.t)
    assert http.requests == []


def test_the_request_timeout_shrinks_to_the_budget_left(http: FakeHTTP) -> None:
    clock = Clock()
    prom = PrometheusMetrics(http.url, timeout=10, wait=wait_none(), clock=clock)
    http.script("GET", Q, (200, vector("1")))
    prom.query(promql="up", deadline=clock.t + 1.5)
    prom.query(promql="up", deadline=clock.t + 60)
    assert [r.query["timeout"] for r in http.requests] == [["1.5s"], ["10s"]]


def test_retries_stop_at_the_deadline(http: FakeHTTP) -> None:
    clock = Clock()
    prom = PrometheusMetrics(http.url, timeout=2, attempts=10, wait=wait_none(), clock=clock)

    def unavailable_and_one_second_passes(_req: object) -> tuple[int, object]:
        clock.t += 1.0
        return 503, UNAVAILABLE

    http.script("GET", Q, unavailable_and_one_second_passes)
    with pytest.raises(MetricsError, match="failed 2 times"):
        prom.query(promql="up", deadline=clock.t + 1.5)
    assert len(http.requests) == 2  # not 10: the budget ran out after the second


def test_no_free_slot_before_the_deadline_is_an_error(http: FakeHTTP) -> None:
    clock = Clock()
    limiter = QueryLimiter(1)
    prom = PrometheusMetrics(http.url, timeout=2, wait=wait_none(), clock=clock, limiter=limiter)
    http.script("GET", Q, (200, vector("1")))
    held = limiter.slot(timeout=None)  # another Rollout's query holds the only slot
    with held, pytest.raises(MetricsError, match="1 concurrent Prometheus queries per operator"):
        prom.query(promql="up", deadline=clock.t + 0.01)
    assert http.requests == []
    assert prom.query(promql="up", deadline=clock.t + 1) == Sample(value=1.0)  # slot is free


def test_the_limiter_bounds_queries_in_flight() -> None:
    limiter = QueryLimiter(2)
    with limiter.slot(timeout=0), limiter.slot(timeout=0):
        third = limiter.slot(timeout=0)
        with pytest.raises(MetricsError):
            third.__enter__()
    with limiter.slot(timeout=0):  # released again
        pass
    with pytest.raises(ValueError):
        QueryLimiter(0)


def test_refused_metrics_fail_every_query_with_the_reason() -> None:
    refused = RefusedMetrics("analysis.address http://x is not on the allowlist\nsecond line")
    with pytest.raises(MetricsError) as err:
        refused.query(promql="up", deadline=1.0)
    assert str(err.value) == "analysis.address http://x is not on the allowlist second line"
