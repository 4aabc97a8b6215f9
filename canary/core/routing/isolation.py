"""Which skipped (unparsable) objects a route's split depends on — and only those.

The operator builds its table with ``skip_invalid=True``: an object it cannot read (an
HTTPRoute whose regular expression is RE2 but not Python ``re``, a Service with a field
of a newer API version, ...) is left out instead of failing the build for every Rollout.
A route's split verification then fails only when it *needs* such an object, with a
culprit naming it and why:

* the route itself;
* a Gateway its parentRefs name, or the GatewayClass of such a Gateway;
* the Namespace the route lives in (``allowedRoutes`` selectors read its labels);
* for the addressed rules' backendRefs: the Service, its EndpointSlices, and the
  ReferenceGrants of a backend's namespace when it is not the route's;
* another route that would attach to a listener the route attaches to with hostnames
  that overlap (it may shadow the route's rules). A skipped route whose parentRefs or
  hostnames cannot be read may be anywhere: every route needs it.

An EndpointSlice without the ``kubernetes.io/service-name`` label belongs to no Service:
nothing needs it.
"""

from __future__ import annotations

from canary.core.routing import objects as o
from canary.core.routing.hostnames import overlap
from canary.core.routing.table import Table

_UNKNOWN = "?"  # a skipped EndpointSlice whose Service label could not be read


def _why(s: o.Skipped) -> str:
    return f"{s.ref} cannot be parsed and was skipped ({s.error})"


def needed_skipped(
    table: Table,
    *,
    route_kind: str,
    route_namespace: str,
    route_name: str,
    rule_indexes: list[int],
) -> list[str]:
    """Culprits: every skipped object the route's addressed rules need, and why."""
    skipped = [s for s in table.objects.skipped if not s.harmless]
    if not skipped:
        return []
    ref = f"{route_kind} {route_namespace}/{route_name}"
    own = [
        s
        for s in skipped
        if (s.kind, s.namespace, s.name) == (route_kind, route_namespace, route_name)
    ]
    if own:
        return [_why(own[0])]
    route = table.route(route_kind, route_namespace, route_name)
    if route is None:
        return []
    out: list[str] = []
    out.extend(_parents(skipped, table, route))
    out.extend(
        f"{_why(s)}: {ref} lives in it"
        for s in skipped
        if (s.kind, s.name) == ("Namespace", route.namespace)
    )
    rules = [route.rules[i] for i in rule_indexes if 0 <= i < len(route.rules)]
    out.extend(_backends(skipped, route, rules))
    out.extend(_neighbours(skipped, table, route))
    return out


def _parents(skipped: list[o.Skipped], table: Table, route: o.Route) -> list[str]:
    out: list[str] = []
    gateways = {
        (p.namespace, p.name)
        for p in route.parent_refs
        if (p.group, p.kind) == (o.GATEWAY_GROUP, "Gateway")
    }
    for s in skipped:
        if s.kind == "Gateway" and (s.namespace, s.name) in gateways:
            out.append(f"{_why(s)}: {route.ref} attaches to it")
    classes = {
        g.class_name: g.key
        for (ns, name) in sorted(gateways)
        if (g := table.gateways.get(f"{ns}/{name}")) is not None
    }
    for s in skipped:
        if s.kind == "GatewayClass" and s.name in classes:
            out.append(f"{_why(s)}: it is the class of Gateway {classes[s.name]}")
    return out


def _backends(skipped: list[o.Skipped], route: o.Route, rules: list[o.Rule]) -> list[str]:
    out: list[str] = []
    services = {
        (b.namespace, b.name)
        for r in rules
        for b in r.backends
        if (b.group, b.kind) == (o.CORE_GROUP, "Service")
    }
    foreign = {ns for ns, _ in services if ns != route.namespace}
    for s in skipped:
        if s.kind == "Service" and (s.namespace, s.name) in services:
            why = "a backend of the addressed rules"
        elif s.kind == "EndpointSlice" and (s.namespace, s.service) in services:
            why = f"it holds endpoints of Service {s.namespace}/{s.service}"
        elif s.kind == "EndpointSlice" and s.service == _UNKNOWN:
            if not any(ns == s.namespace for ns, _ in services):
                continue
            why = "it may hold endpoints of a backend (its Service label cannot be read)"
        elif s.kind == "ReferenceGrant" and s.namespace in foreign:
            why = f"it may permit the backendRefs into namespace {s.namespace}"
        else:
            continue
        out.append(f"{_why(s)}: {why}")
    return out


def _neighbours(skipped: list[o.Skipped], table: Table, route: o.Route) -> list[str]:
    out: list[str] = []
    mine = [a for a in table.attachments if a.route is route]
    for s in skipped:
        if s.kind not in (o.HTTP_ROUTE, o.GRPC_ROUTE):
            continue
        if s.route is None:
            out.append(f"{_why(s)}: its parentRefs or hostnames cannot be read either")
            continue
        for theirs in table.skipped_attachments:
            if theirs.route is not s.route:
                continue
            shared = next(
                (
                    a
                    for a in mine
                    if (a.gateway.key, a.listener.name)
                    == (theirs.gateway.key, theirs.listener.name)
                    and overlap(a.hostnames, theirs.hostnames)
                ),
                None,
            )
            if shared is not None:
                out.append(
                    f"{_why(s)}: it attaches to listener {shared.listener.name} of Gateway "
                    f"{shared.gateway.key} with overlapping hostnames and may take traffic of "
                    f"{route.ref}"
                )
                break
    return out
