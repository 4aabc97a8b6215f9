"""Which rules of a user-owned route a Rollout re-weights, and where its backends sit.

A ``routes[]`` entry of the Rollout (README, "A Rollout") addresses rules explicitly (by rule
``name`` or 0-based index) or, when ``rules`` is omitted, *the one rule* that lists both
the stable and the canary backend. Zero or several such rules make the Rollout Invalid:
we never fall back to "every rule that contains backend X" (Argo gatewayapi#158), because
a rule the user did not mean would silently shift traffic.

Resolution is pure: it reads the live route (a plain mapping as the API server returns
it) and the validated spec, and returns indexes. Everything that cannot be acted on is an
``InvalidRollout`` whose ``field`` names the Rollout field to fix, so the operator's
``Invalid`` condition and ``canary plan`` say the same thing.

The raw route is read with the evaluator's reader, ``canary.core.routing.backend_refs``, in
its lenient mode: where ``spec.rules`` and ``backendRefs`` are, a backendRef's identity and
the Gateway API defaults (group core, kind Service, the route's namespace) are defined
there once, for both. Resolution keeps the raw indexes (the guarded JSON Patch paths index
the raw lists), so it does not use the evaluator's parsed ``Route``: that adds the CRD's
default rule to a route without rules and refuses what its regex dialect (Python ``re``)
cannot run, neither of which concerns which backendRef sits at which index.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from canary.core.models import BackendRef, RolloutSpec, RouteRef
from canary.core.routing.backend_refs import (
    LENIENT,
    BackendKey,
    ShapeError,
    backend_key,
    backend_refs_of,
    rules_of,
)


class InvalidRollout(ValueError):
    """The Rollout cannot be acted on against this route; ``field`` names what to fix."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


@dataclass(frozen=True)
class ResolvedRule:
    """One addressed rule: its index and where the stable and canary backendRefs are.

    ``canary`` is None only with ``manageBackends`` when the canary backendRef is not in
    the rule yet (``add_canary_ops`` appends it).
    """

    index: int
    stable: int
    canary: int | None
    name: str | None = None


@dataclass(frozen=True)
class ResolvedRoute:
    """The addressed rules of one route, in the order the Rollout names them."""

    kind: str
    name: str
    namespace: str
    route_index: int
    rules: tuple[ResolvedRule, ...]

    @property
    def label(self) -> str:
        """``Kind/name``, as ``status.lastAppliedWeights[].route`` records it."""
        return f"{self.kind}/{self.name}"


def backend_label(ref: BackendRef) -> str:
    """``name`` or ``name:port`` (and ``ns/`` when the Rollout gives a namespace)."""
    out = f"{ref.namespace}/{ref.name}" if ref.namespace else ref.name
    return f"{out}:{ref.port}" if ref.port is not None else out


def live_key(ref: Mapping[str, Any], route_namespace: str) -> BackendKey:
    """Identity of a live backendRef with the Gateway API defaults filled in (leniently)."""
    return backend_key(LENIENT, ref, "backendRef", route_namespace)


def matches(ref: Mapping[str, Any], wanted: BackendRef, route_namespace: str) -> bool:
    """Does this live backendRef reference ``wanted``? Port counts only if ``wanted`` has one."""
    group, kind, namespace, name, port = live_key(ref, route_namespace)
    w_group, w_kind, w_namespace, w_name, w_port = wanted.key(route_namespace)
    return (group, kind, namespace, name) == (w_group, w_kind, w_namespace, w_name) and (
        w_port is None or port == w_port
    )


def route_rules(route: Mapping[str, Any], where: str) -> list[Mapping[str, Any]]:
    """``spec.rules`` of a live route, checked to be a list of objects."""
    try:
        return rules_of(LENIENT, route.get("spec"))
    except ShapeError:
        raise InvalidRollout(where, f"{_label(route)}: spec.rules is not a list of rules") from None


def backend_refs(rule: Mapping[str, Any], where: str, route: Mapping[str, Any]) -> list[Any]:
    """``backendRefs`` of a live rule, checked to be a list of objects."""
    try:
        return backend_refs_of(LENIENT, rule, "rule")
    except ShapeError:
        raise InvalidRollout(
            where, f"{_label(route)}: a rule's backendRefs is not a list"
        ) from None


def find_backend(
    refs: Sequence[Mapping[str, Any]], wanted: BackendRef, route_namespace: str
) -> list[int]:
    """Indexes of every backendRef in ``refs`` that references ``wanted``."""
    return [j for j, ref in enumerate(refs) if matches(ref, wanted, route_namespace)]


