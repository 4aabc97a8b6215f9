"""The ``traefik`` profile: what Traefik's Gateway API provider does with one request.

Every match of every rule of every route attached to a listener of the Gateway on the
request's port becomes a router (``traefik_rules``): Host rule from the route's
effective hostnames on that listener, matchers, priority. There is no listener
isolation and no HTTPRoute/GRPCRoute hostname conflict: routers of all listeners on the
port and of both kinds compete. The first router (by descending priority) whose rule
matches serves the request; filters run as Traefik's middlewares do; backends are the
rule's, as in the spec profile. Routers of equal priority are kept in the spec's order
(oldest route first) — Traefik's own order between them is map iteration order, so a
decision lists other matching routers of the same priority in ``tied_with``.

Routers are built once per Table and Gateway port (cached by Table identity).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from weakref import WeakKeyDictionary

from canary.core.routing import objects as o
from canary.core.routing.attach import created_key
from canary.core.routing.decision import NOT_FOUND, Decision
from canary.core.routing.evaluate import _decide
from canary.core.routing.filters import Forwarded
from canary.core.routing.match import StaticKey, grpc_key, http_key
from canary.core.routing.profiles import TRAEFIK, TRAEFIK_VERSION
from canary.core.routing.request import Request
from canary.core.routing.table import Entry, ListenerIndex, Table
from canary.core.routing.traefik_rules import (
    grpc_full_rule_text,
    grpc_mismatch,
    grpc_priority,
    header_values,
    host_matches,
    http_mismatch,
    http_ok,
    http_priority,
    http_rule_text,
    query_values,
)

_SCHEME_PROTOCOL = {"http": "HTTP", "https": "HTTPS"}
NOTE_TRAEFIK = (
    f"profile traefik ({TRAEFIK_VERSION}): routers ranked by Traefik's priority sum; "
    "no listener isolation"
)
NOTE_TIE = (
    "routers of equal priority also match ({others}): Traefik serves one of them in map "
    "iteration order (not determined); shown: the spec's order"
)
NOTE_RE2 = "regular expressions are Go RE2 in Traefik (Python re here), matched unanchored"


@dataclass(frozen=True, slots=True)
class Router:
    """One Traefik router: a match of a rule, on one listener, with its priority."""

    entry: Entry
    li: ListenerIndex
    hostnames: tuple[str, ...]
    priority: int
    order: StaticKey  # the spec's tie-break (age, name, rule, match)
    text: str  # Traefik's rule

    @property
    def label(self) -> str:
        e = self.entry
        return f"{e.route.kind} {e.route.key} rule {e.rule.index} match {e.match_index}"


_CACHE: WeakKeyDictionary[Table, dict[tuple[str, int, str], list[Router]]] = WeakKeyDictionary()
_BY_HOST: WeakKeyDictionary[Table, dict[tuple[str, int, str, str], list[Router]]] = (
    WeakKeyDictionary()
)
_HOST_CACHE_LIMIT = 8192  # cached host lists per table before the cache is reset


def _listener_index(table: Table, gateway: o.Gateway, name: str) -> ListenerIndex:
    return next(li for li in table.listeners[gateway.key] if li.listener.name == name)


def routers(table: Table, gateway: o.Gateway, port: int, protocol: str) -> list[Router]:
    """Every router on the Gateway's entry point for ``port``, highest priority first."""
    per_table = _CACHE.setdefault(table, {})
    key = (gateway.key, port, protocol)
    cached = per_table.get(key)
    if cached is not None:
        return cached
    out: list[Router] = []
    for att in table.attachments:
        lst = att.listener
        if att.gateway.key != gateway.key or lst.port != port or lst.protocol != protocol:
            continue
        li = _listener_index(table, gateway, lst.name)
        route = att.route
        for rule in route.rules:
            plan = table.plans[(route.kind, route.key, rule.index)]
            matches: list[tuple[int, o.HTTPMatch | o.GRPCMatch | None]] = list(
                enumerate(rule.matches)
            )
            if route.kind == o.GRPC_ROUTE and not matches:
                matches = [(0, None)]
            for i, m in matches:
                if isinstance(m, o.HTTPMatch):
                    prio = http_priority(m, att.hostnames, len(route.rules), rule.index)
                    order = http_key(route, rule, i, m)
                    text = http_rule_text(m, att.hostnames)
                else:
                    prio = grpc_priority(m, att.hostnames)
                    order = grpc_key(route, rule, i, m)
                    text = grpc_full_rule_text(m, att.hostnames)
                entry = Entry(route, rule, i, m, order, plan, None)
                out.append(Router(entry, li, att.hostnames, prio, order, text))
    out = _dedupe(out)
    out.sort(key=lambda r: (-r.priority, r.order))
    per_table[key] = out
    return out


