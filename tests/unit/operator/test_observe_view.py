"""One routing table shared by every pass, rebuilt only when the cache changed."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from canary.adapters.fakes import FakeClusterReader
from canary.operator.observe import ViewBehind
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
    w.observer.rebuild_after = 0.0  # no pacing in the test: a new version rebuilds
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


def test_a_table_older_than_the_route_a_pass_read_retries_the_pass_without_a_verdict() -> None:
    w, reader = _world()
    w.run(T0 + timedelta(seconds=1))
    assert _verified(w)["status"] == "True"
    # the route changes (someone's label edit: a new resourceVersion) but the table the
    # pass would use was built before it: no verdict on old data and nothing written;
    # the pass is retried when a newer view exists
    w.routes.edit(kind="HTTPRoute", namespace=NS, name="api-route",
                  fn=lambda r: r["metadata"].setdefault("labels", {}).update(x="y"))  # fmt: skip
    rv = w.rollouts.get(namespace=NS, name="r")["metadata"]["resourceVersion"]
    with pytest.raises(ViewBehind, match="has not seen resourceVersion"):
        w.run(T0 + timedelta(seconds=2))
    assert w.rollouts.get(namespace=NS, name="r")["metadata"]["resourceVersion"] == rv
    reader.objects = [*_gateway_docs(), w.route()]  # the cache catches up
    reader.version += 1
    w.run(T0 + timedelta(seconds=3))
    assert _verified(w)["status"] == "True"


def test_no_pass_waits_for_a_rebuild_a_moment_after_the_last_one() -> None:
    w, reader = _world()
    w.run(T0 + timedelta(seconds=1))
    assert reader.snapshots == 1
    w.observer.rebuild_after = 3600.0  # the last build was "a moment ago"
    reader.version += 1  # an unrelated change: the current view still serves this pass
    w.run(T0 + timedelta(seconds=2))
    assert reader.snapshots == 1 and _verified(w)["status"] == "True"


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
