"""Evaluate one request against the table: what a conformant Gateway does with it.

Steps: the Gateway (named, or the only one); the listener (the URL's scheme and port,
then listener isolation: the most specific listener hostname matching the host; none →
404); the candidates for the host in precedence order; the first accepting match (none
→ 404); then the rule's filters, its backends' exact shares and the client's status.
``naive=True`` uses the per-request full scan instead of the index (same answer).
"""

from __future__ import annotations

from typing import Any

from canary.core.routing import objects as o
from canary.core.routing.backends import NO_READY_ENDPOINTS
from canary.core.routing.decision import (
    NOT_FOUND,
    OK,
    SERVER_ERROR,
    UNAVAILABLE,
    BackendDecision,
    Decision,
)
from canary.core.routing.filters import Forwarded, ResponseHeaders, apply_filters
from canary.core.routing.hostnames import HostKey
from canary.core.routing.match import grpc_matches, grpc_mismatch, http_matches, http_mismatch
from canary.core.routing.profiles import SPEC, SPEC_PROFILE, TRAEFIK, Profile
from canary.core.routing.request import Request
from canary.core.routing.table import Entry, ListenerIndex, Table

NOTE_REGEX = (
    "RegularExpression matches use Python re full-match semantics (the dialect is "
    "implementation-specific; Envoy uses RE2) and rank between Exact and PathPrefix paths"
)
NOTE_ALL_ZERO = (
    "all backendRef weights are 0: the spec answers 500 (Traefik answers 503, Envoy 500)"
)
NOTE_INVALID = (
    "requests for invalid backends get 500 (spec); a Service without ready endpoints "
    "SHOULD get 503 instead"
)
NOTE_NO_SERVICES = "no Service objects in the input: backendRefs are assumed to resolve"
NOTE_ISOLATION = (
    "listener isolation: only routes attached to the most specific listener matching the "
    "host are considered"
)
NOTE_HOST_FALLTHROUGH = (
    "hostname precedence is an ordering: when no rule of the most specific matching "
    "hostname matches, rules of less specific hostnames still can (Envoy-based gateways "
    "group by virtual host and answer 404 instead)"
)
NOTE_GRPC = "gRPC: 404 stands for UNIMPLEMENTED, 500 for UNAVAILABLE"
NOTE_REPEATED = "a repeated request header is matched against its values joined with ','"
NOTE_NO_BACKENDS = "the rule has no backendRefs: every request gets 500"


def _matches(e: Entry, req: Request) -> bool:
    m = e.match
    if m is None:  # a GRPCRoute rule without matches matches every gRPC request
        return True
    assert isinstance(m, o.GRPCMatch)
    return grpc_matches(m, req)


def _mismatch(e: Entry, req: Request) -> str:
    m = e.match
    if m is None:
        return ""
    if isinstance(m, o.HTTPMatch):
        return http_mismatch(m, req)
    return grpc_mismatch(m, req)


def _first_http(cands: list[tuple[HostKey, Entry]], req: Request) -> tuple[HostKey, Entry] | None:
    """The hot loop: path checks inlined, the rest only when the path matches."""
    path = req.path
    size = len(path)
    for item in cands:
        e = item[1]
        t = e.ptype
        v = e.pvalue
        if t == 1:
            if v and not (path.startswith(v) and (size == len(v) or path[len(v)] == "/")):
                continue
        elif t == 0:
            if path != v:
                continue
        elif e.regex is None or e.regex.fullmatch(path) is None:
            continue
        if not e.rest:
            return item
        m = e.match
        assert isinstance(m, o.HTTPMatch)
        if http_matches(m, req):
            return item
    return None


