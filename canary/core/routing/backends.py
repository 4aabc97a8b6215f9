"""Backend resolution and exact shares.

A backendRef is invalid (spec reasons, set on ``ResolvedRefs``) when it refers to an
unsupported kind (``InvalidKind``: only core ``Service`` is supported), a Service in
another namespace without a ReferenceGrant there permitting it (``RefNotPermitted``),
a missing Service or a port the Service does not expose (``BackendNotFound``).
When EndpointSlices are part of the input, a Service without a ready endpoint is
``NoReadyEndpoints`` (the spec says SHOULD answer 503 rather than 500). When no
Service objects are given at all, Services are assumed to exist (noted).

Shares are exact: ``weight / sum(weights)`` over all backendRefs of the rule, invalid
ones included; an invalid backend's share is answered by the gateway with 5xx and
counted in ``error_share``. All weights 0 (or no backendRefs): everything is 500.
"""

from __future__ import annotations

from dataclasses import dataclass

from canary.core.routing import objects as o

INVALID_KIND = "InvalidKind"  # not a core Service
REF_NOT_PERMITTED = "RefNotPermitted"  # cross-namespace without a ReferenceGrant
BACKEND_NOT_FOUND = "BackendNotFound"  # Service missing or port not exposed
NO_READY_ENDPOINTS = "NoReadyEndpoints"  # EndpointSlices given, none ready for the Service
UNRESOLVED_FILTER = "UnresolvedFilter"  # backend-level ExtensionRef filter we cannot run


@dataclass(frozen=True, slots=True)
class Resolution:
    valid: bool
    reason: str = ""
    message: str = ""


VALID = Resolution(True)


@dataclass(frozen=True, slots=True)
class BackendShare:
    """One backendRef of the chosen rule with its exact share of the rule's traffic."""

    spec: o.BackendSpec
    share: float
    resolution: Resolution

    @property
    def valid(self) -> bool:
        return self.resolution.valid


class Resolver:
    """Answers "does this backendRef resolve?" against the input objects."""

    def __init__(self, objs: o.Objects) -> None:
        self._services = {(s.namespace, s.name): s for s in objs.services}
        self._services_given = bool(objs.services)
        self._slices = objs.slices
        self._slices_given = objs.slices_given
        self._grants: dict[str, list[o.ReferenceGrant]] = {}
        for g in objs.grants:
            self._grants.setdefault(g.namespace, []).append(g)

    @property
    def services_given(self) -> bool:
        return self._services_given

    def grant_for(self, route: o.Route, ref: o.BackendSpec) -> o.ReferenceGrant | None:
        """The ReferenceGrant in the backend's namespace permitting this route, if any."""
        for grant in self._grants.get(ref.namespace, []):
            from_ok = any(
                f.group == o.GATEWAY_GROUP
                and f.kind == route.kind
                and f.namespace == route.namespace
                for f in grant.from_
            )
            to_ok = any(
                t.group == ref.group and t.kind == ref.kind and t.name in (None, ref.name)
                for t in grant.to
            )
            if from_ok and to_ok:
                return grant
        return None

    def resolve(self, route: o.Route, ref: o.BackendSpec) -> Resolution:
        if (ref.group, ref.kind) != (o.CORE_GROUP, "Service"):
            group = ref.group or "core"
            return Resolution(False, INVALID_KIND, f"unsupported backend kind {ref.kind} ({group})")
        if ref.namespace != route.namespace and self.grant_for(route, ref) is None:
            return Resolution(
                False,
                REF_NOT_PERMITTED,
                f"no ReferenceGrant in namespace {ref.namespace} allows {route.kind} from "
                f"namespace {route.namespace} to reference Service {ref.name}",
            )
        if self._services_given:
            svc = self._services.get((ref.namespace, ref.name))
            if svc is None:
                return Resolution(
                    False, BACKEND_NOT_FOUND, f"Service {ref.namespace}/{ref.name} not found"
                )
            if ref.port not in svc.ports:
                ports = ", ".join(str(p) for p in sorted(svc.ports)) or "none"
                return Resolution(
                    False,
                    BACKEND_NOT_FOUND,
                    f"Service {ref.namespace}/{ref.name} has no port {ref.port} (ports: {ports})",
                )
        if self._slices_given and not self._slices.get((ref.namespace, ref.name), False):
            return Resolution(
                False,
                NO_READY_ENDPOINTS,
                f"no ready endpoint in EndpointSlices of Service {ref.namespace}/{ref.name}",
            )
        for f in ref.filters:
            if f.type == o.EXTENSION_REF:
                return Resolution(
                    False, UNRESOLVED_FILTER, f"backend filter ExtensionRef {f.extension}"
                )
        return VALID

    def shares(self, route: o.Route, rule: o.Rule) -> tuple[BackendShare, ...]:
        total = sum(b.weight for b in rule.backends)
        out = []
        for b in rule.backends:
            share = b.weight / total if total else 0.0
            out.append(BackendShare(b, share, self.resolve(route, b)))
        return tuple(out)
