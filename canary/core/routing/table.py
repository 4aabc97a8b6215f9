"""The routing table: attachments resolved once, candidates indexed per listener and host.

``build_table(docs)`` parses the documents, attaches routes, resolves every backendRef
and builds, for each listener, an index from request host to candidate matches already
sorted by precedence (hostname precedence, then match precedence, then age, name and
list order). Evaluating a request is then: pick the listener, fetch the candidate list
for the host (computed once per host and cached), return the first match that accepts.

The naive path (``scan``) sorts every attached match for each request; it exists to
check the index (a differential test) and to measure what the index buys.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from canary.core.routing import objects as o
from canary.core.routing.attach import Attachment, attach
from canary.core.routing.backends import BackendShare, Resolver
from canary.core.routing.hostnames import ANY, HostKey, host_key, host_matches, wildcard_suffixes
from canary.core.routing.match import StaticKey, grpc_key, http_key
from canary.core.routing.parse import parse_objects

_CACHE_LIMIT = 8192  # cached host lists per listener before the cache is reset
_SCHEME_PROTOCOL = {"http": "HTTP", "https": "HTTPS"}


class RoutingError(ValueError):
    """The table cannot answer the question as asked (e.g. which Gateway is meant)."""


@dataclass(frozen=True, slots=True)
class RulePlan:
    """A rule's backends with exact shares, resolved once at build time."""

    backends: tuple[BackendShare, ...]
    forwarded_share: float  # valid backends' share
    error_share: float  # invalid backends' share, or 1.0 when nothing can be forwarded


@dataclass(frozen=True, slots=True)
class Entry:
    """One match of one rule of one route, as a candidate on a listener."""

    route: o.Route
    rule: o.Rule
    match_index: int
    match: o.HTTPMatch | o.GRPCMatch | None  # None: a GRPCRoute rule without matches
    key: StaticKey
    plan: RulePlan
    segment: str | None  # first path segment an Exact/PathPrefix needs ("" any); None: any
    # Precomputed for the hot loop (HTTP only): path type code, value, regex, whether
    # anything but the path must be checked.
    ptype: int = -1  # 0 Exact, 1 PathPrefix, 2 RegularExpression, -1 gRPC
    pvalue: str = ""  # Exact value or PathPrefix norm
    regex: re.Pattern[str] | None = None
    rest: bool = True  # method, headers or query params to check


def first_segment(path: str) -> str:
    """``/a/b`` → ``a``; ``/`` → ``""``."""
    end = path.find("/", 1)
    return path[1:] if end < 0 else path[1:end]


_REGEX_SPECIAL = set(".^$*+?{}[]\\|()")
_QUANTIFIERS = set("*+?{")


def regex_segment(pattern: str) -> str | None:
    """The first path segment every full match of ``pattern`` has, when the pattern
    starts with it literally (``/api/v[0-9]+`` → ``api``); None when unknown."""
    if "|" in pattern:
        return None
    end = 0
    while end < len(pattern) and pattern[end] not in _REGEX_SPECIAL:
        end += 1
    literal = pattern[:end]
    if end < len(pattern) and pattern[end] in _QUANTIFIERS:
        literal = literal[:-1]  # the quantifier makes the last literal character optional
    if not literal.startswith("/"):
        return None
    stop = literal.find("/", 1)
    return literal[1:stop] if stop > 1 else None


def _entry(
    route: o.Route,
    rule: o.Rule,
    i: int,
    m: o.HTTPMatch | o.GRPCMatch,
    key: StaticKey,
    plan: RulePlan,
) -> Entry:
    if not isinstance(m, o.HTTPMatch):
        return Entry(route, rule, i, m, key, plan, None)
    p = m.path
    code = {o.EXACT: 0, o.PATH_PREFIX: 1, o.REGEX: 2}[p.type]
    value = p.norm if code == 1 else p.value
    rest = bool(m.method or m.headers or m.query)
    return Entry(route, rule, i, m, key, plan, _segment(m), code, value, p.regex, rest)


def _segment(m: o.HTTPMatch | o.GRPCMatch | None) -> str | None:
    if not isinstance(m, o.HTTPMatch):
        return None
    if m.path.type == o.REGEX:
        return regex_segment(m.path.value)
    if m.path.type == o.EXACT:
        return first_segment(m.path.value)  # "/" gives "": a candidate for every path
    return first_segment(m.path.norm) if m.path.norm else ""


