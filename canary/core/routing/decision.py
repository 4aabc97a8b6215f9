"""The evaluator's answer for one request, and its JSON form (a contract: docs/evaluator-spec.md).

Keys of :meth:`Decision.to_dict` may be added, never changed: ``status``, ``route``,
``route_kind``, ``rule``, ``backends`` (``name``, ``namespace``, ``port``, ``weight``,
``share``, ``valid``, ``reason`` when invalid, ``request`` with backend-level filters),
``error_share``, ``request``, ``response_headers``, ``location``, ``notes``,
``samples`` (added by the caller) and ``explain`` (with ``--explain``). Added here:
``gateway``, ``listener``, ``match`` (index of the match within the rule),
``rule_name``, and per backend ``kind`` and ``intended_share`` (weight / sum, before
invalid backends are turned into errors). With a profile other than ``spec``:
``profile``, ``priority`` (the serving router's) and ``tied_with`` (routers of equal
priority that also match: which one serves is not determined).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from canary.core.routing.filters import Forwarded, ResponseHeaders

# Client-visible statuses (gRPC uses the HTTP-equivalent codes).
OK = 200  # some share is forwarded to a backend
NOT_FOUND = 404  # no listener or no rule matches (gRPC: UNIMPLEMENTED)
SERVER_ERROR = 500  # nothing can be forwarded (gRPC: UNAVAILABLE)
UNAVAILABLE = 503  # traefik profile: all weights 0, or no ready endpoint (empty balancer)


@dataclass(frozen=True, slots=True)
class BackendDecision:
    name: str
    namespace: str
    port: int | None
    weight: int
    share: float  # of all requests matching the rule; 0 when invalid or weight 0
    intended_share: float  # weight / sum(weights)
    valid: bool
    kind: str = "Service"
    reason: str | None = None
    request: dict[str, Any] | None = None  # with backend-level filters
    response_headers: dict[str, Any] | None = None
    status: int | None = None  # backend-level redirect
    location: str | None = None

    @property
    def key(self) -> str:
        return f"{self.namespace}/{self.name}"

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "name": self.name,
            "namespace": self.namespace,
            "port": self.port,
            "weight": self.weight,
            "share": self.share,
            "valid": self.valid,
            "kind": self.kind,
            "intended_share": self.intended_share,
        }
        if self.reason is not None:
            out["reason"] = self.reason
        if self.request is not None:
            out["request"] = self.request
        if self.response_headers is not None:
            out["response_headers"] = self.response_headers
        if self.status is not None:
            out["status"] = self.status
            out["location"] = self.location
        return out


@dataclass(slots=True)
class Decision:
    status: int
    request: Forwarded
    route: str | None = None
    route_kind: str | None = None
    rule: int | None = None
    match: int | None = None
    rule_name: str | None = None
    gateway: str | None = None
    listener: str | None = None
    backends: list[BackendDecision] = field(default_factory=list)
    error_share: float = 0.0
    response_headers: ResponseHeaders = field(default_factory=ResponseHeaders)
    location: str | None = None
    notes: list[str] = field(default_factory=list)
    explain: list[dict[str, Any]] | None = None
    profile: str = "spec"
    priority: int | None = None  # traefik profile: the serving router's priority
    tied_with: list[str] = field(default_factory=list)  # equal-priority routers that match

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "status": self.status,
            "route": self.route,
            "route_kind": self.route_kind,
            "rule": self.rule,
            "rule_name": self.rule_name,
            "match": self.match,
            "gateway": self.gateway,
            "listener": self.listener,
            "backends": [b.to_dict() for b in self.backends],
            "error_share": self.error_share,
            "request": self.request.to_dict(),
            "response_headers": self.response_headers.to_dict(),
            "location": self.location,
            "notes": list(self.notes),
        }
        if self.explain is not None:
            out["explain"] = self.explain
        if self.profile != "spec":
            out["profile"] = self.profile
            out["priority"] = self.priority
            out["tied_with"] = list(self.tied_with)
        return out

    def outcome_shares(self) -> dict[str, float]:
        """Where requests end up: {"ns/name": share, "error": share, ...} (sums to 1)."""
        if self.status == NOT_FOUND:
            return {"no_match": 1.0}
        if self.location is not None:
            return {"redirect": 1.0}
        shares: dict[str, float] = {}
        for b in self.backends:
            if b.share > 0:
                label = "redirect" if b.status is not None else b.key
                shares[label] = shares.get(label, 0.0) + b.share
        if self.error_share > 0:
            shares["error"] = self.error_share
        return shares
