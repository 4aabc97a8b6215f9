"""Rule addressing (canary.core.routes.rules): explicit names/indexes, the one rule, else
Invalid."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from canary.core.models import BackendRef
from canary.core.routes.rules import InvalidRollout, backend_label, live_key, resolve_rules
from tests.unit.core.routes_support import NS, ref, resolve, route, seed_route, spec


def test_seed_addresses_the_one_rule_listing_both() -> None:
    res = resolve(seed_route(), spec())
    assert res.label == "HTTPRoute/api-route"
    assert res.namespace == NS and res.route_index == 0
    assert [(r.index, r.stable, r.canary) for r in res.rules] == [(0, 0, 1)]


def test_reordered_backend_refs() -> None:
    r = route([ref("other", 3), ref("user-service-v3", 10), ref("user-service-v2", 90)])
    (rule,) = resolve(r, spec()).rules
    assert (rule.stable, rule.canary) == (2, 1)


@pytest.mark.parametrize(
    ("wanted", "expected"),
    [([1], [1]), (["beta"], [1]), (["beta", 0], [1, 0]), ([2, "alpha"], [2, 0])],
)
def test_explicit_rules_by_name_or_index(wanted: list[int | str], expected: list[int]) -> None:
    pair = [ref("user-service-v2", 50), ref("user-service-v3", 50)]
    r = route(pair, copy.deepcopy(pair), copy.deepcopy(pair), names=["alpha", "beta", None])
    res = resolve(r, spec(wanted))
    assert [x.index for x in res.rules] == expected
    assert res.rules[0].name == {0: "alpha", 1: "beta", 2: None}[expected[0]]


@pytest.mark.parametrize(
    ("wanted", "field", "text"),
    [
        ([5], "spec.routes[0].rules[0]", "rule index 5 is out of range: HTTPRoute/api-route has 2"),
        ([0, "nope"], "spec.routes[0].rules[1]", "has no rule named 'nope'"),
        ([0, 0], "spec.routes[0].rules[1]", "rule 0 of HTTPRoute/api-route is addressed twice"),
        ([], "spec.routes[0].rules", "is empty"),
        ([1], "spec.routes[0].rules[0]", "does not list canary backend user-service-v3:8080"),
    ],
)
def test_explicit_rules_invalid(wanted: list[int | str], field: str, text: str) -> None:
    with pytest.raises(InvalidRollout) as err:
        resolve(seed_route(), spec(wanted))
    assert err.value.field == field
    assert text in err.value.message
    assert str(err.value) == f"{field}: {err.value.message}"


def test_out_of_range_says_rule_singular() -> None:
    r = route([ref("user-service-v2"), ref("user-service-v3")])
    with pytest.raises(InvalidRollout, match=r"has 1 rule$"):
        resolve(r, spec([1]))


def test_no_rule_lists_both() -> None:
    r = route([ref("user-service-v2")], [ref("user-service-v3")])
    with pytest.raises(InvalidRollout) as err:
        resolve(r, spec())
    assert err.value.field == "spec.routes[0].rules"
    assert err.value.message == (
        "no rule of HTTPRoute/api-route lists both user-service-v2:8080 and user-service-v3:8080"
    )


def test_ambiguous_rules_are_invalid() -> None:
    pair = [ref("user-service-v2", 90), ref("user-service-v3", 10)]
    r = route(pair, [ref("x")], copy.deepcopy(pair), copy.deepcopy(pair))
    with pytest.raises(InvalidRollout) as err:
        resolve(r, spec())
    assert err.value.field == "spec.routes[0].rules"
    assert "rules 0, 2 and 3 of HTTPRoute/api-route list both backends" in err.value.message
    assert err.value.message.endswith("name the rules in spec.routes[0].rules")


def test_two_ambiguous_rules_wording() -> None:
    pair = [ref("user-service-v2"), ref("user-service-v3")]
    with pytest.raises(InvalidRollout, match="rules 0 and 1 of"):
        resolve(route(pair, copy.deepcopy(pair)), spec())


def test_duplicate_backend_in_rule_is_invalid() -> None:
    r = route([ref("user-service-v2"), ref("user-service-v3"), ref("user-service-v2")])
    with pytest.raises(InvalidRollout) as err:
        resolve(r, spec([0]))
    assert err.value.field == "spec.routes[0].rules[0]"
    assert "lists stable backend user-service-v2:8080 2 times (backendRefs 0, 2)" in str(err.value)


def test_port_disambiguates_and_is_ignored_when_not_given() -> None:
    r = route([ref("user-service-v2", port=9090), ref("user-service-v2"), ref("user-service-v3")])
    # the Rollout gives port 8080: only backendRef 1 is the stable one
    assert resolve(r, spec()).rules[0].stable == 1
    # without a port, both v2 refs match: duplicate
    s = spec(stable={"name": "user-service-v2"})
    with pytest.raises(InvalidRollout, match="2 times"):
        resolve(r, s)


def test_identity_uses_group_kind_namespace_defaults() -> None:
    r = route(
        [
            ref("user-service-v2", group="", kind="Service", namespace=NS),
            ref("user-service-v3", kind="ServiceImport", group="multicluster.x-k8s.io"),
            ref("user-service-v3", namespace="other"),
        ]
    )
    # the canary Service in the route's namespace is not listed: the ServiceImport and the
    # Service in "other" are different backends
    with pytest.raises(InvalidRollout, match="does not list canary"):
        resolve(r, spec([0]))
    s = spec(canary={"name": "user-service-v3", "namespace": "other"})
    assert resolve(r, s).rules[0].canary == 2
    s = spec(
        canary={
            "name": "user-service-v3",
            "kind": "ServiceImport",
            "group": "multicluster.x-k8s.io",
        }
    )
    assert resolve(r, s).rules[0].canary == 1


def test_route_namespace_defaults_to_rollouts() -> None:
    r = seed_route()
    del r["metadata"]["namespace"]
    assert resolve(r, spec()).namespace == NS


def test_missing_stable_is_invalid_even_with_manage_backends() -> None:
    r = route([ref("user-service-v3")])
    with pytest.raises(InvalidRollout, match=r"does not list stable backend user-service-v2:8080$"):
        resolve(r, spec([0], manage=True))


def test_missing_canary_with_manage_backends_resolves_to_none() -> None:
    r = route([ref("user-service-v2")])
    (rule,) = resolve(r, spec([0], manage=True)).rules
    assert (rule.stable, rule.canary) == (0, None)
    with pytest.raises(InvalidRollout, match=r"\(or set spec.manageBackends\)"):
        resolve(r, spec([0]))


def test_wrong_route_object() -> None:
    r = seed_route()
    r["kind"] = "GRPCRoute"
    with pytest.raises(
        InvalidRollout, match="expected HTTPRoute/api-route, got GRPCRoute/api-route"
    ):
        resolve(r, spec())


@pytest.mark.parametrize(
    "spec_value",
    [{"rules": "x"}, {"rules": [1]}, "nope", {"rules": [{"backendRefs": {"name": "a"}}]}],
)
def test_malformed_route_is_invalid_not_a_crash(spec_value: Any) -> None:
    r = seed_route()
    r["spec"] = spec_value
    with pytest.raises(InvalidRollout) as err:
        resolve(r, spec())
    assert err.value.field == "spec.routes[0]"


def test_route_without_rules_lists_nothing() -> None:
    r = seed_route()
    r["spec"] = {}
    r["metadata"] = None
    r["metadata"] = {"name": "api-route"}
    with pytest.raises(InvalidRollout, match="no rule of"):
        resolve(r, spec())


def test_route_index_is_found_or_given() -> None:
    s = spec(routes=[{"name": "other"}, {"name": "api-route"}])
    res = resolve_rules(seed_route(), s, s.routes[1], namespace=NS)
    assert res.route_index == 1
    with pytest.raises(InvalidRollout) as err:
        resolve_rules(route([ref("a")]), s, s.routes[1], namespace=NS, route_index=1)
    assert err.value.field == "spec.routes[1].rules"


def test_helpers() -> None:
    assert backend_label(BackendRef(name="a")) == "a"
    assert backend_label(BackendRef(name="a", port=80, namespace="n")) == "n/a:80"
    assert live_key({"name": "a", "port": "80"}, "ns") == ("", "Service", "ns", "a", None)
