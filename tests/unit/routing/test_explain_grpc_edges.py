"""--explain reasons, gRPC matching details, and edge cases of parsing and the table."""

from __future__ import annotations

from typing import Any

import pytest

from canary.core.routing import InputError, RoutingError, build_table, lint_routes
from canary.core.routing.lint import subsumes
from tests.unit.routing.routing_builders import (
    ask,
    backend,
    exact,
    gateway,
    listener,
    prefix,
    route,
    rule,
    split,
)

GW = gateway()


def _explain(
    docs: list[Any], line: str, headers: dict[str, str] | None = None
) -> list[dict[str, Any]]:
    d = ask(docs, line, headers, explain=True)
    assert d.explain is not None
    return d.explain


def test_explain_gives_a_reason_per_candidate() -> None:
    docs = [
        GW,
        route(
            "r",
            rule(
                backend("a"),
                matches=[
                    exact("/x"),
                    prefix("/p"),
                    {"path": {"type": "RegularExpression", "value": "/re"}},
                    prefix("/", method="POST"),
                    prefix("/", headers=[{"name": "h", "value": "1"}]),
                    prefix("/", queryParams=[{"name": "q", "value": "1"}]),
                    prefix("/", queryParams=[{"name": "w", "value": "1"}]),
                    prefix("/", headers=[{"name": "g", "value": "1"}]),
                ],
            ),
            rule(backend("b")),
        ),
        route("elsewhere", rule(backend("c")), hostnames=["other.example"]),
        route("refused", rule(backend("c")), parents=[{"name": "missing"}]),
        route("orphan", rule(backend("c")), parents=[]),
    ]
    rows = _explain(docs, "GET http://h.example/y?w=2", {"h": "2"})
    reasons = {r.get("reason", r["result"]) for r in rows}
    for text in (
        "is not exactly '/x'",
        "has no prefix '/p'",
        "does not match regex '/re'",
        "method GET is not POST",
        "header h: '2' does not match '1'",
        "query parameter q missing",
        "query parameter w='2' does not match '1'",
        "header g missing",
        "selected",
        "hostnames other.example do not match",
        "ParentNotFound: Gateway app/missing not found",
        "no parentRefs",
    ):
        assert any(text in r for r in reasons), text
    rows = _explain(docs, "GET http://h.example/x")
    assert rows[0]["result"] == "selected"
    assert any(r["result"] == "matches, lower precedence" for r in rows)
    assert _explain([gateway(listener(port=81))], "GET http://h.example/")[0]["result"] == (
        "no listener"
    )


def test_explain_route_attached_to_another_listener() -> None:
    gw = gateway(listener("a", 80), listener("b", 81))
    r = route(
        "r", rule(backend("x")), parents=[{"name": "gw", "namespace": "infra", "sectionName": "b"}]
    )
    rows = _explain([gw, r], "GET http://h.example/")
    assert rows == [
        {
            "route": "app/r",
            "route_kind": "HTTPRoute",
            "result": "not a candidate",
            "reason": "attached to listener(s) b, not a",
        }
    ]


def _grpc(*rules: dict[str, Any], **kw: Any) -> list[Any]:
    return [GW, route("g", *rules, kind="GRPCRoute", **kw)]


