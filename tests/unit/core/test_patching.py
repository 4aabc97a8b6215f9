"""Guarded weight patches (canary.core.routes.patching): only our two weights ever change."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from canary.core.models import AppliedWeight, BackendRef
from canary.core.routes.patching import (
    PatchConflict,
    RuleWeights,
    add_canary_ops,
    apply_patch,
    live_weights,
    needs_write,
    new_backend_ref,
    remove_stable_ops,
    rule_weights,
    weight_of,
    weight_patch,
)
from canary.core.routes.rules import resolve_rules
from tests.unit.core.routes_support import NS, ref, resolve, route, seed_route, spec


def leaves(doc: Any, prefix: str = "") -> dict[str, Any]:
    """Every scalar in doc by JSON pointer, to compare documents leaf by leaf."""
    if isinstance(doc, dict):
        out: dict[str, Any] = {}
        for k, v in doc.items():
            out.update(leaves(v, f"{prefix}/{k}"))
        return out
    if isinstance(doc, list):
        out = {}
        for i, v in enumerate(doc):
            out.update(leaves(v, f"{prefix}/{i}"))
        return out
    return {prefix: doc}


def changed(before: Any, after: Any) -> set[str]:
    a, b = leaves(before), leaves(after)
    return {k for k in a.keys() | b.keys() if a.get(k, "<absent>") != b.get(k, "<absent>")}


def test_seed_step_one_patch() -> None:
    r = seed_route()
    res = resolve(r, spec())
    ops = weight_patch(r, res, canary_weight=5)
    base = "/spec/rules/0/backendRefs"
    assert ops == [
        {"op": "test", "path": "/metadata/generation", "value": 7},
        {"op": "test", "path": f"{base}/0/name", "value": "user-service-v2"},
        {"op": "test", "path": f"{base}/0/port", "value": 8080},
        {"op": "replace", "path": f"{base}/0/weight", "value": 95},
        {"op": "test", "path": f"{base}/1/name", "value": "user-service-v3"},
        {"op": "test", "path": f"{base}/1/port", "value": 8080},
        {"op": "replace", "path": f"{base}/1/weight", "value": 5},
    ]
    after = apply_patch(r, ops)
    assert changed(r, after) == {f"{base}/0/weight", f"{base}/1/weight"}
    assert live_weights(after, res) == (
        AppliedWeight(route="HTTPRoute/api-route", rule=0, stable=95, canary=5),
    )
    assert r["spec"]["rules"][0]["backendRefs"][0]["weight"] == 90  # input untouched


def test_absent_weight_is_added_and_namespace_tested() -> None:
    r = route([ref("user-service-v2", namespace=NS), ref("user-service-v3")])
    del r["metadata"]["generation"]
    ops = weight_patch(r, resolve(r, spec()), canary_weight=50)
    assert ops[0] == {
        "op": "test",
        "path": "/spec/rules/0/backendRefs/0/name",
        "value": "user-service-v2",
    }
    assert {"op": "test", "path": "/spec/rules/0/backendRefs/0/namespace", "value": NS} in ops
    assert [op["op"] for op in ops if op["path"].endswith("/weight")] == ["add", "add"]
    assert not any(op["path"] == "/metadata/generation" for op in ops)
    after = apply_patch(r, ops)
    assert [b["weight"] for b in after["spec"]["rules"][0]["backendRefs"]] == [50, 50]


def test_foreign_backends_filters_matches_and_metadata_untouched() -> None:
    r = route(
        [
            ref("mirror", 7),
            ref("user-service-v3", 10),
            ref("legacy"),  # weight absent = 1
            ref("user-service-v2", 90, filters=[{"type": "RequestHeaderModifier"}]),
        ],
        [ref("user-service-v2")],
    )
    r["metadata"]["annotations"] = {"team": "a"}
    r["spec"]["rules"][0]["filters"] = [{"type": "URLRewrite", "urlRewrite": {"path": {}}}]
    res = resolve(r, spec())
    after = apply_patch(r, weight_patch(r, res, canary_weight=50))
    assert changed(r, after) == {
        "/spec/rules/0/backendRefs/3/weight",
        "/spec/rules/0/backendRefs/1/weight",
    }
    (w,) = rule_weights(after, res)
    assert (w.stable, w.canary, w.foreign) == (50, 50, 8)
    assert w.share == pytest.approx(50 / 108)


def test_n_backends_in_several_named_rules() -> None:
    r = route(
        [ref("a", 1), ref("user-service-v2", 80), ref("user-service-v3", 20)],
        [ref("user-service-v3", 0), ref("b", 5), ref("user-service-v2", 100), ref("c", 2)],
        [ref("user-service-v2"), ref("user-service-v3")],
        names=["one", "two", "three"],
    )
    res = resolve(r, spec(["two", 0]))
    ops = weight_patch(r, res, canary_weight=30)
    after = apply_patch(r, ops)
    assert changed(r, after) == {
        "/spec/rules/1/backendRefs/2/weight",
        "/spec/rules/1/backendRefs/0/weight",
        "/spec/rules/0/backendRefs/1/weight",
        "/spec/rules/0/backendRefs/2/weight",
    }
    assert [(w.rule, w.stable, w.canary, w.foreign) for w in rule_weights(after, res)] == [
        (1, 70, 30, 7),
        (0, 70, 30, 1),
    ]
    assert [op["path"] for op in ops].count("/metadata/generation") == 1


def test_foreign_edit_after_resolution_fails_the_guard() -> None:
    r = seed_route()
    res = resolve(r, spec())
    ops = weight_patch(r, res, canary_weight=5)
    # someone reorders the backendRefs without a generation bump visible to the test
    live = copy.deepcopy(r)
    refs = live["spec"]["rules"][0]["backendRefs"]
    refs.reverse()
    with pytest.raises(PatchConflict, match="backendRefs/0/name"):
        apply_patch(live, ops)
    # any spec edit bumps the generation: the first test fails
    live = copy.deepcopy(r)
    live["metadata"]["generation"] = 8
    with pytest.raises(PatchConflict, match="/metadata/generation"):
        apply_patch(live, ops)
    # an unrelated edit with the same generation is fine (status, annotations)
    live = copy.deepcopy(r)
    live["metadata"]["annotations"] = {"x": "y"}
    live["status"] = {"parents": []}
    assert apply_patch(live, ops)["status"] == {"parents": []}


def test_stale_resolution_is_a_conflict() -> None:
    r = seed_route()
    res = resolve(r, spec())
    shrunk = copy.deepcopy(r)
    shrunk["spec"]["rules"][0]["backendRefs"].pop()
    with pytest.raises(PatchConflict, match="changed since it was resolved"):
        weight_patch(shrunk, res, canary_weight=5)
    shrunk["spec"]["rules"] = []
    with pytest.raises(PatchConflict, match="no rule 0 any more"):
        weight_patch(shrunk, res, canary_weight=5)


def test_needs_write() -> None:
    r = seed_route()
    res = resolve(r, spec())
    assert needs_write(r, res, 10) is False
    assert needs_write(r, res, 5) is True
    after = apply_patch(r, weight_patch(r, res, canary_weight=5))
    assert needs_write(after, res, 5) is False
    # absent weights count as 1: stable absent + w=99 already matches
    r2 = route([ref("user-service-v2"), ref("user-service-v3", 99)])
    assert needs_write(r2, resolve(r2, spec()), 99) is False


@pytest.mark.parametrize("weight", [-1, 101])
def test_weight_out_of_range(weight: int) -> None:
    r = seed_route()
    res = resolve(r, spec())
    with pytest.raises(ValueError, match="between 0 and 100"):
        weight_patch(r, res, canary_weight=weight)
    with pytest.raises(ValueError, match="between 0 and 100"):
        needs_write(r, res, weight)


def test_manage_backends_add_then_weights_then_remove() -> None:
    r = route([ref("user-service-v2", 100)], [ref("user-service-v2")])
    s = spec([0], manage=True)
    res = resolve(r, s)
    assert needs_write(r, res, 0) is True  # the canary is missing
    with pytest.raises(ValueError, match="apply add_canary_ops first"):
        weight_patch(r, res, canary_weight=5)
    assert live_weights(r, res)[0].canary == 0

    add = add_canary_ops(r, res, s.canary)
    assert add == [
        {"op": "test", "path": "/metadata/generation", "value": 7},
        {"op": "test", "path": "/spec/rules/0/backendRefs/0/name", "value": "user-service-v2"},
        {"op": "test", "path": "/spec/rules/0/backendRefs/0/port", "value": 8080},
        {
            "op": "add",
            "path": "/spec/rules/0/backendRefs/-",
            "value": {"name": "user-service-v3", "port": 8080, "weight": 0},
        },
    ]
    with_canary = apply_patch(r, add)
    assert changed(r, with_canary) == {
        "/spec/rules/0/backendRefs/1/name",
        "/spec/rules/0/backendRefs/1/port",
        "/spec/rules/0/backendRefs/1/weight",
    }
    res = resolve(with_canary, s)
    assert add_canary_ops(with_canary, res, s.canary) == []
    done = apply_patch(with_canary, weight_patch(with_canary, res, canary_weight=100))

    remove = remove_stable_ops(done, res)
    assert remove[-1] == {"op": "remove", "path": "/spec/rules/0/backendRefs/0"}
    final = apply_patch(done, remove)
    assert final["spec"]["rules"][0]["backendRefs"] == [
        {"name": "user-service-v3", "port": 8080, "weight": 100}
    ]
    assert final["spec"]["rules"][1] == r["spec"]["rules"][1]
    # the remove is guarded by the stable identity at its index
    moved = copy.deepcopy(done)
    moved["spec"]["rules"][0]["backendRefs"].reverse()
    with pytest.raises(PatchConflict):
        apply_patch(moved, remove)


def test_new_backend_ref_keeps_only_non_default_fields() -> None:
    full = BackendRef(name="v4", port=80, namespace="ns", kind="ServiceImport", group="mcs")
    assert new_backend_ref(full) == {
        "group": "mcs",
        "kind": "ServiceImport",
        "name": "v4",
        "namespace": "ns",
        "port": 80,
        "weight": 0,
    }
    assert new_backend_ref(BackendRef(name="v4")) == {"name": "v4", "weight": 0}


def test_share_of_a_rule_without_weight_is_zero() -> None:
    assert RuleWeights("HTTPRoute/x", 0, 0, 0, 0).share == 0.0


@pytest.mark.parametrize(("value", "expected"), [(3, 3), (None, 1), ("5", 1), (True, 1)])
def test_weight_of(value: Any, expected: int) -> None:
    assert weight_of({} if value is None else {"weight": value}) == expected


def test_grpc_route() -> None:
    r = seed_route()
    r["kind"] = "GRPCRoute"
    s = spec(routes=[{"kind": "GRPCRoute", "name": "api-route"}])
    res = resolve_rules(r, s, s.routes[0], namespace=NS)
    assert res.label == "GRPCRoute/api-route"
    assert live_weights(r, res)[0].route == "GRPCRoute/api-route"


# ---------------------------------------------------------------------------------------
# Properties: whatever the route, a weight patch changes exactly our weights


backend_names = st.sampled_from(["user-service-v2", "user-service-v3", "a", "b", "c"])
weights = st.one_of(st.none(), st.integers(0, 1000))


@st.composite
def routes(draw: st.DrawFn) -> dict[str, Any]:
    rules = []
    for _ in range(draw(st.integers(1, 4))):
        names = draw(st.lists(backend_names, min_size=0, max_size=5, unique=True))
        rules.append([ref(n, draw(weights)) for n in names])
    return route(*rules)


@given(routes(), st.integers(0, 100))
def test_property_only_our_weights_change(r: dict[str, Any], w: int) -> None:
    both = [
        k
        for k, rule in enumerate(r["spec"]["rules"])
        if {"user-service-v2", "user-service-v3"} <= {b["name"] for b in rule["backendRefs"]}
    ]
    if not both:
        return
    res = resolve(r, spec(both))
    after = apply_patch(r, weight_patch(r, res, canary_weight=w))
    ours = {
        f"/spec/rules/{rule.index}/backendRefs/{j}/weight"
        for rule in res.rules
        for j in (rule.stable, rule.canary)
    }
    assert changed(r, after) <= ours
    for rw in rule_weights(after, res):
        assert (rw.stable, rw.canary) == (100 - w, w)
    assert not needs_write(after, res, w)
