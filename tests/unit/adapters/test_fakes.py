"""The fakes behave like the API server where callers depend on it."""

from __future__ import annotations

import threading

import pytest

from canary.adapters import errors
from canary.adapters.fakes import (
    FakeClusterReader,
    FakeEvents,
    FakeMetrics,
    FakeRollouts,
    FakeRoutes,
    merge_patch,
)
from canary.adapters.ports import (
    ClusterReadPort,
    EventsPort,
    MetricsPort,
    RolloutsPort,
    RoutesPort,
)
from canary.core.results import Sample

RO = {"metadata": {"name": "ro", "namespace": "ns"}, "spec": {"steps": [{"weight": 5}]}}


def test_fakes_satisfy_the_ports() -> None:
    ports: tuple[object, ...] = (
        FakeRollouts(), FakeRoutes(), FakeClusterReader(), FakeEvents(), FakeMetrics(),
    )  # fmt: skip
    rollouts: RolloutsPort = FakeRollouts()
    routes: RoutesPort = FakeRoutes()
    reader: ClusterReadPort = FakeClusterReader()
    events: EventsPort = FakeEvents()
    metrics: MetricsPort = FakeMetrics()
    assert all(ports) and all((rollouts, routes, reader, events, metrics))


def test_merge_patch() -> None:
    assert merge_patch({"a": 1, "b": {"c": 2, "d": 3}, "l": [1]}, {"b": {"c": None}, "l": [2]}) == {
        "a": 1, "b": {"d": 3}, "l": [2],
    }  # fmt: skip


def test_rollouts_status_patch_is_a_merge_and_keeps_generation() -> None:
    fake = FakeRollouts([RO])
    fake.patch_status(namespace="ns", name="ro", patch={"phase": "Progressing", "stepIndex": 0})
    out = fake.patch_status(namespace="ns", name="ro", patch={"stepIndex": 1, "message": None})
    assert out["status"] == {"phase": "Progressing", "stepIndex": 1}
    assert out["metadata"]["generation"] == 1
    assert fake.status_patches[-1] == ("ns", "ro", {"stepIndex": 1, "message": None})


def test_rollouts_annotate_removes_with_none() -> None:
    fake = FakeRollouts([RO])
    fake.annotate(namespace="ns", name="ro", annotations={"a": "1", "b": "2"})
    out = fake.annotate(namespace="ns", name="ro", annotations={"a": None})
    assert out["metadata"]["annotations"] == {"b": "2"}


def test_rollouts_get_missing_and_list_by_namespace() -> None:
    fake = FakeRollouts([RO, {"metadata": {"name": "x", "namespace": "other"}}])
    with pytest.raises(errors.NotFound):
        fake.get(namespace="ns", name="nope")
    assert [o["metadata"]["name"] for o in fake.list(namespace="ns")] == ["ro"]
    assert len(fake.list(namespace=None)) == 2


def test_rollouts_watch_replays_current_then_follows_changes() -> None:
    fake = FakeRollouts([RO])
    assert [t for t, _ in fake.watch(namespace="ns")] == ["ADDED"]  # caught up → returns

    def later() -> None:
        fake.patch_status(namespace="ns", name="ro", patch={"phase": "Progressing"})
        fake.delete(namespace="ns", name="ro")

    timer = threading.Timer(0.05, later)
    timer.start()
    seen = []
    for type_, obj in fake.watch(namespace="ns", name="ro", timeout=2):
        seen.append((type_, (obj.get("status") or {}).get("phase")))
        if type_ == "DELETED":
            break
    timer.join()
    assert seen == [("ADDED", None), ("MODIFIED", "Progressing"), ("DELETED", "Progressing")]


