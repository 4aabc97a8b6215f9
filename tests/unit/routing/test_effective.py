"""The operator's helper: the canary's effective share of a Rollout's addressed rules."""

from __future__ import annotations

from canary.core.routing import BackendKey, build_table, effective_canary_share
from tests.unit.routing.routing_builders import (
    backend,
    exact,
    gateway,
    listener,
    prefix,
    route,
    rule,
    seed_docs,
    service,
)

V2, V3 = BackendKey("user-service-v2", 8080), BackendKey("user-service-v3", 8080)


def _share(
    docs,
    rules=(0,),
    name="api-route",
    ns="app-team-a",
    kind="HTTPRoute",  # type: ignore[no-untyped-def]
    stable=V2,
    canary=V3,
):
    table = docs if not isinstance(docs, list) else build_table(docs)
    return effective_canary_share(
        table,
        route_kind=kind,
        route_namespace=ns,
        route_name=name,
        rule_indexes=list(rules),
        stable=stable,
        canary=canary,
    )


def test_seed_api_route_rule_0_is_verified_at_10_percent() -> None:
    s = _share(seed_docs())
    assert (s.share, s.expected, s.verified, s.culprit) == (0.1, 0.1, True, None)
    (req,) = s.per_request
    assert (req.listener, req.hostname, req.probed) == ("https", "api.example.com", True)
    assert "X-Api-Version: v2" in req.request


def test_canary_missing_from_rule_1_is_the_culprit() -> None:
    s = _share(seed_docs(), rules=(1,))
    assert (s.share, s.expected, s.verified) == (0.0, 0.0, False)
    assert s.culprit is not None and "canary backend" in s.culprit


def test_a_shadowing_route_is_named() -> None:
    docs = [
        *seed_docs(),
        route(
            "hijack",
            rule(backend("other")),
            namespace="app-team-a",
            hostnames=["api.example.com"],
            parents=[{"name": "prod-gateway", "namespace": "infra"}],
            created="2000-01-01T00:00:00Z",
        ),
    ]
    docs[-1]["spec"]["rules"][0]["matches"] = [
        prefix("/users", headers=[{"name": "X-Api-Version", "value": "v2"}])
    ]
    s = _share(docs)
    assert s.share == 0.0 and not s.verified
    assert s.culprit is not None and "HTTPRoute app-team-a/hijack rule 0" in s.culprit
    assert s.per_request[0].taken_by == "HTTPRoute app-team-a/hijack rule 0"


def test_unresolved_canary_and_missing_grant() -> None:
    gw = gateway()
    r = route("r", rule(backend("stable", weight=95), backend("canary", weight=5, namespace="x")))
    s = _share(
        [gw, r],
        name="r",
        ns="app",
        stable=BackendKey("stable", 8080),
        canary=BackendKey("canary", 8080, namespace="x"),
    )
    assert (s.share, s.expected, s.verified) == (0.0, 0.05, False)
    assert s.culprit is not None and "no ReferenceGrant in namespace x" in s.culprit


def test_unresolved_stable_fails_verification_even_if_the_canary_share_is_right() -> None:
    r = route("r", rule(backend("stable", weight=95), backend("canary", weight=5)))
    s = _share(
        [gateway(), service("canary"), r],
        name="r",
        ns="app",
        stable=BackendKey("stable"),
        canary=BackendKey("canary"),
    )
    assert s.share == 0.05 and not s.verified
    assert s.culprit is not None and "app/stable" in s.culprit


def test_every_parent_listener_and_hostname_is_probed_and_the_minimum_wins() -> None:
    gw = gateway(listener("a", 80), listener("b", 8080))
    r = route(
        "r",
        rule(backend("s", weight=90), backend("c", weight=10), matches=[prefix("/x"), exact("/y")]),
        hostnames=["one.example", "two.example"],
    )
    # on port 8080 only, for two.example only, an older route takes /x
    other = route(
        "o",
        rule(backend("z"), matches=[prefix("/x")]),
        hostnames=["two.example"],
        parents=[{"name": "gw", "namespace": "infra", "sectionName": "b"}],
        created="2000-01-01T00:00:00Z",
    )
    s = _share([gw, r, other], name="r", ns="app", stable=BackendKey("s"), canary=BackendKey("c"))
    assert len(s.per_request) == 2 * 2 * 2
    assert s.share == 0.0 and s.expected == 0.1 and not s.verified
    bad = [p for p in s.per_request if not p.verified]
    assert [(p.listener, p.hostname, p.match) for p in bad] == [("b", "two.example", 0)]


def test_regex_only_rule_cannot_be_verified_and_mixed_rules_skip_the_regex() -> None:
    rx = {"path": {"type": "RegularExpression", "value": "/x.*"}}
    r = route("r", rule(backend("s"), backend("c"), matches=[rx]))
    s = _share([gateway(), r], name="r", ns="app", stable=BackendKey("s"), canary=BackendKey("c"))
    assert not s.verified and s.culprit is not None and "RegularExpression" in s.culprit
    r = route("r", rule(backend("s"), backend("c"), matches=[rx, prefix("/x")]))
    s = _share([gateway(), r], name="r", ns="app", stable=BackendKey("s"), canary=BackendKey("c"))
    assert s.verified and s.share == 0.5
    assert [p.probed for p in s.per_request] == [False, True]


def test_route_not_found_not_attached_and_bad_rule_index() -> None:
    assert (
        _share(seed_docs(), name="nope").culprit
        == "HTTPRoute app-team-a/nope not found in the input"
    )
    assert "has no rule 7" in (_share(seed_docs(), rules=(7,)).culprit or "")
    assert "no rules" in (_share(seed_docs(), rules=()).culprit or "")
    r = route("r", rule(backend("s"), backend("c")), parents=[{"name": "missing"}])
    s = _share([gateway(), r], name="r", ns="app", stable=BackendKey("s"), canary=BackendKey("c"))
    assert not s.verified and s.culprit is not None and "attached to no listener" in s.culprit


def test_grpc_route_probe() -> None:
    s = _share(
        seed_docs(),
        name="grpc-route",
        ns="default",
        kind="GRPCRoute",
        stable=BackendKey("user-grpc-service", 50051),
        canary=BackendKey("user-grpc-service", 50051),
    )
    assert s.verified and s.share == 1.0


def test_404_probe_is_reported() -> None:
    gw = gateway(listener("specific", hostname="a.example"), listener("wild", hostname="*.example"))
    r = route(
        "r",
        rule(backend("s"), backend("c")),
        parents=[{"name": "gw", "namespace": "infra", "sectionName": "wild"}],
        hostnames=["a.example"],
    )
    s = _share([gw, r], name="r", ns="app", stable=BackendKey("s"), canary=BackendKey("c"))
    assert not s.verified and s.culprit is not None and "gets 404" in s.culprit