def test_grpc_regex_headers_and_rule_without_matches() -> None:
    docs = _grpc(
        {
            "matches": [
                {
                    "method": {
                        "type": "RegularExpression",
                        "service": r"pkg\.v[0-9]+\.Svc",
                        "method": "Get.*",
                    }
                }
            ],
            "backendRefs": [backend("rx")],
        },
        {
            "matches": [
                {"method": {"method": "Ping"}, "headers": [{"name": "tier", "value": "gold"}]}
            ],
            "backendRefs": [backend("hdr")],
        },
        {"backendRefs": [backend("all")]},
    )
    call = "POST http://h.example"
    assert split(ask(docs, call, grpc=("pkg.v2.Svc", "GetUser"))) == {"rx": 1.0}
    assert split(ask(docs, call, {"tier": "gold"}, grpc=("any.Svc", "Ping"))) == {"hdr": 1.0}
    assert split(ask(docs, call, grpc=("pkg.v2.Svc", "Put"))) == {"all": 1.0}
    assert split(ask(docs, call, {"tier": "tin"}, grpc=("x.Y", "Ping"))) == {"all": 1.0}
    d = ask(docs, call, grpc=("pkg.v2.Svc", "GetUser"))
    assert any("RegularExpression" in n for n in d.notes)
    rows = ask(docs, call, {"tier": "tin"}, grpc=("pkg.vX.Svc", "Ping"), explain=True).explain
    assert rows is not None
    reasons = " | ".join(r.get("reason", "") for r in rows)
    assert "does not match regex" in reasons and "header tier" in reasons
    rows = ask(docs, call, grpc=("pkg.v1.Svc", "Nope"), explain=True).explain
    assert rows is not None and "method 'Nope' does not match regex" in str(rows)
    rows = ask(docs, call, grpc=("x.Y", "Ping"), explain=True).explain
    assert rows is not None and "header tier missing" in str(rows)
    exact_docs = _grpc(
        {"matches": [{"method": {"service": "a.B", "method": "C"}}], "backendRefs": [backend("e")]}
    )
    rows = ask(exact_docs, call, grpc=("a.B", "D"), explain=True).explain
    assert rows is not None and "method 'D' is not 'C'" in str(rows)


def test_grpc_lint_subsumption_and_probes() -> None:
    docs = _grpc(
        {"matches": [{"method": {"service": "a.B"}}], "backendRefs": [backend("x")]},
        {"matches": [{"method": {"service": "a.B", "method": "C"}}], "backendRefs": [backend("y")]},
        {
            "matches": [{"method": {"type": "RegularExpression", "service": "z.*"}}],
            "backendRefs": [backend("z")],
        },
        {
            "matches": [{"headers": [{"name": "h", "type": "RegularExpression", "value": "v.*"}]}],
            "backendRefs": [backend("w")],
        },
    )
    table = build_table(docs)
    m = [r.matches[0] for r in table.objects.routes[0].rules]
    assert subsumes(m[0], m[1]) and not subsumes(m[1], m[0])
    assert not subsumes(m[2], m[0]) and not subsumes(m[0], m[2])
    assert not subsumes(
        m[0], table.objects.routes[0].rules[0].matches[0].__class__("Exact", None, None)
    )
    codes = sorted(p.code for p in lint_routes(table))
    assert codes == ["not-probed", "not-probed"]
    http = build_table([GW, route("r", rule(backend("a")))]).objects.routes[0].rules[0].matches[0]
    assert not subsumes(http, m[0])


def test_lint_regex_header_and_query_and_404_probe() -> None:
    rx = {"name": "h", "type": "RegularExpression", "value": "v.*"}
    gw = gateway(listener("specific", hostname="a.example"), listener("wild", hostname="*.example"))
    docs = [
        gw,
        route(
            "r",
            rule(backend("a"), matches=[prefix("/", headers=[rx])]),
            rule(backend("b"), matches=[prefix("/", queryParams=[{**rx, "name": "q"}])]),
        ),
        route(
            "w",
            rule(backend("c")),
            hostnames=["a.example"],
            parents=[{"name": "gw", "namespace": "infra", "sectionName": "wild"}],
        ),
    ]
    found = sorted((p.ref, p.code) for p in lint_routes(build_table(docs)))
    assert ("HTTPRoute app/w", "partly-shadowed") in found
    assert found.count(("HTTPRoute app/r", "not-probed")) == 2


