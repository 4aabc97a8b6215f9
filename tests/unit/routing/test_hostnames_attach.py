"""Hostnames (intersection, wildcards, precedence, listener isolation) and attachment."""

from __future__ import annotations

import pytest

from canary.core.routing import build_table
from canary.core.routing.attach import (
    NO_MATCHING_LISTENER_HOSTNAME,
    NO_MATCHING_PARENT,
    NOT_ALLOWED_BY_LISTENERS,
    PARENT_NOT_FOUND,
    ROUTE_KIND_CONFLICT,
    UNSUPPORTED_PARENT,
)
from canary.core.routing.hostnames import host_key, intersect, overlap, probe_host
from tests.unit.routing.routing_builders import (
    ask,
    backend,
    gateway,
    listener,
    namespace,
    route,
    rule,
    split,
)


@pytest.mark.parametrize(
    "listener_host,route_hosts,expected",
    [
        (None, (), ("*",)),
        ("a.example.com", (), ("a.example.com",)),
        (None, ("a.example.com",), ("a.example.com",)),
        ("test.example.com", ("test.example.com",), ("test.example.com",)),
        ("test.example.com", ("*.example.com",), ("test.example.com",)),
        (
            "*.example.com",
            ("test.example.com", "foo.test.example.com"),
            ("test.example.com", "foo.test.example.com"),
        ),
        ("*.example.com", ("*.example.com",), ("*.example.com",)),
        ("*.example.com", ("*.foo.example.com",), ("*.foo.example.com",)),
        ("*.example.com", ("*.com",), ("*.example.com",)),
        ("*.example.com", ("example.com", "test.example.net"), ()),
        ("*.example.com", ("test.example.com", "test.example.net"), ("test.example.com",)),
    ],
)
def test_listener_route_hostname_intersection(
    listener_host: str | None, route_hosts: tuple[str, ...], expected: tuple[str, ...]
) -> None:
    assert intersect(listener_host, route_hosts) == expected


def test_wildcard_is_a_suffix_match_excluding_the_bare_domain() -> None:
    assert host_key(("*.example.com",), "test.example.com") is not None
    assert host_key(("*.example.com",), "foo.test.example.com") is not None
    assert host_key(("*.example.com",), "example.com") is None
    assert overlap(("*.a.com",), ("x.a.com",)) and not overlap(("b.com",), ("c.com",))
    assert probe_host("*") == "canary-probe.example"


def test_route_without_intersection_is_not_accepted_and_serves_nothing() -> None:
    gw = gateway(listener(hostname="*.example.com"))
    docs = [gw, route("r", rule(backend("a")), hostnames=["example.com", "x.example.net"])]
    table = build_table(docs)
    assert [s.reason for s in table.statuses] == [NO_MATCHING_LISTENER_HOSTNAME]
    assert ask(table, "GET http://example.com/").status == 404


def test_non_matching_route_hostnames_are_ignored() -> None:
    gw = gateway(listener(hostname="*.example.com"))
    docs = [gw, route("r", rule(backend("a")), hostnames=["test.example.com", "test.example.net"])]
    assert ask(docs, "GET http://test.example.com/").status == 200
    assert ask(docs, "GET http://test.example.net/").status == 404


def test_host_port_is_ignored_for_matching_and_kept_when_forwarding() -> None:
    docs = [gateway(), route("r", rule(backend("a")), hostnames=["a.example.com"])]
    d = ask(docs, "GET http://127.0.0.1/", {"Host": "a.example.com:1234"})
    assert d.status == 200
    assert d.request.host == "a.example.com:1234"


def test_hostname_precedence_exact_beats_wildcard_beats_catch_all() -> None:
    docs = [
        gateway(),
        route("any", rule(backend("any"), matches=[{"path": {"value": "/a/b/c"}}])),
        route("wild", rule(backend("wild")), hostnames=["*.example.com"]),
        route("exact", rule(backend("exact")), hostnames=["foo.example.com"]),
    ]
    assert split(ask(docs, "GET http://foo.example.com/a/b/c")) == {"exact": 1.0}
    assert split(ask(docs, "GET http://bar.example.com/a/b/c")) == {"wild": 1.0}
    assert split(ask(docs, "GET http://other.test/a/b/c")) == {"any": 1.0}


