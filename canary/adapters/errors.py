"""The adapters' own error hierarchy; the library error is always chained as ``__cause__``.

AdapterError
├── KubeError
│   ├── NotFound          404
│   ├── Forbidden         401 / 403
│   ├── Conflict          409 (resourceVersion)
│   ├── PatchTestFailed   422 from a failed JSON Patch ``test`` op: re-read, recompute, retry
│   ├── InvalidObject     422 from validation (schema, CEL): do not retry
│   └── KubeUnavailable   5xx, timeouts, connection errors: retry later
├── MetricsError          Prometheus unreachable, timed out, or rejected the query
└── TraefikApiError       Traefik's API (``traefik.py``): what the data plane serves
    ├── TraefikUnavailable  unreachable, timed out, or answered something unexpected
    └── RuleNotServed       no weighted service for this route rule (yet)
"""

from __future__ import annotations


class AdapterError(Exception):
    """Base of every error an adapter raises."""


class KubeError(AdapterError):
    def __init__(self, message: str, *, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class NotFound(KubeError):
    pass


class Forbidden(KubeError):
    pass


class Conflict(KubeError):
    pass


class PatchTestFailed(KubeError):
    pass


class InvalidObject(KubeError):
    pass


class KubeUnavailable(KubeError):
    pass


class MetricsError(AdapterError):
    pass


class TraefikApiError(AdapterError):
    """Base of the errors of the Traefik adapter (``canary.adapters.traefik``)."""


class TraefikUnavailable(TraefikApiError):
    """Traefik's API could not be reached or answered something unexpected."""


class RuleNotServed(TraefikApiError):
    """Traefik serves no weighted service for this route rule (yet)."""
