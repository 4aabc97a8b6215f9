"""Which Rollouts a change in the cluster can affect (the object → Rollout wake index).

Each pass records what its Rollout's verification read: its routes, their parent
Gateways (with the routes' hostnames, to tell which other routes on that Gateway could
take its traffic), its backends' Services, and the namespaces whose ReferenceGrants and
Namespace objects decide whether a reference is allowed. A change to a cached object
then prompts only the Rollouts that read it:

=================  ==========================================================
changed object     Rollouts prompted
=================  ==========================================================
HTTPRoute/GRPCRoute  those addressing it; those whose routes share a parent Gateway
                   and overlapping hostnames with it (it may take their traffic)
Service            those with it as stable or canary backend
EndpointSlice      those whose backend Service it belongs to (its service-name label)
Gateway            those whose routes attach to it
ReferenceGrant     those with a route or backend in its namespace
Namespace          those with a route, backend or Gateway in it
GatewayClass       all (rare: a class changes every Gateway of it)
=================  ==========================================================

A Rollout that has not been looked at yet has no entry: it is due anyway.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from canary.core.routing.hostnames import ANY, overlap

Key = tuple[str, str]  # (namespace, name) of a Rollout
Obj = Mapping[str, Any]

ROUTE_KINDS = ("HTTPRoute", "GRPCRoute")
SERVICE_NAME_LABEL = "kubernetes.io/service-name"


@dataclass(frozen=True)
class Deps:
    """What one Rollout's last pass read from the cluster."""

    objects: frozenset[str] = frozenset()  # "Kind/namespace/name"
    namespaces: frozenset[str] = frozenset()
    # parent Gateway "ns/name" -> the hostnames of the Rollout's routes attached to it
    gateways: tuple[tuple[str, tuple[str, ...]], ...] = ()


def object_key(kind: str, namespace: str, name: str) -> str:
    return f"{kind}/{namespace}/{name}"


def _meta(obj: Obj) -> Mapping[str, Any]:
    meta = obj.get("metadata")
    return meta if isinstance(meta, Mapping) else {}


def hostnames_of(route: Obj) -> tuple[str, ...]:
    spec = route.get("spec")
    names = spec.get("hostnames") if isinstance(spec, Mapping) else None
    if not isinstance(names, list) or not names:
        return (ANY,)
    return tuple(str(h) for h in names)


def parent_gateways(route: Obj) -> list[str]:
    """``ns/name`` of every Gateway a route names as parent."""
    ns = str(_meta(route).get("namespace") or "")
    spec = route.get("spec")
    refs = spec.get("parentRefs") if isinstance(spec, Mapping) else None
    out: list[str] = []
    for ref in refs if isinstance(refs, list) else []:
        if not isinstance(ref, Mapping) or ref.get("kind", "Gateway") != "Gateway":
            continue
        out.append(f"{ref.get('namespace') or ns}/{ref.get('name', '')}")
    return out


def deps_of(routes: Iterable[tuple[str, Obj]], backends: Iterable[tuple[str, str]]) -> Deps:
    """The dependencies of a Rollout: its live routes as ``(kind, route)``, its backends as
    ``(namespace, service name)``."""
    objects: set[str] = set()
    namespaces: set[str] = set()
    gateways: list[tuple[str, tuple[str, ...]]] = []
    for kind, route in routes:
        meta = _meta(route)
        ns, name = str(meta.get("namespace") or ""), str(meta.get("name") or "")
        objects.add(object_key(kind, ns, name))
        namespaces.add(ns)
        for gw in parent_gateways(route):
            objects.add(object_key("Gateway", *gw.split("/", 1)))
            namespaces.add(gw.split("/", 1)[0])
            gateways.append((gw, hostnames_of(route)))
    for ns, name in backends:
        objects.add(object_key("Service", ns, name))
        namespaces.add(ns)
    return Deps(frozenset(objects), frozenset(namespaces), tuple(gateways))


@dataclass
class WakeIndex:
    """Thread-safe: passes record, informer threads ask."""

    _deps: dict[Key, Deps] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def record(self, key: Key, deps: Deps) -> None:
        with self._lock:
            self._deps[key] = deps

    def forget(self, key: Key) -> None:
        with self._lock:
            self._deps.pop(key, None)

    def __len__(self) -> int:
        with self._lock:
            return len(self._deps)

    def affected(self, kind: str, obj: Obj) -> list[Key]:
        """The Rollouts a change of ``obj`` (of ``kind``) can affect."""
        meta = _meta(obj)
        ns, name = str(meta.get("namespace") or ""), str(meta.get("name") or "")
        with self._lock:
            items = list(self._deps.items())
        if kind == "GatewayClass":
            return sorted(k for k, _ in items)
        if kind in ("ReferenceGrant", "Namespace"):
            where = name if kind == "Namespace" else ns
            return sorted(k for k, d in items if where in d.namespaces)
        if kind == "EndpointSlice":
            labels = meta.get("labels")
            service = labels.get(SERVICE_NAME_LABEL) if isinstance(labels, Mapping) else None
            if not service:
                return []
            kind, name = "Service", str(service)
        key = object_key(kind, ns, name)
        out = {k for k, d in items if key in d.objects}
        if kind in ROUTE_KINDS:
            theirs = hostnames_of(obj)
            for gw in parent_gateways(obj):
                out |= {
                    k
                    for k, d in items
                    if any(g == gw and overlap(hosts, theirs) for g, hosts in d.gateways)
                }
        return sorted(out)
