"""The traefik profile: one test per divergence from the spec (docs/evaluator-spec.md,
"Data-plane profiles"). Each builds the route set, asks both profiles, and checks
Traefik's answer (as observed on Traefik 3.7.15 by the differential harness) and the
cause ``compare`` names."""

from __future__ import annotations

from typing import Any

import pytest

from canary.core.routing import (
    SPEC_PROFILE,
    TRAEFIK_PROFILE,
    Decision,
    build_table,
    compare,
    evaluate,
    get_profile,
    make_request,
    profile_for_controller,
)
from canary.core.routing import profiles as p
from canary.core.routing.traefik_rules import (
    go_quote,
    grpc_priority,
    host_rule_text,
    http_priority,
    http_rule_text,
    join_prefix,
    quote_meta,
)
from tests.unit.routing.routing_builders import (
    backend,
    endpoint_slice,
    exact,
    gateway,
    listener,
    prefix,
    route,
    rule,
    service,
)

H = "a.example.com"


def _both(docs: list[Any], line: str, headers: list[tuple[str, str]] | None = None, **kw: Any):
    table = build_table(docs)
    method, url = line.split()
    req = make_request(method, url, headers or [], **kw)
    return (
        table,
        req,
        evaluate(table, req, profile=SPEC_PROFILE),
        evaluate(table, req, profile=TRAEFIK_PROFILE, explain=True),
    )


def _served(d: Decision) -> str:
    return f"{d.route} {d.rule}" if d.route else str(d.status)


def _cause(docs: list[Any], line: str, headers: list[tuple[str, str]] | None = None, **kw: Any):
    table, req, s, t = _both(docs, line, headers, **kw)
    f = compare(table, req, TRAEFIK_PROFILE)
    assert f is not None
    return s, t, f


def test_method_vs_prefix() -> None:
    docs = [
        gateway(),
        route("r", rule(backend("long"), matches=[prefix("/api/v1/users")]),
              rule(backend("method"), matches=[prefix("/api", method="GET")]), hostnames=[H]),
    ]  # fmt: skip
    s, t, f = _cause(docs, f"GET http://{H}/api/v1/users")
    assert (_served(s), _served(t)) == ("app/r 0", "app/r 1")
    assert t.priority == 10000 + 400 + 1000 + len(H) + 1
    assert f.code == p.METHOD_VS_PREFIX
    # ten characters longer: the prefix wins again, as in the spec
    docs[1]["spec"]["rules"][0]["matches"] = [prefix("/api/abcdefghij")]
    _, _, s2, t2 = _both(docs, f"GET http://{H}/api/abcdefghij")
    assert _served(s2) == _served(t2) == "app/r 0"


def test_matches_vs_prefix() -> None:
    hdrs = [{"name": f"X-{i}", "value": "v"} for i in range(4)]
    docs = [
        gateway(),
        route("r", rule(backend("long"), matches=[prefix("/ab/cd")]),
              rule(backend("hdr"), matches=[prefix("/ab", headers=hdrs)]), hostnames=[H]),
    ]  # fmt: skip
    s, t, f = _cause(docs, f"GET http://{H}/ab/cd", [(h["name"], "v") for h in hdrs])
    assert (_served(s), _served(t)) == ("app/r 0", "app/r 1")
    assert f.code == p.MATCHES_VS_PREFIX


def test_prefix_trailing_slash_counts() -> None:
    q = [{"name": "q", "value": "1"}]
    docs = [
        gateway(),
        route("r", rule(backend("a"), matches=[prefix("/api", queryParams=q)]),
              rule(backend("b"), matches=[prefix("/api/")]), hostnames=[H]),
    ]  # fmt: skip
    s, t, f = _cause(docs, f"GET http://{H}/api/x?q=1")
    assert (_served(s), _served(t)) == ("app/r 0", "app/r 1")
    assert f.code == p.PREFIX_TRAILING_SLASH


