"""Matching and precedence (HTTPRouteRule.matches, HTTPPathMatch, header/query/method).

Spec sentence → test: see docs/evaluator-spec.md.
"""

from __future__ import annotations

import pytest

from canary.core.routing import build_table
from tests.unit.routing.routing_builders import (
    ask,
    backend,
    exact,
    gateway,
    prefix,
    route,
    rule,
    split,
)

GW = gateway()


def _one(match: dict[str, object]) -> list[object]:
    return [GW, route("r", rule(backend("a"), matches=[match]))]


@pytest.mark.parametrize(
    "value,path,ok",
    [
        ("/abc", "/abc", True),
        ("/abc", "/abc/", False),
        ("/abc", "/Abc", False),
        ("/abc", "/abcd", False),
    ],
)
def test_exact_path_is_whole_and_case_sensitive(value: str, path: str, ok: bool) -> None:
    d = ask(_one(exact(value)), f"GET http://h.example{path}")
    assert (d.status == 200) is ok


@pytest.mark.parametrize(
    "value,path,ok",
    [
        ("/abc", "/abc", True),
        ("/abc", "/abc/", True),
        ("/abc", "/abc/def", True),
        ("/abc", "/abcd", False),
        ("/abc/", "/abc", True),  # a trailing "/" of the prefix is ignored
        ("/abc/", "/abc/x", True),
        ("/abc", "/ABC", False),
        ("/", "/anything", True),
    ],
)
def test_path_prefix_is_element_wise(value: str, path: str, ok: bool) -> None:
    d = ask(_one(prefix(value)), f"GET http://h.example{path}")
    assert (d.status == 200) is ok


def test_regular_expression_path_full_match_and_note() -> None:
    docs = _one({"path": {"type": "RegularExpression", "value": r"/v\d+/items"}})
    assert ask(docs, "GET http://h.example/v2/items").status == 200
    assert ask(docs, "GET http://h.example/v2/items/x").status == 404
    d = ask(docs, "GET http://h.example/v10/items")
    assert any("RegularExpression" in n for n in d.notes)


def test_no_matches_defaults_to_prefix_slash_and_no_rules_to_one_such_rule() -> None:
    docs = [GW, route("r", rule(backend("a")))]
    assert ask(docs, "GET http://h.example/any/thing").status == 200
    bare = route("bare")
    table = build_table([GW, bare])
    assert table.objects.routes[0].rules[0].matches[0].path.value == "/"
    assert ask(table, "GET http://h.example/x").status == 500  # no backendRefs


def test_headers_are_anded_names_case_insensitive_values_exact() -> None:
    m = prefix("/", headers=[{"name": "A", "value": "1"}, {"name": "b", "value": "2"}])
    docs = _one(m)
    assert ask(docs, "GET http://h.example/", {"a": "1", "B": "2"}).status == 200
    assert ask(docs, "GET http://h.example/", {"a": "1"}).status == 404
    assert ask(docs, "GET http://h.example/", {"a": "1", "b": "3"}).status == 404


def test_header_regex_and_first_of_duplicate_names_counts() -> None:
    m = prefix(
        "/",
        headers=[
            {"name": "v", "type": "RegularExpression", "value": "v[23]"},
            {"name": "V", "value": "never"},  # equivalent name: ignored
        ],
    )
    docs = _one(m)
    assert ask(docs, "GET http://h.example/", {"V": "v3"}).status == 200
    assert ask(docs, "GET http://h.example/", {"V": "v4"}).status == 404


def test_repeated_request_header_is_matched_joined() -> None:
    docs = _one(prefix("/", headers=[{"name": "x", "value": "a,b"}]))
    d = ask(docs, "GET http://h.example/", [("x", "a"), ("X", "b")])
    assert d.status == 200
    assert any("joined" in n for n in d.notes)
    assert d.to_dict()["request"]["headers"] == {"x": "a, b"}


def test_query_params_exact_regex_first_value_and_case_sensitive_names() -> None:
    m = prefix(
        "/",
        queryParams=[
            {"name": "env", "value": "prod"},
            {"name": "id", "type": "RegularExpression", "value": "[0-9]+"},
            {"name": "env", "value": "ignored"},
        ],
    )
    docs = _one(m)
    assert ask(docs, "GET http://h.example/?env=prod&id=42").status == 200
    assert ask(docs, "GET http://h.example/?env=prod&env=dev&id=1").status == 200
    assert ask(docs, "GET http://h.example/?env=dev&env=prod&id=1").status == 404
    assert ask(docs, "GET http://h.example/?ENV=prod&id=1").status == 404
    assert ask(docs, "GET http://h.example/?env=prod&id=x").status == 404


def test_method_match() -> None:
    docs = _one(prefix("/", method="POST"))
    assert ask(docs, "POST http://h.example/").status == 200
    assert ask(docs, "GET http://h.example/").status == 404


