"""The canary's effective share of a Rollout's addressed rules — what the operator checks.

API (used by the operator and ``canary plan``)::

    effective_canary_share(
        table, *, route_kind, route_namespace, route_name,
        rule_indexes: list[int], stable: BackendKey, canary: BackendKey,
        profile: Profile = SPEC_PROFILE,
    ) -> EffectiveShare

For every listener the route is attached to (all parentRefs), every effective hostname,
every addressed rule and every match, a representative request (``probes.py``) is
evaluated through the whole table. ``share`` is the minimum of the canary's share over
those requests (0 when another rule or route takes the request, the canary backend is
unresolved, ...); ``expected`` is the minimum over the addressed rules of
``canary weight / sum(weights)`` as written. ``verified`` holds when every request
lands on its rule, gets exactly the expected canary share (within 1e-9) and no share of
the rule errors (an unresolved stable or foreign backend, a missing ReferenceGrant).
``culprit`` names the first reason it does not: the shadowing route and rule, the
unresolved backend and why, the route not being attached. Matches that use a
RegularExpression cannot be probed; they are listed in ``per_request`` with
``probed=False`` and only fail verification when a rule has no other match. An object
left out of a leniently built table that the route needs (``isolation.py``) is the
first culprit.

``profile`` (default ``spec``) says whose routing is predicted: with ``traefik`` the
share is what Traefik serves (``profiles.profile_for_controller`` picks it from the
GatewayClass), a request that routers of equal priority tie on is not verified, and
``divergences`` lists the addressed rules' representative requests that the spec and
the profile answer differently (``divergence.Finding``) — they do not change
``verified`` by themselves; the operator reports them in a condition.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from canary.core.routing import objects as o
from canary.core.routing.decision import BackendDecision
from canary.core.routing.divergence import Finding, rule_findings
from canary.core.routing.evaluate import evaluate
from canary.core.routing.isolation import needed_skipped
from canary.core.routing.probes import probes
from canary.core.routing.profiles import (
    SPEC,
    SPEC_PROFILE,
    Profile,
    get_profile,
    profile_for_controller,
)
from canary.core.routing.request import Request
from canary.core.routing.table import Table

_TOLERANCE = 1e-9


@dataclass(frozen=True, slots=True)
class BackendKey:
    """A backendRef as a Rollout names it; ``namespace=None`` means the route's."""

    name: str
    port: int | None = None
    namespace: str | None = None
    kind: str = "Service"
    group: str = ""

    def matches(
        self, name: str, namespace: str, port: int | None, kind: str, route_ns: str
    ) -> bool:
        return (
            self.name == name
            and (self.namespace or route_ns) == namespace
            and (self.port is None or self.port == port)
            and self.kind == kind
        )

    def describe(self, route_ns: str) -> str:
        port = f":{self.port}" if self.port is not None else ""
        return f"{self.namespace or route_ns}/{self.name}{port}"


@dataclass(frozen=True, slots=True)
class RequestShare:
    """The canary's share for one representative request."""

    rule: int
    match: int
    gateway: str
    listener: str
    hostname: str
    request: str  # human-readable request, or why there is none
    probed: bool
    share: float
    expected: float
    verified: bool
    status: int | None = None
    taken_by: str | None = None  # "Kind ns/name rule N" when another rule answers
    culprit: str | None = None


@dataclass(frozen=True, slots=True)
class _Where:
    rule: int
    match: int
    gateway: str
    listener: str
    hostname: str

    def share(
        self,
        request: str,
        probed: bool,
        share: float,
        expected: float,
        verified: bool,
        status: int | None = None,
        taken_by: str | None = None,
        culprit: str | None = None,
    ) -> RequestShare:
        return RequestShare(
            self.rule,
            self.match,
            self.gateway,
            self.listener,
            self.hostname,
            request,
            probed,
            share,
            expected,
            verified,
            status,
            taken_by,
            culprit,
        )


@dataclass(frozen=True, slots=True)
class EffectiveShare:
    share: float
    expected: float
    verified: bool
    culprit: str | None
    per_request: tuple[RequestShare, ...] = ()
    profile: str = SPEC
    divergences: tuple[Finding, ...] = ()  # spec and profile disagree on these requests


def _canary_share(backends: list[BackendDecision], key: BackendKey, ns: str) -> float:
    return sum(b.share for b in backends if key.matches(b.name, b.namespace, b.port, b.kind, ns))


def _expected(rule: o.Rule, key: BackendKey, ns: str) -> float:
    total = sum(b.weight for b in rule.backends)
    mine = sum(
        b.weight for b in rule.backends if key.matches(b.name, b.namespace, b.port, b.kind, ns)
    )
    return mine / total if total else 0.0


def _in_rule(rule: o.Rule, key: BackendKey, ns: str) -> bool:
    return any(key.matches(b.name, b.namespace, b.port, b.kind, ns) for b in rule.backends)