def routers_for_host(
    table: Table, gateway: o.Gateway, port: int, protocol: str, host: str
) -> list[Router]:
    """The routers whose Host rule matches ``host``, highest priority first (cached)."""
    per_table = _BY_HOST.setdefault(table, {})
    key = (gateway.key, port, protocol, host)
    cached = per_table.get(key)
    if cached is None:
        cached = [
            r for r in routers(table, gateway, port, protocol) if host_matches(r.hostnames, host)
        ]
        if len(per_table) >= _HOST_CACHE_LIMIT:
            per_table.clear()
        per_table[key] = cached
    return cached


def _dedupe(rs: list[Router]) -> list[Router]:
    """Traefik creates one router per rule text on an entry point ("Traefik does not
    create router X, because router Y serves the rule ..."): the first in its processing
    order wins — oldest route first, then namespace/name, then rule and match order."""
    seen: set[str] = set()
    out: list[Router] = []
    for r in sorted(rs, key=lambda r: (created_key(r.entry.route), r.entry.route.namespace,
                                       r.entry.route.name, r.entry.rule.index,
                                       r.entry.match_index)):  # fmt: skip
        if r.text in seen:
            continue
        seen.add(r.text)
        out.append(r)
    return out


def mismatch(r: Router, req: Request, headers: dict[str, list[str]], query: Any) -> str:
    """Why router ``r`` does not match ``req`` ("" when it does)."""
    if not host_matches(r.hostnames, req.hostname):
        return f"host {req.hostname!r} matches none of {', '.join(r.hostnames)}"
    m = r.entry.match
    if isinstance(m, o.HTTPMatch):
        return http_mismatch(m, req.method, req.path, headers, query)
    return grpc_mismatch(m, req.path, headers)


def evaluate_traefik(table: Table, req: Request, *, explain: bool = False) -> Decision:
    """What Traefik does with ``req`` (see module doc); raises ``RoutingError``."""
    gateway = table.gateway(req.gateway)
    protocol = _SCHEME_PROTOCOL[req.scheme]
    on_port = [
        li
        for li in table.listeners.get(gateway.key, [])
        if li.listener.port == req.port and li.listener.protocol == protocol
    ]
    if not on_port:
        why = f"no {protocol} listener on port {req.port} of Gateway {gateway.key}"
        d = Decision(
            NOT_FOUND, Forwarded.of(req), gateway=gateway.key, notes=[why], profile=TRAEFIK
        )
        if explain:
            d.explain = [{"result": "no listener", "reason": why}]
        return d
    rs = (
        routers(table, gateway, req.port, protocol)
        if explain
        else routers_for_host(table, gateway, req.port, protocol, req.hostname)
    )
    headers = header_values(req.headers)
    query = query_values(req.query)
    chosen: Router | None = None
    tied: list[str] = []
    rows: list[dict[str, Any]] = []
    for r in rs:
        if chosen is not None and r.priority < chosen.priority and not explain:
            break
        m = r.entry.match
        if not explain and isinstance(m, o.HTTPMatch):  # host already matched (per-host list)
            why = "" if http_ok(m, req.method, req.path, headers, query) else "no match"
        else:
            why = mismatch(r, req, headers, query)
        if explain:
            rows.append(_row(r, why, chosen))
        if why:
            continue
        if chosen is None:
            chosen = r
        elif r.priority == chosen.priority and (
            r.entry.route is not chosen.entry.route or r.entry.rule is not chosen.entry.rule
        ):
            tied.append(r.label)
    li = chosen.li if chosen is not None else on_port[0]
    d = _decide(table, li, req, chosen.entry if chosen is not None else None, TRAEFIK)
    d.notes.insert(0, NOTE_TRAEFIK)
    if chosen is not None:
        d.priority = chosen.priority
        d.listener = chosen.li.listener.name
        if _uses_regex(chosen.entry.match):
            d.notes.append(NOTE_RE2)
    if tied:
        d.tied_with = tied
        d.notes.append(NOTE_TIE.format(others="; ".join(tied)))
    if explain:
        d.explain = rows
    return d


def _uses_regex(m: o.HTTPMatch | o.GRPCMatch | None) -> bool:
    if isinstance(m, o.HTTPMatch):
        values = m.headers + m.query + m.dropped_headers + m.dropped_query
        return m.path.regex is not None or any(v.regex for v in values)
    return m is not None and (
        m.type == o.REGEX or any(v.regex for v in m.headers + m.dropped_headers)
    )


def _row(r: Router, why: str, chosen: Router | None) -> dict[str, Any]:
    e = r.entry
    row: dict[str, Any] = {
        "route": e.route.key,
        "route_kind": e.route.kind,
        "rule": e.rule.index,
        "match": e.match_index,
        "listener": r.li.listener.name,
        "priority": r.priority,
    }
    if why:
        row["result"] = "no match"
        row["reason"] = why
    elif chosen is None or chosen is r:
        row["result"] = "selected"
    else:
        row["result"] = "matches, lower precedence"
        row["reason"] = f"{chosen.label} has priority {chosen.priority}"
    return row