@pytest.mark.parametrize(
    "value,problem",
    [
        ("/a/./b", "'/./'"),
        ("/a/../b", "'/../'"),
        ("/a%2fb", "'%2f'"),
        ("/a#b", "'#'"),
        ("/a/..", "'/.' or '/..'"),
        ("/a b", "characters not allowed"),
    ],
)
def test_invalid_path_values(value: str, problem: str) -> None:
    with pytest.raises(InputError, match=problem):
        build_table([GW, route("r", rule(backend("a"), matches=[exact(value)]))])


@pytest.mark.parametrize(
    "spec_patch,field",
    [
        ({"hostnames": "a.example"}, "spec.hostnames"),
        ({"hostnames": [1]}, "spec.hostnames[0]"),
        ({"parentRefs": [{"name": 3}]}, "spec.parentRefs[0].name"),
        ({"parentRefs": [{"name": "gw", "kind": 3}]}, "spec.parentRefs[0].kind"),
        ({"parentRefs": [{"name": "gw", "port": "80"}]}, "spec.parentRefs[0].port"),
        ({"parentRefs": [{"name": "gw", "port": True}]}, "spec.parentRefs[0].port"),
        ({"rules": [{"matches": [{"path": "x"}]}]}, "spec.rules[0].matches[0].path"),
        ({"rules": [{"matches": ["x"]}]}, "spec.rules[0].matches[0]"),
        (
            {
                "rules": [
                    {
                        "backendRefs": [{"name": "a", "port": 1}],
                        "filters": [
                            {
                                "type": "RequestHeaderModifier",
                                "requestHeaderModifier": {"add": [{"name": "x", "value": "a\nb"}]},
                            }
                        ],
                    }
                ]
            },
            "spec.rules[0].filters[0].requestHeaderModifier.add[0].value",
        ),
        (
            {
                "rules": [
                    {
                        "backendRefs": [{"name": "a", "port": 1}],
                        "filters": [
                            {
                                "type": "RequestHeaderModifier",
                                "requestHeaderModifier": {"remove": [""]},
                            }
                        ],
                    }
                ]
            },
            "spec.rules[0].filters[0].requestHeaderModifier.remove[0]",
        ),
        (
            {
                "rules": [
                    {
                        "backendRefs": [{"name": "a", "port": 1}],
                        "filters": [
                            {
                                "type": "RequestHeaderModifier",
                                "requestHeaderModifier": {
                                    "set": [
                                        {"name": "x", "value": "1"},
                                        {"name": "X", "value": "2"},
                                    ]
                                },
                            }
                        ],
                    }
                ]
            },
            "spec.rules[0].filters[0].requestHeaderModifier.set[1].name",
        ),
        (
            {
                "rules": [
                    {
                        "backendRefs": [{"name": "a", "port": 1}],
                        "filters": [
                            {
                                "type": "URLRewrite",
                                "urlRewrite": {
                                    "path": {
                                        "type": "ReplaceFullPath",
                                        "replaceFullPath": "/a",
                                        "replacePrefixMatch": "/b",
                                    }
                                },
                            }
                        ],
                    }
                ]
            },
            "spec.rules[0].filters[0].urlRewrite.path.replacePrefixMatch",
        ),
        (
            {
                "rules": [
                    {
                        "filters": [
                            {"type": "RequestRedirect", "requestRedirect": {"statusCode": 304}}
                        ]
                    }
                ]
            },
            "spec.rules[0].filters[0].requestRedirect.statusCode",
        ),
        (
            {
                "rules": [
                    {"filters": [{"type": "RequestRedirect", "requestRedirect": {"scheme": "ftp"}}]}
                ]
            },
            "spec.rules[0].filters[0].requestRedirect.scheme",
        ),
        (
            {
                "rules": [
                    {
                        "filters": [
                            {
                                "type": "RequestRedirect",
                                "requestRedirect": {"hostname": "*.example.com"},
                            }
                        ]
                    }
                ]
            },
            "spec.rules[0].filters[0].requestRedirect.hostname",
        ),
        (
            {
                "rules": [
                    {
                        "filters": [
                            {"type": "RequestRedirect", "requestRedirect": {}},
                            {"type": "URLRewrite", "urlRewrite": {}},
                        ]
                    }
                ]
            },
            "spec.rules[0].filters",
        ),
        (
            {"rules": [{"matches": [{"headers": [{"name": "a", "value": "x\u0001"}]}]}]},
            "spec.rules[0].matches[0].headers[0].value",
        ),
    ],
)
def test_field_type_errors(spec_patch: dict[str, Any], field: str) -> None:
    doc = route("r", rule(backend("a")))
    doc["spec"].update(spec_patch)
    with pytest.raises(InputError) as err:
        build_table([GW, doc])
    assert err.value.path == field


