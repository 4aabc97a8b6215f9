"""Does a match accept a request, and how does it rank against other matches?

HTTPRoute precedence, across all rules of all routes attached to the listener
(HTTPRouteRule.matches): an Exact path, then the PathPrefix with the most characters,
then a method match, then the most header matches, then the most query matches; ties
go to the oldest route, then "namespace/name"; within a route, list order. Hostname
precedence (HTTPRouteSpec.hostnames) comes before all of these and is added per request
(see ``hostnames.host_key``).

RegularExpression path precedence is implementation-specific. We rank it between Exact
and PathPrefix, longer patterns first (what Envoy Gateway does); noted in the output.

GRPCRoute precedence: characters in the matching service, then method, then number of
header matches; then oldest route, "namespace/name", list order.

A static key is a tuple where smaller sorts first; the index sorts once at build time.
"""

from __future__ import annotations

from collections.abc import Mapping

from canary.core.routing import objects as o
from canary.core.routing.attach import created_key
from canary.core.routing.request import Request

StaticKey = tuple[object, ...]

_PATH_RANK = {o.EXACT: 0, o.REGEX: 1, o.PATH_PREFIX: 2}


def prefix_matches(norm: str, path: str) -> bool:
    """Element-wise prefix: ``/abc`` matches ``/abc``, ``/abc/`` and ``/abc/x``, not ``/abcd``."""
    if not norm:
        return True
    if not path.startswith(norm):
        return False
    return len(path) == len(norm) or path[len(norm)] == "/"


def _values_match(matches: tuple[o.ValueMatch, ...], index: Mapping[str, str]) -> bool:
    for m in matches:
        actual = index.get(m.key)
        if actual is None or not m.test(actual):
            return False
    return True


def http_matches(m: o.HTTPMatch, req: Request) -> bool:
    p = m.path
    path = req.path
    if p.type == o.PATH_PREFIX:
        norm = p.norm
        if norm and not (
            path.startswith(norm) and (len(path) == len(norm) or path[len(norm)] == "/")
        ):
            return False
    elif p.type == o.EXACT:
        if path != p.value:
            return False
    elif p.regex is None or p.regex.fullmatch(path) is None:
        return False
    if m.method is not None and m.method != req.method:
        return False
    if m.headers and not _values_match(m.headers, req.header_index):
        return False
    return not m.query or _values_match(m.query, req.query_index)


def http_mismatch(m: o.HTTPMatch, req: Request) -> str:
    """Why ``m`` does not match ``req`` (for ``--explain``); "" when it matches."""
    p = m.path
    if p.type == o.EXACT and req.path != p.value:
        return f"path {req.path!r} is not exactly {p.value!r}"
    if p.type == o.PATH_PREFIX and not prefix_matches(p.norm, req.path):
        return f"path {req.path!r} has no prefix {p.value!r}"
    if p.type == o.REGEX and (p.regex is None or p.regex.fullmatch(req.path) is None):
        return f"path {req.path!r} does not match regex {p.value!r}"
    if m.method is not None and m.method != req.method:
        return f"method {req.method} is not {m.method}"
    why = _header_mismatch(m.headers, req)
    if why:
        return why
    for q in m.query:
        actual = req.query_index.get(q.key)
        if actual is None:
            return f"query parameter {q.name} missing"
        if not q.test(actual):
            return f"query parameter {q.name}={actual!r} does not match {q.value!r}"
    return ""


def grpc_matches(m: o.GRPCMatch, req: Request) -> bool:
    return grpc_mismatch(m, req) == ""


def grpc_mismatch(m: o.GRPCMatch, req: Request) -> str:
    assert req.grpc is not None  # GRPCRoute entries are only candidates for gRPC requests
    service, method = req.grpc
    if m.type == o.EXACT:
        if m.service is not None and m.service != service:
            return f"service {service!r} is not {m.service!r}"
        if m.method is not None and m.method != method:
            return f"method {method!r} is not {m.method!r}"
    else:
        if m.service_re is not None and m.service_re.fullmatch(service) is None:
            return f"service {service!r} does not match regex {m.service!r}"
        if m.method_re is not None and m.method_re.fullmatch(method) is None:
            return f"method {method!r} does not match regex {m.method!r}"
    return _header_mismatch(m.headers, req)


def _header_mismatch(headers: tuple[o.ValueMatch, ...], req: Request) -> str:
    """Why the request's headers fail these header matches ("" when they all hold)."""
    for h in headers:
        actual = req.header_index.get(h.key)
        if actual is None:
            return f"header {h.name} missing"
        if not h.test(actual):
            return f"header {h.name}: {actual!r} does not match {h.value!r}"
    return ""


def http_key(route: o.Route, rule: o.Rule, match_index: int, m: o.HTTPMatch) -> StaticKey:
    p = m.path
    length = len(p.value) if p.type != o.PATH_PREFIX else len(p.norm)
    return (
        _PATH_RANK[p.type],
        -length,
        0 if m.method is not None else 1,
        -len(m.headers),
        -len(m.query),
        created_key(route),
        route.key,
        rule.index,
        match_index,
    )


def grpc_key(route: o.Route, rule: o.Rule, match_index: int, m: o.GRPCMatch | None) -> StaticKey:
    service = len(m.service or "") if m else 0
    method = len(m.method or "") if m else 0
    headers = len(m.headers) if m else 0
    return (-service, -method, -headers, created_key(route), route.key, rule.index, match_index)
