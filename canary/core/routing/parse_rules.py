"""Parse HTTPRoute / GRPCRoute rules: matches, filters, backendRefs, CRD defaults and CEL.

The CEL rules of the standard-channel CRDs that change what a rule means are enforced
here (the API server would refuse the object): RequestRedirect with backendRefs,
RequestRedirect together with URLRewrite, repeated filters, ReplacePrefixMatch without
exactly one PathPrefix match, a Service backendRef without a port.

Where the rules and backendRefs are in the raw dict, a backendRef's identity and weight
and their defaults are read by ``backend_refs`` (in its strict mode, with ``Doc``), the
reader route handling (``canary.core.routes.rules``) uses too. The CRD defaults that add
what the raw lists do not hold (one rule for a route without rules, ``PathPrefix /`` for
a rule without matches) are applied here only: route handling addresses raw indexes.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from canary.core.routing import backend_refs as br
from canary.core.routing import objects as o
from canary.core.routing import sre as _sre
from canary.core.routing.fieldcheck import Doc

_PATH_VALUE = re.compile(r"^(?:[-A-Za-z0-9/._~!$&'()*+,;=:@]|%[0-9a-fA-F]{2})+$")
_HTTP_METHODS = ("GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH")
_HTTP_FILTERS = (
    o.REQUEST_HEADER_MODIFIER,
    o.RESPONSE_HEADER_MODIFIER,
    o.REQUEST_MIRROR,
    o.REQUEST_REDIRECT,
    o.URL_REWRITE,
    o.EXTENSION_REF,
)
_GRPC_FILTERS = (
    o.REQUEST_HEADER_MODIFIER,
    o.RESPONSE_HEADER_MODIFIER,
    o.REQUEST_MIRROR,
    o.EXTENSION_REF,
)
_FILTER_FIELD = {
    o.REQUEST_HEADER_MODIFIER: "requestHeaderModifier",
    o.RESPONSE_HEADER_MODIFIER: "responseHeaderModifier",
    o.REQUEST_MIRROR: "requestMirror",
    o.REQUEST_REDIRECT: "requestRedirect",
    o.URL_REWRITE: "urlRewrite",
    o.EXTENSION_REF: "extensionRef",
}
_SERVICE_RE = re.compile(r"(?i)^\.?[a-z_][a-z_0-9]*(\.[a-z_][a-z_0-9]*)*$")
_METHOD_RE = re.compile(r"^[A-Za-z_][A-Za-z_0-9]*$")
_POSIX_CLASS = re.compile(r"\[:[a-z]+:\]")  # RE2's [[:alpha:]]; Python re reads a set
_DEFAULT_MATCH = o.HTTPMatch(o.PathMatch.of(o.PATH_PREFIX, "/"))


def _regex(doc: Doc, value: str, path: str) -> re.Pattern[str]:
    """Compile with Python ``re``; Gateway implementations use RE2 or PCRE, so a pattern
    valid there may fail here (``\\pL``) — an :class:`InputError` either way, never an
    ``OverflowError`` (``a{99999999999}``) or ``RecursionError`` escaping the parser."""
    if _POSIX_CLASS.search(value):
        raise doc.fail(
            path,
            "invalid regular expression for the evaluator's dialect (Python re): POSIX "
            "classes such as [[:alpha:]] mean a plain character set there",
        )
    try:
        compiled = re.compile(value)
    except (re.error, OverflowError, RecursionError) as exc:
        raise doc.fail(
            path, f"invalid regular expression for the evaluator's dialect (Python re): {exc}"
        ) from exc
    if _nested_repeat(_sre.parse(value)):
        raise doc.fail(
            path,
            "regular expression with a repetition inside an unbounded repetition, such as "
            "(\\w+)+: Python re backtracks exponentially on it (RE2 is linear), so the "
            "evaluator does not run it",
        )
    return compiled


def _nested_repeat(items: Any, inside: bool = False) -> bool:
    """Does a parsed pattern repeat (``{n,m}``, m > 1) inside an unbounded repetition?

    That shape (``(\\w+)+x``, ``(.*)*x``) makes Python's backtracking matcher take
    exponential time on a near-miss of some 20 characters; one route written so would
    stall every evaluation of its listener. RE2 (Traefik, Envoy) runs it in linear time."""
    for op, av in items:
        if op in (_sre.MAX_REPEAT, _sre.MIN_REPEAT, _sre.POSSESSIVE_REPEAT):
            _lo, hi, sub = av
            if inside and hi > 1:
                return True
            if _nested_repeat(sub, inside or hi == _sre.MAXREPEAT):
                return True
        elif op == _sre.SUBPATTERN:
            if _nested_repeat(av[-1], inside):
                return True
        elif op == _sre.BRANCH:
            if any(_nested_repeat(branch, inside) for branch in av[1]):
                return True
        elif op in (_sre.ASSERT, _sre.ASSERT_NOT) and _nested_repeat(av[1], inside):
            return True
    return False


def parse_rules(doc: Doc, kind: str, spec: Mapping[str, Any]) -> tuple[o.Rule, ...]:
    raw_rules = br.rules_of(doc, spec)
    if not raw_rules:
        raw_rules = [{}]  # CRD default: one rule matching PathPrefix "/"
    rules: list[o.Rule] = []
    names: set[str] = set()
    for i, raw in enumerate(raw_rules):
        p = f"spec.rules[{i}]"
        name = doc.opt_str(raw, "name", f"{p}.name", "") or None
        if name is not None:
            if name in names:
                raise doc.fail(f"{p}.name", f"rule name {name!r} must be unique within the route")
            names.add(name)
        if kind == o.HTTP_ROUTE:
            matches: tuple[o.HTTPMatch | o.GRPCMatch, ...] = tuple(
                _http_match(doc, m, f"{p}.matches[{j}]")
                for j, m in enumerate(doc.list(raw, "matches", f"{p}.matches"))
            ) or (_DEFAULT_MATCH,)
        else:
            matches = tuple(
                _grpc_match(doc, m, f"{p}.matches[{j}]")
                for j, m in enumerate(doc.list(raw, "matches", f"{p}.matches"))
            )
        allowed = _HTTP_FILTERS if kind == o.HTTP_ROUTE else _GRPC_FILTERS
        filters = _filters(doc, raw, f"{p}.filters", allowed, doc.namespace)
        backends = tuple(
            _backend(doc, b, f"{p}.backendRefs[{j}]", allowed)
            for j, b in enumerate(br.backend_refs_of(doc, raw, p))
        )
        if backends and any(f.type == o.REQUEST_REDIRECT for f in filters):
            raise doc.fail(p, "RequestRedirect filter must not be used together with backendRefs")
        _check_prefix_modifiers(doc, p, matches, filters, backends)
        rules.append(o.Rule(i, name, matches, filters, backends))
    return tuple(rules)


def _check_prefix_modifiers(
    doc: Doc,
    p: str,
    matches: tuple[o.HTTPMatch | o.GRPCMatch, ...],
    filters: tuple[o.Filter, ...],
    backends: tuple[o.BackendSpec, ...],
) -> None:
    all_filters = list(filters) + [f for b in backends for f in b.filters]
    for f in all_filters:
        mod = (f.redirect.path if f.redirect else None) or (f.rewrite.path if f.rewrite else None)
        if mod is None or mod.type != o.REPLACE_PREFIX_MATCH:
            continue
        ok = (
            len(matches) == 1
            and isinstance(matches[0], o.HTTPMatch)
            and matches[0].path.type == o.PATH_PREFIX
        )
        if not ok:
            raise doc.fail(
                f"{p}.matches",
                f"{f.type} with path.replacePrefixMatch needs exactly one PathPrefix match",
            )


def _value_matches(
    doc: Doc,
    raw: Any,
    key: str,
    path: str,
    *,
    header: bool,
    dropped: list[o.ValueMatch] | None = None,
) -> tuple[o.ValueMatch, ...]:
    out: list[o.ValueMatch] = []
    seen: set[str] = set()
    for i, m in enumerate(doc.list(raw, key, f"{path}.{key}")):
        p = f"{path}.{key}[{i}]"
        mtype = doc.enum(m, "type", f"{p}.type", (o.EXACT, o.REGEX), default=o.EXACT)
        name = doc.header_name(m, "name", f"{p}.name")
        value = doc.req_str(m, "value", f"{p}.value")
        if header and not _header_value_ok(value):
            raise doc.fail(f"{p}.value", f"invalid header value {value!r}")
        lookup = name.lower() if header else name
        regex = _regex(doc, value, f"{p}.value") if mtype == o.REGEX else None
        if lookup in seen:
            # only the first entry with an equivalent name is considered (the spec);
            # kept aside for profiles of data planes that require every entry
            if dropped is not None:
                dropped.append(o.ValueMatch(mtype, name, lookup, value, regex))
            continue
        seen.add(lookup)
        out.append(o.ValueMatch(mtype, name, lookup, value, regex))
    return tuple(out)


def _header_value_ok(value: str) -> bool:
    return all(c == "\t" or 0x20 <= ord(c) <= 0x7E or ord(c) >= 0x80 for c in value)


def _http_match(doc: Doc, raw: Any, p: str) -> o.HTTPMatch:
    path_raw = doc.mapping(raw, "path", f"{p}.path") or {}
    ptype = doc.enum(
        path_raw, "type", f"{p}.path.type", (o.EXACT, o.PATH_PREFIX, o.REGEX), default=o.PATH_PREFIX
    )
    value = doc.opt_str(path_raw, "value", f"{p}.path.value", "/")
    regex = None
    if ptype == o.REGEX:
        regex = _regex(doc, value, f"{p}.path.value")
    else:
        problem = _path_problem(value)
        if problem:
            raise doc.fail(f"{p}.path.value", f"{problem} (got {value!r})")
    method = raw.get("method") if isinstance(raw, Mapping) else None
    if method is not None:
        method = doc.enum(raw, "method", f"{p}.method", _HTTP_METHODS)
    dropped_h: list[o.ValueMatch] = []
    dropped_q: list[o.ValueMatch] = []
    return o.HTTPMatch(
        path=o.PathMatch.of(ptype, value, regex),
        headers=_value_matches(doc, raw, "headers", p, header=True, dropped=dropped_h),
        query=_value_matches(doc, raw, "queryParams", p, header=False, dropped=dropped_q),
        method=method,
        dropped_headers=tuple(dropped_h),
        dropped_query=tuple(dropped_q),
    )


def _path_problem(value: str) -> str | None:
    if not value.startswith("/"):
        return "must be an absolute path starting with '/'"
    for bad in ("//", "/./", "/../", "%2f", "%2F", "#"):
        if bad in value:
            return f"must not contain {bad!r}"
    if value.endswith("/..") or value.endswith("/."):
        return "must not end with '/.' or '/..'"
    if not _PATH_VALUE.match(value):
        return "contains characters not allowed in a path"
    return None


def _grpc_match(doc: Doc, raw: Any, p: str) -> o.GRPCMatch:
    dropped: list[o.ValueMatch] = []
    headers = _value_matches(doc, raw, "headers", p, header=True, dropped=dropped)
    mraw = doc.mapping(raw, "method", f"{p}.method")
    if mraw is None:
        return o.GRPCMatch(o.EXACT, None, None, headers, dropped_headers=tuple(dropped))
    mtype = doc.enum(mraw, "type", f"{p}.method.type", (o.EXACT, o.REGEX), default=o.EXACT)
    service = doc.opt_str(mraw, "service", f"{p}.method.service", "") or None
    method = doc.opt_str(mraw, "method", f"{p}.method.method", "") or None
    if service is None and method is None:
        raise doc.fail(f"{p}.method", "one or both of 'service' or 'method' must be specified")
    if mtype == o.EXACT:
        if service is not None and not _SERVICE_RE.match(service):
            raise doc.fail(f"{p}.method.service", f"invalid gRPC service name {service!r}")
        if method is not None and not _METHOD_RE.match(method):
            raise doc.fail(f"{p}.method.method", f"invalid gRPC method name {method!r}")
        return o.GRPCMatch(mtype, service, method, headers, dropped_headers=tuple(dropped))
    s_re = _regex(doc, service, f"{p}.method.service") if service else None
    m_re = _regex(doc, method, f"{p}.method.method") if method else None
    return o.GRPCMatch(mtype, service, method, headers, s_re, m_re, tuple(dropped))


def _header_modifier(doc: Doc, raw: Any, p: str) -> o.HeaderModifier:
    lists: dict[str, tuple[tuple[str, str], ...]] = {}
    names: set[str] = set()
    for action in ("set", "add"):
        entries: list[tuple[str, str]] = []
        for i, h in enumerate(doc.list(raw, action, f"{p}.{action}")):
            name = doc.header_name(h, "name", f"{p}.{action}[{i}].name")
            value = doc.req_str(h, "value", f"{p}.{action}[{i}].value", allow_empty=True)
            if not _header_value_ok(value):
                raise doc.fail(f"{p}.{action}[{i}].value", f"invalid header value {value!r}")
            if name.lower() in names:
                raise doc.fail(
                    f"{p}.{action}[{i}].name",
                    f"only one action per header name is permitted ({name})",
                )
            names.add(name.lower())
            entries.append((name, value))
        lists[action] = tuple(entries)
    removes: list[str] = []
    for i, _ in enumerate(doc.list(raw, "remove", f"{p}.remove", item=str)):
        name = raw["remove"][i]
        if not isinstance(name, str) or not name:
            raise doc.fail(f"{p}.remove[{i}]", "must be a header name")
        if name.lower() in names:
            raise doc.fail(f"{p}.remove[{i}]", f"only one action per header name ({name})")
        names.add(name.lower())
        removes.append(name)
    return o.HeaderModifier(lists["set"], lists["add"], tuple(removes))


def _path_modifier(doc: Doc, raw: Any, p: str) -> o.PathModifier | None:
    praw = doc.mapping(raw, "path", p)
    if praw is None:
        return None
    ptype = doc.enum(praw, "type", f"{p}.type", (o.REPLACE_FULL_PATH, o.REPLACE_PREFIX_MATCH))
    key = "replaceFullPath" if ptype == o.REPLACE_FULL_PATH else "replacePrefixMatch"
    other = "replacePrefixMatch" if ptype == o.REPLACE_FULL_PATH else "replaceFullPath"
    if praw.get(other) is not None:
        raise doc.fail(f"{p}.{other}", f"must not be set when type is {ptype}")
    value = doc.req_str(praw, key, f"{p}.{key}", allow_empty=True)
    return o.PathModifier(ptype, value)


def _filters(
    doc: Doc, raw: Any, p: str, allowed: tuple[str, ...], route_ns: str
) -> tuple[o.Filter, ...]:
    out: list[o.Filter] = []
    for i, f in enumerate(doc.list(raw, "filters", p)):
        fp = f"{p}[{i}]"
        ftype = doc.enum(f, "type", f"{fp}.type", allowed)
        for other_type, other_field in _FILTER_FIELD.items():
            if other_type != ftype and f.get(other_field) is not None:
                raise doc.fail(f"{fp}.{other_field}", f"must not be set for type {ftype}")
        body = doc.mapping(f, _FILTER_FIELD[ftype], f"{fp}.{_FILTER_FIELD[ftype]}", required=True)
        assert body is not None
        bp = f"{fp}.{_FILTER_FIELD[ftype]}"
        if ftype in (o.REQUEST_HEADER_MODIFIER, o.RESPONSE_HEADER_MODIFIER):
            out.append(o.Filter(ftype, header_modifier=_header_modifier(doc, body, bp)))
        elif ftype == o.REQUEST_REDIRECT:
            status = doc.integer(body, "statusCode", f"{bp}.statusCode", 0, 999) or 302
            if status not in (301, 302, 303, 307, 308):
                raise doc.fail(f"{bp}.statusCode", f"unsupported value {status}")
            scheme = body.get("scheme")
            if scheme is not None:
                scheme = doc.enum(body, "scheme", f"{bp}.scheme", ("http", "https"))
            redirect = o.Redirect(
                scheme=scheme,
                hostname=doc.hostname(body, "hostname", f"{bp}.hostname", wildcard=False),
                path=_path_modifier(doc, body, f"{bp}.path"),
                port=doc.port(body, "port", f"{bp}.port"),
                status_code=status,
            )
            out.append(o.Filter(ftype, redirect=redirect))
        elif ftype == o.URL_REWRITE:
            rewrite = o.Rewrite(
                hostname=doc.hostname(body, "hostname", f"{bp}.hostname", wildcard=False),
                path=_path_modifier(doc, body, f"{bp}.path"),
            )
            out.append(o.Filter(ftype, rewrite=rewrite))
        elif ftype == o.REQUEST_MIRROR:
            bref = doc.mapping(body, "backendRef", f"{bp}.backendRef", required=True)
            mirror = _backend_ref(doc, bref, f"{bp}.backendRef", weight=1, ns=route_ns)
            out.append(o.Filter(ftype, mirror=mirror))
        else:
            ext_kind = doc.req_str(body, "kind", f"{bp}.kind")
            ext_name = doc.req_str(body, "name", f"{bp}.name")
            out.append(o.Filter(ftype, extension=f"{ext_kind}/{ext_name}"))
    types = [f.type for f in out]
    for once in (
        o.REQUEST_HEADER_MODIFIER,
        o.RESPONSE_HEADER_MODIFIER,
        o.REQUEST_REDIRECT,
        o.URL_REWRITE,
    ):
        if types.count(once) > 1:
            raise doc.fail(p, f"{once} filter cannot be repeated")
    if o.REQUEST_REDIRECT in types and o.URL_REWRITE in types:
        raise doc.fail(p, "may specify either RequestRedirect or URLRewrite, but not both")
    return tuple(out)


def _backend_ref(
    doc: Doc, raw: Any, p: str, *, weight: int, ns: str, filters: tuple[o.Filter, ...] = ()
) -> o.BackendSpec:
    key = br.backend_key(doc, raw, p, ns, require_port=True)
    return o.BackendSpec(key.group, key.kind, key.name, key.namespace, key.port, weight, filters)


def _backend(doc: Doc, raw: Any, p: str, allowed: tuple[str, ...]) -> o.BackendSpec:
    weight = br.backend_weight(doc, raw, p)
    filters = _filters(doc, raw, f"{p}.filters", allowed, doc.namespace)
    return _backend_ref(doc, raw, p, weight=weight, ns=doc.namespace, filters=filters)