def test_hostname_precedence_longer_wildcard_first_and_fallthrough() -> None:
    docs = [
        gateway(),
        route("short", rule(backend("short")), hostnames=["*.example.com"]),
        route(
            "long",
            rule(backend("long"), matches=[{"path": {"value": "/x"}}]),
            hostnames=["*.foo.example.com"],
        ),
    ]
    assert split(ask(docs, "GET http://a.foo.example.com/x")) == {"long": 1.0}
    d = ask(docs, "GET http://a.foo.example.com/y")  # less specific hostname still matches
    assert split(d) == {"short": 1.0}


def test_listener_isolation_most_specific_listener_only() -> None:
    gw = gateway(
        listener("specific", hostname="foo.example.com"), listener("wild", hostname="*.example.com")
    )
    docs = [
        gw,
        route(
            "w",
            rule(backend("w")),
            parents=[{"name": "gw", "namespace": "infra", "sectionName": "wild"}],
        ),
        route(
            "s",
            rule(backend("s"), matches=[{"path": {"value": "/only"}}]),
            parents=[{"name": "gw", "namespace": "infra", "sectionName": "specific"}],
        ),
    ]
    d = ask(docs, "GET http://foo.example.com/other")
    assert (d.status, d.listener) == (404, "specific")
    assert any("listener isolation" in n for n in d.notes)
    assert split(ask(docs, "GET http://bar.example.com/other")) == {"w": 1.0}
    assert ask(docs, "GET http://example.org/").status == 404  # no listener matches


def test_scheme_and_port_select_the_listener() -> None:
    gw = gateway(
        listener("http", 80, "HTTP"), listener("alt", 8080, "HTTP"), listener("https", 443, "HTTPS")
    )
    docs = [
        gw,
        route(
            "r", rule(backend("a")), parents=[{"name": "gw", "namespace": "infra", "port": 8080}]
        ),
    ]
    assert ask(docs, "GET http://h.example:8080/").status == 200
    assert ask(docs, "GET http://h.example/").status == 404
    assert ask(docs, "GET https://h.example/").listener == "https"
    d = ask(docs, "GET http://h.example:9/")
    assert d.status == 404 and "no HTTP listener on port 9" in d.notes[0]


def test_parent_ref_section_name_and_port_must_both_match() -> None:
    gw = gateway(listener("a", 80), listener("b", 8080))
    par = {"name": "gw", "namespace": "infra", "sectionName": "a", "port": 8080}
    table = build_table([gw, route("r", rule(backend("x")), parents=[par])])
    assert table.statuses[0].reason == NO_MATCHING_PARENT
    assert not table.attachments


def test_parent_ref_namespace_defaults_to_route_namespace() -> None:
    gw = gateway(name="gw", namespace="app")
    table = build_table([gw, route("r", rule(backend("x")), parents=[{"name": "gw"}])])
    assert table.statuses[0].accepted


def test_missing_and_non_gateway_parents() -> None:
    docs = [
        gateway(),
        route(
            "r",
            rule(backend("x")),
            parents=[{"name": "nope"}, {"name": "svc", "kind": "Service", "group": ""}],
        ),
    ]
    reasons = [s.reason for s in build_table(docs).statuses]
    assert reasons == [PARENT_NOT_FOUND, UNSUPPORTED_PARENT]


