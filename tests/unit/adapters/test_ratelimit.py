"""Client-side QPS/burst: a token bucket on a fake clock, and the ApiClient hook."""

from __future__ import annotations

from typing import Any

import pytest
from kubernetes import client

from canary.adapters.ratelimit import TokenBucket, is_watch, limit_requests


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(round(seconds, 6))
        self.now += seconds


def bucket(qps: float, burst: int, clock: FakeClock) -> TokenBucket:
    return TokenBucket(qps, burst, clock=clock, sleep=clock.sleep)


def test_burst_goes_at_once_then_qps() -> None:
    clock = FakeClock()
    b = bucket(10, 3, clock)
    waits = [b.acquire() for _ in range(6)]
    assert waits[:3] == [0, 0, 0]  # the burst
    assert [round(w, 6) for w in waits[3:]] == [0.1, 0.1, 0.1]  # then one per 1/qps
    assert clock.now == pytest.approx(100.3)


def test_idle_time_refills_up_to_burst_only() -> None:
    clock = FakeClock()
    b = bucket(2, 2, clock)
    b.acquire(), b.acquire()
    clock.now += 60  # a long idle: 120 tokens' worth, capped at burst 2
    assert [b.acquire(), b.acquire()] == [0, 0]
    assert b.acquire() == pytest.approx(0.5)


def test_waiters_reserve_in_order() -> None:
    """A caller that must wait reserves its token: the next one waits behind it."""
    clock = FakeClock()
    slept: list[float] = []
    b = TokenBucket(4, 1, clock=clock, sleep=slept.append)  # sleeps do not move the clock
    assert [b.acquire(), b.acquire(), b.acquire()] == [0, 0.25, 0.5]


@pytest.mark.parametrize("qps, burst", [(0, 1), (-1, 5), (5, 0)])
def test_bad_settings_are_refused(qps: float, burst: int) -> None:
    with pytest.raises(ValueError, match=r"kube (QPS|burst)"):
        TokenBucket(qps, burst)


@pytest.mark.parametrize(
    "url, watch",
    [
        ("https://h/api/v1/services?watch=true&resourceVersion=5", True),
        ("https://h/api/v1/services?allowWatchBookmarks=true&watch=1", True),
        ("https://h/api/v1/services?limit=500", False),
        ("https://h/apis/canary.dev/v1alpha1/namespaces/a/rollouts/watchful", False),
    ],
)
def test_is_watch(url: str, watch: bool) -> None:
    assert is_watch(url) is watch


def test_every_request_but_watches_takes_a_token(monkeypatch: pytest.MonkeyPatch) -> None:
    clock = FakeClock()
    cfg = client.Configuration()
    cfg.host = "https://kube.invalid"
    api = client.ApiClient(cfg)
    sent: list[tuple[str, float]] = []

    def request(method: str, url: str, **kw: Any) -> Any:
        sent.append((url.split("?")[0].rsplit("/", 1)[-1] + ("?w" if "watch=" in url else ""),
                     clock.now))  # fmt: skip
        raise client.ApiException(status=404, reason="Not Found")

    monkeypatch.setattr(api.rest_client, "request", request)
    limit_requests(api, bucket(1, 2, clock))
    core = client.CoreV1Api(api)
    for _ in range(3):
        with pytest.raises(client.ApiException):
            core.read_namespaced_service("s", "a")  # a generated call: through call_api
    for _ in range(3):
        with pytest.raises(client.ApiException):
            api.call_api("GET", "https://kube.invalid/api/v1/services?watch=true")
    assert clock.slept == [1.0]  # the third read waited; no watch did
    assert [s for s, _ in sent] == ["s", "s", "s", "services?w", "services?w", "services?w"]

    limit_requests(api, bucket(1, 1, clock))  # again: replaces the bucket, no second hook
    with pytest.raises(client.ApiException):
        core.read_namespaced_service("s", "a")
    assert clock.slept == [1.0]