def test_routes_generation_bumps_on_spec_changes_only() -> None:
    rules = [{"backendRefs": [{"name": "a", "weight": 1}]}]
    fake = FakeRoutes([{"kind": "HTTPRoute", "metadata": {"name": "r", "namespace": "ns"},
                        "spec": {"rules": rules}}])  # fmt: skip
    rv0 = fake.get(kind="HTTPRoute", namespace="ns", name="r")["metadata"]["resourceVersion"]
    out = fake.edit(kind="HTTPRoute", namespace="ns", name="r", fn=lambda o: o.update(status={}))
    assert out["metadata"]["generation"] == 1 and out["metadata"]["resourceVersion"] != rv0
    out = fake.json_patch(kind="HTTPRoute", namespace="ns", name="r", ops=[
        {"op": "test", "path": "/metadata/generation", "value": 1},
        {"op": "replace", "path": "/spec/rules/0/backendRefs/0/weight", "value": 3}])  # fmt: skip
    assert out["metadata"]["generation"] == 2


def test_routes_failed_test_and_missing_path_are_patch_test_failed() -> None:
    fake = FakeRoutes([{"kind": "GRPCRoute", "metadata": {"name": "g", "namespace": "ns"},
                        "spec": {"rules": [{"backendRefs": [{"name": "a"}]}]}}])  # fmt: skip
    for ops in (
        [{"op": "test", "path": "/spec/rules/0/backendRefs/0/name", "value": "b"}],
        [{"op": "replace", "path": "/spec/rules/4/backendRefs/0/weight", "value": 1}],
    ):
        with pytest.raises(errors.PatchTestFailed):
            fake.json_patch(kind="GRPCRoute", namespace="ns", name="g", ops=ops)
    assert fake.get(kind="GRPCRoute", namespace="ns", name="g")["metadata"]["generation"] == 1


def test_cluster_reader_filters_namespaced_objects() -> None:
    objs = [
        {"kind": "GatewayClass", "metadata": {"name": "traefik"}},
        {"kind": "Namespace", "metadata": {"name": "a"}},
        {"kind": "HTTPRoute", "metadata": {"name": "r", "namespace": "a"}},
        {"kind": "HTTPRoute", "metadata": {"name": "s", "namespace": "b"}},
    ]
    names = [o["metadata"]["name"] for o in FakeClusterReader(objs).snapshot(namespaces=["a"])]
    assert names == ["traefik", "a", "r"]
    assert len(FakeClusterReader(objs).snapshot()) == 4


def test_events_record_and_aggregate() -> None:
    fake = FakeEvents()
    obj = {"apiVersion": "canary.dev/v1alpha1", "kind": "Rollout",
           "metadata": {"name": "ro", "namespace": "ns", "uid": "u"}}  # fmt: skip
    fake.emit(obj=obj, type_="Normal", reason="Started", message="step 1/3")
    fake.emit(obj=obj, type_="Warning", reason="Drift", message="weights changed")
    fake.emit(obj=obj, type_="Normal", reason="Started", message="step 1/3")
    assert fake.reasons() == ["Drift", "Started"]
    listed = fake.list_for(obj=obj)
    assert [(e["reason"], e["count"]) for e in listed] == [("Drift", 1), ("Started", 2)]
    assert listed[0]["source"] == {"component": "canary"}
    assert fake.list_for(obj=obj, limit=1)[0]["reason"] == "Started"


def test_metrics_scripts_by_longest_substring_and_sequences() -> None:
    fake = FakeMetrics({
        "http_requests_total": Sample(value=100.0),
        'http_requests_total{service="v3"': [Sample(value=None, empty=True), Sample(value=0.01)],
        "broken": MetricsErrorForTest("boom"),
    })  # fmt: skip
    q = 'sum(rate(http_requests_total{service="v3"}[1m]))'
    assert fake.query(promql=q).empty
    assert fake.query(promql=q).value == 0.01
    assert fake.query(promql=q).value == 0.01  # last repeats
    assert fake.query(promql="sum(http_requests_total)").value == 100.0
    with pytest.raises(MetricsErrorForTest):
        fake.query(promql="broken")
    with pytest.raises(errors.MetricsError, match="no script"):
        fake.query(promql="unknown")
    assert len(fake.queries) == 6


class MetricsErrorForTest(errors.MetricsError):
    pass
