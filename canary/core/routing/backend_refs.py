"""Reading a raw route's rules and backendRefs, with the CRD defaults: one reader, two modes.

Two parts of core read the same raw HTTPRoute/GRPCRoute dict (as YAML or the API server
gives it):

* the evaluator's parser (``parse_rules.parse_rules``) reads it with
  :class:`~canary.core.routing.fieldcheck.Doc`: every field is checked, and what the API
  server would refuse is an :class:`~canary.core.routing.objects.InputError` naming the
  field;
* route handling (``canary.core.routes.rules`` resolving the addressed rules,
  ``canary.core.routes.patching`` reading weights) reads the live object with
  :data:`LENIENT`: it never raises on a backendRef's fields (a malformed one simply does
  not match the Rollout's backends), and it keeps the raw indexes, because the guarded
  JSON Patch paths (``/spec/rules/{i}/backendRefs/{j}``) index the raw lists.

What is defined only here: where the lists are (``spec.rules[]``,
``spec.rules[].backendRefs[]``), which fields make a backendRef's identity and their
Gateway API defaults (group ``""`` — the core group, kind ``Service``, namespace the
route's), the weight default (1), and the CEL rule that a core Service reference needs a
port (enforced in the strict mode only). The mode decides only how a field that is
absent, empty or of the wrong type is treated; on every object the API server accepts
the two modes read the same identity and weight.

What stays with the evaluator (``parse_rules``) because route handling must never
address it: the CRD default of one rule matching ``PathPrefix /`` for a route without
rules and for a rule without matches (neither exists in the raw lists), rule-name
uniqueness, matches and filters.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, NamedTuple, Protocol

from canary.core.routing.objects import CORE_GROUP

DEFAULT_GROUP = CORE_GROUP  # backendRef group when omitted: the core API group
DEFAULT_KIND = "Service"  # backendRef kind when omitted
DEFAULT_WEIGHT = 1  # backendRef weight when omitted
MAX_WEIGHT = 1_000_000  # the CRD's maximum backendRef weight


class BackendKey(NamedTuple):
    """Identity of a backendRef with the defaults filled in."""

    group: str
    kind: str
    namespace: str
    name: str
    port: int | None


class Fields(Protocol):
    """How fields are read: strictly (``fieldcheck.Doc``) or leniently (:data:`LENIENT`)."""

    def list(self, raw: Any, key: str, path: str) -> list[Any]: ...

    def opt_str(self, raw: Any, key: str, path: str, default: str) -> str: ...

    def req_str(self, raw: Any, key: str, path: str) -> str: ...

    def port(self, raw: Any, key: str, path: str) -> int | None: ...

    def integer(self, raw: Any, key: str, path: str, lo: int, hi: int) -> int | None: ...

    def fail(self, path: str, message: str) -> Exception: ...


class ShapeError(ValueError):
    """A list the lenient reader cannot read (not a list of objects); ``path`` names it."""

    def __init__(self, path: str, message: str) -> None:
        super().__init__(f"{path}: {message}")
        self.path = path


class Lenient:
    """Route handling's reading of a live route: only a list of the wrong shape is an
    error (:class:`ShapeError`); a backendRef field of the wrong type or empty reads as
    its default (``str()`` of a non-string value, a non-integer port as no port, a
    non-integer or boolean weight as the default weight), and ranges are not checked."""

    def list(self, raw: Any, key: str, path: str) -> list[Any]:
        value = raw.get(key, []) if isinstance(raw, Mapping) else None
        if not isinstance(value, list) or not all(isinstance(v, Mapping) for v in value):
            raise ShapeError(path, "is not a list of objects")
        return value

    def opt_str(self, raw: Any, key: str, path: str, default: str) -> str:
        value = raw.get(key)
        return str(value) if value else default

    def req_str(self, raw: Any, key: str, path: str) -> str:
        return str(raw.get(key, ""))

    def port(self, raw: Any, key: str, path: str) -> int | None:
        value = raw.get(key)
        return value if isinstance(value, int) else None

    def integer(self, raw: Any, key: str, path: str, lo: int, hi: int) -> int | None:
        value = raw.get(key)
        return value if isinstance(value, int) and not isinstance(value, bool) else None

    def fail(self, path: str, message: str) -> Exception:
        return ShapeError(path, message)


LENIENT = Lenient()


def rules_of(fields: Fields, spec: Any) -> list[Any]:
    """``spec.rules`` as written (raw indexes; no default rule added here)."""
    return fields.list(spec, "rules", "spec.rules")


def backend_refs_of(fields: Fields, rule: Any, path: str) -> list[Any]:
    """A rule's ``backendRefs`` as written (raw indexes); ``path`` is the rule's."""
    return fields.list(rule, "backendRefs", f"{path}.backendRefs")


def backend_key(
    fields: Fields, raw: Any, path: str, route_namespace: str, *, require_port: bool = False
) -> BackendKey:
    """A backendRef's identity with the Gateway API defaults (or a RequestMirror's ref).

    Read in this order: group, kind, name, port, namespace. With ``require_port`` (the
    evaluator) a core Service reference without a port is refused (CRD CEL rule).
    """
    group = fields.opt_str(raw, "group", f"{path}.group", DEFAULT_GROUP)
    kind = fields.opt_str(raw, "kind", f"{path}.kind", DEFAULT_KIND)
    name = fields.req_str(raw, "name", f"{path}.name")
    port = fields.port(raw, "port", f"{path}.port")
    if require_port and group == CORE_GROUP and kind == DEFAULT_KIND and port is None:
        raise fields.fail(f"{path}.port", "required for a Service reference")
    namespace = fields.opt_str(raw, "namespace", f"{path}.namespace", route_namespace)
    return BackendKey(group, kind, namespace or route_namespace, name, port)


def backend_weight(fields: Fields, raw: Any, path: str) -> int:
    """A backendRef's weight; absent (or unreadable, leniently) is the default 1."""
    weight = fields.integer(raw, "weight", f"{path}.weight", 0, MAX_WEIGHT)
    return DEFAULT_WEIGHT if weight is None else weight