@dataclass(frozen=True, slots=True)
class Placed:
    """A route on a listener: its effective hostnames and its entries, sorted."""

    attachment: Attachment
    entries: tuple[Entry, ...]


class ListenerIndex:
    """Candidates of one listener, by route kind and request host."""

    def __init__(self, gateway: o.Gateway, listener: o.Listener, placed: list[Placed]) -> None:
        self.gateway = gateway
        self.listener = listener
        self.placed = placed
        self.shares_port = False  # another listener of the Gateway uses the same port
        self._exact: dict[tuple[str, str], list[Placed]] = {}
        self._wild: dict[tuple[str, str], list[Placed]] = {}
        self._any: dict[str, list[Placed]] = {}
        self._hosts: dict[tuple[str, str], list[tuple[HostKey, Entry]]] = {}
        self._cache: dict[tuple[str, str, str], list[tuple[HostKey, Entry]]] = {}
        for p in placed:
            kind = p.attachment.route.kind
            for h in p.attachment.hostnames:
                if h == ANY:
                    self._any.setdefault(kind, []).append(p)
                elif h.startswith("*."):
                    self._wild.setdefault((kind, h), []).append(p)
                else:
                    self._exact.setdefault((kind, h), []).append(p)

    def _for_host(self, kind: str, host: str) -> list[tuple[HostKey, Entry]]:
        """Entries of every route whose hostnames match ``host``, in precedence order."""
        cached = self._hosts.get((kind, host))
        if cached is not None:
            return cached
        routes: dict[int, Placed] = {}
        for p in self._exact.get((kind, host), ()):
            routes[id(p)] = p
        for pattern in wildcard_suffixes(host):
            for p in self._wild.get((kind, pattern), ()):
                routes[id(p)] = p
        for p in self._any.get(kind, ()):
            routes[id(p)] = p
        out: list[tuple[HostKey, Entry]] = []
        for p in routes.values():
            hk = host_key(p.attachment.hostnames, host)
            assert hk is not None
            out.extend((hk, e) for e in p.entries)
        out.sort(key=lambda item: (item[0], item[1].key))
        if len(self._hosts) >= _CACHE_LIMIT:
            self._hosts.clear()
        self._hosts[(kind, host)] = out
        return out

    def candidates(self, kind: str, host: str, path: str) -> list[tuple[HostKey, Entry]]:
        """Entries that could match ``host`` and ``path``, in precedence order (cached).

        Second level: by the path's first segment. An Exact or PathPrefix match can only
        accept paths whose first segment is its own (PathPrefix "/" accepts all);
        regular expressions and gRPC matches are always candidates.
        """
        seg = first_segment(path)
        key = (kind, host, seg)
        cached = self._cache.get(key)
        if cached is not None:
            return cached
        out = [item for item in self._for_host(kind, host) if item[1].segment in (None, "", seg)]
        if len(self._cache) >= _CACHE_LIMIT:
            self._cache.clear()
        self._cache[key] = out
        return out

    def scan(self, kind: str, host: str) -> list[tuple[HostKey, Entry]]:
        """The naive way: every attached entry, filtered by host and sorted, per call."""
        out: list[tuple[HostKey, Entry]] = []
        for p in self.placed:
            if p.attachment.route.kind != kind:
                continue
            hk = host_key(p.attachment.hostnames, host)
            if hk is not None:
                out.extend((hk, e) for e in p.entries)
        out.sort(key=lambda item: (item[0], item[1].key))
        return out


