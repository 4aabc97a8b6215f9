"""Evaluator profiles: the Gateway API spec, or what a particular data plane really does.

``spec`` is the conformant Gateway of the standard channel (v1.6) — the evaluator's
default. ``traefik`` models Traefik Proxy's Kubernetes Gateway provider: it turns every
match into a router whose *priority* is a sum (``traefik_rules.http_priority``) and
serves a request with the highest-priority router that matches, with Traefik's own
matchers, filters and load balancer. Each way that differs from the spec is a
:class:`Divergence` below, with the Traefik version it was observed on and the source
file it comes from (docs/evaluator-spec.md has a section per divergence and the test
that pins it).

The operator picks the profile from the Gateway's GatewayClass ``controllerName``
(:func:`profile_for_controller`).
"""

from __future__ import annotations

from dataclasses import dataclass

SPEC = "spec"  # the Gateway API spec (standard channel v1.6)
TRAEFIK = "traefik"  # Traefik Proxy's Gateway API provider
AUTO = "auto"  # CLI only: from the GatewayClass controllerName in the input

TRAEFIK_CONTROLLER = "traefik.io/gateway-controller"  # Traefik's GatewayClass controllerName
TRAEFIK_VERSION = "Traefik 3.7.15"  # the version the divergences were observed on
_GW = "pkg/provider/kubernetes/gateway"

# Divergence codes: what differs between the spec and Traefik (one per class).
METHOD_VS_PREFIX = "method-vs-prefix"  # a method match outranks a longer prefix
MATCHES_VS_PREFIX = "matches-vs-prefix"  # header/query counts outrank a longer prefix
PREFIX_TRAILING_SLASH = "prefix-trailing-slash"  # "/a/" counts 3 characters, not 2
REGEX_PATH = "regex-path"  # RegularExpression: unanchored, ranked like a prefix
HOSTNAME_PRECEDENCE = "hostname-precedence"  # hostname length only adds to the sum
TIE_ORDER = "tie-order"  # equal scores: rule-order term, or undetermined
DUPLICATE_MATCH_NAMES = "duplicate-match-names"  # every repeated header/query entry counts
REPEATED_VALUES = "repeated-values"  # any value of a repeated header/query param matches
REPLACE_PREFIX_MATCH = "replace-prefix-match"  # "" drops the rest's leading "/"
REDIRECT_PORT = "redirect-port"  # Location port: explicit, or the client's Host port
ALL_ZERO_WEIGHTS = "all-zero-weights"  # 503 instead of 500
NO_READY_ENDPOINTS = "no-ready-endpoints"  # 503 instead of 500
LISTENER_ISOLATION = "listener-isolation"  # routes of every listener on the port compete
GRPC_PRECEDENCE = "grpc-precedence"  # GRPCRoute priority = length of the rule text
GRPC_METHOD_PREFIX = "grpc-method-prefix"  # an Exact gRPC method also matches longer names
OTHER = "other"  # a difference none of the above explains


@dataclass(frozen=True, slots=True)
class Divergence:
    """One known way a data plane differs from the spec."""

    code: str
    summary: str
    source: str  # file (or doc) of the implementation it comes from (read at tag v3.7.9)
    observed_on: str = TRAEFIK_VERSION  # the version it was seen on (the differential harness)


@dataclass(frozen=True, slots=True)
class Profile:
    name: str
    description: str
    observed_on: str | None = None  # implementation and version the model was checked on
    divergences: tuple[Divergence, ...] = ()

    def divergence(self, code: str) -> Divergence | None:
        return next((d for d in self.divergences if d.code == code), None)


