"""The metrics port on Prometheus' HTTP API (``prometheus-api-client`` + tenacity).

Three outcomes, never confused (the Flagger/Argo lesson in DESIGN.md):

* a value — the query returned exactly one series (or a scalar);
* no data — ``Sample(value=None, empty=True)``: an empty vector, or ``NaN`` (what
  ``0/0`` gives when the canary saw no requests, or ``histogram_quantile`` over no
  observations). ``+Inf``/``-Inf`` are real values and are returned as such;
* an error — ``MetricsError``: Prometheus unreachable or failing after the retries, the
  query rejected (400 ``bad_data``, 422 ``execution``: not retried, Prometheus' own message
  kept), or an answer we cannot judge (several series, a range vector, a string).

Queries are written to return one series (``sum(...)``); several series are an error
naming the count rather than a silent sum or pick.

Retries: connection errors, timeouts, 429 and 5xx are retried by tenacity (bounded,
exponential backoff capped at ``max_wait``); the client's own urllib3 retries are turned
off so there is exactly one retry policy.
"""

from __future__ import annotations

import ast
import json
import logging
import math
import re
from collections.abc import Mapping
from typing import Any

import requests
from prometheus_api_client import PrometheusConnect
from prometheus_api_client.exceptions import PrometheusApiClientException
from tenacity import (
    Retrying,
    retry_if_exception_type,
    stop_after_attempt,
    wait_exponential_jitter,
)
from tenacity.wait import wait_base
from urllib3.util.retry import Retry

from canary.adapters.errors import MetricsError
from canary.core.results import Sample

log = logging.getLogger(__name__)

# prometheus-api-client 0.7: non-200 answers raise with this text (status, repr of bytes).
_STATUS_RE = re.compile(r"HTTP Status Code (\d+) \((.*)\)\s*$", re.DOTALL)


class _Transient(Exception):
    """A failure worth another try (connection, timeout, 429, 5xx)."""


def _parse_client_error(exc: PrometheusApiClientException) -> tuple[int | None, str]:
    """(HTTP status, Prometheus' ``error`` text) from the client's exception message."""
    match = _STATUS_RE.match(str(exc))
    if not match:
        return None, str(exc)
    status = int(match.group(1))
    raw: Any = match.group(2)
    try:
        raw = ast.literal_eval(raw)
        if isinstance(raw, bytes):
            raw = raw.decode("utf-8", "replace")
        body = json.loads(raw)
    except (ValueError, SyntaxError):
        return status, str(raw)[:500]
    if isinstance(body, dict):
        error_type = body.get("errorType")
        error = body.get("error") or raw
        return status, f"{error_type}: {error}" if error_type else str(error)
    return status, str(raw)[:500]


def sample_from_result(result: Any, *, promql: str) -> Sample:
    """Turn ``data.result`` of an instant query into a ``Sample`` (see module doc)."""
    if isinstance(result, list) and len(result) == 2 and not isinstance(result[0], dict):
        return _sample(result[1], promql=promql)  # scalar: [ts, "value"]
    if not isinstance(result, list):
        raise MetricsError(f"unexpected Prometheus result for {promql!r}: {result!r:.200}")
    if not result:
        return Sample(value=None, empty=True)
    if any("value" not in series for series in result):
        raise MetricsError(f"query returned a range vector, expected an instant one: {promql!r}")
    if len(result) > 1:
        raise MetricsError(
            f"query returned {len(result)} series, expected one (wrap it in sum()): {promql!r}"
        )
    return _sample(result[0]["value"][1], promql=promql)


def _sample(raw: Any, *, promql: str) -> Sample:
    try:
        value = float(raw)
    except (TypeError, ValueError):
        raise MetricsError(f"non-numeric value {raw!r} for {promql!r}") from None
    if math.isnan(value):
        return Sample(value=None, empty=True)
    return Sample(value=value)


class PrometheusMetrics:
    """``MetricsPort`` for one Prometheus at ``url`` (the caller chooses the address)."""

    def __init__(
        self,
        url: str,
        *,
        timeout: float = 10.0,
        attempts: int = 3,
        max_wait: float = 2.0,
        disable_ssl: bool = False,
        headers: Mapping[str, str] | None = None,
        wait: wait_base | None = None,
    ) -> None:
        self.url = url.rstrip("/")
        self._timeout = timeout
        self._attempts = max(1, attempts)
        self._wait = (
            wait
            if wait is not None
            else wait_exponential_jitter(initial=0.2, max=max_wait, jitter=0.1)
        )
        self._client = PrometheusConnect(
            url=self.url,
            headers=dict(headers) if headers else None,
            disable_ssl=disable_ssl,
            retry=Retry(total=0, raise_on_status=False, status_forcelist=()),
            timeout=timeout,  # annotated int; requests takes a float
        )

    def close(self) -> None:
        self._client.close()

    def query(self, *, promql: str, at: float | None = None) -> Sample:
        """Instant query at ``at`` (unix seconds; None = now on Prometheus' clock)."""
        params: dict[str, Any] = {"timeout": f"{self._timeout:g}s"}
        if at is not None:
            params["time"] = f"{at:.3f}"
        retrying = Retrying(
            stop=stop_after_attempt(self._attempts),
            wait=self._wait,
            retry=retry_if_exception_type(_Transient),
            reraise=True,
            before_sleep=lambda s: log.info(
                "prometheus %s: attempt %d failed (%s), retrying",
                self.url,
                s.attempt_number,
                s.outcome.exception() if s.outcome else "?",
            ),
        )
        try:
            for attempt in retrying:
                with attempt:
                    result = self._once(promql, params)
        except _Transient as exc:
            raise MetricsError(
                f"prometheus {self.url} failed {self._attempts} times for {promql!r}: {exc}"
            ) from exc.__cause__ or exc
        return sample_from_result(result, promql=promql)

    def _once(self, promql: str, params: dict[str, Any]) -> Any:
        try:
            return self._client.custom_query(promql, params=params)
        except (requests.ConnectionError, requests.Timeout) as exc:
            raise _Transient(f"{type(exc).__name__}: {exc}") from exc
        except PrometheusApiClientException as exc:
            status, message = _parse_client_error(exc)
            if status is None or status == 429 or status >= 500:
                raise _Transient(f"HTTP {status}: {message}") from exc
            raise MetricsError(
                f"prometheus rejected {promql!r} (HTTP {status}): {message}"
            ) from exc
        except (requests.RequestException, ValueError, KeyError) as exc:
            raise MetricsError(f"prometheus {self.url}: bad answer for {promql!r}: {exc}") from exc