def test_grpc_regex_compile_error_and_valid_filters() -> None:
    with pytest.raises(InputError, match="invalid regular expression"):
        build_table(_grpc({"matches": [{"method": {"type": "RegularExpression", "method": "("}}]}))
    with pytest.raises(InputError, match="invalid gRPC method name"):
        build_table(_grpc({"matches": [{"method": {"method": "a.b"}}]}))
    hdr = {
        "type": "RequestHeaderModifier",
        "requestHeaderModifier": {"set": [{"name": "a", "value": "1"}]},
    }
    table = build_table(_grpc({"filters": [hdr], "backendRefs": [backend("x")]}))
    assert table.objects.routes[0].rules[0].filters[0].header_modifier is not None
    with pytest.raises(InputError):
        build_table(_grpc({"filters": [{"type": "URLRewrite", "urlRewrite": {}}]}))


def test_gateway_selection() -> None:
    two = [gateway(name="a"), gateway(name="b", namespace="other")]
    table = build_table(two)
    with pytest.raises(RoutingError, match="several Gateways"):
        ask(table, "GET http://h/")
    assert ask(table, "GET http://h/", gateway="a").gateway == "infra/a"
    with pytest.raises(RoutingError, match="not found"):
        ask(table, "GET http://h/", gateway="c")
    with pytest.raises(RoutingError, match="no Gateway"):
        ask([], "GET http://h/")
    assert build_table(two).route("HTTPRoute", "x", "y") is None


def test_decision_dict_with_backend_filters_and_outcomes() -> None:
    hdr = {
        "type": "ResponseHeaderModifier",
        "responseHeaderModifier": {"add": [{"name": "X-B", "value": "1"}]},
    }
    redirect = {"type": "RequestRedirect", "requestRedirect": {"port": 8443, "scheme": "https"}}
    d = ask(
        [GW, route("r", rule(backend("a", filters=[hdr]), backend("b", filters=[redirect])))],
        "GET http://h.example/p",
    )
    out = d.to_dict()["backends"]
    assert out[0]["response_headers"] == {"set": {}, "add": {"X-B": "1"}, "remove": []}
    assert (out[1]["status"], out[1]["location"]) == (302, "https://h.example:8443/p")
    assert d.outcome_shares() == {"app/a": 0.5, "redirect": 0.5}
    assert ask([GW], "GET http://h.example/").outcome_shares() == {"no_match": 1.0}
    d = ask(
        [GW, route("r", {"filters": [{"type": "RequestRedirect", "requestRedirect": {}}]})],
        "GET http://h.example/",
    )
    assert d.outcome_shares() == {"redirect": 1.0}


def test_wildcard_probe_host_and_selector_operators() -> None:
    from canary.core.routing import BackendKey, effective_canary_share

    r = route("r", rule(backend("s"), backend("c")), hostnames=["*.example.com"])
    s = effective_canary_share(
        build_table([GW, r]),
        route_kind="HTTPRoute",
        route_namespace="app",
        route_name="r",
        rule_indexes=[0],
        stable=BackendKey("s"),
        canary=BackendKey("c"),
    )
    assert s.verified and "canary-probe.example.com" in s.per_request[0].request
