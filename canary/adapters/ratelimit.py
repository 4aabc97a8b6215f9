"""Client-side QPS/burst for the official client, like client-go's ``rest.Config`` QPS/Burst.

client-go gives every REST client a token bucket (``flowcontrol.NewTokenBucketRateLimiter``
over ``golang.org/x/time/rate``): ``burst`` requests may go at once, then ``qps`` per
second; a request waits for its token. Watches are long-running requests: client-go's
reflector does not hold a token for the stream's lifetime and neither do we — a request
whose query has ``watch=true`` (every informer watch) goes through untouched.

:class:`TokenBucket` reserves a token and then sleeps outside its lock (the
``rate.Limiter.Wait`` way), so waiting callers are served in order and the bucket never
lends more than ``burst`` ahead. :func:`limit_requests` hooks ``ApiClient.call_api``,
the one method every generated API call and the informer go through.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qs, urlsplit

from kubernetes import client


class TokenBucket:
    """``burst`` tokens to start with, refilled at ``qps`` per second up to ``burst``."""

    def __init__(
        self,
        qps: float,
        burst: int,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if not qps > 0:
            raise ValueError(f"kube QPS must be > 0, got {qps!r}")
        if burst < 1:
            raise ValueError(f"kube burst must be >= 1, got {burst!r}")
        self.qps = float(qps)
        self.burst = int(burst)
        self._clock = clock
        self._sleep = sleep
        self._lock = threading.Lock()
        self._tokens = float(burst)
        self._last = clock()
        self.waited = 0.0  # seconds callers spent waiting in total (a figure for benchmarks)

    def acquire(self) -> float:
        """Take a token, waiting for it if needed; returns the seconds waited."""
        with self._lock:
            now = self._clock()
            self._tokens = min(float(self.burst), self._tokens + (now - self._last) * self.qps)
            self._last = now
            self._tokens -= 1.0
            wait = -self._tokens / self.qps if self._tokens < 0 else 0.0
            self.waited += wait
        if wait > 0:
            self._sleep(wait)
        return wait


def is_watch(url: str) -> bool:
    """True for a watch request (``watch=true`` or ``watch=1`` in the query)."""
    query = parse_qs(urlsplit(url).query)
    return (query.get("watch") or [""])[0].lower() in ("true", "1")


def limit_requests(api: client.ApiClient, bucket: TokenBucket) -> None:
    """Make every request of ``api`` take a token from ``bucket`` first, watches excepted.

    Calling it again replaces the bucket (one hook per ApiClient).
    """
    hooked: Any = api
    hooked._canary_bucket = bucket
    if getattr(hooked, "_canary_rate_limited", False):
        return
    original = hooked.call_api

    def call_api(method: str, url: str, *args: Any, **kwargs: Any) -> Any:
        if not is_watch(url):
            hooked._canary_bucket.acquire()
        return original(method, url, *args, **kwargs)

    hooked.call_api = call_api
    hooked._canary_rate_limited = True
