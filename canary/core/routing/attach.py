"""Which routes attach to which listeners, with which effective hostnames — and why not.

For each parentRef (kind Gateway): the listeners selected by ``sectionName`` and/or
``port``; of those, the ones whose ``allowedRoutes`` admit the route's kind (the
listener protocol's kinds, narrowed by ``allowedRoutes.kinds``) and namespace
(``Same`` / ``All`` / ``Selector`` over Namespace labels, which always include
``kubernetes.io/metadata.name``); of those, the ones whose hostname intersects the
route's. A parentRef is accepted if at least one listener accepts it; the status
reasons are the spec's (NoMatchingParent, NotAllowedByListeners,
NoMatchingListenerHostname).

An HTTPRoute and a GRPCRoute on the same listener with intersecting hostnames: exactly
one is accepted — the oldest, then the first by "namespace/name" (GRPCRoute spec).
"""

from __future__ import annotations

from dataclasses import dataclass

from canary.core.routing import objects as o
from canary.core.routing.hostnames import intersect, overlap

ACCEPTED = "Accepted"  # at least one listener accepts the parentRef
NO_MATCHING_PARENT = "NoMatchingParent"  # sectionName/port select no listener
NOT_ALLOWED_BY_LISTENERS = "NotAllowedByListeners"  # allowedRoutes refuse kind/namespace
NO_MATCHING_LISTENER_HOSTNAME = "NoMatchingListenerHostname"  # no hostname intersection
PARENT_NOT_FOUND = "ParentNotFound"  # the referenced Gateway is not in the input
UNSUPPORTED_PARENT = "UnsupportedParent"  # parent kind other than Gateway (mesh): ignored
ROUTE_KIND_CONFLICT = "RouteKindConflict"  # lost the HTTPRoute/GRPCRoute hostname conflict

_PROTOCOL_KINDS = {
    "HTTP": (o.HTTP_ROUTE, o.GRPC_ROUTE),
    "HTTPS": (o.HTTP_ROUTE, o.GRPC_ROUTE),
    "TLS": ("TLSRoute",),
    "TCP": ("TCPRoute",),
    "UDP": ("UDPRoute",),
}


@dataclass(frozen=True, slots=True)
class Attachment:
    """A route attached to one listener, with its effective hostnames there."""

    route: o.Route
    gateway: o.Gateway
    listener: o.Listener
    hostnames: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class ParentStatus:
    """The outcome for one parentRef of one route (what ``Accepted`` would say)."""

    route: o.Route
    parent: o.ParentRef
    accepted: bool
    reason: str
    message: str
    listeners: tuple[str, ...] = ()


def created_key(route: o.Route) -> tuple[int, str]:
    """Oldest first; a route without creationTimestamp counts as newest."""
    return (0, route.created) if route.created else (1, "")


def allowed_kinds(listener: o.Listener) -> tuple[str, ...]:
    supported = _PROTOCOL_KINDS.get(listener.protocol, ())
    if not listener.kinds:
        return supported
    return tuple(k for g, k in listener.kinds if g == o.GATEWAY_GROUP and k in supported)


def namespace_allowed(
    listener: o.Listener, gateway: o.Gateway, route_ns: str, labels: dict[str, str] | None
) -> bool:
    if listener.allowed_from == "All":
        return True
    if listener.allowed_from == "Same":
        return route_ns == gateway.namespace
    assert listener.selector is not None
    ns_labels = labels if labels is not None else {"kubernetes.io/metadata.name": route_ns}
    return listener.selector.matches(ns_labels)