def resolve_rules(
    route: Mapping[str, Any],
    spec: RolloutSpec,
    route_ref: RouteRef,
    *,
    namespace: str,
    route_index: int | None = None,
) -> ResolvedRoute:
    """Resolve ``route_ref`` against the live ``route``; raise ``InvalidRollout`` if we can't.

    ``namespace`` is the Rollout's (v1alpha1 routes live there). ``route_index`` is the
    position of ``route_ref`` in ``spec.routes``, used to name fields; found when omitted.
    """
    i = spec.routes.index(route_ref) if route_index is None else route_index
    where = f"spec.routes[{i}]"
    kind, name = route.get("kind"), _metadata(route).get("name")
    if kind != route_ref.kind or name != route_ref.name:
        raise InvalidRollout(
            where, f"expected {route_ref.kind}/{route_ref.name}, got {kind}/{name}"
        )
    route_ns = str(_metadata(route).get("namespace") or namespace)
    rules = route_rules(route, where)
    resolved: tuple[ResolvedRule, ...]
    if route_ref.rules is None:
        resolved = (_implicit_rule(route, rules, spec, where, route_ns),)
    else:
        resolved = _explicit_rules(route, rules, spec, route_ref.rules, where, route_ns)
    return ResolvedRoute(
        kind=route_ref.kind, name=route_ref.name, namespace=route_ns, route_index=i, rules=resolved
    )


def _implicit_rule(
    route: Mapping[str, Any],
    rules: list[Mapping[str, Any]],
    spec: RolloutSpec,
    where: str,
    route_ns: str,
) -> ResolvedRule:
    field = f"{where}.rules"
    both = [
        k
        for k, rule in enumerate(rules)
        if find_backend(backend_refs(rule, where, route), spec.stable, route_ns)
        and find_backend(backend_refs(rule, where, route), spec.canary, route_ns)
    ]
    stable, canary = backend_label(spec.stable), backend_label(spec.canary)
    if not both:
        raise InvalidRollout(field, f"no rule of {_label(route)} lists both {stable} and {canary}")
    if len(both) > 1:
        listed = ", ".join(str(k) for k in both[:-1]) + f" and {both[-1]}"
        raise InvalidRollout(
            field,
            f"rules {listed} of {_label(route)} list both backends; name the rules in {field}",
        )
    return _rule(route, rules, both[0], spec, field, route_ns, manage=False)


def _explicit_rules(
    route: Mapping[str, Any],
    rules: list[Mapping[str, Any]],
    spec: RolloutSpec,
    wanted: list[int | str],
    where: str,
    route_ns: str,
) -> tuple[ResolvedRule, ...]:
    if not wanted:
        raise InvalidRollout(f"{where}.rules", "is empty; name at least one rule or omit it")
    names = {rule.get("name"): k for k, rule in reversed(list(enumerate(rules)))}
    out: list[ResolvedRule] = []
    for j, item in enumerate(wanted):
        field = f"{where}.rules[{j}]"
        if isinstance(item, int):
            if item >= len(rules):
                raise InvalidRollout(
                    field,
                    f"rule index {item} is out of range: {_label(route)} has "
                    f"{len(rules)} rule{'' if len(rules) == 1 else 's'}",
                )
            k = item
        elif item in names:
            k = names[item]
        else:
            raise InvalidRollout(field, f"{_label(route)} has no rule named {item!r}")
        if any(r.index == k for r in out):
            raise InvalidRollout(field, f"rule {k} of {_label(route)} is addressed twice")
        out.append(_rule(route, rules, k, spec, field, route_ns, manage=spec.manage_backends))
    return tuple(out)


def _rule(
    route: Mapping[str, Any],
    rules: list[Mapping[str, Any]],
    k: int,
    spec: RolloutSpec,
    field: str,
    route_ns: str,
    *,
    manage: bool,
) -> ResolvedRule:
    refs = backend_refs(rules[k], field, route)
    stable = _find_one(route, refs, k, "stable", spec.stable, field, route_ns)
    canary = _find_one(route, refs, k, "canary", spec.canary, field, route_ns)
    if stable is None or (canary is None and not manage):
        role, wanted = ("stable", spec.stable) if stable is None else ("canary", spec.canary)
        hint = " (or set spec.manageBackends)" if role == "canary" else ""
        raise InvalidRollout(
            field,
            f"rule {k} of {_label(route)} does not list {role} backend "
            f"{backend_label(wanted)}{hint}",
        )
    name = rules[k].get("name")
    return ResolvedRule(
        index=k, stable=stable, canary=canary, name=name if isinstance(name, str) else None
    )


def _find_one(
    route: Mapping[str, Any],
    refs: list[Any],
    k: int,
    role: str,
    wanted: BackendRef,
    field: str,
    route_ns: str,
) -> int | None:
    hits = find_backend(refs, wanted, route_ns)
    if len(hits) > 1:
        raise InvalidRollout(
            field,
            f"rule {k} of {_label(route)} lists {role} backend {backend_label(wanted)} "
            f"{len(hits)} times (backendRefs {', '.join(map(str, hits))}); "
            f"give spec.{role}.port or remove the duplicate",
        )
    return hits[0] if hits else None


def _metadata(route: Mapping[str, Any]) -> Mapping[str, Any]:
    meta = route.get("metadata")
    return meta if isinstance(meta, Mapping) else {}


def _label(route: Mapping[str, Any]) -> str:
    return f"{route.get('kind', 'route')}/{_metadata(route).get('name', '?')}"