class Table:
    """Everything the evaluator needs, built once from the input objects."""

    def __init__(self, objs: o.Objects) -> None:
        self.objects = objs
        self.resolver = Resolver(objs)
        self.gateways = {g.key: g for g in objs.gateways}
        self.attachments, self.statuses = attach(objs)
        # Where skipped (unparsable) routes would attach: the listeners they may share.
        stubs = tuple(s.route for s in objs.skipped if s.route is not None)
        self.skipped_attachments = attach(
            o.Objects(gateways=objs.gateways, routes=stubs, namespaces=objs.namespaces)
        )[0]
        self.plans: dict[tuple[str, str, int], RulePlan] = {}
        for route in objs.routes:
            for rule in route.rules:
                self.plans[(route.kind, route.key, rule.index)] = self._plan(route, rule)
        by_listener: dict[tuple[str, str], list[Placed]] = {}
        for att in self.attachments:
            placed = Placed(att, self._entries(att.route))
            by_listener.setdefault((att.gateway.key, att.listener.name), []).append(placed)
        self.listeners: dict[str, list[ListenerIndex]] = {}
        for gw in objs.gateways:
            self.listeners[gw.key] = [
                ListenerIndex(gw, lst, by_listener.get((gw.key, lst.name), []))
                for lst in gw.listeners
            ]
            for li in self.listeners[gw.key]:
                ports = [x.port for x in gw.listeners]
                li.shares_port = ports.count(li.listener.port) > 1

    def _plan(self, route: o.Route, rule: o.Rule) -> RulePlan:
        backends = self.resolver.shares(route, rule)
        forwarded = sum(b.share for b in backends if b.valid)
        if not backends or sum(b.spec.weight for b in backends) == 0:
            return RulePlan(backends, 0.0, 1.0)
        return RulePlan(backends, forwarded, sum(b.share for b in backends if not b.valid))

    def _entries(self, route: o.Route) -> tuple[Entry, ...]:
        entries: list[Entry] = []
        for rule in route.rules:
            plan = self.plans[(route.kind, route.key, rule.index)]
            if route.kind == o.GRPC_ROUTE and not rule.matches:
                key = grpc_key(route, rule, 0, None)
                entries.append(Entry(route, rule, 0, None, key, plan, None))
            for i, m in enumerate(rule.matches):
                if isinstance(m, o.HTTPMatch):
                    key = http_key(route, rule, i, m)
                else:
                    key = grpc_key(route, rule, i, m)
                entries.append(_entry(route, rule, i, m, key, plan))
        entries.sort(key=lambda e: e.key)
        return tuple(entries)

    def route(self, kind: str, namespace: str, name: str) -> o.Route | None:
        for r in self.objects.routes:
            if (r.kind, r.namespace, r.name) == (kind, namespace, name):
                return r
        return None

    def gateway(self, name: str | None) -> o.Gateway:
        """The Gateway named "ns/name", or the only one; raises :class:`RoutingError`."""
        if name is not None:
            if "/" not in name:
                matches = [g for g in self.gateways.values() if g.name == name]
                if len(matches) == 1:
                    return matches[0]
            gw = self.gateways.get(name)
            if gw is None:
                known = ", ".join(sorted(self.gateways)) or "none"
                raise RoutingError(f"Gateway {name} not found (known: {known})")
            return gw
        if not self.gateways:
            raise RoutingError("no Gateway in the input")
        if len(self.gateways) > 1:
            known = ", ".join(sorted(self.gateways))
            raise RoutingError(f"several Gateways ({known}): choose one with --gateway NS/NAME")
        return next(iter(self.gateways.values()))

    def listener_for(
        self, gateway: o.Gateway, scheme: str, port: int, host: str
    ) -> tuple[ListenerIndex | None, str]:
        """Listener isolation: of the listeners on the port, the most specific hostname."""
        protocol = _SCHEME_PROTOCOL[scheme]
        on_port = [
            li
            for li in self.listeners.get(gateway.key, [])
            if li.listener.port == port and li.listener.protocol == protocol
        ]
        if not on_port:
            return None, f"no {protocol} listener on port {port} of Gateway {gateway.key}"
        best: tuple[HostKey, ListenerIndex] | None = None
        for li in on_port:
            pattern = li.listener.hostname or ANY
            if not host_matches(pattern, host):
                continue
            hk = host_key((pattern,), host)
            assert hk is not None
            if best is None or hk < best[0]:
                best = (hk, li)
        if best is None:
            names = ", ".join(li.listener.hostname or "*" for li in on_port)
            return None, f"no listener on port {port} matches host {host!r} (listeners: {names})"
        return best[1], ""


def build_table(docs: Iterable[Any], *, skip_invalid: bool = False) -> Table:
    """Parse documents (dicts) and build the :class:`Table`; raises ``InputError`` —
    unless ``skip_invalid``: then an unparsable document is left out and listed in
    ``table.objects.skipped`` (the operator's mode: one bad object harms no one else)."""
    return Table(parse_objects(docs, skip_invalid=skip_invalid))
