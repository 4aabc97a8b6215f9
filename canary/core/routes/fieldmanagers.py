"""Who last wrote a route's rules, read from its ``metadata.managedFields`` (pure).

HTTPRoute ``spec.rules`` (and each rule's ``backendRefs``) are atomic lists in the
Gateway API CRDs, so the API server records ownership of ``f:spec`` → ``f:rules`` as a
whole, never of one weight. Whoever last changed anything in the rules owns all of them:
after our JSON Patch that is ``canary``; after a GitOps tool re-applies its copy (Flux
kustomize-controller's forced server-side apply, Argo CD's self-heal) it is that tool.
``canary.core.rollout.contest`` uses this to tell a revert by another manager from our own write
and to name the manager, the fields and the recipe in the ``Contested`` condition.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from canary.core.routes.rules import ResolvedRoute

FIELD_MANAGER = "canary"  # the field manager of every route write (adapters.kube)


@dataclass(frozen=True)
class Writer:
    """The last manager other than ``canary`` that owns an addressed route's rules.

    ``route`` is "Kind/name"; ``manager`` None when no other manager owns ``spec.rules``
    (canary's write is the last, or managedFields are absent); ``time`` is that
    managedFields entry's RFC 3339 time (one-second resolution); ``operation`` Apply or
    Update; ``paths`` the JSON pointers of the weights the Rollout sets in this route.
    """

    route: str
    manager: str | None
    time: str | None
    operation: str | None
    paths: tuple[str, ...]


def _owns_rules(entry: Mapping[str, Any]) -> bool:
    fields = entry.get("fieldsV1")
    if not isinstance(fields, Mapping):
        return False
    spec = fields.get("f:spec")
    return isinstance(spec, Mapping) and "f:rules" in spec


def rules_owner(route: Mapping[str, Any]) -> tuple[str | None, str | None, str | None]:
    """(manager, time, operation) of the newest non-canary managedFields entry owning
    ``spec.rules`` of the main resource (status subresource entries never do)."""
    entries = (route.get("metadata") or {}).get("managedFields") or []
    best: tuple[str, str, str] | None = None
    for entry in entries:
        if not isinstance(entry, Mapping) or entry.get("subresource"):
            continue
        manager = str(entry.get("manager") or "")
        if not manager or manager == FIELD_MANAGER or not _owns_rules(entry):
            continue
        time = str(entry.get("time") or "")
        if best is None or time > best[1]:  # RFC 3339 UTC strings sort by time
            best = (manager, time, str(entry.get("operation") or ""))
    if best is None:
        return None, None, None
    return best[0], best[1] or None, best[2] or None


def weight_paths(resolved: ResolvedRoute) -> tuple[str, ...]:
    """JSON pointers (RFC 6901) of the stable and canary weights the Rollout writes."""
    out: list[str] = []
    for rule in resolved.rules:
        for ref in (rule.stable, rule.canary):
            if ref is not None:
                out.append(f"/spec/rules/{rule.index}/backendRefs/{ref}/weight")
    return tuple(out)


def writers(
    routes: Mapping[str, Mapping[str, Any]], resolved: Iterable[ResolvedRoute]
) -> tuple[Writer, ...]:
    """One ``Writer`` per addressed route (``routes`` maps "Kind/name" to the live object)."""
    out: list[Writer] = []
    for res in resolved:
        manager, time, operation = rules_owner(routes.get(res.label) or {})
        out.append(Writer(res.label, manager, time, operation, weight_paths(res)))
    return tuple(out)
