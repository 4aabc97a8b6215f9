"""One routing table shared by every pass, rebuilt only when the cache changed."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from canary.adapters.fakes import FakeClusterReader
from tests.unit.operator.test_reconcile import NS, T0, World, _gateway_docs


class Versioned(FakeClusterReader):
    """A cache-like reader: ``version`` moves when its documents change."""

    def __init__(self, docs: list[dict[str, Any]]) -> None:
        super().__init__(docs)
        self.version = 1
        self.snapshots = 0

    def snapshot(self, *, namespaces: Any = None) -> list[dict[str, Any]]:
        self.snapshots += 1
        return super().snapshot(namespaces=namespaces)


def _world() -> tuple[World, Versioned]:
    w = World()
    w.run(T0)  # step 1 written
    w.accept()
    w.traefik.set(namespace=NS, route="api-route", rule=0, weights=[{0: 95, 1: 5, 2: 5}])
    reader = Versioned([*_gateway_docs(), w.route()])
    w.observer.cluster = reader
    w.observer.sleep = lambda _s: None
    return w, reader


def _verified(w: World) -> dict[str, Any]:
    status = w.rollouts.get(namespace=NS, name="r")["status"]
    return next(c for c in status["conditions"] if c["type"] == "SplitVerified")


def test_passes_share_one_view_until_the_cache_changes() -> None:
    w, reader = _world()
    for i in range(1, 4):
        w.run(T0 + timedelta(seconds=i))
    assert reader.snapshots == 1  # three passes, one table
    assert _verified(w)["status"] == "True"
    reader.version += 1
    w.run(T0 + timedelta(seconds=5))
    assert reader.snapshots == 2


def test_a_table_older_than_the_route_a_pass_read_does_not_verify() -> None:
    w, reader = _world()
    w.run(T0 + timedelta(seconds=1))
    assert _verified(w)["status"] == "True"
    # the route changes (someone's label edit: a new resourceVersion) but the table the
    # pass would use was built before it: "not verified yet", never a verdict on old data
    w.routes.edit(kind="HTTPRoute", namespace=NS, name="api-route",
                  fn=lambda r: r["metadata"].setdefault("labels", {}).update(x="y"))  # fmt: skip
    w.run(T0 + timedelta(seconds=2))
    cond = _verified(w)
    assert cond["status"] == "False"
    assert "has not seen resourceVersion" in cond["message"], cond
    reader.objects = [*_gateway_docs(), w.route()]  # the cache catches up
    reader.version += 1
    w.run(T0 + timedelta(seconds=3))
    assert _verified(w)["status"] == "True"


def test_a_gateway_outside_the_read_namespaces_is_named_with_the_fix() -> None:
    w, reader = _world()
    w.observer.cluster_namespaces = ["elsewhere"]  # watching/reading neither NS nor the Gateway's
    w.run(T0 + timedelta(seconds=1))
    cond = _verified(w)
    assert cond["status"] == "False"
    assert f"Gateway {NS}/gw is in namespace {NS}" in cond["message"], cond
    assert f"--read-namespace {NS}" in cond["message"]
    w.observer.cluster_namespaces = [NS]
    reader.objects, reader.version = [*_gateway_docs(), w.route()], reader.version + 1
    w.run(T0 + timedelta(seconds=2))
    assert _verified(w)["status"] == "True"
