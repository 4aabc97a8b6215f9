"""Where a data plane's profile and the spec answer one request differently, and why.

``compare(table, req, profile)`` evaluates ``req`` with the spec and with ``profile``;
when the answers differ (status, route, rule, backends and shares, the forwarded path,
host and headers, the redirect Location) it returns a :class:`Finding` naming the
request, both answers and the cause: one of the divergence codes of ``profiles``.
``classify`` finds the cause for two given decisions (the differential harness uses it
for Traefik's observed answers too). ``representative_requests`` are the requests the
lint and the operator compare: each match's probe, and for PathPrefix matches with a
ReplacePrefixMatch filter also a request below the prefix.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl

from canary.core.routing import objects as o
from canary.core.routing import profiles as p
from canary.core.routing.attach import Attachment
from canary.core.routing.decision import Decision
from canary.core.routing.evaluate import evaluate
from canary.core.routing.hostnames import host_key
from canary.core.routing.match import http_matches
from canary.core.routing.probes import probes
from canary.core.routing.request import Request, make_request
from canary.core.routing.table import Table
from canary.core.routing.traefik_rules import header_values, http_mismatch, query_values


@dataclass(frozen=True, slots=True)
class Finding:
    """One request that the spec and a profile answer differently."""

    request: str
    code: str  # a divergence code (profiles)
    spec: str  # the spec's answer, one line
    profile: str  # the profile's answer, one line
    cause: str
    profile_name: str = p.TRAEFIK

    def message(self) -> str:
        return (
            f"{self.request}: spec → {self.spec}; {self.profile_name} → {self.profile} "
            f"[{self.code}: {self.cause}]"
        )

    def to_dict(self) -> dict[str, str]:
        return {
            "request": self.request,
            "code": self.code,
            "spec": self.spec,
            "profile": self.profile,
            "profile_name": self.profile_name,
            "cause": self.cause,
        }


def answer(d: Decision) -> str:
    """A decision in one line: status, route and rule, split, forwarded path or Location."""
    if d.route is None:
        return f"{d.status} (no match)"
    where = f"{d.status} {d.route_kind} {d.route} rule {d.rule}"
    if d.location is not None:
        return f"{where} → {d.location}"
    shares = ", ".join(f"{k} {v:.4g}" for k, v in sorted(d.outcome_shares().items()))
    return f"{where} [{shares}] path {d.request.path}"


def signature(d: Decision) -> tuple[Any, ...]:
    """What a client and the backends can tell apart."""
    shares = tuple(sorted((k, round(v, 9)) for k, v in d.outcome_shares().items()))
    r = d.request.to_dict()
    headers = tuple(sorted((k.lower(), v) for k, v in r["headers"].items()))
    return (d.status, d.route_kind, d.route, d.rule, shares, r["path"], r["host"], headers,
            d.location)  # fmt: skip


def compare(table: Table, req: Request, profile: p.Profile) -> Finding | None:
    """The finding for ``req`` when the spec and ``profile`` answer differently."""
    if profile.name == p.SPEC:
        return None
    spec_d = evaluate(table, req)
    prof_d = evaluate(table, req, profile=profile)
    if signature(spec_d) == signature(prof_d) and not prof_d.tied_with:
        return None
    code, cause = classify(table, req, spec_d, prof_d)
    return Finding(req.describe(), code, answer(spec_d), answer(prof_d), cause, profile.name)


def _rule_of(table: Table, d: Decision) -> tuple[o.Route, o.Rule, Any] | None:
    if d.route is None or d.route_kind is None or d.rule is None:
        return None
    route = table.route(d.route_kind, *d.route.split("/", 1))
    if route is None:
        return None
    rule = route.rules[d.rule]
    match = rule.matches[d.match] if rule.matches and d.match is not None else None
    return route, rule, match


def _attachment(table: Table, route: o.Route, listener: str | None) -> Attachment | None:
    atts = table.attachments
    return next((a for a in atts if a.route is route and a.listener.name == listener), None)


def _matching_cause(m: Any, req: Request) -> tuple[str, str]:
    """Why one side accepts match ``m`` and the other does not."""
    if isinstance(m, o.GRPCMatch):
        if m.type == o.EXACT and m.method is not None and req.grpc is not None:
            return p.GRPC_METHOD_PREFIX, (
                f"Traefik's PathRegexp for method {m.method!r} is unanchored: it also matches "
                f"{req.grpc[1]!r}"
            )
        return p.OTHER, "gRPC match semantics differ"
    if not isinstance(m, o.HTTPMatch):
        return p.OTHER, "matching differs"
    if m.dropped_headers or m.dropped_query:
        repeated = ", ".join(v.name for v in m.dropped_headers + m.dropped_query)
        return p.DUPLICATE_MATCH_NAMES, (
            f"the match repeats {repeated}: Traefik requires every entry, the spec only the first"
        )
    values = m.headers + m.query
    if m.path.regex is not None or any(v.regex is not None for v in values):
        return p.REGEX_PATH, "Traefik matches regular expressions unanchored (Go RE2)"
    names = [n.lower() for n, _ in req.headers]
    params = [k for k, _ in parse_qsl(req.query, keep_blank_values=True)]
    if len(set(names)) < len(names) or len(set(params)) < len(params):
        return p.REPEATED_VALUES, (
            "a repeated header or query parameter: Traefik accepts any of its values"
        )
    return p.OTHER, "match semantics differ"


def classify(table: Table, req: Request, spec_d: Decision, prof_d: Decision) -> tuple[str, str]:
    """The divergence code and a sentence for two different answers to ``req``."""
    s = _rule_of(table, spec_d)
    t = _rule_of(table, prof_d)
    if prof_d.tied_with and (s is None or t is None or s[:2] == t[:2]):
        return p.TIE_ORDER, (
            f"routers of equal priority {prof_d.priority} match: {'; '.join(prof_d.tied_with)}"
        )
    if s is not None and t is not None and s[:2] == t[:2]:
        return _same_rule_cause(table, s[1], s[2], spec_d, prof_d)
    if s is None or t is None:
        side = t if s is None else s
        assert side is not None
        if s is None and t is not None:
            if t[0].kind != (o.GRPC_ROUTE if req.grpc else o.HTTP_ROUTE):
                return p.OTHER, f"Traefik serves {t[0].ref} for this request"
            if spec_d.listener is not None and spec_d.listener != prof_d.listener:
                return p.LISTENER_ISOLATION, (
                    f"{t[0].ref} is on listener {prof_d.listener}; the spec only considers "
                    f"the most specific listener {spec_d.listener}"
                )
        return _matching_cause(side[2], req)
    return _precedence_cause(table, req, s, t, spec_d, prof_d)


def _same_rule_cause(
    table: Table, rule: o.Rule, match: Any, spec_d: Decision, prof_d: Decision
) -> tuple[str, str]:
    if spec_d.location != prof_d.location:
        if any(
            f.redirect is not None and f.redirect.path is not None
            and f.redirect.path.type == o.REPLACE_PREFIX_MATCH
            for f in rule.filters
        ) and _path_of(spec_d.location) != _path_of(prof_d.location):  # fmt: skip
            return p.REPLACE_PREFIX_MATCH, "Traefik replaces the prefix its own way"
        return p.REDIRECT_PORT, (
            "Traefik writes a configured port as is and keeps the client's Host port otherwise"
        )
    if spec_d.request.path != prof_d.request.path:
        return p.REPLACE_PREFIX_MATCH, (
            f"Traefik forwards {prof_d.request.path!r}, the spec {spec_d.request.path!r}"
        )
    if spec_d.status != prof_d.status:
        if rule.backends and all(b.weight == 0 for b in rule.backends):
            return p.ALL_ZERO_WEIGHTS, "all weights are 0: Traefik has no server to pick (503)"
        return p.NO_READY_ENDPOINTS, "no ready endpoint: Traefik's load balancer is empty (503)"
    return p.OTHER, "same rule, different effect"


def _path_of(location: str | None) -> str:
    if location is None:
        return ""
    rest = location.split("://", 1)[-1]
    slash = rest.find("/")
    return rest[slash:].split("?", 1)[0] if slash >= 0 else ""


def _precedence_cause(
    table: Table,
    req: Request,
    s: tuple[o.Route, o.Rule, Any],
    t: tuple[o.Route, o.Rule, Any],
    spec_d: Decision,
    prof_d: Decision,
) -> tuple[str, str]:
    s_route, s_rule, sm = s
    t_route, t_rule, tm = t
    s_ref = f"{s_route.ref} rule {s_rule.index}"
    t_ref = f"{t_route.ref} rule {t_rule.index}"
    if s_route.kind != t_route.kind:
        return p.OTHER, f"Traefik serves {t_ref} (a route of another kind)"
    if spec_d.listener != prof_d.listener:
        return p.LISTENER_ISOLATION, (
            f"{t_ref} is on listener {prof_d.listener}, not the most specific listener "
            f"{spec_d.listener}: Traefik does not isolate listeners"
        )
    # Does Traefik's router for the spec's choice match at all?
    if isinstance(sm, o.HTTPMatch):
        hv, qv = header_values(req.headers), query_values(req.query)
        if http_mismatch(sm, req.method, req.path, hv, qv):
            return _matching_cause(sm, req)
    if isinstance(tm, o.HTTPMatch) and not http_matches(tm, req):
        return _matching_cause(tm, req)
    s_att = _attachment(table, s_route, spec_d.listener)
    t_att = _attachment(table, t_route, prof_d.listener)
    if s_att is not None and t_att is not None:
        sk, tk = host_key(s_att.hostnames, req.hostname), host_key(t_att.hostnames, req.hostname)
        if sk is not None and tk is not None and sk < tk:
            return p.HOSTNAME_PRECEDENCE, (
                f"the spec prefers {s_ref}'s more specific hostname; Traefik only adds the "
                f"longest hostname's length and ranks {t_ref} higher (priority {prof_d.priority})"
            )
    if s_route.kind == o.GRPC_ROUTE:
        return p.GRPC_PRECEDENCE, (
            f"Traefik ranks {t_ref} by the length of its rule text (priority {prof_d.priority})"
        )
    assert isinstance(sm, o.HTTPMatch) and isinstance(tm, o.HTTPMatch)
    return _http_precedence(sm, tm, s_ref, t_ref, prof_d.priority)


def _http_precedence(
    sm: o.HTTPMatch, tm: o.HTTPMatch, s_ref: str, t_ref: str, prio: int | None
) -> tuple[str, str]:
    told = f"Traefik ranks {t_ref} (priority {prio}) above {s_ref}"
    if o.REGEX in (sm.path.type, tm.path.type):
        return p.REGEX_PATH, f"{told}: a RegularExpression scores like a prefix of its length"
    s_len = len(sm.path.norm if sm.path.type == o.PATH_PREFIX else sm.path.value)
    t_len = len(tm.path.norm if tm.path.type == o.PATH_PREFIX else tm.path.value)
    if sm.path.type == tm.path.type and s_len > t_len:
        if tm.method is not None and sm.method is None:
            return p.METHOD_VS_PREFIX, f"{told}: its method match outweighs a longer prefix"
        if len(tm.headers) + len(tm.query) > len(sm.headers) + len(sm.query):
            return p.MATCHES_VS_PREFIX, f"{told}: its header/query matches outweigh a longer prefix"
        return p.PREFIX_TRAILING_SLASH, f"{told}: its prefix counts a trailing '/'"
    if sm.path.type == tm.path.type and s_len == t_len:
        if sm.path.value != tm.path.value:
            return p.PREFIX_TRAILING_SLASH, f"{told}: its prefix counts a trailing '/'"
        same_method = (sm.method is None) == (tm.method is None)
        if same_method and (len(sm.headers), len(sm.query)) == (len(tm.headers), len(tm.query)):
            return p.TIE_ORDER, f"{told}: equal matches; Traefik's rule-order term decides"
        return p.MATCHES_VS_PREFIX, f"{told}: method/header/query weights differ from the spec"
    return p.OTHER, told


def representative_requests(att: Attachment, rule: o.Rule) -> list[tuple[int, Request]]:
    """(match index, request) pairs compared by the lint and the operator."""
    out: list[tuple[int, Request]] = []
    prefix_mod = any(
        (f.rewrite is not None and f.rewrite.path is not None
         and f.rewrite.path.type == o.REPLACE_PREFIX_MATCH)
        or (f.redirect is not None and f.redirect.path is not None
            and f.redirect.path.type == o.REPLACE_PREFIX_MATCH)
        for f in rule.filters
    )  # fmt: skip
    for probe in probes(att, rule):
        if probe.request is None:
            continue
        out.append((probe.match_index, probe.request))
        m = probe.match
        if prefix_mod and isinstance(m, o.HTTPMatch) and m.path.type == o.PATH_PREFIX:
            r = probe.request
            below = m.path.norm + "/canary-probe"
            url = f"{r.scheme}://{r.authority}{below}" + (f"?{r.query}" if r.query else "")
            out.append(
                (probe.match_index, make_request(r.method, url, r.headers, gateway=r.gateway))
            )
    return out


def rule_findings(table: Table, route: o.Route, rule: o.Rule, profile: p.Profile) -> list[Finding]:
    """Findings for the representative requests of ``rule`` on every listener."""
    if profile.name == p.SPEC:
        return []
    out: list[Finding] = []
    seen: set[str] = set()
    for att in table.attachments:
        if att.route is not route:
            continue
        for _, req in representative_requests(att, rule):
            f = compare(table, req, profile)
            if f is not None and f.request not in seen:
                seen.add(f.request)
                out.append(f)
    return out
