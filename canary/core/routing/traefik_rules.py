"""Traefik's routers for Gateway API matches: priority, matching, path joins (pure).

Traefik's Kubernetes Gateway provider turns each match of each rule into a router with
a rule (``Host(...) && (Path(...) || PathPrefix(...)) && Method(...) && Header(...)``)
and an integer priority; its muxer tries routers by descending priority and serves the
first whose rule matches. The functions here follow, line for line, Traefik 3.7's
``pkg/provider/kubernetes/gateway/httproute.go`` (``buildMatchRule``, ``buildPathRule``,
``buildHostRule``), ``grpcroute.go`` (``buildGRPCMatchRule``) and
``pkg/muxer/http/matcher.go`` (the matchers). Go semantics we need are here too:
``strconv.Quote`` (``%q``) and ``regexp.QuoteMeta``.

Regular expressions are Go RE2 in Traefik and Python ``re`` here; the patterns Gateway
API users write mostly mean the same in both (noted in the output).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from urllib.parse import parse_qsl

from canary.core.routing import objects as o
from canary.core.routing.hostnames import ANY

EXACT_PATH = 100000  # an Exact path
PREFIX_BASE = 10000  # a PathPrefix (other than "/") or RegularExpression path ...
PER_CHAR = 100  # ... plus this per character of the value as written
CATCH_ALL = 1  # PathPrefix "/"
METHOD = 1000  # a method match
PER_HEADER = 100  # each header match
PER_QUERY = 10  # each query parameter match

_META = set(r"\.+*?()|[]{}^$")


def quote_meta(s: str) -> str:
    """Go's ``regexp.QuoteMeta``."""
    return "".join("\\" + c if c in _META else c for c in s)


_GO_ESCAPES = {"\a": "\\a", "\b": "\\b", "\f": "\\f", "\n": "\\n", "\r": "\\r", "\t": "\\t"}
_GO_ESCAPES["\v"] = "\\v"


def go_quote(s: str) -> str:
    """Go's ``strconv.Quote`` (``%q``) for the strings Gateway API allows."""
    out = ['"']
    for c in s:
        if c in ('"', "\\"):
            out.append("\\" + c)
        elif c in _GO_ESCAPES:
            out.append(_GO_ESCAPES[c])
        elif ord(c) < 0x20 or ord(c) == 0x7F:
            out.append(f"\\x{ord(c):02x}")
        else:
            out.append(c)
    out.append('"')
    return "".join(out)


def join_prefix(path: str, prefix: str, replacement: str) -> str:
    """Traefik 3.7.15's ReplacePrefixMatch (URLRewrite; RequestRedirect adds a leading
    "/" when the result has none): the prefix without its trailing "/" is cut off; an
    empty replacement also drops the "/" the rest starts with (``/strip/bar`` → ``bar``),
    any other is written without its trailing "/" before the rest; "" becomes "/".
    Observed on the local stack (the differential harness pins every combination)."""
    norm = prefix[:-1] if prefix.endswith("/") else prefix
    rest = path[len(norm) :] if path.startswith(norm) else path
    if replacement == "":
        out = rest[1:] if rest.startswith("/") else rest
    else:
        out = (replacement[:-1] if replacement.endswith("/") else replacement) + rest
    return out or "/"


# --- priority and rule text ---------------------------------------------------------------


def host_priority(hostnames: Sequence[str]) -> int:
    """``buildHostRule``: the length of the longest hostname (0 without a Host rule)."""
    if tuple(hostnames) == (ANY,):
        return 0
    return max((len(h) for h in hostnames), default=0)


def path_priority(p: o.PathMatch) -> int:
    if p.type == o.EXACT:
        return EXACT_PATH
    if p.type == o.PATH_PREFIX and p.value == "/":
        return CATCH_ALL
    return PREFIX_BASE + len(p.value) * PER_CHAR


