"""Weights, invalid backends, ReferenceGrant, filters and redirects."""

from __future__ import annotations

import pytest

from canary.core.routing.filters import replace_prefix
from tests.unit.routing.routing_builders import (
    ask,
    backend,
    endpoint_slice,
    gateway,
    grant,
    listener,
    prefix,
    route,
    rule,
    service,
    split,
)

GW = gateway()


@pytest.mark.parametrize(
    "weights,expected",
    [
        ((None,), [1.0]),
        ((None, None), [0.5, 0.5]),
        ((90, 10), [0.9, 0.1]),
        ((1, 2, 1), [0.25, 0.5, 0.25]),
        ((0, 5), [0.0, 1.0]),
        ((7, 0, 0), [1.0, 0.0, 0.0]),
        ((3, 1000000), [3 / 1000003, 1000000 / 1000003]),
    ],
)
def test_weights_give_exact_shares(weights: tuple[int | None, ...], expected: list[float]) -> None:
    backends = [backend(f"b{i}", weight=w) for i, w in enumerate(weights)]
    d = ask([GW, route("r", rule(*backends))], "GET http://h.example/")
    assert [b.share for b in d.backends] == expected
    assert d.status == 200 and d.error_share == 0.0


def test_all_zero_weights_answer_500_with_a_note() -> None:
    d = ask(
        [GW, route("r", rule(backend("a", weight=0), backend("b", weight=0)))],
        "GET http://h.example/",
    )
    assert (d.status, d.error_share) == (500, 1.0)
    assert any("Traefik answers 503" in n for n in d.notes)


def test_invalid_backend_share_becomes_500s() -> None:
    docs = [GW, service("ok"), route("r", rule(backend("ok"), backend("gone")))]
    d = ask(docs, "GET http://h.example/")
    assert d.status == 200 and d.error_share == 0.5
    assert [(b.share, b.valid) for b in d.backends] == [(0.5, True), (0.0, False)]
    assert d.backends[1].reason is not None and "not found" in d.backends[1].reason
    assert d.to_dict()["backends"][1]["reason"].startswith("Service app/gone not found")


def test_all_invalid_backends_answer_500() -> None:
    docs = [GW, service("other"), route("r", rule(backend("gone")))]
    d = ask(docs, "GET http://h.example/")
    assert (d.status, d.error_share) == (500, 1.0)


@pytest.mark.parametrize(
    "ref,why",
    [
        (backend("svc", port=9999), "has no port 9999"),
        (backend("svc", kind="ServiceImport", group="multicluster.x-k8s.io"), "unsupported"),
        (backend("thing", kind="Bucket", group="example.com", port=None), "unsupported"),
    ],
)
def test_unresolved_refs(ref: dict[str, object], why: str) -> None:
    if ref.get("port") is None:
        ref.pop("port")
    docs = [GW, service("svc"), route("r", rule(ref))]
    d = ask(docs, "GET http://h.example/")
    assert d.status == 500 and why in (d.backends[0].reason or "")


def test_cross_namespace_backend_needs_a_reference_grant() -> None:
    r = route("r", rule(backend("svc", namespace="other")))
    assert ask([GW, r], "GET http://h.example/").status == 500
    assert ask([GW, r, grant("other", "app")], "GET http://h.example/").status == 200
    # a grant for a different name, route kind or source namespace does not permit it
    for g in (
        grant("other", "app", to_name="else"),
        grant("other", "app", kind="GRPCRoute"),
        grant("other", "elsewhere"),
        grant("app", "app"),
    ):
        assert ask([GW, r, g], "GET http://h.example/").status == 500
    assert ask([GW, r, grant("other", "app", to_name="svc")], "GET http://h.example/").status == 200


def test_endpoint_slices_when_given_decide_readiness() -> None:
    r = route("r", rule(backend("a"), backend("b")))
    d = ask([GW, r, endpoint_slice("a"), endpoint_slice("b", ready=False)], "GET http://h.example/")
    assert [b.valid for b in d.backends] == [True, False]
    assert "no ready endpoint" in (d.backends[1].reason or "")
    assert any("503" in n for n in d.notes)


# The spec's ReplacePrefixMatch table, every row.
REWRITE_TABLE = [
    ("/foo/bar", "/foo", "/xyz", "/xyz/bar"),
    ("/foo/bar", "/foo", "/xyz/", "/xyz/bar"),
    ("/foo/bar", "/foo/", "/xyz", "/xyz/bar"),
    ("/foo/bar", "/foo/", "/xyz/", "/xyz/bar"),
    ("/foo", "/foo", "/xyz", "/xyz"),
    ("/foo/", "/foo", "/xyz", "/xyz/"),
    ("/foo/bar", "/foo", "", "/bar"),
    ("/foo/", "/foo", "", "/"),
    ("/foo", "/foo", "", "/"),
    ("/foo/", "/foo", "/", "/"),
    ("/foo", "/foo", "/", "/"),
    ("/api/x", "/", "/v2", "/v2/api/x"),
]


@pytest.mark.parametrize("path,match,replacement,expected", REWRITE_TABLE)
def test_replace_prefix_match_table(path: str, match: str, replacement: str, expected: str) -> None:
    assert replace_prefix(path, match, replacement) == expected
    f = {
        "type": "URLRewrite",
        "urlRewrite": {"path": {"type": "ReplacePrefixMatch", "replacePrefixMatch": replacement}},
    }
    docs = [GW, route("r", rule(backend("a"), matches=[prefix(match)], filters=[f]))]
    assert ask(docs, f"GET http://h.example{path}").request.path == expected


