"""lint_routes findings, and the differential check: index and naive scan agree."""

from __future__ import annotations

import pytest

from canary.core.routing import build_table, evaluate, lint_routes
from canary.core.routing.lint import (
    ALL_ZERO,
    ATTACHED_NOWHERE,
    MISSING_GRANT,
    NO_BACKENDS,
    NOT_ACCEPTED,
    NOT_PROBED,
    PARTLY_SHADOWED,
    SHADOWED,
    UNRESOLVED,
    subsumes,
)
from canary.core.routing.synthetic import synthetic_docs, synthetic_requests
from canary.core.routing.table import regex_segment
from tests.unit.routing.routing_builders import (
    backend,
    exact,
    gateway,
    prefix,
    route,
    rule,
    seed_docs,
    service,
)


def _codes(docs):  # type: ignore[no-untyped-def]
    return sorted((p.code, p.rule) for p in lint_routes(build_table(docs)))


def test_seed_is_clean() -> None:
    assert _codes(seed_docs()) == []


def test_problems_are_found() -> None:
    docs = [
        gateway(),
        service("ok"),
        route("zero", rule(backend("ok", weight=0)), hostnames=["z.example"]),
        route("gone", rule(backend("missing")), hostnames=["g.example"]),
        route("cross", rule(backend("ok", namespace="else")), hostnames=["c.example"]),
        route("empty", {"matches": [prefix("/")]}, hostnames=["e.example"]),
        route("lost", rule(backend("ok")), parents=[{"name": "nope"}]),
    ]
    assert _codes(docs) == [
        (ALL_ZERO, 0),
        (ATTACHED_NOWHERE, None),
        (MISSING_GRANT, 0),
        (NO_BACKENDS, 0),
        (NOT_ACCEPTED, None),
        (UNRESOLVED, 0),
    ]


def test_shadowed_and_partly_shadowed_rules() -> None:
    docs = [
        gateway(),
        route(
            "r",
            rule(backend("a"), matches=[prefix("/api")]),
            rule(backend("b"), matches=[prefix("/api/v1")]),  # more specific: fine
            rule(backend("c"), matches=[prefix("/api")]),  # identical, later: shadowed
            rule(backend("d"), matches=[exact("/api/x", headers=[{"name": "h", "value": "1"}])]),
            rule(backend("e"), matches=[{"path": {"type": "RegularExpression", "value": "/r.*"}}]),
        ),
        route(
            "q",
            rule(backend("f"), matches=[prefix("/api", queryParams=[{"name": "a", "value": "1"}])]),
            created="2030-01-01T00:00:00Z",
        ),
    ]
    problems = lint_routes(build_table(docs))
    found = sorted((p.ref, p.code, p.rule) for p in problems)
    assert found == [
        ("HTTPRoute app/r", NOT_PROBED, 4),
        ("HTTPRoute app/r", SHADOWED, 2),
    ]
    # A rule whose representative request is taken by a narrower one is reported as info.
    docs2 = [
        gateway(),
        route(
            "r",
            rule(backend("a"), matches=[prefix("/a")]),
            rule(backend("b"), matches=[exact("/a")]),
        ),
    ]
    assert [(p.code, p.severity) for p in lint_routes(build_table(docs2))] == [
        (PARTLY_SHADOWED, "info")
    ]


@pytest.mark.parametrize(
    "a,b,expected",
    [
        (prefix("/"), exact("/x"), True),
        (prefix("/a"), prefix("/a/b"), True),
        (prefix("/a/b"), prefix("/a"), False),
        (exact("/a"), prefix("/a"), False),
        (prefix("/a", method="GET"), prefix("/a"), False),
        (prefix("/a"), prefix("/a", method="GET"), True),
        (
            prefix("/", headers=[{"name": "h", "type": "RegularExpression", "value": "v.*"}]),
            prefix("/", headers=[{"name": "H", "value": "v2"}]),
            True,
        ),
        (prefix("/", headers=[{"name": "h", "value": "1"}]), prefix("/"), False),
    ],
)
def test_subsumes(a: dict[str, object], b: dict[str, object], expected: bool) -> None:
    t = build_table(
        [gateway(), route("r", rule(backend("x"), matches=[a]), rule(backend("y"), matches=[b]))]
    )
    ma, mb = (r.matches[0] for r in t.objects.routes[0].rules)
    assert subsumes(ma, mb) is expected
    assert subsumes(None, mb) and not subsumes(ma, None)


def test_regex_segment_extraction() -> None:
    assert regex_segment("/api/v[0-9]+") == "api"
    assert regex_segment("/ab/?x") is None
    assert regex_segment("/a/x|/b/y") is None
    assert regex_segment("(?i)/a/b") is None


@pytest.fixture(scope="module")
def bench_table():  # type: ignore[no-untyped-def]
    return build_table(synthetic_docs(1, routes=1000, rules=8, hostnames=200))


def test_index_and_naive_scan_agree_on_10000_seeded_requests(bench_table) -> None:  # type: ignore[no-untyped-def]
    requests = synthetic_requests(2, 10_000, hostnames=200)
    statuses = set()
    for req in requests:
        fast = evaluate(bench_table, req)
        slow = evaluate(bench_table, req, naive=True)
        assert fast.to_dict() == slow.to_dict(), req.describe()
        statuses.add(fast.status)
    assert {200, 301, 404, 500} <= statuses
