"""The small ports the operator and the CLI talk through. Each has a fake in ``fakes.py``.

Objects travel as plain dicts in the API server's JSON shape (camelCase), so the pure core
can read them without knowing the client library.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any, Protocol

from canary.adapters.traefik import ServedRule
from canary.core.results import Sample

Obj = dict[str, Any]


class RolloutsPort(Protocol):
    """Rollout objects (``rollouts.canary.dev``)."""

    def get(self, *, namespace: str, name: str) -> Obj: ...  # NotFound

    def list(self, *, namespace: str | None) -> list[Obj]: ...  # None = all namespaces

    def watch(
        self, *, namespace: str | None, name: str | None = None, timeout: float | None = None
    ) -> Iterator[tuple[str, Obj]]: ...  # ("ADDED"|"MODIFIED"|"DELETED", obj)

    def patch_status(
        self, *, namespace: str, name: str, patch: Mapping[str, Any]
    ) -> Obj: ...  # merge patch of .status, the diff only: {"phase": ...}; None deletes

    def annotate(
        self, *, namespace: str, name: str, annotations: Mapping[str, str | None]
    ) -> Obj: ...  # merge patch of metadata.annotations; None removes a key

    def set_finalizers(
        self, *, namespace: str, name: str, finalizers: Sequence[str], resource_version: str
    ) -> Obj: ...  # metadata.finalizers := finalizers, if still at resource_version (Conflict)


class RoutesPort(Protocol):
    """HTTPRoute / GRPCRoute objects, and the guarded JSON Patch of their weights."""

    def get(self, *, kind: str, namespace: str, name: str) -> Obj: ...  # NotFound

    def json_patch(
        self, *, kind: str, namespace: str, name: str, ops: Sequence[Mapping[str, Any]]
    ) -> Obj: ...  # PatchTestFailed on a failed test op; InvalidObject on validation


class ClusterReadPort(Protocol):
    """What the route evaluator needs to see: every Gateway API object and Service."""

    def snapshot(self, *, namespaces: Sequence[str] | None = None) -> list[Obj]: ...


class EventsPort(Protocol):
    """Kubernetes Events about one object."""

    def emit(self, *, obj: Mapping[str, Any], type_: str, reason: str, message: str) -> None: ...

    def list_for(self, *, obj: Mapping[str, Any], limit: int = 20) -> list[Obj]: ...


class MetricsPort(Protocol):
    """Instant PromQL queries. An empty result is ``Sample(empty=True)``, not an error.

    ``deadline``: a ``time.monotonic()`` value by which the answer is needed (the end of
    the check's budget); past it the query fails with ``MetricsError`` instead of waiting.
    """

    def query(
        self, *, promql: str, at: float | None = None, deadline: float | None = None
    ) -> Sample: ...  # MetricsError


class TraefikApi(Protocol):
    """What Traefik's data plane serves for a route rule (read-only; ``traefik.py``).

    ``kind`` is the route kind in lower case (``httproute``, ``grpcroute``).
    """

    def served_rule(
        self, *, namespace: str, route: str, rule: int, kind: str = "httproute"
    ) -> ServedRule: ...  # RuleNotServed; TraefikUnavailable
