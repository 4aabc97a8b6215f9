"""The ports the operator reads through, backed by watch caches (``informer.ClusterCache``).

A reconcile reads nothing from the API server: routes, Gateways, Services, EndpointSlices,
ReferenceGrants come from the caches; only writes (and the retry of a route patch whose
``test`` failed) go to the server. Two hazards of reading from a watch are handled here:

- **Our own write not yet seen.** After a route patch, the cache may still hold the route
  as it was before; the patched object returned by the server is kept and served instead
  until the cache holds a copy at least as new (compared by ``resourceVersion``).
- **A stale copy under a write.** A route patch carries ``test`` ops for the weights it
  read; if they fail (someone wrote in between, or the cache lagged), the next read of
  that route goes to the server (``guarded_patch`` retries with it).

Traefik's API is read the same way: one read of all its HTTP services serves every rule
any Rollout asks about for ``max_age`` seconds (``SharedTraefikApi``), instead of one
read per rule per reconcile.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Protocol

from canary.adapters import errors
from canary.adapters.errors import TraefikUnavailable
from canary.adapters.ports import Obj, RoutesPort
from canary.adapters.traefik import ServedRule, normalize, parse_served_rule


class ClusterCachePort(Protocol):
    """What the operator needs of ``informer.ClusterCache``."""

    @property
    def version(self) -> int: ...

    @property
    def synced(self) -> bool: ...

    def docs(self) -> list[Obj]: ...

    def get(self, kind: str, namespace: str, name: str) -> Obj | None: ...

    def errors(self) -> list[str]: ...


def newer(a: Mapping[str, Any] | None, b: Mapping[str, Any] | None) -> bool:
    """Is ``a`` a later copy than ``b`` of the same object (by ``resourceVersion``)?

    resourceVersions are opaque strings to clients, but every API server backed by etcd
    hands out increasing integers; where either is not an integer, only a different
    value counts as newer.
    """
    if a is None:
        return False
    if b is None:
        return True
    ra = str((a.get("metadata") or {}).get("resourceVersion") or "")
    rb = str((b.get("metadata") or {}).get("resourceVersion") or "")
    if ra.isdigit() and rb.isdigit():
        return int(ra) > int(rb)
    return ra != rb


def unreadable(cache: ClusterCachePort, kind: str, namespace: str) -> str | None:
    """Why the cache cannot answer for ``kind`` in ``namespace`` (its informer has not
    listed yet, or cannot: 403), None when it can."""
    for informer in getattr(cache, "informers", ()):
        if informer.kind.kind != kind or informer.namespace not in (None, namespace):
            continue
        if not informer.synced:
            return informer.error or "the watch cache has not listed it yet"
    return None


def ready(cache: ClusterCachePort) -> bool:
    """Every informer has either listed or failed with an error it reports: passes may
    run (a failed kind shows up as that error in the Rollouts that need it)."""
    informers = getattr(cache, "informers", None)
    if not informers:
        return cache.synced
    return all(i.synced or i.error for i in informers)


class CachedRoutes:
    """A ``RoutesPort``: reads from the cache, writes (and re-reads after a conflict)
    through ``writer``."""

    def __init__(self, cache: ClusterCachePort, writer: RoutesPort) -> None:
        self._cache = cache
        self._writer = writer
        self._lock = threading.Lock()
        self._written: dict[tuple[str, str, str], Obj] = {}  # our last write, until seen
        self._reread: set[tuple[str, str, str]] = set()  # next get goes to the server

    def get(self, *, kind: str, namespace: str, name: str) -> Obj:
        key = (kind, namespace, name)
        with self._lock:
            reread = key in self._reread
            self._reread.discard(key)
            written = self._written.get(key)
        if reread:
            return self._writer.get(kind=kind, namespace=namespace, name=name)
        cached = self._cache.get(kind, namespace, name)
        if written is not None:
            if cached is None or newer(written, cached):
                return written  # the watch has not delivered our write yet
            with self._lock:
                self._written.pop(key, None)  # the cache has caught up
        if cached is None:
            problem = unreadable(self._cache, kind, namespace)
            if problem is not None:  # not "not found": we cannot know yet
                raise errors.KubeUnavailable(f"cannot read {kind} {namespace}/{name}: {problem}")
            raise errors.NotFound(f"{kind} {namespace}/{name} not found")
        return cached

    def json_patch(
        self, *, kind: str, namespace: str, name: str, ops: Sequence[Mapping[str, Any]]
    ) -> Obj:
        key = (kind, namespace, name)
        try:
            obj = self._writer.json_patch(kind=kind, namespace=namespace, name=name, ops=ops)
        except errors.PatchTestFailed:
            with self._lock:
                self._reread.add(key)
            raise
        with self._lock:
            self._written[key] = obj
        return obj


class CachedCluster:
    """A ``ClusterReadPort`` over the cache: ``snapshot`` returns what the watches hold.

    ``version`` changes whenever any cached object does (the shared routing table is
    rebuilt only then). An informer that cannot list (403, a missing read namespace) makes
    the snapshot an error naming it, as a failed LIST did before.
    """

    def __init__(self, cache: ClusterCachePort) -> None:
        self._cache = cache

    @property
    def version(self) -> int:
        return self._cache.version

    def snapshot(self, *, namespaces: Sequence[str] | None = None) -> list[Obj]:
        problems = self._cache.errors()
        if problems:
            raise errors.AdapterError("; ".join(problems))
        if not ready(self._cache):
            raise errors.KubeUnavailable("the watch caches have not finished their first list")
        return self._cache.docs()


class SharedTraefikApi:
    """A ``TraefikApi`` whose one read of ``/api/http/services`` serves every rule asked
    about within ``max_age`` seconds (single flight: concurrent askers wait for one read).
    """

    def __init__(
        self,
        fetch: Callable[[], list[Mapping[str, Any]]],
        *,
        max_age: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._fetch = fetch
        self.max_age = max_age
        self._clock = clock
        self._lock = threading.Lock()
        self._at: float | None = None
        self._items: list[Mapping[str, Any]] = []
        self._error: TraefikUnavailable | None = None
        self._by_route: dict[str, list[Mapping[str, Any]]] = {}  # search prefix -> items
        self.reads = 0  # for tests and metrics

    def _services(self, search: str) -> list[Mapping[str, Any]]:
        with self._lock:
            now = self._clock()
            if self._at is None or now - self._at >= self.max_age:
                self.reads += 1
                try:
                    self._items, self._error = self._fetch(), None
                except TraefikUnavailable as exc:
                    self._items, self._error = [], exc
                self._by_route = {}
                self._at = self._clock()
            if self._error is not None:
                raise self._error
            if search not in self._by_route:
                self._by_route[search] = [
                    s for s in self._items if search in str(s.get("name", ""))
                ]
            return self._by_route[search]

    def served_rule(
        self, *, namespace: str, route: str, rule: int, kind: str = "httproute"
    ) -> ServedRule:
        search = f"{kind}-{normalize(namespace)}-{normalize(route)}-gw-"
        return parse_served_rule(
            self._services(search), namespace=namespace, route=route, rule=rule, kind=kind
        )