def test_url_rewrite_full_path_and_hostname() -> None:
    f = {
        "type": "URLRewrite",
        "urlRewrite": {
            "hostname": "internal.svc",
            "path": {"type": "ReplaceFullPath", "replaceFullPath": "/new"},
        },
    }
    d = ask([GW, route("r", rule(backend("a"), filters=[f]))], "GET http://h.example:80/old/x?q=1")
    assert (d.request.host, d.request.path, d.request.query) == ("internal.svc", "/new", "q=1")


def test_request_header_modifier_set_add_remove_case_insensitive() -> None:
    f = {
        "type": "RequestHeaderModifier",
        "requestHeaderModifier": {
            "set": [{"name": "X-Set", "value": "new"}],
            "add": [{"name": "x-add", "value": "two"}, {"name": "X-Fresh", "value": "1"}],
            "remove": ["x-gone"],
        },
    }
    d = ask(
        [GW, route("r", rule(backend("a"), filters=[f]))],
        "GET http://h.example/",
        [("x-set", "old"), ("X-Add", "one"), ("X-GONE", "bye")],
    )
    assert d.to_dict()["request"]["headers"] == {
        "X-Set": "new",
        "X-Add": "one, two",
        "X-Fresh": "1",
    }


def test_response_header_modifier_is_reported() -> None:
    f = {
        "type": "ResponseHeaderModifier",
        "responseHeaderModifier": {
            "set": [{"name": "Cache-Control", "value": "no-store"}],
            "add": [{"name": "X-Via", "value": "canary"}],
            "remove": ["Server"],
        },
    }
    d = ask([GW, route("r", rule(backend("a"), filters=[f]))], "GET http://h.example/")
    assert d.to_dict()["response_headers"] == {
        "set": {"Cache-Control": "no-store"},
        "add": {"X-Via": "canary"},
        "remove": ["Server"],
    }


def _redirect(**body: object) -> dict[str, object]:
    return {"type": "RequestRedirect", "requestRedirect": body}


@pytest.mark.parametrize(
    "body,url,location,status",
    [
        ({}, "http://h.example/a?x=1", "http://h.example/a?x=1", 302),
        ({"scheme": "https"}, "http://h.example/a", "https://h.example/a", 302),
        ({"scheme": "http"}, "http://h.example:8080/a", "http://h.example/a", 302),
        ({"hostname": "n.example"}, "http://h.example:8080/a", "http://n.example:8080/a", 302),
        ({"port": 8443, "scheme": "https"}, "http://h.example/a", "https://h.example:8443/a", 302),
        ({"port": 80}, "http://h.example/a", "http://h.example/a", 302),
        (
            {"path": {"type": "ReplaceFullPath", "replaceFullPath": "/b"}, "statusCode": 308},
            "http://h.example/a/c",
            "http://h.example/b",
            308,
        ),
        (
            {"path": {"type": "ReplacePrefixMatch", "replacePrefixMatch": "/z"}, "statusCode": 303},
            "http://h.example/a/c",
            "http://h.example/z/c",
            303,
        ),
        ({"statusCode": 307}, "http://h.example/a", "http://h.example/a", 307),
        ({"statusCode": 301}, "http://h.example/a", "http://h.example/a", 301),
    ],
)
def test_request_redirect(body: dict[str, object], url: str, location: str, status: int) -> None:
    gw = gateway(listener("http", 80), listener("alt", 8080))
    docs = [gw, route("r", {"matches": [prefix("/a")], "filters": [_redirect(**body)]})]
    d = ask(docs, f"GET {url}")
    assert (d.status, d.location) == (status, location)


def test_backend_level_filters_apply_only_to_that_backend() -> None:
    hdr = {
        "type": "RequestHeaderModifier",
        "requestHeaderModifier": {"set": [{"name": "X-B", "value": "1"}]},
    }
    docs = [GW, route("r", rule(backend("plain"), backend("tagged", filters=[hdr])))]
    d = ask(docs, "GET http://h.example/")
    assert d.backends[0].request is None
    assert d.backends[1].request is not None and d.backends[1].request["headers"] == {"X-B": "1"}
    assert d.request.headers == {}


def test_backend_level_redirect_and_mirror_and_extension_ref() -> None:
    docs = [GW, route("r", rule(backend("a", filters=[_redirect(hostname="x.example")])))]
    d = ask(docs, "GET http://h.example/p")
    assert (d.status, d.backends[0].status, d.backends[0].location) == (
        302,
        302,
        "http://x.example/p",
    )
    assert d.outcome_shares() == {"redirect": 1.0}
    mirror = {"type": "RequestMirror", "requestMirror": {"backendRef": backend("shadow")}}
    d = ask([GW, route("r", rule(backend("a"), filters=[mirror]))], "GET http://h.example/")
    assert split(d) == {"a": 1.0} and any("mirrored" in n for n in d.notes)
    ext = {"type": "ExtensionRef", "extensionRef": {"group": "x.io", "kind": "Auth", "name": "a"}}
    d = ask([GW, route("r", rule(backend("a"), filters=[ext]))], "GET http://h.example/")
    assert (d.status, d.error_share) == (500, 1.0)
    d = ask(
        [GW, route("r", rule(backend("a", filters=[ext]), backend("b")))], "GET http://h.example/"
    )
    assert (d.status, d.error_share) == (200, 0.5)