def http_priority(m: o.HTTPMatch, hostnames: Sequence[str], rules: int, rule_index: int) -> int:
    """A router's priority: path + method + headers + query + hostname + rule order."""
    prio = path_priority(m.path)
    if m.method is not None:
        prio += METHOD
    prio += PER_HEADER * (len(m.headers) + len(m.dropped_headers))
    prio += PER_QUERY * (len(m.query) + len(m.dropped_query))
    return prio + host_priority(hostnames) + rules - rule_index


def grpc_method_regex(m: o.GRPCMatch | None) -> str:
    """``buildGRPCMethodRule``'s PathRegexp pattern ("" when the rule is PathPrefix "/")."""
    if m is None or (m.service is None and m.method is None):
        return ""
    exact = m.type == o.EXACT
    service = (quote_meta(m.service) if exact else m.service) if m.service else "[^/]+"
    method = (quote_meta(m.method) if exact else m.method) if m.method else "[^/]+"
    return f"/{service}/{method}"


def grpc_rule_text(m: o.GRPCMatch | None) -> str:
    """The matchers part of a GRPCRoute router's rule (its length is the priority)."""
    pattern = grpc_method_regex(m)
    parts = [f"PathRegexp({go_quote(pattern)})" if pattern else 'PathPrefix("/")']
    if m is not None:
        for h in m.headers + m.dropped_headers:
            fn = "HeaderRegexp" if h.regex is not None else "Header"
            parts.append(f"{fn}({go_quote(h.name)},{go_quote(h.value)})")
    return " && ".join(parts)


def grpc_priority(m: o.GRPCMatch | None, hostnames: Sequence[str]) -> int:
    """``buildGRPCMatchRule``: hostname length + byte length of the matchers' text."""
    return host_priority(hostnames) + len(grpc_rule_text(m).encode())


# --- matching ---------------------------------------------------------------------------------


def host_matches(hostnames: Sequence[str], host: str) -> bool:
    """``Host`` / ``HostRegexp`` (wildcards become ``^[a-z0-9-\\.]+\\.<suffix>$``)."""
    for h in hostnames:
        if h in (ANY, host):
            return True
        if h.startswith("*.") and re.fullmatch(r"[a-z0-9\-.]+" + re.escape(h[1:]), host):
            return True
    return False


def path_matches(p: o.PathMatch, path: str) -> bool:
    if p.type == o.EXACT:
        return path == p.value
    if p.type == o.PATH_PREFIX:
        if p.value == "/":
            return True
        base = p.value[:-1] if p.value.endswith("/") else p.value
        return path == base or path.startswith(base + "/")
    return p.regex is not None and p.regex.search(path) is not None


def _value_ok(v: o.ValueMatch, values: Sequence[str]) -> bool:
    if v.regex is not None:
        return any(v.regex.search(x) is not None for x in values)
    return v.value in values


def header_values(headers: Sequence[tuple[str, str]]) -> dict[str, list[str]]:
    """Request header lines by lower-cased name (each line one value, as Go keeps them)."""
    out: dict[str, list[str]] = {}
    for name, value in headers:
        out.setdefault(name.lower(), []).append(value)
    return out


def query_values(query: str) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for name, value in parse_qsl(query, keep_blank_values=True):
        out.setdefault(name, []).append(value)
    return out


def values_match(
    matches: Sequence[o.ValueMatch], index: Mapping[str, list[str]], *, header: bool
) -> str:
    """ "" when every match holds (any value of the name); else why not."""
    for v in matches:
        values = index.get(v.key if header else v.name)
        what = "header" if header else "query parameter"
        if not values:
            return f"{what} {v.name} missing"
        if not _value_ok(v, values):
            shown = ", ".join(repr(x) for x in values)
            return f"{what} {v.name}: no value of {shown} matches {v.value!r}"
    return ""