def evaluate(
    table: Table,
    req: Request,
    *,
    explain: bool = False,
    naive: bool = False,
    profile: Profile = SPEC_PROFILE,
) -> Decision:
    """Decide what the Gateway does with ``req``; raises ``RoutingError`` (which Gateway?).

    ``profile``: ``spec`` (a conformant Gateway) or a data plane's (``traefik``).
    """
    if profile.name == TRAEFIK:
        from canary.core.routing.traefik import evaluate_traefik

        return evaluate_traefik(table, req, explain=explain)
    gateway = table.gateway(req.gateway)
    li, why = table.listener_for(gateway, req.scheme, req.port, req.hostname)
    if li is None:
        d = Decision(NOT_FOUND, Forwarded.of(req), gateway=gateway.key, notes=[why])
        if explain:
            d.explain = [{"result": "no listener", "reason": why}]
        return d
    kind = o.GRPC_ROUTE if req.grpc is not None else o.HTTP_ROUTE
    host = req.hostname
    cands = li.scan(kind, host) if naive else li.candidates(kind, host, req.path)
    chosen: tuple[HostKey, Entry] | None = None
    if kind == o.HTTP_ROUTE:
        chosen = _first_http(cands, req)
    else:
        for item in cands:
            if _matches(item[1], req):
                chosen = item
                break
    d = _decide(table, li, req, chosen[1] if chosen is not None else None)
    if explain:
        # every candidate for the host, not just the path bucket: explain them all
        d.explain = _explain(table, li, kind, req, li.scan(kind, req.hostname), chosen)
    return d


def _notes(
    table: Table, li: ListenerIndex, req: Request, chosen: Entry | None, profile: str
) -> list[str]:
    notes: list[str] = []
    if li.shares_port and profile == SPEC:
        notes.append(f"{NOTE_ISOLATION} (here: {li.listener.name})")
    if req.grpc is not None:
        notes.append(NOTE_GRPC)
    if len(req.header_index) < len(req.headers):
        notes.append(NOTE_REPEATED)
    if chosen is not None:
        m = chosen.match
        if (
            isinstance(m, o.HTTPMatch)
            and (m.path.regex is not None or any(v.regex for v in m.headers + m.query))
        ) or (isinstance(m, o.GRPCMatch) and m.type == o.REGEX):
            notes.append(NOTE_REGEX)
    return notes


def _decide(
    table: Table, li: ListenerIndex, req: Request, entry: Entry | None, profile: str = SPEC
) -> Decision:
    fwd = Forwarded.of(req)
    notes = _notes(table, li, req, entry, profile)
    if entry is None:
        notes.append(f"no rule of a route attached to listener {li.listener.name} matches")
        return Decision(
            NOT_FOUND, fwd, gateway=li.gateway.key, listener=li.listener.name, notes=notes
        )
    route, rule = entry.route, entry.rule
    match = entry.match if isinstance(entry.match, o.HTTPMatch) else None
    response = ResponseHeaders()
    outcome = apply_filters(rule.filters, fwd, response, req, li.listener.port, match, profile)
    if profile == TRAEFIK and not fwd.path:
        fwd.path = "/"  # Go's URL.RequestURI(): an empty path is sent as "/"
    d = Decision(
        OK,
        fwd,
        route=route.key,
        route_kind=route.kind,
        rule=rule.index,
        match=entry.match_index,
        rule_name=rule.name,
        gateway=li.gateway.key,
        listener=li.listener.name,
        response_headers=response,
        notes=notes,
        profile=profile,
    )
    for mirror in outcome.mirrors:
        notes.append(f"requests are mirrored to {mirror} (responses ignored; split unchanged)")
    if outcome.redirect is not None:
        d.status = outcome.redirect.status
        d.location = outcome.redirect.location
        return d
    plan = entry.plan
    blocked = outcome.error is not None
    if blocked:
        notes.append(f"{outcome.error}: requests get 500")
    forwarded = 0.0
    redirected: int | None = None
    for b in plan.backends:
        share = b.share if (b.valid and not blocked) else 0.0
        bd = _backend(
            b.spec, share, b.share, b.valid, b.resolution.message, fwd, req, li, match, profile
        )
        if bd.status is not None and share > 0:
            redirected = bd.status
        elif share > 0:
            forwarded += share
        d.backends.append(bd)
    d.error_share = 1.0 if blocked else plan.error_share
    if not plan.backends:
        notes.append(NOTE_NO_BACKENDS)
    elif (
        plan.forwarded_share == 0
        and plan.error_share == 1.0
        and all(b.spec.weight == 0 for b in plan.backends)
    ):
        notes.append(NOTE_ALL_ZERO)
    if any(not b.valid for b in plan.backends):
        notes.append(NOTE_INVALID)
    if not table.resolver.services_given and plan.backends:
        notes.append(NOTE_NO_SERVICES)
    if forwarded > 0:
        d.status = OK
    elif redirected is not None:
        d.status = redirected
    elif profile == TRAEFIK and _unavailable(table, plan.backends, blocked):
        d.status = UNAVAILABLE
    else:
        d.status = SERVER_ERROR
    return d


