"""Bad input: every refusal names the document (kind ns/name) and the field."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from canary.core.routing import InputError, RequestError, build_table, make_request
from tests.unit.routing.routing_builders import backend, gateway, prefix, route, rule, seed_docs

GOOD_ROUTE = route("r", rule(backend("a"), matches=[prefix("/")]))


def _route_with(path: list[Any], value: Any) -> dict[str, Any]:
    doc = copy.deepcopy(GOOD_ROUTE)
    target = doc
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    return doc


BAD = [
    (
        _route_with(["spec", "rules", 0, "backendRefs", 0, "port"], None),
        "spec.rules[0].backendRefs[0].port",
        "required for a Service",
    ),
    (
        _route_with(["spec", "rules", 0, "backendRefs", 0, "weight"], -1),
        "spec.rules[0].backendRefs[0].weight",
        "between 0 and 1000000",
    ),
    (
        _route_with(["spec", "rules", 0, "matches", 0, "path"], {"type": "Exact", "value": "x"}),
        "spec.rules[0].matches[0].path.value",
        "absolute path",
    ),
    (
        _route_with(["spec", "rules", 0, "matches", 0, "path"], {"value": "/a//b"}),
        "spec.rules[0].matches[0].path.value",
        "'//'",
    ),
    (
        _route_with(["spec", "rules", 0, "matches", 0, "path"], {"type": "Glob", "value": "/"}),
        "spec.rules[0].matches[0].path.type",
        "unsupported value",
    ),
    (
        _route_with(
            ["spec", "rules", 0, "matches", 0, "path"], {"type": "RegularExpression", "value": "(["}
        ),
        "spec.rules[0].matches[0].path.value",
        "invalid regular expression",
    ),
    (
        _route_with(
            ["spec", "rules", 0, "matches", 0, "headers"], [{"name": "bad name", "value": "1"}]
        ),
        "spec.rules[0].matches[0].headers[0].name",
        "invalid header name",
    ),
    (
        _route_with(["spec", "rules", 0, "matches", 0, "headers"], [{"name": "x"}]),
        "spec.rules[0].matches[0].headers[0].value",
        "required",
    ),
    (
        _route_with(["spec", "rules", 0, "matches", 0, "method"], "FETCH"),
        "spec.rules[0].matches[0].method",
        "unsupported value",
    ),
    (_route_with(["spec", "hostnames"], ["Bad_Host"]), "spec.hostnames[0]", "invalid hostname"),
    (_route_with(["spec", "hostnames"], ["10.0.0.1"]), "spec.hostnames[0]", "IP addresses"),
    (
        _route_with(["spec", "parentRefs"], [{"namespace": "x"}]),
        "spec.parentRefs[0].name",
        "required",
    ),
    (
        _route_with(
            ["spec", "rules", 0, "filters"], [{"type": "RequestRedirect", "requestRedirect": {}}]
        ),
        "spec.rules[0]",
        "must not be used together with backendRefs",
    ),
    (
        _route_with(["spec", "rules", 0, "filters"], [{"type": "RequestHeaderModifier"}]),
        "spec.rules[0].filters[0].requestHeaderModifier",
        "required",
    ),
    (
        _route_with(
            ["spec", "rules", 0, "filters"],
            [{"type": "URLRewrite", "urlRewrite": {}}, {"type": "URLRewrite", "urlRewrite": {}}],
        ),
        "spec.rules[0].filters",
        "cannot be repeated",
    ),
    (
        _route_with(
            ["spec", "rules", 0, "filters"],
            [
                {
                    "type": "RequestHeaderModifier",
                    "requestHeaderModifier": {
                        "set": [{"name": "X", "value": "1"}],
                        "remove": ["x"],
                    },
                }
            ],
        ),
        "spec.rules[0].filters[0].requestHeaderModifier.remove[0]",
        "one action per header",
    ),
    (
        _route_with(["spec", "rules", 0, "filters"], [{"type": "CORS", "cors": {}}]),
        "spec.rules[0].filters[0].type",
        "unsupported value",
    ),
    (
        _route_with(
            ["spec", "rules", 0, "filters"],
            [
                {
                    "type": "URLRewrite",
                    "urlRewrite": {
                        "path": {"type": "ReplacePrefixMatch", "replacePrefixMatch": "/x"}
                    },
                    "requestRedirect": {},
                }
            ],
        ),
        "spec.rules[0].filters[0].requestRedirect",
        "must not be set",
    ),
    (_route_with(["metadata", "name"], None), "metadata.name", "required"),
    (
        _route_with(["spec", "rules"], [{"name": "a"}, {"name": "a"}]),
        "spec.rules[1].name",
        "unique",
    ),
]
# ReplacePrefixMatch needs exactly one PathPrefix match
_rpm = _route_with(
    ["spec", "rules", 0],
    {
        "matches": [{"path": {"type": "Exact", "value": "/a"}}],
        "backendRefs": [backend("a")],
        "filters": [
            {
                "type": "URLRewrite",
                "urlRewrite": {"path": {"type": "ReplacePrefixMatch", "replacePrefixMatch": "/x"}},
            }
        ],
    },
)
BAD.append((_rpm, "spec.rules[0].matches", "exactly one PathPrefix match"))


@pytest.mark.parametrize("doc,field,message", BAD, ids=[b[1] for b in BAD])
def test_bad_route_names_document_and_field(doc: dict[str, Any], field: str, message: str) -> None:
    with pytest.raises(InputError) as err:
        build_table([gateway(), doc])
    assert err.value.doc.startswith("HTTPRoute app/")
    assert err.value.path == field
    assert message in err.value.message
    assert "\n" not in str(err.value)


@pytest.mark.parametrize(
    "doc,where",
    [
        ({"apiVersion": "v1", "kind": "Widget", "metadata": {"name": "w"}}, "kind"),
        (
            {
                "apiVersion": "gateway.networking.k8s.io/v1",
                "kind": "HttpRoute",
                "metadata": {"name": "w"},
            },
            "kind",
        ),
        ({"kind": "Service", "metadata": {"name": "s"}}, "apiVersion"),
        ({"apiVersion": "v1", "metadata": {"name": "s"}}, "kind"),
        ({"apiVersion": "v1", "kind": "Service"}, "metadata"),
        (
            {
                "apiVersion": "v1",
                "kind": "Service",
                "metadata": {"name": "s"},
                "spec": {"ports": [{"port": 0}]},
            },
            "spec.ports[0].port",
        ),
        (
            {
                "apiVersion": "gateway.networking.k8s.io/v1",
                "kind": "Gateway",
                "metadata": {"name": "g"},
                "spec": {"gatewayClassName": "c"},
            },
            "spec.listeners",
        ),
        (
            {
                "apiVersion": "gateway.networking.k8s.io/v1",
                "kind": "Gateway",
                "metadata": {"name": "g"},
                "spec": {
                    "gatewayClassName": "c",
                    "listeners": [
                        {
                            "name": "a",
                            "port": 80,
                            "protocol": "HTTP",
                            "allowedRoutes": {"namespaces": {"from": "Selector"}},
                        }
                    ],
                },
            },
            "spec.listeners[0].allowedRoutes.namespaces.selector",
        ),
        (
            {
                "apiVersion": "gateway.networking.k8s.io/v1",
                "kind": "Gateway",
                "metadata": {"name": "g"},
                "spec": {
                    "gatewayClassName": "c",
                    "listeners": [
                        {"name": "a", "port": 80, "protocol": "HTTP"},
                        {"name": "a", "port": 81, "protocol": "HTTP"},
                    ],
                },
            },
            "spec.listeners",
        ),
        (
            {
                "apiVersion": "gateway.networking.k8s.io/v1",
                "kind": "Gateway",
                "metadata": {"name": "g"},
                "spec": {
                    "gatewayClassName": "c",
                    "listeners": [{"name": "a", "port": 80, "protocol": "TCP", "hostname": "a.b"}],
                },
            },
            "spec.listeners[0].hostname",
        ),
        (
            {
                "apiVersion": "gateway.networking.k8s.io/v1beta1",
                "kind": "ReferenceGrant",
                "metadata": {"name": "g"},
                "spec": {"from": [], "to": [{"group": "", "kind": "S"}]},
            },
            "spec.from",
        ),
        (
            {
                "apiVersion": "discovery.k8s.io/v1",
                "kind": "EndpointSlice",
                "metadata": {"name": "e", "labels": {"kubernetes.io/service-name": "s"}},
                "endpoints": {"not": "a list"},
            },
            "endpoints",
        ),
        (
            {
                "apiVersion": "gateway.networking.k8s.io/v1",
                "kind": "GRPCRoute",
                "metadata": {"name": "g"},
                "spec": {"rules": [{"matches": [{"method": {}}]}]},
            },
            "spec.rules[0].matches[0].method",
        ),
        (
            {
                "apiVersion": "gateway.networking.k8s.io/v1",
                "kind": "GRPCRoute",
                "metadata": {"name": "g"},
                "spec": {"rules": [{"matches": [{"method": {"service": "a/b"}}]}]},
            },
            "spec.rules[0].matches[0].method.service",
        ),
    ],
)
def test_bad_documents(doc: dict[str, Any], where: str) -> None:
    with pytest.raises(InputError) as err:
        build_table([doc])
    assert err.value.path == where


def test_lists_are_flattened_and_ignored_kinds_noted() -> None:
    docs = [
        {"apiVersion": "v1", "kind": "List", "items": seed_docs()},
        {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "d"}},
        None,
    ]
    table = build_table(docs)
    assert len(table.objects.routes) == 3
    assert table.objects.ignored == ("Deployment default/d",)
    with pytest.raises(InputError):
        build_table([["not", "a", "mapping"]])


@pytest.mark.parametrize(
    "method,url,headers",
    [
        ("GET", "ftp://h/", []),
        ("GET", "http:///nohost", []),
        ("GET", "http://h:99999/", []),
        ("GET", "http://h/a b", []),
        ("G-T", "http://h/", []),
        ("GET", "http://h/", [("bad name", "v")]),
        ("GET", "http://h/", [("X", "a\r\nb")]),
    ],
)
def test_bad_requests(method: str, url: str, headers: list[tuple[str, str]]) -> None:
    with pytest.raises(RequestError):
        make_request(method, url, headers)


def test_request_parsing_details() -> None:
    r = make_request("get", "https://[::1]:8443/p?a=1&a=2&b", [("Host", "x.example:1")])
    assert (r.method, r.port, r.authority, r.hostname) == ("GET", 8443, "x.example:1", "x.example")
    assert r.query_index == {"a": "1", "b": ""}
    r = make_request("GET", "http://[::1]/")
    assert r.hostname == "[::1]" and r.path == "/"
    with pytest.raises(RequestError):
        make_request("POST", "http://h/", grpc=("svc", ""))
