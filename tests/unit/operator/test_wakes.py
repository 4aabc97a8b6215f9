"""The object → Rollout wake index: a change prompts only the Rollouts that read it."""

from __future__ import annotations

from typing import Any

from canary.operator.wakes import WakeIndex, deps_of


def _route(ns: str, name: str, *, gw: str = "infra/gw", hosts: list[str] | None = None) -> Any:
    gw_ns, gw_name = gw.split("/")
    spec: dict[str, Any] = {"parentRefs": [{"name": gw_name, "namespace": gw_ns}]}
    if hosts is not None:
        spec["hostnames"] = hosts
    return {"metadata": {"namespace": ns, "name": name}, "spec": spec}


def _index() -> WakeIndex:
    idx = WakeIndex()
    idx.record(
        ("a", "ra"),
        deps_of(
            [("HTTPRoute", _route("a", "api", hosts=["a.example"]))], [("a", "v1"), ("a", "v2")]
        ),
    )
    idx.record(
        ("b", "rb"),
        deps_of(
            [("HTTPRoute", _route("b", "web", hosts=["b.example"]))], [("b", "v1"), ("b", "v2")]
        ),
    )
    return idx


def test_own_route_and_backends_wake_only_their_rollout() -> None:
    idx = _index()
    assert idx.affected("HTTPRoute", _route("a", "api", hosts=["a.example"])) == [("a", "ra")]
    assert idx.affected("Service", {"metadata": {"namespace": "b", "name": "v2"}}) == [("b", "rb")]
    slice_ = {"metadata": {"namespace": "a", "name": "v1-x",
                           "labels": {"kubernetes.io/service-name": "v1"}}}  # fmt: skip
    assert idx.affected("EndpointSlice", slice_) == [("a", "ra")]
    assert idx.affected("EndpointSlice", {"metadata": {"namespace": "a", "name": "x"}}) == []
    assert idx.affected("Service", {"metadata": {"namespace": "c", "name": "v1"}}) == []


def test_another_route_wakes_rollouts_on_its_gateway_only_with_overlapping_hostnames() -> None:
    idx = _index()
    other = _route("c", "other", hosts=["c.example"])
    assert idx.affected("HTTPRoute", other) == []  # same Gateway, other hosts: no effect
    shadow = _route("c", "shadow", hosts=["*.example"])
    assert idx.affected("HTTPRoute", shadow) == [("a", "ra"), ("b", "rb")]
    catch_all = _route("c", "all")  # no hostnames: every host of the listener
    assert idx.affected("HTTPRoute", catch_all) == [("a", "ra"), ("b", "rb")]
    elsewhere = _route("c", "x", gw="infra/other-gw")
    assert idx.affected("HTTPRoute", elsewhere) == []


def test_gateway_namespace_grant_and_class_changes() -> None:
    idx = _index()
    assert idx.affected("Gateway", {"metadata": {"namespace": "infra", "name": "gw"}}) == [
        ("a", "ra"),
        ("b", "rb"),
    ]
    assert idx.affected("Gateway", {"metadata": {"namespace": "infra", "name": "gw2"}}) == []
    assert idx.affected("ReferenceGrant", {"metadata": {"namespace": "b", "name": "g"}}) == [
        ("b", "rb")
    ]
    assert idx.affected("Namespace", {"metadata": {"name": "a"}}) == [("a", "ra")]
    assert idx.affected("GatewayClass", {"metadata": {"name": "traefik"}}) == [
        ("a", "ra"),
        ("b", "rb"),
    ]
    idx.forget(("a", "ra"))
    assert idx.affected("GatewayClass", {"metadata": {"name": "traefik"}}) == [("b", "rb")]
    assert len(idx) == 1