def test_regex_is_unanchored_and_ranked_like_a_prefix() -> None:
    docs = [
        gateway(),
        route("r", rule(backend("re"), matches=[{"path": {"type": "RegularExpression",
                                                          "value": "/v[0-9]"}}]),
              hostnames=[H]),
    ]  # fmt: skip
    s, t, f = _cause(docs, f"GET http://{H}/api/v2/x")
    assert (s.status, _served(t)) == (404, "app/r 0")
    assert f.code == p.REGEX_PATH
    assert any("RE2" in n for n in t.notes)


def test_hostname_precedence_is_only_a_length() -> None:
    docs = [
        gateway(),
        route("exact", rule(backend("a"), matches=[prefix("/a")]), hostnames=[H]),
        route("wild", rule(backend("b"), matches=[prefix("/a/b")]), hostnames=["*.example.com"]),
    ]
    s, t, f = _cause(docs, f"GET http://{H}/a/b")
    assert (_served(s), _served(t)) == ("app/exact 0", "app/wild 0")
    assert f.code == p.HOSTNAME_PRECEDENCE


def test_rule_order_term_breaks_ties_across_routes() -> None:
    def hdr(name: str) -> list[dict[str, str]]:
        return [{"name": name, "value": "1"}]

    docs = [
        gateway(),
        route("old", rule(backend("a"), matches=[prefix("/p", headers=hdr("X-A"))]),
              hostnames=[H], created="2024-01-01T00:00:00Z"),
        route("new", rule(backend("b"), matches=[prefix("/p", headers=hdr("X-B"))]),
              rule(backend("c"), matches=[exact("/o")]), hostnames=[H],
              created="2024-02-01T00:00:00Z"),
    ]  # fmt: skip
    s, t, f = _cause(docs, f"GET http://{H}/p", [("X-A", "1"), ("X-B", "1")])
    assert (_served(s), _served(t)) == ("app/old 0", "app/new 0")
    assert f.code == p.TIE_ORDER


def test_identical_rules_keep_the_oldest_router() -> None:
    docs = [
        gateway(),
        route("zzz", rule(backend("a"), matches=[prefix("/p")]), hostnames=[H],
              created="2024-01-01T00:00:00Z"),
        route("aaa", rule(backend("b"), matches=[prefix("/p")]),
              rule(backend("c"), matches=[exact("/q")]), hostnames=[H],
              created="2024-02-01T00:00:00Z"),
    ]  # fmt: skip
    table, req, s, t = _both(docs, f"GET http://{H}/p")
    # "aaa" has the higher priority (2 rules) but Traefik does not create its router
    assert _served(s) == _served(t) == "app/zzz 0"
    assert compare(table, req, TRAEFIK_PROFILE) is None


def test_equal_priority_is_undetermined() -> None:
    docs = [
        gateway(),
        route("a", rule(backend("a"), matches=[prefix("/p", headers=[
            {"name": "X-A", "value": "1"}])]), hostnames=[H]),
        route("b", rule(backend("b"), matches=[prefix("/p", headers=[
            {"name": "X-B", "value": "1"}])]), hostnames=[H]),
    ]  # fmt: skip
    _, t, f = _cause(docs, f"GET http://{H}/p", [("X-A", "1"), ("X-B", "1")])
    assert t.tied_with == ["HTTPRoute app/b rule 0 match 0"]
    assert f.code == p.TIE_ORDER


def test_duplicate_header_names_are_all_required() -> None:
    dup = [{"name": "X-Dup", "value": "1"}, {"name": "x-dup", "value": "2"}]
    docs = [gateway(), route("r", rule(backend("a"), matches=[prefix("/d", headers=dup)]),
                             hostnames=[H])]  # fmt: skip
    s, t, f = _cause(docs, f"GET http://{H}/d", [("X-Dup", "1")])
    assert (_served(s), t.status) == ("app/r 0", 404)
    assert f.code == p.DUPLICATE_MATCH_NAMES
    _, _, s2, t2 = _both(docs, f"GET http://{H}/d", [("X-Dup", "1"), ("X-Dup", "2")])
    assert t2.status == 200 and s2.status == 404  # the spec joins the values: "1,2"


def test_repeated_values_match_any() -> None:
    docs = [
        gateway(),
        route("r", rule(backend("a"), matches=[prefix("/q", queryParams=[
            {"name": "p", "value": "1"}])]), hostnames=[H]),
    ]  # fmt: skip
    s, t, f = _cause(docs, f"GET http://{H}/q?p=0&p=1")
    assert (s.status, _served(t)) == (404, "app/r 0")
    assert f.code == p.REPEATED_VALUES


