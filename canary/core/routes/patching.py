"""Guarded JSON Patch for the two backendRefs canary owns; RFC 6902 applied with jsonpatch.

Route writes (README, "How a step works", step 1): we never create, replace or
server-side-apply a user's route (``spec.rules`` and ``backendRefs`` are atomic lists, so a
field manager would own them whole). We send a JSON Patch that

* tests ``/metadata/generation`` first (spec changes only: status writes bump
  resourceVersion on every data-plane reload and must not cause retries),
* tests the backendRef identity (``name``, and ``namespace``/``port`` when set) at the
  index we resolved, so a concurrent reorder fails the patch (HTTP 422) instead of
  re-weighting someone else's backend,
* then replaces (or adds, when absent) exactly the ``weight`` of the stable and canary
  backendRefs in each addressed rule. Foreign backendRefs, filters, matches and metadata
  are never in a path we write.

``weight_patch`` always writes both weights of every addressed rule, even when they
already hold the desired value: the patch is idempotent, re-asserting is level-triggered,
and one shape is simpler to guard and to test. Whether to send it at all is
``needs_write``'s job (the operator skips the request when nothing differs).

``apply_patch`` is a small pure applier for exactly the operations we emit (test,
replace, add, remove); ``canary plan`` and the tests use it to show what a patch does.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import jsonpatch
import jsonpointer

from canary.core.models import AppliedWeight, BackendRef
from canary.core.routes.rules import (
    ResolvedRoute,
    ResolvedRule,
    backend_refs,
    route_rules,
)
from canary.core.routing.backend_refs import (
    DEFAULT_GROUP,
    DEFAULT_KIND,
    LENIENT,
    backend_weight,
)

JsonPatch = list[dict[str, Any]]


class PatchError(ValueError):
    """A JSON Patch that cannot be applied to this document (bad path, unknown op)."""


class PatchConflict(PatchError):
    """A ``test`` op failed: the route changed since we read it (the API server's 422)."""


@dataclass(frozen=True)
class RuleWeights:
    """Raw weights of one rule: ours and the sum of everyone else's."""

    route: str
    rule: int
    stable: int
    canary: int
    foreign: int

    @property
    def share(self) -> float:
        """The canary's fraction of the rule's traffic (0.0 when every weight is 0)."""
        total = self.stable + self.canary + self.foreign
        return self.canary / total if total else 0.0


# ---------------------------------------------------------------------------------------
# Reading weights


def weight_of(ref: Mapping[str, Any]) -> int:
    """A backendRef's raw weight; Gateway API defaults an absent weight to 1.

    Read by the evaluator's reader (``routing.backend_refs``) in its lenient mode: a
    weight that is not an integer also reads as 1.
    """
    return backend_weight(LENIENT, ref, "backendRef")


def rule_weights(route: Mapping[str, Any], resolved: ResolvedRoute) -> tuple[RuleWeights, ...]:
    """Stable, canary and foreign raw weights of every addressed rule (canary 0 if absent)."""
    rules = route_rules(route, _where(resolved))
    out: list[RuleWeights] = []
    for rule in resolved.rules:
        refs = _refs(route, rules, rule, resolved)
        stable = weight_of(refs[rule.stable])
        canary = weight_of(refs[rule.canary]) if rule.canary is not None else 0
        ours = {rule.stable, rule.canary}
        foreign = sum(weight_of(r) for j, r in enumerate(refs) if j not in ours)
        out.append(RuleWeights(resolved.label, rule.index, stable, canary, foreign))
    return tuple(out)


def live_weights(route: Mapping[str, Any], resolved: ResolvedRoute) -> tuple[AppliedWeight, ...]:
    """The raw stable/canary weights now in the route, shaped like ``lastAppliedWeights``."""
    return tuple(
        AppliedWeight(route=w.route, rule=w.rule, stable=w.stable, canary=w.canary)
        for w in rule_weights(route, resolved)
    )


def needs_write(route: Mapping[str, Any], resolved: ResolvedRoute, canary_weight: int) -> bool:
    """True when some addressed rule's raw weights differ from 100 − w / w (or the canary
    backendRef is missing)."""
    _check_weight(canary_weight)
    return any(rule.canary is None for rule in resolved.rules) or any(
        (w.stable, w.canary) != (100 - canary_weight, canary_weight)
        for w in rule_weights(route, resolved)
    )


# ---------------------------------------------------------------------------------------
# Building patches


def weight_patch(
    route: Mapping[str, Any], resolved: ResolvedRoute, *, canary_weight: int
) -> JsonPatch:
    """Guarded ops that set canary = w, stable = 100 − w in every addressed rule.

    Raises ``ValueError`` if an addressed rule lacks the canary backendRef: append it
    first with ``add_canary_ops`` (``manageBackends``).
    """
    _check_weight(canary_weight)
    rules = route_rules(route, _where(resolved))
    ops = _generation_test(route)
    for rule in resolved.rules:
        if rule.canary is None:
            raise ValueError(
                f"rule {rule.index} of {resolved.label} has no canary backendRef; "
                "apply add_canary_ops first"
            )
        refs = _refs(route, rules, rule, resolved)
        for j, weight in ((rule.stable, 100 - canary_weight), (rule.canary, canary_weight)):
            base = f"/spec/rules/{rule.index}/backendRefs/{j}"
            ops += _identity_tests(base, refs[j])
            verb = "replace" if "weight" in refs[j] else "add"
            ops.append({"op": verb, "path": f"{base}/weight", "value": weight})
    return ops


def add_canary_ops(
    route: Mapping[str, Any], resolved: ResolvedRoute, canary: BackendRef
) -> JsonPatch:
    """Append the canary backendRef with weight 0 to every addressed rule that lacks it.

    Guarded by the generation and by the stable backendRef's identity at its index. The
    new ref carries exactly the fields the Rollout gives (name, port, and namespace, kind,
    group when they are not the defaults). Empty when no rule lacks the canary.
    """
    missing = [rule for rule in resolved.rules if rule.canary is None]
    if not missing:
        return []
    rules = route_rules(route, _where(resolved))
    ops = _generation_test(route)
    for rule in missing:
        refs = _refs(route, rules, rule, resolved)
        base = f"/spec/rules/{rule.index}/backendRefs"
        ops += _identity_tests(f"{base}/{rule.stable}", refs[rule.stable])
        ops.append({"op": "add", "path": f"{base}/-", "value": new_backend_ref(canary)})
    return ops


def remove_stable_ops(route: Mapping[str, Any], resolved: ResolvedRoute) -> JsonPatch:
    """After success (``manageBackends``): remove the old stable backendRef from every
    addressed rule, each guarded by a test of its identity at its index."""
    rules = route_rules(route, _where(resolved))
    ops = _generation_test(route)
    for rule in resolved.rules:
        refs = _refs(route, rules, rule, resolved)
        base = f"/spec/rules/{rule.index}/backendRefs/{rule.stable}"
        ops += _identity_tests(base, refs[rule.stable])
        ops.append({"op": "remove", "path": base})
    return ops


def new_backend_ref(ref: BackendRef) -> dict[str, Any]:
    """The backendRef object ``add_canary_ops`` appends (weight 0)."""
    out: dict[str, Any] = {}
    if ref.group != DEFAULT_GROUP:
        out["group"] = ref.group
    if ref.kind != DEFAULT_KIND:
        out["kind"] = ref.kind
    out["name"] = ref.name
    if ref.namespace:
        out["namespace"] = ref.namespace
    if ref.port is not None:
        out["port"] = ref.port
    out["weight"] = 0
    return out


def _generation_test(route: Mapping[str, Any]) -> JsonPatch:
    meta = route.get("metadata")
    generation = meta.get("generation") if isinstance(meta, Mapping) else None
    if generation is None:  # offline manifests; every object the API server returns has one
        return []
    return [{"op": "test", "path": "/metadata/generation", "value": generation}]


def _identity_tests(base: str, ref: Mapping[str, Any]) -> JsonPatch:
    return [
        {"op": "test", "path": f"{base}/{key}", "value": ref[key]}
        for key in ("name", "namespace", "port")
        if key in ref
    ]


def _refs(
    route: Mapping[str, Any],
    rules: list[Mapping[str, Any]],
    rule: ResolvedRule,
    resolved: ResolvedRoute,
) -> list[Any]:
    where = _where(resolved)
    if rule.index >= len(rules):
        raise PatchConflict(f"{resolved.label} has no rule {rule.index} any more; resolve again")
    refs = backend_refs(rules[rule.index], where, route)
    if max(rule.stable, rule.canary or 0) >= len(refs):
        raise PatchConflict(
            f"rule {rule.index} of {resolved.label} changed since it was resolved; resolve again"
        )
    return refs


def _where(resolved: ResolvedRoute) -> str:
    return f"spec.routes[{resolved.route_index}]"


def _check_weight(weight: int) -> None:
    if not 0 <= weight <= 100:
        raise ValueError(f"canary weight must be between 0 and 100, got {weight}")


# ---------------------------------------------------------------------------------------
# Applying patches (RFC 6902: the jsonpatch library)


def _json_equal(a: Any, b: Any) -> bool:
    """JSON equality (RFC 6902 ``test``): ``true`` is not ``1``; ``1`` equals ``1.0``."""
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    if isinstance(a, int | float) and isinstance(b, int | float):
        return a == b
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_json_equal(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_json_equal(x, y) for x, y in zip(a, b, strict=True))
    return type(a) is type(b) and bool(a == b)


def _strict_test(patched: Any, op: Mapping[str, Any], where: str) -> None:
    """A ``test`` op compared as JSON, not as Python (where ``True == 1``).

    jsonpatch >= 1.34 compares so itself; 1.33 (our declared floor) does not. A path that
    does not resolve is left to jsonpatch, which reports it as a failed test.
    """
    try:
        actual = jsonpointer.resolve_pointer(patched, str(op.get("path", "")))
    except (jsonpointer.JsonPointerException, TypeError, KeyError, IndexError):
        return
    if "value" in op and not _json_equal(actual, op["value"]):
        raise PatchConflict(f"{where}: test failed: {actual!r} is not {op['value']!r}")


def apply_patch(doc: Mapping[str, Any], ops: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """Apply RFC 6902 ``ops`` to a copy of ``doc`` (the ``jsonpatch`` library).

    All or nothing, like the API server: a failed ``test`` raises ``PatchConflict``, any
    other problem ``PatchError``, and ``doc`` is never modified.
    """
    patched: Any = copy.deepcopy(dict(doc))
    for n, op in enumerate(ops):  # one op at a time on the copy: errors name the op
        where = f"op {n} ({op.get('op')} {op.get('path')})"
        if op.get("op") == "test":
            _strict_test(patched, op, where)
        try:
            # A deep copy: the patched document never shares a value with the caller's op
            # (jsonpatch 1.33, our declared floor, inserts the op's value itself).
            patched = jsonpatch.apply_patch(patched, [copy.deepcopy(dict(op))], in_place=True)
        except jsonpatch.JsonPatchTestFailed as exc:
            raise PatchConflict(f"{where}: test failed: {exc}") from exc
        except (jsonpatch.JsonPatchException, jsonpatch.JsonPointerException) as exc:
            raise PatchError(f"{where}: {exc}") from exc
        except (TypeError, KeyError, IndexError, ValueError) as exc:  # a path into a scalar
            raise PatchError(f"{where}: cannot apply: {exc}") from exc
    if not isinstance(patched, dict):
        raise PatchError("the patch replaced the whole document with a non-object")
    return patched