def http_mismatch(
    m: o.HTTPMatch,
    method: str,
    path: str,
    headers: Mapping[str, list[str]],
    query: Mapping[str, list[str]],
) -> str:
    """Why Traefik's router for ``m`` does not match ("" when it does)."""
    if not path_matches(m.path, path):
        return f"path {path!r} does not match {m.path.type} {m.path.value!r}"
    if m.method is not None and m.method != method:
        return f"method {method} is not {m.method}"
    why = values_match(m.headers + m.dropped_headers, headers, header=True)
    return why or values_match(m.query + m.dropped_query, query, header=False)


def grpc_mismatch(m: o.GRPCMatch | None, path: str, headers: Mapping[str, list[str]]) -> str:
    pattern = grpc_method_regex(m)
    if pattern and re.search(pattern, path) is None:
        return f"path {path!r} does not match PathRegexp {pattern!r}"
    if m is None:
        return ""
    return values_match(m.headers + m.dropped_headers, headers, header=True)


# --- rule text (Traefik keeps one router per rule text and entry point) -------------------


def host_rule_text(hostnames: Sequence[str]) -> str:
    """``buildHostRule``'s text ("" without a Host rule)."""
    if tuple(hostnames) == (ANY,):
        return ""
    rules = []
    for h in hostnames:
        if "*" not in h:
            rules.append(f"Host({go_quote(h)})")
        else:
            pattern = quote_meta(h).replace("\\*\\.", "[a-z0-9-\\.]+\\.", 1)
            rules.append(f"HostRegexp({go_quote('^' + pattern + '$')})")
    return rules[0] if len(rules) == 1 else "(" + " || ".join(rules) + ")"


def http_rule_text(m: o.HTTPMatch, hostnames: Sequence[str]) -> str:
    """``buildMatchRule``'s text for an HTTPRoute match on the given hostnames."""
    p = m.path
    if p.type == o.EXACT:
        parts = [f"Path({go_quote(p.value)})"]
    elif p.type == o.PATH_PREFIX and p.value == "/":
        parts = ['PathPrefix("/")']
    elif p.type == o.PATH_PREFIX:
        pv = p.value[:-1] if p.value.endswith("/") else p.value
        parts = [f"(Path({go_quote(pv)}) || PathPrefix({go_quote(pv + '/')}))"]
    else:
        parts = [f"PathRegexp({go_quote(p.value)})"]
    if m.method is not None:
        parts.append(f"Method({go_quote(m.method)})")
    for h in _in_order(m.headers, m.dropped_headers):
        fn = "HeaderRegexp" if h.regex is not None else "Header"
        parts.append(f"{fn}({go_quote(h.name)},{go_quote(h.value)})")
    for q in _in_order(m.query, m.dropped_query):
        fn = "QueryRegexp" if q.regex is not None else "Query"
        parts.append(f"{fn}({go_quote(q.name)},{go_quote(q.value)})")
    host = host_rule_text(hostnames)
    text = " && ".join(parts)
    return f"{host} && {text}" if host else text


def _in_order(
    kept: tuple[o.ValueMatch, ...], dropped: tuple[o.ValueMatch, ...]
) -> list[o.ValueMatch]:
    """Kept and dropped entries (dropped ones follow their first entry's name)."""
    return list(kept) + list(dropped)


def grpc_full_rule_text(m: o.GRPCMatch | None, hostnames: Sequence[str]) -> str:
    host = host_rule_text(hostnames)
    text = grpc_rule_text(m)
    return f"{host} && {text}" if host else text


def _values_ok(matches: Sequence[o.ValueMatch], index: Mapping[str, list[str]]) -> bool:
    for v in matches:
        values = index.get(v.key)
        if not values or not _value_ok(v, values):
            return False
    return True


def http_ok(
    m: o.HTTPMatch,
    method: str,
    path: str,
    headers: Mapping[str, list[str]],
    query: Mapping[str, list[str]],
) -> bool:
    """``http_mismatch(...) == ""`` without building the reason (the hot loop)."""
    return (
        path_matches(m.path, path)
        and (m.method is None or m.method == method)
        and _values_ok(m.headers + m.dropped_headers, headers)
        and _values_ok(m.query + m.dropped_query, query)
    )
