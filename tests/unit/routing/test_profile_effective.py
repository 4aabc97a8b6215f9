"""The operator's helpers with a profile: effective share, divergences, profile choice;
and the divergence report's pieces (answer lines, findings, representative requests)."""

from __future__ import annotations

from typing import Any

from canary.core.routing import (
    SPEC_PROFILE,
    TRAEFIK_PROFILE,
    BackendKey,
    build_table,
    compare,
    effective_canary_share,
    evaluate,
    gateway_controllers,
    lint_routes,
    make_request,
    route_profile,
)
from canary.core.routing import profiles as p
from canary.core.routing.divergence import answer, classify, representative_requests
from tests.unit.routing.routing_builders import backend, gateway, prefix, route, rule

H = "a.example.com"
STABLE, CANARY = BackendKey("stable", 8080), BackendKey("canary", 8080)
TRAEFIK_CLASS = {
    "apiVersion": "gateway.networking.k8s.io/v1",
    "kind": "GatewayClass",
    "metadata": {"name": "test"},
    "spec": {"controllerName": "traefik.io/gateway-controller"},
}


def _docs() -> list[Any]:
    """The canary rule (a long prefix) loses GET requests to a method rule in Traefik."""
    return [
        TRAEFIK_CLASS,
        gateway(),
        route(
            "app",
            rule(backend("stable", weight=90), backend("canary", weight=10),
                 matches=[prefix("/api/v1/users")]),
            rule(backend("other"), matches=[prefix("/api", method="GET")]),
            hostnames=[H],
        ),
    ]  # fmt: skip


def _share(docs: list[Any], profile: p.Profile) -> Any:
    return effective_canary_share(
        build_table(docs),
        route_kind="HTTPRoute",
        route_namespace="app",
        route_name="app",
        rule_indexes=[0],
        stable=STABLE,
        canary=CANARY,
        profile=profile,
    )


def test_spec_verifies_the_split_traefik_does_not() -> None:
    spec = _share(_docs(), SPEC_PROFILE)
    assert (spec.share, spec.verified, spec.divergences, spec.profile) == (0.1, True, (), "spec")
    traefik = _share(_docs(), TRAEFIK_PROFILE)
    assert traefik.share == 0.0 and not traefik.verified
    assert "taken by HTTPRoute app/app rule 1" in (traefik.culprit or "")
    assert [f.code for f in traefik.divergences] == [p.METHOD_VS_PREFIX]
    assert traefik.profile == "traefik"


def test_a_tie_is_not_verified() -> None:
    """Given the addressed route on ``a.example.com`` and an unrelated newer one on
    ``*.example.com`` with the same prefix (equal lengths: equal Traefik priorities, and
    different rule texts, so Traefik keeps both routers), when the traefik profile predicts
    the split, then the probe's answer is undetermined: the share is the rule's own but not
    verified, and the culprit names the tied router."""
    docs = [
        gateway(),
        route("app", rule(backend("stable", weight=1), backend("canary", weight=1),
                          matches=[prefix("/p")]), hostnames=[H], created="2024-01-01T00:00:00Z"),
        route("b", rule(backend("x"), matches=[prefix("/p")]), hostnames=["*.example.com"],
              created="2024-01-02T00:00:00Z"),
    ]  # fmt: skip
    traefik = _share(docs, TRAEFIK_PROFILE)
    assert (traefik.share, traefik.verified) == (0.5, False)
    assert "routers of equal priority" in (traefik.culprit or "")
    assert "HTTPRoute app/b rule 0 match 0" in (traefik.culprit or "")
    assert "traefik may serve either" in (traefik.culprit or "")
    assert [f.code for f in traefik.divergences] == [p.TIE_ORDER]
    # the spec ranks the exact hostname first: determined and verified
    spec = _share(docs, SPEC_PROFILE)
    assert (spec.share, spec.verified, spec.culprit) == (0.5, True, None)


