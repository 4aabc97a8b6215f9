"""Load generator: bounded, counts per backend and code, sustains ≥ 100 rps."""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Iterator

import pytest

from stack.backend import BackendGroup, ServeSpec
from stack.loadgen import build_request, load


@pytest.fixture
def backend() -> Iterator[str]:
    g = BackendGroup([ServeSpec("v3", "127.0.0.1", 0)])
    g.start()
    yield f"http://127.0.0.1:{g.addresses()[0]['port']}"
    g.stop()


def test_counts_backends_and_codes_at_the_asked_rate(backend: str) -> None:
    req = urllib.request.Request(
        f"{backend}/-/control", data=json.dumps({"error_rate": 0.1}).encode()
    )
    urllib.request.urlopen(req, timeout=5).close()
    report = load(url=f"{backend}/users", rate=200, count=300, headers={"X-Api-Version": "v2"})
    assert report.completed == 300 and report.errors == 0
    assert report.by_backend == {"v3": 300}
    assert report.by_code == {200: 270, 500: 30}
    assert report.error_ratio("v3") == pytest.approx(0.1)
    assert report.rps >= 100  # the asked 200/s, bounded by the schedule (≈1.5 s)
    assert 1.3 < report.elapsed < 5


def test_bounded_when_the_target_is_down() -> None:
    report = load(url="http://127.0.0.1:9/", rate=50, count=10, drain=1.0, request_timeout=0.5)
    assert report.completed == 0 and report.errors == 10
    assert report.elapsed < 3


def test_bounded_by_the_deadline_when_answers_are_slow(backend: str) -> None:
    req = urllib.request.Request(
        f"{backend}/-/control", data=json.dumps({"latency_ms": 2000}).encode()
    )
    urllib.request.urlopen(req, timeout=5).close()
    report = load(url=f"{backend}/", rate=20, count=4, drain=0.5, request_timeout=5)
    assert report.elapsed < 2
    assert report.completed == 0


def test_request_bytes_use_the_given_host() -> None:
    raw = build_request(
        url="http://127.0.0.1:18000/users?id=1", headers={"host": "api.example.com"}
    )
    assert raw.startswith(b"GET /users?id=1 HTTP/1.1\r\n")
    assert b"host: api.example.com\r\n" in raw and b"Host: 127.0.0.1" not in raw


def test_duration_or_count_is_required() -> None:
    with pytest.raises(ValueError):
        load(url="http://127.0.0.1:9/", rate=10)
