"""The metrics port on Prometheus' HTTP API (``prometheus-api-client`` + tenacity).

Three outcomes, never confused (Flagger fails a rollout on "no values found", an empty
vector crashes Argo's analyses):

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

Budgets: ``query(..., deadline=...)`` (a ``time.monotonic()`` value, the end of the
caller's check budget) shortens each request's timeout to what is left and stops
retrying when it passes; a :class:`QueryLimiter` shared by every instance bounds the
queries in flight per operator, and a query that gets no slot before its deadline fails.

Messages are short and sanitized (one line, printable, clipped): they end up in a
Rollout's status and Events. Prometheus' own ``error`` text is kept (it names the PromQL
problem); a body that is not Prometheus' JSON is never repeated, only its size.
"""

from __future__ import annotations

import ast
import json
import logging
import math
import re
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any

import requests
from prometheus_api_client import PrometheusConnect
from prometheus_api_client.exceptions import PrometheusApiClientException
from tenacity import (
    RetryCallState,
    Retrying,
    retry_if_exception_type,
    stop_after_attempt,
    stop_any,
    wait_exponential_jitter,
)
from tenacity.stop import stop_base
from tenacity.wait import wait_base
from urllib3.util.retry import Retry

from canary.adapters.errors import MetricsError
from canary.core.results import Sample

log = logging.getLogger(__name__)

# prometheus-api-client 0.7: non-200 answers raise with this text (status, repr of bytes).
_STATUS_RE = re.compile(r"HTTP Status Code (\d+) \((.*)\)\s*$", re.DOTALL)
MESSAGE_LIMIT = 200  # characters of an error message that may reach a Rollout's status
_PROMQL_SHOWN = 60  # characters of the PromQL an error message repeats (status has it all)