@pytest.mark.parametrize(
    ("prefix_", "replacement", "path", "forwarded"),
    [
        ("/strip", "", "/strip/bar", "bar"),
        ("/strip", "", "/strip/bar/", "bar/"),
        ("/strip", "", "/strip", "/"),
        ("/strip/", "", "/strip", "/"),
        ("/strip", "/", "/strip/bar", "/bar"),
        ("/strip/", "/new/", "/strip", "/new"),
        ("/strip", "/new", "/strip/", "/new/"),
        ("/strip/", "/new", "/strip/a/b", "/new/a/b"),
    ],
)
def test_replace_prefix_match_as_observed(
    prefix_: str, replacement: str, path: str, forwarded: str
) -> None:
    assert join_prefix(path, prefix_, replacement) == forwarded


def test_replace_prefix_match_divergence() -> None:
    f_ = {"type": "URLRewrite", "urlRewrite": {"path": {"type": "ReplacePrefixMatch",
                                                         "replacePrefixMatch": ""}}}  # fmt: skip
    docs = [gateway(), route("r", rule(backend("a"), matches=[prefix("/strip")], filters=[f_]),
                             hostnames=[H])]  # fmt: skip
    s, t, f = _cause(docs, f"GET http://{H}/strip/bar")
    assert (s.request.path, t.request.path) == ("/bar", "bar")
    assert f.code == p.REPLACE_PREFIX_MATCH


@pytest.mark.parametrize(
    ("redirect", "host", "location"),
    [
        ({"port": 80}, H, f"http://{H}:80/r"),
        ({"scheme": "https"}, f"{H}:8000", f"https://{H}/r"),
        ({}, f"{H}:8000", f"http://{H}:8000/r"),
        ({}, H, f"http://{H}/r"),
        ({"hostname": "b.example", "port": 8443}, H, "http://b.example:8443/r"),
    ],
)
def test_redirect_location(redirect: dict[str, Any], host: str, location: str) -> None:
    f_ = {"type": "RequestRedirect", "requestRedirect": redirect}
    docs = [gateway(listener(port=8000)),
            route("r", {"matches": [prefix("/r")], "filters": [f_]}, hostnames=[H])]  # fmt: skip
    _, _, _, t = _both(docs, f"GET http://{H}:8000/r", [("Host", host)])
    assert t.location == location


def test_redirect_port_divergence() -> None:
    f_ = {"type": "RequestRedirect", "requestRedirect": {"port": 80}}
    docs = [gateway(), route("r", {"matches": [prefix("/r")], "filters": [f_]}, hostnames=[H])]
    s, t, f = _cause(docs, f"GET http://{H}/r")
    assert (s.location, t.location) == (f"http://{H}/r", f"http://{H}:80/r")
    assert f.code == p.REDIRECT_PORT


def test_all_zero_weights_answer_503() -> None:
    docs = [gateway(), route("r", rule(backend("a", weight=0), backend("b", weight=0)),
                             hostnames=[H])]  # fmt: skip
    s, t, f = _cause(docs, f"GET http://{H}/")
    assert (s.status, t.status) == (500, 503)
    assert f.code == p.ALL_ZERO_WEIGHTS


def test_no_ready_endpoints_answer_503_but_a_missing_service_500() -> None:
    docs = [
        gateway(),
        service("a"), service("b"), endpoint_slice("a", ready=False),
        route("r", rule(backend("a"), matches=[prefix("/a")]),
              rule(backend("b"), matches=[prefix("/b")]), hostnames=[H]),
    ]  # fmt: skip
    s, t, f = _cause(docs, f"GET http://{H}/a")
    assert (s.status, t.status) == (500, 503)
    assert f.code == p.NO_READY_ENDPOINTS
    _, _, s2, t2 = _both(docs, f"GET http://{H}/b")  # Service b has no slice at all
    assert s2.status == t2.status == 500


