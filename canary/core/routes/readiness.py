"""Is a route Accepted and ResolvedRefs for every parent, at its current generation?

README, "How a step works" (step 2): before analysis counts, every parentRef of an addressed route
must have a status entry with ``Accepted=True`` and ``ResolvedRefs=True`` whose
``observedGeneration`` is at least the route's ``metadata.generation``. Flagger stalls
forever on implementations that never set ``observedGeneration`` (linkerd2#14964); we
name the reason instead, and the operator offers a time-based fallback for them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class RouteReadiness:
    ready: bool
    reason: str  # empty when ready; otherwise names the parent and the condition
    has_status: bool  # False: the implementation wrote no parent status at all


def _same_parent(ref: Mapping[str, Any], status_ref: Mapping[str, Any], route_ns: str) -> bool:
    def key(r: Mapping[str, Any]) -> tuple[str, str, str, str, str, Any]:
        return (
            r.get("group", "gateway.networking.k8s.io") or "gateway.networking.k8s.io",
            r.get("kind", "Gateway") or "Gateway",
            r.get("namespace") or route_ns,
            r.get("name", ""),
            r.get("sectionName", "") or "",
            r.get("port"),
        )

    return key(ref) == key(status_ref)


def _parent_label(ref: Mapping[str, Any], route_ns: str) -> str:
    label = f"{ref.get('namespace') or route_ns}/{ref.get('name', '?')}"
    if ref.get("sectionName"):
        label += f"/{ref['sectionName']}"
    return label


def route_readiness(route: Mapping[str, Any]) -> RouteReadiness:
    """Readiness of one live route object (plain dict as the API server returns it)."""
    meta = route.get("metadata") or {}
    kind = route.get("kind", "Route")
    name = f"{kind} {meta.get('namespace', '')}/{meta.get('name', '')}"
    route_ns = meta.get("namespace", "")
    generation = int(meta.get("generation") or 0)
    parents_spec = (route.get("spec") or {}).get("parentRefs") or []
    parents_status = (route.get("status") or {}).get("parents") or []
    if not parents_spec:
        return RouteReadiness(False, f"{name} has no parentRefs", bool(parents_status))
    if not parents_status:
        return RouteReadiness(False, f"{name}: no parent status written yet", False)
    for ref in parents_spec:
        label = _parent_label(ref, route_ns)
        entry = next(
            (p for p in parents_status if _same_parent(ref, p.get("parentRef") or {}, route_ns)),
            None,
        )
        if entry is None:
            return RouteReadiness(False, f"{name}: no status for parent {label}", True)
        conds = {c.get("type"): c for c in entry.get("conditions") or []}
        for ctype in ("Accepted", "ResolvedRefs"):
            cond = conds.get(ctype)
            if cond is None:
                return RouteReadiness(False, f"{name}: parent {label} has no {ctype}", True)
            observed = int(cond.get("observedGeneration") or 0)
            if observed < generation:
                return RouteReadiness(
                    False,
                    f"{name}: parent {label} {ctype} is for generation {observed} < {generation}",
                    True,
                )
            if cond.get("status") != "True":
                why = cond.get("reason") or "?"
                msg = cond.get("message") or ""
                return RouteReadiness(
                    False,
                    f"{name}: parent {label} {ctype}=False ({why}{': ' + msg if msg else ''})",
                    True,
                )
    return RouteReadiness(True, "", True)
