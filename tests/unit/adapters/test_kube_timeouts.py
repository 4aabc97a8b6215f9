"""Every request of an ApiClient built by load_api_client is bounded in time."""

from __future__ import annotations

from typing import Any

import pytest
from kubernetes import client

from canary.adapters import kube
from canary.adapters.kube import CONNECT_TIMEOUT, READ_TIMEOUT, WATCH_MARGIN, default_timeout


@pytest.mark.parametrize(
    "url, want",
    [
        ("https://h/apis/canary.dev/v1alpha1/namespaces/a/rollouts/r",
         (CONNECT_TIMEOUT, READ_TIMEOUT)),
        ("https://h/api/v1/namespaces?limit=5", (CONNECT_TIMEOUT, READ_TIMEOUT)),
        ("https://h/apis/x/v1/rollouts?watch=True&timeoutSeconds=60",
         (CONNECT_TIMEOUT, 60 + WATCH_MARGIN)),
        ("https://h/apis/x/v1/rollouts?watch=true", (CONNECT_TIMEOUT, None)),
    ],
)  # fmt: skip
def test_default_timeout(url: str, want: tuple[float, float | None]) -> None:
    assert default_timeout(url) == want


def test_every_generated_call_gets_the_default_unless_it_names_one(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    seen: list[Any] = []

    def request(method: str, url: str, **kw: Any) -> Any:
        seen.append((method, url.split("?")[0].rsplit("/", 1)[-1], kw.get("_request_timeout")))
        raise client.ApiException(status=404, reason="Not Found")

    cfg = client.Configuration()
    cfg.host = "https://127.0.0.1:1"
    api = kube.with_default_timeouts(client.ApiClient(cfg))
    assert kube.with_default_timeouts(api) is api  # once
    monkeypatch.setattr(api.rest_client, "request", request)
    coord = client.CoordinationV1Api(api)
    with pytest.raises(client.ApiException):
        coord.read_namespaced_lease("l", "ns")
    with pytest.raises(client.ApiException):
        coord.read_namespaced_lease("l", "ns", _request_timeout=2.0)
    with pytest.raises(client.ApiException):
        client.CustomObjectsApi(api).patch_namespaced_custom_object(
            "g", "v1", "ns", "things", "x", {"a": 1}
        )
    assert seen == [
        ("GET", "l", (CONNECT_TIMEOUT, READ_TIMEOUT)),
        ("GET", "l", 2.0),
        ("PATCH", "x", (CONNECT_TIMEOUT, READ_TIMEOUT)),
    ]