_TRAEFIK_DIVERGENCES = (
    Divergence(
        METHOD_VS_PREFIX,
        "a method match adds 1000 to a router's priority, a prefix character 100: a method "
        "rule beats a prefix up to 9 characters longer (the spec ranks the longer prefix first)",
        f"{_GW}/httproute.go (buildMatchRule)",
    ),
    Divergence(
        MATCHES_VS_PREFIX,
        "each header match adds 100 and each query match 10, as much as a prefix character "
        "or a tenth of one: more header/query matches can beat a longer prefix",
        f"{_GW}/httproute.go (buildHeaderRules, buildQueryParamRules)",
    ),
    Divergence(
        PREFIX_TRAILING_SLASH,
        "a PathPrefix counts its characters as written: '/api/' scores one character more "
        "than '/api' (the spec ignores the trailing '/')",
        f"{_GW}/httproute.go (buildPathRule)",
    ),
    Divergence(
        REGEX_PATH,
        "a RegularExpression path scores 10000 + 100 per pattern character like a prefix, and "
        "matches anywhere in the path (Go regexp, unanchored)",
        f"{_GW}/httproute.go (buildPathRule); pkg/muxer/http/matcher.go (pathRegexp)",
    ),
    Divergence(
        HOSTNAME_PRECEDENCE,
        "the hostname only adds the length of the route's longest hostname: a longer path on "
        "a wildcard or shorter host wins (the spec ranks the most specific hostname first)",
        f"{_GW}/httproute.go (buildHostRule)",
    ),
    Divergence(
        TIE_ORDER,
        "ties are broken by a rule-order term (number of rules − rule index), not by route "
        "age; routers of equal priority are served in map order (undetermined)",
        f"{_GW}/httproute.go (loadHTTPRoute); pkg/muxer/http/mux.go (routes.Less)",
    ),
    Divergence(
        DUPLICATE_MATCH_NAMES,
        "a header (or query) name repeated in one match is required for every entry; the "
        "spec considers only the first",
        f"{_GW}/httproute.go (buildHeaderRules)",
    ),
    Divergence(
        REPEATED_VALUES,
        "a header or query parameter sent several times matches when any of its values does "
        "(the evaluator's spec profile joins headers with ',' and uses a query's first value)",
        "pkg/muxer/http/matcher.go (header, query)",
    ),
    Divergence(
        REPLACE_PREFIX_MATCH,
        "URLRewrite ReplacePrefixMatch '' also drops the '/' after the prefix: '/strip/bar' "
        "with prefix '/strip' is forwarded as 'bar' (no leading '/'; the spec: '/bar')",
        "pkg/middlewares/gatewayapi/urlrewrite/url_rewrite.go (3.7.15 as observed; the v3.7.9 "
        "source's path.Join gives the spec's answer)",
    ),
    Divergence(
        REDIRECT_PORT,
        "RequestRedirect: an explicit port is always written (':80' too); without scheme and "
        "port the client's Host port is kept (the spec: the listener's port)",
        "pkg/middlewares/gatewayapi/redirect/request_redirect.go",
    ),
    Divergence(
        ALL_ZERO_WEIGHTS,
        "all backendRef weights 0: 503 (no available server); the spec says 500",
        "pkg/server/service/loadbalancer/wrr/wrr.go",
    ),
    Divergence(
        NO_READY_ENDPOINTS,
        "a Service whose EndpointSlices have no ready endpoint: 503 (empty load balancer)",
        f"{_GW}/kubernetes.go (getBackendAddresses)",
    ),
    Divergence(
        LISTENER_ISOLATION,
        "no listener isolation: routers of every listener on the port compete by priority",
        f"{_GW}/kubernetes.go (entryPointName)",
    ),
    Divergence(
        GRPC_PRECEDENCE,
        "a GRPCRoute router's priority is the hostname length plus the length of its rule "
        "text (PathRegexp and Header matchers), not service, method, header counts",
        f"{_GW}/grpcroute.go (buildGRPCMatchRule)",
    ),
    Divergence(
        GRPC_METHOD_PREFIX,
        "gRPC method matches become an unanchored PathRegexp: Exact method 'Get' also "
        "matches 'GetAll'",
        f"{_GW}/grpcroute.go (buildGRPCMethodRule); pkg/muxer/http/matcher.go (pathRegexp)",
    ),
)

SPEC_PROFILE = Profile(SPEC, "the Gateway API spec, standard channel v1.6 (a conformant Gateway)")
TRAEFIK_PROFILE = Profile(
    TRAEFIK,
    "Traefik Proxy's Kubernetes Gateway provider: router priorities, matchers, middlewares",
    TRAEFIK_VERSION,
    _TRAEFIK_DIVERGENCES,
)
PROFILES = {p.name: p for p in (SPEC_PROFILE, TRAEFIK_PROFILE)}


def get_profile(name: str) -> Profile:
    """The profile called ``name``; ValueError naming the known ones."""
    try:
        return PROFILES[name]
    except KeyError:
        known = ", ".join(sorted(PROFILES))
        raise ValueError(f"unknown evaluator profile {name!r} (known: {known})") from None


def profile_for_controller(controller_name: str | None) -> Profile:
    """The profile for a GatewayClass ``spec.controllerName``: Traefik's → ``traefik``,
    anything else (or unknown) → ``spec``."""
    if controller_name == TRAEFIK_CONTROLLER:
        return TRAEFIK_PROFILE
    return SPEC_PROFILE
