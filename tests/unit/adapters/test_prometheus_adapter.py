"""PrometheusMetrics against a scripted fake of Prometheus' HTTP API on 127.0.0.1.

The bodies are what Prometheus answers on /api/v1/query (real e2e tests use the real one).
"""

from __future__ import annotations

import math
from typing import Any

import pytest
from tenacity import wait_none

from canary.adapters.errors import MetricsError
from canary.adapters.prometheus import PrometheusMetrics, sample_from_result
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