def _attach_parent(
    route: o.Route,
    parent: o.ParentRef,
    gateways: dict[str, o.Gateway],
    namespaces: dict[str, dict[str, str]],
) -> tuple[ParentStatus, list[Attachment]]:
    def status(reason: str, message: str) -> tuple[ParentStatus, list[Attachment]]:
        return ParentStatus(route, parent, False, reason, message), []

    if (parent.group, parent.kind) != (o.GATEWAY_GROUP, "Gateway"):
        return status(UNSUPPORTED_PARENT, f"parent {parent.describe()} is not a Gateway")
    gateway = gateways.get(f"{parent.namespace}/{parent.name}")
    if gateway is None:
        return status(PARENT_NOT_FOUND, f"Gateway {parent.namespace}/{parent.name} not found")
    selected = [
        lst
        for lst in gateway.listeners
        if (parent.section_name is None or lst.name == parent.section_name)
        and (parent.port is None or lst.port == parent.port)
    ]
    if not selected:
        return status(NO_MATCHING_PARENT, f"no listener of {parent.describe()}")
    permitted = [
        lst
        for lst in selected
        if route.kind in allowed_kinds(lst)
        and namespace_allowed(lst, gateway, route.namespace, namespaces.get(route.namespace))
    ]
    if not permitted:
        names = ", ".join(lst.name for lst in selected)
        return status(NOT_ALLOWED_BY_LISTENERS, f"allowedRoutes of listener(s) {names} refuse it")
    attachments = []
    for lst in permitted:
        eff = intersect(lst.hostname, route.hostnames)
        if eff:
            attachments.append(Attachment(route, gateway, lst, eff))
    if not attachments:
        return status(NO_MATCHING_LISTENER_HOSTNAME, "no listener hostname intersects the route's")
    accepted = tuple(a.listener.name for a in attachments)
    return ParentStatus(route, parent, True, ACCEPTED, "", accepted), attachments


def attach(objs: o.Objects) -> tuple[list[Attachment], list[ParentStatus]]:
    """All attachments (one per route × listener) and the status of every parentRef."""
    gateways = {g.key: g for g in objs.gateways}
    attachments: list[Attachment] = []
    statuses: list[ParentStatus] = []
    for route in objs.routes:
        seen: dict[tuple[str, str], int] = {}
        for parent in route.parent_refs:
            st, atts = _attach_parent(route, parent, gateways, objs.namespaces)
            statuses.append(st)
            for att in atts:
                key = (att.gateway.key, att.listener.name)
                if key in seen:  # attached twice to one listener: union of hostnames
                    prev = attachments[seen[key]]
                    merged = tuple(dict.fromkeys(prev.hostnames + att.hostnames))
                    attachments[seen[key]] = Attachment(route, att.gateway, att.listener, merged)
                else:
                    seen[key] = len(attachments)
                    attachments.append(att)
    return _resolve_kind_conflicts(attachments, statuses)


def _resolve_kind_conflicts(
    attachments: list[Attachment], statuses: list[ParentStatus]
) -> tuple[list[Attachment], list[ParentStatus]]:
    by_listener: dict[tuple[str, str], list[Attachment]] = {}
    for att in attachments:
        by_listener.setdefault((att.gateway.key, att.listener.name), []).append(att)
    rejected: set[int] = set()
    extra: list[ParentStatus] = []
    for atts in by_listener.values():
        kinds = {a.route.kind for a in atts}
        if len(kinds) < 2:
            continue
        accepted: list[Attachment] = []
        for att in sorted(atts, key=lambda a: (created_key(a.route), a.route.key)):
            winner = next(
                (
                    a
                    for a in accepted
                    if a.route.kind != att.route.kind and overlap(a.hostnames, att.hostnames)
                ),
                None,
            )
            if winner is None:
                accepted.append(att)
                continue
            rejected.add(id(att))
            parent = o.ParentRef(
                o.GATEWAY_GROUP,
                "Gateway",
                att.gateway.namespace,
                att.gateway.name,
                att.listener.name,
                None,
            )
            msg = f"hostnames intersect {winner.route.ref}, which is older or sorts first"
            extra.append(ParentStatus(att.route, parent, False, ROUTE_KIND_CONFLICT, msg))
    kept = [a for a in attachments if id(a) not in rejected]
    return kept, statuses + extra