@pytest.mark.parametrize(
    "allowed,route_ns,ns_labels,ok",
    [
        ({}, "infra", {}, True),  # default: Same
        ({}, "app", {}, False),
        ({"namespaces": {"from": "All"}}, "app", {}, True),
        (
            {"namespaces": {"from": "Selector", "selector": {"matchLabels": {"team": "a"}}}},
            "app",
            {"team": "a"},
            True,
        ),
        (
            {"namespaces": {"from": "Selector", "selector": {"matchLabels": {"team": "a"}}}},
            "app",
            {"team": "b"},
            False,
        ),
        (
            {
                "namespaces": {
                    "from": "Selector",
                    "selector": {
                        "matchExpressions": [
                            {"key": "team", "operator": "In", "values": ["a", "b"]}
                        ]
                    },
                }
            },
            "app",
            {"team": "b"},
            True,
        ),
        (
            {
                "namespaces": {
                    "from": "Selector",
                    "selector": {
                        "matchExpressions": [{"key": "team", "operator": "NotIn", "values": ["a"]}]
                    },
                }
            },
            "app",
            {"team": "a"},
            False,
        ),
        (
            {
                "namespaces": {
                    "from": "Selector",
                    "selector": {"matchExpressions": [{"key": "team", "operator": "Exists"}]},
                }
            },
            "app",
            {},
            False,
        ),
        (
            {
                "namespaces": {
                    "from": "Selector",
                    "selector": {"matchExpressions": [{"key": "team", "operator": "DoesNotExist"}]},
                }
            },
            "app",
            {},
            True,
        ),
        (
            {
                "namespaces": {
                    "from": "Selector",
                    "selector": {"matchLabels": {"kubernetes.io/metadata.name": "app"}},
                }
            },
            "app",
            None,
            True,
        ),
        ({"namespaces": {"from": "All"}, "kinds": [{"kind": "GRPCRoute"}]}, "app", {}, False),
        ({"namespaces": {"from": "All"}, "kinds": [{"kind": "HTTPRoute"}]}, "app", {}, True),
    ],
)
def test_allowed_routes(
    allowed: dict[str, object], route_ns: str, ns_labels: dict[str, str] | None, ok: bool
) -> None:
    docs = [gateway(listener(allowed=allowed)), route("r", rule(backend("x")), namespace=route_ns)]
    if ns_labels is not None:
        docs.append(namespace(route_ns, **ns_labels))
    table = build_table(docs)
    assert table.statuses[0].accepted is ok
    if not ok:
        assert table.statuses[0].reason == NOT_ALLOWED_BY_LISTENERS


def test_tcp_listener_takes_no_http_routes() -> None:
    table = build_table([gateway(listener(protocol="TCP")), route("r", rule(backend("x")))])
    assert table.statuses[0].reason == NOT_ALLOWED_BY_LISTENERS


def test_attached_if_one_of_two_listeners_accepts() -> None:
    gw = gateway(listener("a", hostname="a.example.com"), listener("b", 81, hostname="b.test"))
    table = build_table([gw, route("r", rule(backend("x")), hostnames=["b.test"])])
    assert table.statuses[0].accepted and table.statuses[0].listeners == ("b",)


def test_http_and_grpc_route_with_intersecting_hostnames_only_the_older_is_accepted() -> None:
    grpc = route(
        "g",
        {"backendRefs": [backend("grpc")]},
        kind="GRPCRoute",
        hostnames=["x.example.com"],
        created="2020-01-01T00:00:00Z",
    )
    http = route(
        "h", rule(backend("http")), hostnames=["*.example.com"], created="2021-01-01T00:00:00Z"
    )
    table = build_table([gateway(), grpc, http])
    assert [s.reason for s in table.statuses if not s.accepted] == [ROUTE_KIND_CONFLICT]
    assert ask(table, "GET http://x.example.com/").status == 404
    d = ask(table, "POST http://x.example.com", grpc=("a.B", "C"))
    assert split(d) == {"grpc": 1.0}


def test_two_parent_refs_to_one_listener_merge_hostnames() -> None:
    gw = gateway(listener("a"))
    parents = [
        {"name": "gw", "namespace": "infra"},
        {"name": "gw", "namespace": "infra", "sectionName": "a"},
    ]
    table = build_table([gw, route("r", rule(backend("x")), parents=parents)])
    assert len(table.attachments) == 1