def sanitize(text: str, limit: int = MESSAGE_LIMIT) -> str:
    """One printable line of at most ``limit`` characters."""
    flat = " ".join("".join(c if c.isprintable() else " " for c in text).split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def _q(promql: str) -> str:
    return repr(sanitize(promql, _PROMQL_SHOWN))


class QueryLimiter:
    """At most ``limit`` Prometheus queries in flight per operator (all addresses)."""

    def __init__(self, limit: int) -> None:
        if limit < 1:
            raise ValueError("the concurrent query limit must be at least 1")
        self.limit = limit
        self._slots = threading.BoundedSemaphore(limit)

    @contextmanager
    def slot(self, *, timeout: float | None) -> Iterator[None]:
        """Hold a slot; ``MetricsError`` when none frees up within ``timeout`` seconds."""
        if not self._slots.acquire(timeout=None if timeout is None else max(0.0, timeout)):
            raise MetricsError(
                f"no free query slot before the check budget ran out "
                f"({self.limit} concurrent Prometheus queries per operator)"
            )
        try:
            yield
        finally:
            self._slots.release()


class _Transient(Exception):
    """A failure worth another try (connection, timeout, 429, 5xx)."""


def _parse_client_error(exc: PrometheusApiClientException) -> tuple[int | None, str]:
    """(HTTP status, Prometheus' ``error`` text) from the client's exception message."""
    match = _STATUS_RE.match(str(exc))
    if not match:
        return None, sanitize(str(exc))
    status = int(match.group(1))
    raw: Any = match.group(2)
    try:
        raw = ast.literal_eval(raw)
        if isinstance(raw, bytes):
            raw = raw.decode("utf-8", "replace")
        body = json.loads(raw)
    except (ValueError, SyntaxError):
        body = None
    if isinstance(body, dict) and isinstance(body.get("error"), str):
        error_type = body.get("errorType")
        error = body["error"]
        return status, sanitize(f"{error_type}: {error}" if error_type else error)
    # not Prometheus' error JSON (a proxy's page, something else answering): never repeated
    return status, f"an answer that is not Prometheus' error JSON ({len(str(raw))} bytes)"


def sample_from_result(result: Any, *, promql: str) -> Sample:
    """Turn ``data.result`` of an instant query into a ``Sample`` (see module doc)."""
    if isinstance(result, list) and len(result) == 2 and not isinstance(result[0], dict):
        return _sample(result[1], promql=promql)  # scalar: [ts, "value"]
    if not isinstance(result, list):
        raise MetricsError(
            f"unexpected Prometheus result ({type(result).__name__}) for {_q(promql)}"
        )
    if not result:
        return Sample(value=None, empty=True)
    if any(not isinstance(series, dict) or "value" not in series for series in result):
        raise MetricsError(f"query returned a range vector, expected an instant one: {_q(promql)}")
    if len(result) > 1:
        raise MetricsError(
            f"query returned {len(result)} series, expected one (wrap it in sum()): {_q(promql)}"
        )
    return _sample(result[0]["value"][1], promql=promql)


def _sample(raw: Any, *, promql: str) -> Sample:
    try:
        value = float(raw)
    except (TypeError, ValueError, OverflowError):
        raise MetricsError(
            f"non-numeric value {sanitize(repr(raw), 40)} for {_q(promql)}"
        ) from None
    if math.isnan(value):
        return Sample(value=None, empty=True)
    return Sample(value=value)


class _OutOfTime(stop_base):
    """Stop retrying once the caller's deadline has passed."""

    def __init__(self, left: Callable[[float | None], float | None], deadline: float | None):
        self._left, self._deadline = left, deadline

    def __call__(self, retry_state: RetryCallState) -> bool:
        left = self._left(self._deadline)
        return left is not None and left <= 0


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
        limiter: QueryLimiter | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.url = url.rstrip("/")
        self._timeout = timeout
        self._attempts = max(1, attempts)
        self._limiter = limiter
        self._clock = clock
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

    def query(
        self, *, promql: str, at: float | None = None, deadline: float | None = None
    ) -> Sample:
        """Instant query at ``at`` (unix seconds; None = now on Prometheus' clock), done by
        ``deadline`` (``time.monotonic()`` value; None = only the per-request timeout)."""
        left = self._left(deadline)
        if left is not None and left <= 0:
            raise MetricsError(f"check budget exhausted before the query {_q(promql)}")
        if self._limiter is None:
            return self._query(promql, at, deadline)
        with self._limiter.slot(timeout=left):
            return self._query(promql, at, deadline)

    def _left(self, deadline: float | None) -> float | None:
        return None if deadline is None else deadline - self._clock()

    def _query(self, promql: str, at: float | None, deadline: float | None) -> Sample:
        retrying = Retrying(
            stop=stop_any(stop_after_attempt(self._attempts), _OutOfTime(self._left, deadline)),
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
        attempts = 0
        try:
            for attempt in retrying:
                with attempt:
                    attempts += 1
                    result = self._once(promql, at, self._left(deadline))
        except _Transient as exc:
            raise MetricsError(
                f"prometheus {self.url} failed {attempts} time{'s' if attempts != 1 else ''} "
                f"for {_q(promql)}: {exc}"
            ) from exc.__cause__ or exc
        return sample_from_result(result, promql=promql)

    def _once(self, promql: str, at: float | None, left: float | None) -> Any:
        timeout = self._timeout if left is None else max(0.001, min(self._timeout, left))
        params: dict[str, Any] = {"timeout": f"{timeout:g}s"}
        if at is not None:
            params["time"] = f"{at:.3f}"
        try:
            return self._client.custom_query(promql, params=params, timeout=timeout)
        except (requests.ConnectionError, requests.Timeout) as exc:
            raise _Transient(type(exc).__name__) from exc
        except PrometheusApiClientException as exc:
            status, message = _parse_client_error(exc)
            if status is None or status == 429 or status >= 500:
                raise _Transient(f"HTTP {status}: {message}") from exc
            raise MetricsError(
                f"prometheus rejected {_q(promql)} (HTTP {status}): {message}"
            ) from exc
        except (requests.RequestException, ValueError, KeyError) as exc:
            raise MetricsError(
                f"prometheus {self.url}: bad answer for {_q(promql)} ({type(exc).__name__})"
            ) from exc


class RefusedMetrics:
    """``MetricsPort`` for an address the operator may not query: every query fails with
    ``reason`` (a check *error*: the step holds, bounded by progressDeadline)."""

    def __init__(self, reason: str) -> None:
        self.reason = sanitize(reason)

    def query(
        self, *, promql: str, at: float | None = None, deadline: float | None = None
    ) -> Sample:
        raise MetricsError(self.reason)