def test_a_request_that_ties_is_not_one_the_probe_sends() -> None:
    docs = [
        gateway(),
        route("app", rule(backend("stable", weight=1), backend("canary", weight=1),
                          matches=[prefix("/p", headers=[{"name": "X-A", "value": "1"}])]),
              hostnames=[H], created="2024-01-01T00:00:00Z"),
        route("b", rule(backend("x"), matches=[prefix("/p", headers=[
            {"name": "X-B", "value": "1"}])]), hostnames=[H], created="2024-01-02T00:00:00Z"),
    ]  # fmt: skip
    # the probe only sends X-A: no tie; a request with both headers ties
    assert _share(docs, TRAEFIK_PROFILE).verified
    table = build_table(docs)
    req = make_request("GET", f"http://{H}/p", [("X-A", "1"), ("X-B", "1")])
    d = evaluate(table, req, profile=TRAEFIK_PROFILE)
    assert d.tied_with and d.to_dict()["tied_with"] == d.tied_with


def test_route_profile_follows_the_gateway_class() -> None:
    docs = _docs()
    table = build_table(docs)
    kw: dict[str, str] = {
        "route_kind": "HTTPRoute",
        "route_namespace": "app",
        "route_name": "app",
    }
    assert route_profile(table, gateway_controllers(docs), **kw) is TRAEFIK_PROFILE
    assert route_profile(table, {}, **kw) is SPEC_PROFILE
    assert route_profile(table, gateway_controllers(docs), **{**kw, "route_name": "x"}) is (
        SPEC_PROFILE
    )
    assert gateway_controllers([None, {"kind": "GatewayClass", "metadata": "x"}, *docs]) == {
        "test": "traefik.io/gateway-controller"
    }


def test_lint_with_profile_and_the_finding_text() -> None:
    table = build_table(_docs())
    assert not [x for x in lint_routes(table) if x.code == "divergence"]
    warnings = [x for x in lint_routes(table, TRAEFIK_PROFILE) if x.code == "divergence"]
    assert [(w.severity, w.rule) for w in warnings] == [("warning", 0)]
    req = make_request("GET", f"http://{H}/api/v1/users")
    f = compare(table, req, TRAEFIK_PROFILE)
    assert f is not None and f.to_dict()["code"] == p.METHOD_VS_PREFIX
    assert f.message().startswith(f"GET http://{H}/api/v1/users: spec → 200 HTTPRoute app/app")
    assert compare(table, req, SPEC_PROFILE) is None
    miss = evaluate(table, make_request("GET", f"http://{H}/nothing"))
    assert answer(miss) == "404 (no match)"


def test_representative_requests_go_below_a_replaced_prefix() -> None:
    rewrite = {"type": "URLRewrite", "urlRewrite": {"path": {
        "type": "ReplacePrefixMatch", "replacePrefixMatch": ""}}}  # fmt: skip
    docs = [gateway(), route("r", rule(backend("a"), matches=[prefix("/strip")],
                                       filters=[rewrite]), hostnames=[H])]  # fmt: skip
    table = build_table(docs)
    att = table.attachments[0]
    paths = [r.path for _, r in representative_requests(att, att.route.rules[0])]
    assert paths == ["/strip", "/strip/canary-probe"]
    findings = [x for x in lint_routes(table, TRAEFIK_PROFILE) if x.code == "divergence"]
    assert len(findings) == 1 and "replace-prefix-match" in findings[0].message


def test_classify_other_and_grpc_serving_http() -> None:
    docs = [
        gateway(),
        route("g", rule(backend("g"), matches=[{"method": {"service": "a.B", "method": "C"}}]),
              kind="GRPCRoute", hostnames=["g.example"]),
    ]  # fmt: skip
    table = build_table(docs)
    # a plain HTTP request whose path looks like a gRPC method: Traefik's router matches it
    req = make_request("POST", "http://g.example/a.B/C")
    s = evaluate(table, req)
    t = evaluate(table, req, profile=TRAEFIK_PROFILE)
    assert (s.status, t.route) == (404, "app/g")
    assert classify(table, req, s, t)[0] == p.OTHER


def test_traefik_fast_path_and_full_scan_agree_on_seeded_requests() -> None:
    from canary.core.routing.synthetic import synthetic_docs, synthetic_requests

    table = build_table(synthetic_docs(3, routes=120, hostnames=20))
    for req in synthetic_requests(3, 400, hostnames=20):
        fast = evaluate(table, req, profile=TRAEFIK_PROFILE)
        full = evaluate(table, req, profile=TRAEFIK_PROFILE, explain=True)
        assert (fast.route, fast.rule, fast.status, fast.priority) == (
            full.route,
            full.rule,
            full.status,
            full.priority,
        ), req.describe()