def effective_canary_share(
    table: Table,
    *,
    route_kind: str,
    route_namespace: str,
    route_name: str,
    rule_indexes: list[int],
    stable: BackendKey,
    canary: BackendKey,
    profile: Profile = SPEC_PROFILE,
) -> EffectiveShare:
    """The canary's effective share of the addressed rules' traffic (see module doc)."""
    ref = f"{route_kind} {route_namespace}/{route_name}"
    blocked = needed_skipped(
        table,
        route_kind=route_kind,
        route_namespace=route_namespace,
        route_name=route_name,
        rule_indexes=rule_indexes,
    )
    route = table.route(route_kind, route_namespace, route_name)
    if route is None:
        return EffectiveShare(
            0.0, 0.0, False, blocked[0] if blocked else f"{ref} not found in the input"
        )
    if not rule_indexes:
        return EffectiveShare(0.0, 0.0, False, f"no rules of {ref} addressed")
    for idx in rule_indexes:
        if not 0 <= idx < len(route.rules):
            return EffectiveShare(0.0, 0.0, False, f"{ref} has no rule {idx}")
    ns = route.namespace
    rules = [route.rules[i] for i in rule_indexes]
    expected = min(_expected(r, canary, ns) for r in rules)
    culprits: list[str] = list(blocked)  # a skipped object it needs comes first
    for r in rules:
        for key, role in ((canary, "canary"), (stable, "stable")):
            if not _in_rule(r, key, ns):
                culprits.append(
                    f"{role} backend {key.describe(ns)} is not in rule {r.index} of {ref}"
                )
    attachments = [a for a in table.attachments if a.route is route]
    if not attachments:
        reasons = (
            "; ".join(
                f"{s.reason}: {s.message}"
                for s in table.statuses
                if s.route is route and not s.accepted
            )
            or "no parentRefs"
        )
        culprits.append(f"{ref} is attached to no listener ({reasons})")
        return EffectiveShare(0.0, expected, False, culprits[0])
    per: list[RequestShare] = []
    for att in attachments:
        for rule in rules:
            rule_expected = _expected(rule, canary, ns)
            for probe in probes(att, rule):
                where = _Where(
                    rule.index,
                    probe.match_index,
                    att.gateway.key,
                    att.listener.name,
                    probe.hostname,
                )
                if probe.request is None:
                    per.append(
                        where.share(f"not probed: {probe.why_not}", False, 0.0, rule_expected, True)
                    )
                    continue
                per.append(
                    _judge(table, probe.request, route, rule, canary, rule_expected, where, profile)
                )
    for rule in rules:
        if not any(p.probed for p in per if p.rule == rule.index):
            culprits.append(
                f"rule {rule.index} of {ref} has only RegularExpression matches: "
                "no representative request, the split cannot be verified"
            )
    probed = [p for p in per if p.probed]
    share = min((p.share for p in probed), default=0.0)
    culprits.extend(p.culprit for p in per if p.culprit)
    verified = not culprits and all(p.verified for p in per)
    findings = tuple(f for r in rules for f in rule_findings(table, route, r, profile))
    return EffectiveShare(
        share,
        expected,
        verified,
        culprits[0] if culprits else None,
        tuple(per),
        profile.name,
        findings,
    )


def _judge(
    table: Table,
    req: Request,
    route: o.Route,
    rule: o.Rule,
    canary: BackendKey,
    expected: float,
    where: _Where,
    profile: Profile,
) -> RequestShare:
    d = evaluate(table, req, profile=profile)
    text = req.describe()
    if d.route != route.key or d.route_kind != route.kind or d.rule != rule.index:
        if d.route is None:
            why = f"{text} gets {d.status}: {'; '.join(d.notes) or 'no match'}"
            taken = None
        else:
            taken = f"{d.route_kind} {d.route} rule {d.rule}"
            why = f"{text} is taken by {taken} (shadows rule {rule.index} of {route.ref})"
        return where.share(text, True, 0.0, expected, False, d.status, taken, why)
    share = _canary_share(d.backends, canary, route.namespace)
    culprit = None
    invalid = [b for b in d.backends if not b.valid]
    if invalid:
        b = invalid[0]
        culprit = (
            f"backend {b.namespace}/{b.name}:{b.port} of rule {rule.index} of {route.ref} "
            f"is unresolved: {b.reason}"
        )
    elif abs(share - expected) > _TOLERANCE:
        culprit = f"{text}: canary share {share:.6g} differs from expected {expected:.6g}"
    elif d.error_share > _TOLERANCE:
        culprit = f"{text}: {d.error_share:.6g} of requests answer with an error ({d.status})"
    elif d.tied_with:
        culprit = (
            f"{text}: routers of equal priority {d.priority} also match "
            f"({'; '.join(d.tied_with)}): {profile.name} may serve either"
        )
    return where.share(text, True, share, expected, culprit is None, d.status, None, culprit)


def gateway_controllers(docs: Iterable[Any]) -> dict[str, str]:
    """GatewayClass name → ``spec.controllerName``, read from raw documents (malformed or
    other documents are skipped: ``build_table`` reports them)."""
    out: dict[str, str] = {}
    for doc in docs:
        if not isinstance(doc, Mapping) or doc.get("kind") != "GatewayClass":
            continue
        meta, spec = doc.get("metadata"), doc.get("spec")
        if isinstance(meta, Mapping) and isinstance(spec, Mapping):
            name, controller = meta.get("name"), spec.get("controllerName")
            if isinstance(name, str) and isinstance(controller, str):
                out[name] = controller
    return out


def route_profile(
    table: Table,
    controllers: Mapping[str, str],
    *,
    route_kind: str,
    route_namespace: str,
    route_name: str,
) -> Profile:
    """The profile predicting a route's traffic: the one of its Gateways' controller
    (``profile_for_controller``) when all Gateways it attaches to agree, else ``spec``."""
    route = table.route(route_kind, route_namespace, route_name)
    if route is None:
        return SPEC_PROFILE
    names = {
        profile_for_controller(controllers.get(a.gateway.class_name)).name
        for a in table.attachments
        if a.route is route
    }
    return get_profile(names.pop()) if len(names) == 1 else SPEC_PROFILE