def test_no_listener_isolation() -> None:
    docs = [
        gateway(listener("wild", hostname="*.example.com"), listener("a", hostname=H)),
        route("on-a", rule(backend("a"), matches=[prefix("/x")]),
              parents=[{"name": "gw", "namespace": "infra", "sectionName": "a"}]),
        route("on-wild", rule(backend("w"), matches=[prefix("/y")]),
              parents=[{"name": "gw", "namespace": "infra", "sectionName": "wild"}]),
    ]  # fmt: skip
    s, t, f = _cause(docs, f"GET http://{H}/y")
    assert (s.status, _served(t)) == (404, "app/on-wild 0")
    assert f.code == p.LISTENER_ISOLATION


def _grpc_route(*rules: dict[str, Any]) -> dict[str, Any]:
    return route("g", *rules, kind="GRPCRoute", hostnames=["g.example"])


def test_grpc_priority_is_rule_text_length() -> None:
    docs = [
        gateway(),
        _grpc_route(
            rule(backend("exact"), matches=[{"method": {"service": "a.B", "method": "Get"}}]),
            rule(backend("svc"), matches=[{"method": {"service": "a.B"}}])),
    ]  # fmt: skip
    s, t, f = _cause(docs, "POST http://g.example/", grpc=("a.B", "Get"))
    assert (_served(s), _served(t)) == ("app/g 0", "app/g 1")
    assert t.priority == len("g.example") + len('PathRegexp("/a\\\\.B/[^/]+")')
    assert f.code == p.GRPC_PRECEDENCE


def test_grpc_exact_method_matches_longer_names() -> None:
    docs = [gateway(), _grpc_route(rule(backend("m"), matches=[{"method": {"method": "Get"}}]))]
    s, t, f = _cause(docs, "POST http://g.example/", grpc=("x.Y", "GetAll"))
    assert (s.status, _served(t)) == (404, "app/g 0")
    assert f.code == p.GRPC_METHOD_PREFIX


def test_go_helpers_and_rule_text() -> None:
    assert quote_meta("a.b*c") == "a\\.b\\*c"
    assert go_quote('a"b\\c\n\x01') == '"a\\"b\\\\c\\n\\x01"'
    assert host_rule_text(["*"]) == ""
    assert host_rule_text(["a.b", "*.c.d"]) == (
        '(Host("a.b") || HostRegexp("^[a-z0-9-\\\\.]+\\\\.c\\\\.d$"))'
    )
    table = build_table([gateway(), route("r", rule(backend("a"), matches=[
        {"path": {"type": "RegularExpression", "value": "/x+"}, "method": "GET",
         "headers": [{"name": "X-A", "type": "RegularExpression", "value": "a.*"}],
         "queryParams": [{"name": "q", "type": "RegularExpression", "value": "1"},
                         {"name": "r", "value": "2"}]},
        prefix("/")]), hostnames=[H])])  # fmt: skip
    m0, m1 = table.objects.routes[0].rules[0].matches
    assert http_rule_text(m0, [H]) == (
        f'Host("{H}") && PathRegexp("/x+") && Method("GET") && HeaderRegexp("X-A","a.*") '
        '&& QueryRegexp("q","1") && Query("r","2")'
    )
    assert http_rule_text(m1, ["*"]) == 'PathPrefix("/")'
    assert http_priority(m1, ["*"], 1, 0) == 2
    assert grpc_priority(None, ["*"]) == len('PathPrefix("/")')


def test_profiles_by_name_and_controller() -> None:
    assert profile_for_controller("traefik.io/gateway-controller") is TRAEFIK_PROFILE
    assert profile_for_controller("gateway.envoyproxy.io/gatewayclass-controller") is SPEC_PROFILE
    assert profile_for_controller(None) is SPEC_PROFILE
    assert get_profile("traefik") is TRAEFIK_PROFILE
    with pytest.raises(ValueError, match="known: spec, traefik"):
        get_profile("nginx")
    assert TRAEFIK_PROFILE.divergence(p.METHOD_VS_PREFIX) is not None
    assert SPEC_PROFILE.divergence(p.METHOD_VS_PREFIX) is None
    assert all(d.source for d in TRAEFIK_PROFILE.divergences)