def test_any_match_of_a_rule_selects_it() -> None:
    m1 = prefix("/foo", headers=[{"name": "version", "value": "v2"}])
    m2 = prefix("/v2/foo")
    docs = [GW, route("r", rule(backend("a"), matches=[m1, m2]))]
    assert ask(docs, "GET http://h.example/foo", {"version": "v2"}).match == 0
    assert ask(docs, "GET http://h.example/v2/foo").match == 1
    assert ask(docs, "GET http://h.example/foo").status == 404


# Precedence across all rules of all routes: each row puts the expected winner in the
# route that sorts *last* (name "z", newest), so only the criterion under test can win.
PRECEDENCE = [
    ("exact beats prefix", exact("/a/b"), prefix("/a/b"), "/a/b", {}),
    ("longest prefix", prefix("/a/b"), prefix("/a"), "/a/b/c", {}),
    ("method", prefix("/a", method="GET"), prefix("/a"), "/a", {}),
    (
        "more headers",
        prefix("/a", headers=[{"name": "x", "value": "1"}, {"name": "y", "value": "1"}]),
        prefix("/a", headers=[{"name": "x", "value": "1"}]),
        "/a",
        {"x": "1", "y": "1"},
    ),
    (
        "more query params",
        prefix("/a", queryParams=[{"name": "q", "value": "1"}]),
        prefix("/a"),
        "/a?q=1",
        {},
    ),
    (
        "method before headers",
        prefix("/a", method="GET"),
        prefix("/a", headers=[{"name": "x", "value": "1"}]),
        "/a",
        {"x": "1"},
    ),
    (
        "headers before query",
        prefix("/a", headers=[{"name": "x", "value": "1"}]),
        prefix("/a", queryParams=[{"name": "q", "value": "1"}]),
        "/a?q=1",
        {"x": "1"},
    ),
    (
        "prefix length before method",
        prefix("/a/b"),
        prefix("/a", method="GET"),
        "/a/b",
        {},
    ),
]


@pytest.mark.parametrize(
    "winner,loser,path,headers", [p[1:] for p in PRECEDENCE], ids=[p[0] for p in PRECEDENCE]
)
def test_precedence_across_routes(
    winner: dict[str, object], loser: dict[str, object], path: str, headers: dict[str, str]
) -> None:
    docs = [
        GW,
        route("a", rule(backend("lose"), matches=[loser]), created="2020-01-01T00:00:00Z"),
        route("z", rule(backend("win"), matches=[winner]), created="2024-01-01T00:00:00Z"),
    ]
    assert split(ask(docs, f"GET http://h.example{path}", headers)) == {"win": 1.0}


def test_precedence_across_rules_of_one_route_ignores_list_order() -> None:
    docs = [
        GW,
        route(
            "r",
            rule(backend("short"), matches=[prefix("/a")]),
            rule(backend("long"), matches=[prefix("/a/b")]),
        ),
    ]
    assert split(ask(docs, "GET http://h.example/a/b")) == {"long": 1.0}


def test_ties_oldest_route_then_namespace_name_then_list_order() -> None:
    older = route("z", rule(backend("older")), created="2020-01-01T00:00:00Z")
    newer = route("a", rule(backend("newer")), created="2021-01-01T00:00:00Z")
    assert split(ask([GW, newer, older], "GET http://h.example/")) == {"older": 1.0}
    # no creationTimestamp counts as newest
    undated = route("a", rule(backend("undated")))
    assert split(ask([GW, undated, older], "GET http://h.example/")) == {"older": 1.0}
    # same age: namespace/name
    r1 = route("b", rule(backend("b")), namespace="ns1")
    r2 = route("a", rule(backend("a")), namespace="ns2")
    assert split(ask([GW, r2, r1], "GET http://h.example/")) == {"b": 1.0}
    # within a route: the first rule in list order
    r = route("r", rule(backend("first")), rule(backend("second")))
    assert split(ask([GW, r], "GET http://h.example/")) == {"first": 1.0}


def test_regex_ranks_between_exact_and_prefix() -> None:
    docs = [
        GW,
        route("a", rule(backend("prefix"), matches=[prefix("/x")])),
        route(
            "b",
            rule(
                backend("regex"), matches=[{"path": {"type": "RegularExpression", "value": "/x.*"}}]
            ),
        ),
        route("c", rule(backend("exact"), matches=[exact("/x/1")])),
    ]
    assert split(ask(docs, "GET http://h.example/x/1")) == {"exact": 1.0}
    assert split(ask(docs, "GET http://h.example/x/2")) == {"regex": 1.0}


def test_nothing_matches_is_404() -> None:
    d = ask(_one(exact("/only")), "GET http://h.example/other")
    assert (d.status, d.route, d.rule, d.backends) == (404, None, None, [])
