"""Demo backend: control API, deterministic faults, header naming the backend, metrics."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Iterator

import pytest

from stack.backend import BACKEND_HEADER, BackendGroup, ServeSpec


@pytest.fixture
def group() -> Iterator[BackendGroup]:
    g = BackendGroup([ServeSpec("stable", "127.0.0.1", 0), ServeSpec("canary", "127.0.0.1", 0)])
    g.start()
    yield g
    g.stop()


def url(group: BackendGroup, name: str, path: str) -> str:
    port = next(a["port"] for a in group.addresses() if a["name"] == name)
    return f"http://127.0.0.1:{port}{path}"


def get(u: str) -> tuple[int, dict[str, str], bytes]:
    try:
        with urllib.request.urlopen(u, timeout=5) as resp:
            return resp.status, dict(resp.headers), resp.read()
    except urllib.error.HTTPError as err:
        return err.code, dict(err.headers), err.read()


def post(u: str, body: object) -> tuple[int, dict[str, object]]:
    req = urllib.request.Request(u, data=json.dumps(body).encode(), method="POST")
    try:
        with urllib.request.urlopen(req, timeout=5) as resp:
            return resp.status, json.load(resp)
    except urllib.error.HTTPError as err:
        return err.code, json.load(err)


def test_each_backend_names_itself(group: BackendGroup) -> None:
    for name in ("stable", "canary"):
        code, headers, body = get(url(group, name, "/users/1"))
        assert code == 200 and headers[BACKEND_HEADER] == name
        assert json.loads(body)["backend"] == name


def test_control_api_sets_deterministic_faults(group: BackendGroup) -> None:
    code, state = post(url(group, "canary", "/-/control"), {"error_rate": 0.2, "latency_ms": 0})
    assert code == 200 and state["error_rate"] == 0.2
    codes = [get(url(group, "canary", "/users"))[0] for _ in range(10)]
    assert codes == [200, 200, 200, 200, 500, 200, 200, 200, 200, 500]
    assert [get(url(group, "stable", "/users"))[0] for _ in range(5)] == [200] * 5
    code, headers, _ = get(url(group, "canary", "/-/control"))
    assert code == 200 and headers[BACKEND_HEADER] == "canary"
    # a new setting restarts the counter
    post(url(group, "canary", "/-/control"), {"error_rate": 0.5})
    assert [get(url(group, "canary", "/x"))[0] for _ in range(4)] == [200, 500, 200, 500]


@pytest.mark.parametrize(
    "body", [{"error_rate": 2}, {"latency_ms": -1}, {"nope": 1}, [1, 2], {"error_rate": "x"}]
)
def test_control_api_rejects_bad_settings(group: BackendGroup, body: object) -> None:
    code, answer = post(url(group, "stable", "/-/control"), body)
    assert code == 400 and "error" in answer


def test_metrics_count_codes_and_durations(group: BackendGroup) -> None:
    post(url(group, "canary", "/-/control"), {"error_rate": 0.5})
    for _ in range(4):
        get(url(group, "canary", "/users"))
    get(url(group, "canary", "/-/healthz"))  # not counted
    _, _, text = get(url(group, "canary", "/metrics"))
    metrics = text.decode()
    assert 'http_requests_total{code="200",method="GET"} 2.0' in metrics
    assert 'http_requests_total{code="500",method="GET"} 2.0' in metrics
    assert 'http_request_duration_seconds_bucket{code="500",le="0.005",method="GET"}' in metrics


def test_serve_spec_parsing() -> None:
    assert ServeSpec.parse("v3=127.0.0.1:0") == ServeSpec("v3", "127.0.0.1", 0)
    with pytest.raises(ValueError):
        ServeSpec.parse("127.0.0.1:80")
