"""Typed, defaulted Gateway API objects — what the evaluator reasons about.

The parser (``parse.py``) turns already-parsed YAML/JSON dicts into these frozen values,
applying the CRD defaults of the standard channel (v1.6) so that no later stage has to
remember them: a rule without matches matches ``PathPrefix /``, a route without rules
gets one such rule, ``weight`` defaults to 1, ``statusCode`` to 302, ``allowedRoutes``
to ``from: Same``, a backendRef to kind Service in the route's namespace.

Errors name the document (kind namespace/name) and the field, because that is what a
person needs to fix a manifest; the CLI prints them as one line and exits 3.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

GATEWAY_GROUP = "gateway.networking.k8s.io"  # the Gateway API group
CORE_GROUP = ""  # the Kubernetes core group (Service)

# Path match types (HTTPPathMatch.type).
EXACT = "Exact"  # case-sensitive whole-path equality
PATH_PREFIX = "PathPrefix"  # element-wise prefix, trailing "/" ignored
REGEX = "RegularExpression"  # implementation-specific: Python ``re.fullmatch``

# Route kinds the evaluator routes with.
HTTP_ROUTE = "HTTPRoute"  # HTTP requests
GRPC_ROUTE = "GRPCRoute"  # gRPC requests (HTTP/2 POST /service/method)

# Filter types (HTTPRouteFilter.type, standard channel).
REQUEST_HEADER_MODIFIER = "RequestHeaderModifier"
RESPONSE_HEADER_MODIFIER = "ResponseHeaderModifier"
REQUEST_MIRROR = "RequestMirror"
REQUEST_REDIRECT = "RequestRedirect"
URL_REWRITE = "URLRewrite"
EXTENSION_REF = "ExtensionRef"

# Path modifier types.
REPLACE_FULL_PATH = "ReplaceFullPath"
REPLACE_PREFIX_MATCH = "ReplacePrefixMatch"


class InputError(ValueError):
    """A document is malformed or violates the CRD schema; names document and field."""

    def __init__(self, doc: str, path: str, message: str) -> None:
        self.doc = doc
        self.path = path
        self.message = message
        where = f"{doc}: {path}: " if path else f"{doc}: "
        super().__init__(where + message)


@dataclass(frozen=True, slots=True)
class Requirement:
    """One ``matchExpressions`` entry of a label selector."""

    key: str
    operator: str  # In | NotIn | Exists | DoesNotExist
    values: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class LabelSelector:
    match_labels: tuple[tuple[str, str], ...] = ()
    match_expressions: tuple[Requirement, ...] = ()

    def matches(self, labels: dict[str, str]) -> bool:
        for key, value in self.match_labels:
            if labels.get(key) != value:
                return False
        for req in self.match_expressions:
            present = req.key in labels
            if req.operator == "In" and not (present and labels[req.key] in req.values):
                return False
            if req.operator == "NotIn" and present and labels[req.key] in req.values:
                return False
            if req.operator == "Exists" and not present:
                return False
            if req.operator == "DoesNotExist" and present:
                return False
        return True


@dataclass(frozen=True, slots=True)
class Listener:
    name: str
    port: int
    protocol: str
    hostname: str | None
    allowed_from: str  # Same | All | Selector
    selector: LabelSelector | None
    kinds: tuple[tuple[str, str], ...]  # (group, kind); empty = the protocol's kinds


@dataclass(frozen=True, slots=True)
class Gateway:
    namespace: str
    name: str
    class_name: str
    listeners: tuple[Listener, ...]

    @property
    def key(self) -> str:
        return f"{self.namespace}/{self.name}"


@dataclass(frozen=True, slots=True)
class Service:
    namespace: str
    name: str
    ports: frozenset[int]
    type: str


@dataclass(frozen=True, slots=True)
class GrantFrom:
    group: str
    kind: str
    namespace: str


@dataclass(frozen=True, slots=True)
class GrantTo:
    group: str
    kind: str
    name: str | None


@dataclass(frozen=True, slots=True)
class ReferenceGrant:
    namespace: str
    name: str
    from_: tuple[GrantFrom, ...]
    to: tuple[GrantTo, ...]


@dataclass(frozen=True, slots=True)
class ParentRef:
    group: str
    kind: str
    namespace: str
    name: str
    section_name: str | None
    port: int | None

    def describe(self) -> str:
        extra = f" sectionName={self.section_name}" if self.section_name else ""
        extra += f" port={self.port}" if self.port else ""
        return f"{self.kind} {self.namespace}/{self.name}{extra}"


@dataclass(frozen=True, slots=True)
class PathMatch:
    type: str
    value: str
    regex: re.Pattern[str] | None = None
    norm: str = ""  # the value without its trailing "/" ("" for "/"), for PathPrefix

    @classmethod
    def of(cls, type_: str, value: str, regex: re.Pattern[str] | None = None) -> PathMatch:
        return cls(type_, value, regex, value.rstrip("/"))


@dataclass(frozen=True, slots=True)
class ValueMatch:
    """A header or query-parameter match (Exact or RegularExpression)."""

    type: str
    name: str
    key: str  # lower-cased for headers, as written for query params
    value: str
    regex: re.Pattern[str] | None = None

    def test(self, actual: str) -> bool:
        if self.regex is not None:
            return self.regex.fullmatch(actual) is not None
        return actual == self.value


@dataclass(frozen=True, slots=True)
class HTTPMatch:
    path: PathMatch
    headers: tuple[ValueMatch, ...] = ()
    query: tuple[ValueMatch, ...] = ()
    method: str | None = None
    # Entries the spec ignores (a name repeated in one match: only the first counts);
    # kept because some data planes require them too (see ``profiles``).
    dropped_headers: tuple[ValueMatch, ...] = ()
    dropped_query: tuple[ValueMatch, ...] = ()


@dataclass(frozen=True, slots=True)
class GRPCMatch:
    type: str  # Exact | RegularExpression
    service: str | None
    method: str | None
    headers: tuple[ValueMatch, ...] = ()
    service_re: re.Pattern[str] | None = None
    method_re: re.Pattern[str] | None = None
    dropped_headers: tuple[ValueMatch, ...] = ()  # as in HTTPMatch


@dataclass(frozen=True, slots=True)
class HeaderModifier:
    set: tuple[tuple[str, str], ...] = ()
    add: tuple[tuple[str, str], ...] = ()
    remove: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class PathModifier:
    type: str
    value: str


@dataclass(frozen=True, slots=True)
class Redirect:
    scheme: str | None
    hostname: str | None
    path: PathModifier | None
    port: int | None
    status_code: int


@dataclass(frozen=True, slots=True)
class Rewrite:
    hostname: str | None
    path: PathModifier | None


@dataclass(frozen=True, slots=True)
class BackendSpec:
    """A backendRef as written, with defaults applied (namespace resolved)."""

    group: str
    kind: str
    name: str
    namespace: str
    port: int | None
    weight: int
    filters: tuple[Filter, ...] = ()

    def describe(self) -> str:
        kind = "" if (self.group, self.kind) == (CORE_GROUP, "Service") else f"{self.kind} "
        port = f":{self.port}" if self.port is not None else ""
        return f"{kind}{self.namespace}/{self.name}{port}"


@dataclass(frozen=True, slots=True)
class Filter:
    type: str
    header_modifier: HeaderModifier | None = None
    redirect: Redirect | None = None
    rewrite: Rewrite | None = None
    mirror: BackendSpec | None = None
    extension: str | None = None


@dataclass(frozen=True, slots=True)
class Rule:
    index: int
    name: str | None
    matches: tuple[HTTPMatch | GRPCMatch, ...]
    filters: tuple[Filter, ...]
    backends: tuple[BackendSpec, ...]


@dataclass(frozen=True, slots=True)
class Route:
    kind: str
    namespace: str
    name: str
    created: str | None  # metadata.creationTimestamp (RFC 3339) or None
    hostnames: tuple[str, ...]
    parent_refs: tuple[ParentRef, ...]
    rules: tuple[Rule, ...]

    @property
    def key(self) -> str:
        return f"{self.namespace}/{self.name}"

    @property
    def ref(self) -> str:
        return f"{self.kind} {self.namespace}/{self.name}"


@dataclass(frozen=True, slots=True)
class Skipped:
    """A document the evaluator could not use, and why (``build_table(skip_invalid=True)``).

    One object the evaluator cannot read must not blind it for every route (an
    EndpointSlice without its Service label, a regular expression valid in RE2 but not in
    Python ``re``): it is left out of the table and kept here, so that only the routes
    that need it say so (``isolation.py``) and ``lint-routes`` lists it.
    """

    kind: str
    namespace: str
    name: str
    error: str  # "field: message", as an InputError says it
    # What could still be read, to tell who needs the object: a skipped route's
    # parentRefs and hostnames (rules empty; None when even those cannot be read), an
    # EndpointSlice's Service (None: it belongs to no Service and affects nothing).
    route: Route | None = None
    service: str | None = None

    @property
    def ref(self) -> str:
        return f"{self.kind} {self.namespace}/{self.name}" if self.name else self.kind

    @property
    def harmless(self) -> bool:
        """Nothing the evaluator reads can depend on it (a slice of no Service)."""
        return self.kind == "EndpointSlice" and self.service is None


@dataclass(frozen=True, slots=True)
class Objects:
    """Everything parsed from the input documents."""

    gateways: tuple[Gateway, ...] = ()
    gateway_classes: tuple[str, ...] = ()
    routes: tuple[Route, ...] = ()
    services: tuple[Service, ...] = ()
    grants: tuple[ReferenceGrant, ...] = ()
    namespaces: dict[str, dict[str, str]] = field(default_factory=dict)
    slices: dict[tuple[str, str], bool] = field(default_factory=dict)  # (ns, svc) -> ready
    slices_given: bool = False
    ignored: tuple[str, ...] = ()  # documents of kinds the evaluator does not use
    skipped: tuple[Skipped, ...] = ()  # documents that could not be parsed (see Skipped)