def _unavailable(table: Table, backends: tuple[Any, ...], blocked: bool) -> bool:
    """Traefik answers 503 (no available server) when every weight is 0, or when every
    weighted backend is a Service whose EndpointSlices exist but have no ready endpoint."""
    if blocked or not backends:
        return False
    weighted = [b for b in backends if b.spec.weight > 0]
    return all(
        b.resolution.reason == NO_READY_ENDPOINTS
        and (b.spec.namespace, b.spec.name) in table.objects.slices
        for b in weighted
    )


def _backend(
    spec: o.BackendSpec,
    share: float,
    intended: float,
    valid: bool,
    reason: str,
    fwd: Forwarded,
    req: Request,
    li: ListenerIndex,
    match: o.HTTPMatch | None,
    profile: str = SPEC,
) -> BackendDecision:
    request: dict[str, Any] | None = None
    response: dict[str, Any] | None = None
    status: int | None = None
    location: str | None = None
    if spec.filters:
        own = fwd.copy()
        resp = ResponseHeaders()
        outcome = apply_filters(spec.filters, own, resp, req, li.listener.port, match, profile)
        request = own.to_dict()
        response = resp.to_dict()
        if outcome.redirect is not None:
            status, location = outcome.redirect.status, outcome.redirect.location
    return BackendDecision(
        name=spec.name,
        namespace=spec.namespace,
        port=spec.port,
        weight=spec.weight,
        share=share,
        intended_share=intended,
        valid=valid,
        kind=spec.kind,
        reason=None if valid else reason,
        request=request,
        response_headers=response,
        status=status,
        location=location,
    )


def _explain(
    table: Table,
    li: ListenerIndex,
    kind: str,
    req: Request,
    cands: list[tuple[HostKey, Entry]],
    chosen: tuple[HostKey, Entry] | None,
) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    seen_routes: set[str] = set()
    for hk, e in cands:
        seen_routes.add(e.route.key)
        row: dict[str, Any] = {
            "route": e.route.key,
            "route_kind": e.route.kind,
            "rule": e.rule.index,
            "match": e.match_index,
            "hostname_rank": [-hk[0], -hk[1]],
        }
        reason = _mismatch(e, req)
        if chosen is not None and e is chosen[1]:
            row["result"] = "selected"
        elif reason:
            row["result"] = "no match"
            row["reason"] = reason
        else:
            assert chosen is not None  # a matching entry before it would have been chosen
            row["result"] = "matches, lower precedence"
            row["reason"] = f"{chosen[1].route.key} rule {chosen[1].rule.index} ranks higher"
        out.append(row)
    for route in table.objects.routes:
        if route.kind != kind or route.key in seen_routes:
            continue
        on_listener = [p for p in li.placed if p.attachment.route is route]
        if on_listener:
            reason = f"hostnames {', '.join(on_listener[0].attachment.hostnames)} do not match"
        else:
            failures = [s for s in table.statuses if s.route is route and not s.accepted]
            attached = [a.listener.name for a in table.attachments if a.route is route]
            if attached:
                reason = f"attached to listener(s) {', '.join(attached)}, not {li.listener.name}"
            elif failures:
                reason = "; ".join(f"{s.reason}: {s.message}" for s in failures)
            else:
                reason = "no parentRefs"
        out.append(
            {
                "route": route.key,
                "route_kind": route.kind,
                "result": "not a candidate",
                "reason": reason,
            }
        )
    return out
