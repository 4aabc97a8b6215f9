"""The cache-backed ports: reads from the watch caches, writes through the API."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pytest

from canary.adapters import errors
from canary.adapters.cached import CachedCluster, CachedRoutes, SharedTraefikApi, newer, ready
from canary.adapters.errors import RuleNotServed, TraefikUnavailable
from canary.adapters.fakes import FakeRoutes


class Cache:
    def __init__(self, docs: list[dict[str, Any]]) -> None:
        self.items = {self._key(d): d for d in docs}
        self.version = 1
        self.synced = True
        self.problems: list[str] = []

    @staticmethod
    def _key(d: Mapping[str, Any]) -> tuple[str, str, str]:
        m = d["metadata"]
        return (d["kind"], m.get("namespace", ""), m["name"])

    def put(self, d: dict[str, Any]) -> None:
        self.items[self._key(d)] = d
        self.version += 1

    def docs(self) -> list[dict[str, Any]]:
        return list(self.items.values())

    def get(self, kind: str, namespace: str, name: str) -> dict[str, Any] | None:
        return self.items.get((kind, namespace, name))

    def errors(self) -> list[str]:
        return self.problems


def _route(weight: int) -> dict[str, Any]:
    return {
        "apiVersion": "gateway.networking.k8s.io/v1",
        "kind": "HTTPRoute",
        "metadata": {"namespace": "ns", "name": "r"},
        "spec": {"rules": [{"backendRefs": [{"name": "a", "weight": weight}]}]},
    }


def test_newer_compares_resource_versions_as_numbers_when_they_are() -> None:
    def m(rv: str) -> dict[str, Any]:
        return {"metadata": {"resourceVersion": rv}}

    assert newer(m("10"), m("9")) and not newer(m("9"), m("10")) and not newer(m("9"), m("9"))
    assert newer(m("b"), m("a")) and not newer(m("a"), m("a"))
    assert newer(m("1"), None) and not newer(None, m("1"))


def test_routes_are_read_from_the_cache_and_our_write_is_served_until_the_cache_has_it() -> None:
    server = FakeRoutes([_route(10)])
    cache = Cache([server.get(kind="HTTPRoute", namespace="ns", name="r")])
    routes = CachedRoutes(cache, server)
    assert (
        routes.get(kind="HTTPRoute", namespace="ns", name="r")["spec"]["rules"][0]["backendRefs"][
            0
        ]["weight"]
        == 10
    )
    ops = [{"op": "replace", "path": "/spec/rules/0/backendRefs/0/weight", "value": 50}]
    written = routes.json_patch(kind="HTTPRoute", namespace="ns", name="r", ops=ops)
    # the watch has not delivered it: our write is what we read
    assert routes.get(kind="HTTPRoute", namespace="ns", name="r") is written
    cache.put(server.get(kind="HTTPRoute", namespace="ns", name="r"))  # the watch catches up
    got = routes.get(kind="HTTPRoute", namespace="ns", name="r")
    assert got is cache.get("HTTPRoute", "ns", "r") and got is not written
    with pytest.raises(errors.NotFound):
        routes.get(kind="HTTPRoute", namespace="ns", name="missing")


def test_after_a_failed_test_op_the_next_read_goes_to_the_server() -> None:
    server = FakeRoutes([_route(10)])
    stale = server.get(kind="HTTPRoute", namespace="ns", name="r")
    server.gets = 0
    server.edit(kind="HTTPRoute", namespace="ns", name="r",
                fn=lambda r: r["spec"]["rules"][0]["backendRefs"][0].update(weight=30))  # fmt: skip
    routes = CachedRoutes(Cache([stale]), server)  # the cache lags behind someone's edit
    ops = [
        {"op": "test", "path": "/spec/rules/0/backendRefs/0/weight", "value": 10},
        {"op": "replace", "path": "/spec/rules/0/backendRefs/0/weight", "value": 50},
    ]
    with pytest.raises(errors.PatchTestFailed):
        routes.json_patch(kind="HTTPRoute", namespace="ns", name="r", ops=ops)
    server.gets = 0
    fresh = routes.get(kind="HTTPRoute", namespace="ns", name="r")
    assert server.gets == 1 and fresh["spec"]["rules"][0]["backendRefs"][0]["weight"] == 30
    routes.get(kind="HTTPRoute", namespace="ns", name="r")
    assert server.gets == 1  # once: then the cache again


def test_cluster_snapshot_is_the_cache_or_an_error_naming_what_cannot_be_read() -> None:
    cache = Cache([_route(1)])
    cluster = CachedCluster(cache)
    assert cluster.snapshot() == cache.docs() and cluster.version == 1
    cache.problems = ["list gateways in infra: 403 Forbidden"]
    with pytest.raises(errors.AdapterError, match="list gateways in infra: 403"):
        cluster.snapshot()
    cache.problems, cache.synced = [], False
    with pytest.raises(errors.KubeUnavailable):
        cluster.snapshot()


def _svc(ns: str, route: str, weights: list[int]) -> dict[str, Any]:
    # Traefik 3.7's names (tests/unit/adapters/test_traefik.py)
    prefix = f"httproute-{ns}-{route}-gw-infra-prod-gateway-ep-web-0-2d8a102d3364fc9e0b88"
    name = f"{prefix}-wrr@kubernetesgateway"
    children = [
        {"name": f"{prefix}-svc-{ns}-backend-{i}-{i}", "weight": w} for i, w in enumerate(weights)
    ]
    return {"name": name, "weighted": {"services": children}}


def test_one_traefik_read_serves_every_rule_within_max_age() -> None:
    now = [0.0]
    served = [_svc("a", "one", [90, 10]), _svc("b", "two", [50, 50])]
    traefik = SharedTraefikApi(lambda: list(served), max_age=1.0, clock=lambda: now[0])
    one = traefik.served_rule(namespace="a", route="one", rule=0)
    two = traefik.served_rule(namespace="b", route="two", rule=0)
    assert traefik.reads == 1
    assert one.serves({0: 90, 1: 10}) and two.serves({0: 50, 1: 50})
    with pytest.raises(RuleNotServed):
        traefik.served_rule(namespace="c", route="three", rule=0)
    now[0] = 1.0
    served[0] = _svc("a", "one", [50, 50])
    assert traefik.served_rule(namespace="a", route="one", rule=0).serves({0: 50, 1: 50})
    assert traefik.reads == 2


def test_traefik_unavailable_is_reported_to_every_asker_until_the_next_read() -> None:
    def fetch() -> list[Any]:
        raise TraefikUnavailable("GET http://127.0.0.1:1/api: refused")

    traefik = SharedTraefikApi(fetch, max_age=1.0, clock=lambda: 0.0)
    for _ in range(3):
        with pytest.raises(TraefikUnavailable, match="refused"):
            traefik.served_rule(namespace="a", route="one", rule=0)
    assert traefik.reads == 1


class _Informer:
    def __init__(self, kind: str, namespace: str | None, *, synced: bool, error: str | None):
        self.kind = type("K", (), {"kind": kind})()
        self.namespace, self.synced, self.error = namespace, synced, error


def test_a_route_the_cache_cannot_list_is_unavailable_not_missing() -> None:
    cache = Cache([])
    cache.informers = [  # type: ignore[attr-defined]
        _Informer("HTTPRoute", "team", synced=False, error="list httproutes in team: 403"),
        _Informer("HTTPRoute", "other", synced=True, error=None),
    ]
    routes = CachedRoutes(cache, FakeRoutes([]))
    with pytest.raises(errors.KubeUnavailable, match="403"):
        routes.get(kind="HTTPRoute", namespace="team", name="r")
    with pytest.raises(errors.NotFound):
        routes.get(kind="HTTPRoute", namespace="other", name="r")
    # passes may run once every informer listed or reported why it cannot
    cache.synced = False
    assert ready(cache)
    cache.informers.append(_Informer("Service", None, synced=False, error=None))  # type: ignore[attr-defined]
    assert not ready(cache)
