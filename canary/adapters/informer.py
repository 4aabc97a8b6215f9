"""Watch-backed caches: list once, then watch — a small informer over the official client.

Why not kopf's indexes: kopf watches only the resources that have handlers, and it stores
and calls back per object through its asyncio machinery. The operator needs plain dict
stores for eight kinds, read from worker threads, plus one change callback. So this is a
reflector in the manner of client-go's ``tools/cache/reflector.go``:

* LIST (paged, ``limit``/``continue``), replace the store, remember the list's
  ``metadata.resourceVersion``; then WATCH from it with ``allowWatchBookmarks=true`` and
  ``timeoutSeconds``. A watch that ends normally is resumed from the last resourceVersion
  seen (no relist); a BOOKMARK only advances that resourceVersion.
* 410 Gone (as the watch's HTTP status or as an ``ERROR`` event with code 410) means the
  resourceVersion is too old: relist, replace the store and report the differences as
  ADDED / MODIFIED / DELETED.
* Any other failure backs off (``retry_delay`` doubling up to ``max_retry_delay``) and
  retries the same step. 404 on a list means the kind is not installed: synced and empty
  (rechecked every ``max_retry_delay``). 403 sets ``error`` and keeps retrying.
* A watch that ends within a second with no event is treated as a failure (backoff), as
  client-go does ("very short watch"), so a misbehaving server cannot make it spin.

Requests go through ``ApiClient.param_serialize`` / ``call_api`` (the client's auth, TLS,
token refresh and the hooks installed on ``call_api``: default timeouts, rate limits) and
the JSON is parsed here: objects stay camelCase dicts, never client models.
"""

from __future__ import annotations

import contextlib
import json
import logging
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import urllib3.exceptions
from kubernetes import client
from kubernetes.client.exceptions import ApiException

from canary.adapters.kube import GATEWAY_API_KINDS
from canary.adapters.ports import Obj

log = logging.getLogger(__name__)

# Kinds whose managedFields the operator reads (who reverted a weight:
# canary/core/routes/fieldmanagers.py); every other kind is stored without them.
KEEP_MANAGED_FIELDS = frozenset({"HTTPRoute", "GRPCRoute"})
LIST_PAGE_SIZE = 500
CONNECT_TIMEOUT = 5.0
WATCH_READ_MARGIN = 5.0  # read timeout of a watch = timeoutSeconds + this
SHORT_WATCH = 1.0  # seconds: a watch shorter than this with no event is a failure
STOP_WAIT = 1.0  # seconds stop() waits for the thread
POOL_HEADROOM = 10  # connections beyond the watches, for the operator's other requests


@dataclass(frozen=True)
class Kind:
    group: str  # "" for the core group
    version: str
    plural: str
    kind: str
    namespaced: bool

    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    def path(self, namespace: str | None) -> str:
        """``/api/v1/services``, ``/apis/g/v/namespaces/ns/plural``, …"""
        base = f"/apis/{self.group}/{self.version}" if self.group else f"/api/{self.version}"
        if namespace is None:
            return f"{base}/{self.plural}"
        if not self.namespaced:
            raise ValueError(f"{self.kind} is cluster-scoped: no namespace {namespace!r}")
        return f"{base}/namespaces/{namespace}/{self.plural}"


NAMESPACE = Kind("", "v1", "namespaces", "Namespace", False)
SERVICE = Kind("", "v1", "services", "Service", True)
ENDPOINT_SLICE = Kind("discovery.k8s.io", "v1", "endpointslices", "EndpointSlice", True)

# What the route evaluator and readiness read (KubeClusterReader.snapshot's kinds).
EVALUATOR_KINDS: tuple[Kind, ...] = (
    *(Kind(*spec) for spec in GATEWAY_API_KINDS),
    NAMESPACE,
    SERVICE,
    ENDPOINT_SLICE,
)


@dataclass(frozen=True)
class Change:
    type: str  # "ADDED" | "MODIFIED" | "DELETED"
    kind: str  # e.g. "HTTPRoute"
    obj: Obj  # the new object (for DELETED: the last known one)


class ApiError(Exception):
    """A non-2xx answer (or an ERROR watch event): ``status`` and the server's message."""

    def __init__(self, what: str, status: int, reason: str, message: str) -> None:
        detail = f"{status} {reason}".strip()
        super().__init__(f"{what}: {detail}: {message}" if message else f"{what}: {detail}")
        self.status = status


class _Stopped(Exception):
    pass


def _key(obj: Obj) -> tuple[str, str]:
    meta = obj.get("metadata") or {}
    return (str(meta.get("namespace") or ""), str(meta.get("name") or ""))


def _rv(obj: Obj) -> str:
    return str((obj.get("metadata") or {}).get("resourceVersion") or "")


def _error_from_body(what: str, status: int, reason: str, body: bytes) -> ApiError:
    message = ""
    try:
        parsed = json.loads(body or b"{}")
        if isinstance(parsed, dict):
            message = str(parsed.get("message") or "")
            reason = reason or str(parsed.get("reason") or "")
    except ValueError:
        message = body[:200].decode("utf-8", errors="replace").strip()
    return ApiError(what, status, reason, message)


def _lines(resp: Any) -> Iterator[bytes]:
    """The non-empty lines of a streamed (chunked) response, as they arrive."""
    buffer = bytearray()
    for chunk in resp.stream(amt=None, decode_content=True):
        buffer.extend(chunk)
        while (cut := buffer.find(b"\n")) != -1:
            line = bytes(buffer[:cut]).strip()
            del buffer[: cut + 1]
            if line:
                yield line
    if buffer.strip():
        yield bytes(buffer).strip()


class Informer:
    """One kind in one scope (a namespace, or all): list once, then watch."""

    def __init__(
        self,
        api: client.ApiClient,
        kind: Kind,
        *,
        namespace: str | None,
        on_change: Callable[[Change], None] | None = None,
        watch_timeout: int = 300,
        request_timeout: float = 30.0,
        retry_delay: float = 1.0,
        max_retry_delay: float = 30.0,
    ) -> None:
        if namespace is not None and not kind.namespaced:
            raise ValueError(f"{kind.kind} is cluster-scoped: it has no namespace {namespace!r}")
        self._api: Any = api
        self.kind = kind
        self.namespace = namespace
        self._on_change = on_change
        self._watch_timeout = max(1, int(watch_timeout))
        self._request_timeout = request_timeout
        self._retry_delay = retry_delay
        self._max_retry_delay = max(retry_delay, max_retry_delay)
        self._path = kind.path(namespace)
        self._strip = kind.kind not in KEEP_MANAGED_FIELDS
        self._lock = threading.Lock()
        self._store: dict[tuple[str, str], Obj] = {}
        self._rv: str | None = None
        self._error: str | None = None
        self._synced = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._active: Any = None  # the response being read, shut down by stop()

    # ------------------------------------------------------------------ public

    def __repr__(self) -> str:
        return f"Informer({self.kind.kind} in {self.scope})"

    @property
    def scope(self) -> str:
        if not self.kind.namespaced:
            return "the cluster"
        return self.namespace if self.namespace is not None else "all namespaces"

    def start(self) -> None:
        if self._thread is not None:
            return
        self._thread = threading.Thread(
            target=self._run, name=f"informer-{self.kind.plural}-{self.namespace or 'all'}"
        )
        self._thread.daemon = True
        self._thread.start()

    def stop(self) -> None:
        self.signal_stop()
        self.join(STOP_WAIT)

    def signal_stop(self) -> None:
        """Ask the thread to end and cut the watch it is reading; does not wait."""
        self._stop.set()
        active = self._active
        if active is not None:
            for method in ("shutdown", "close"):
                try:
                    getattr(active, method)()
                    break
                except Exception:
                    continue

    def join(self, timeout: float) -> None:
        if self._thread is not None:
            self._thread.join(max(0.0, timeout))

    @property
    def synced(self) -> bool:
        return self._synced.is_set()

    def wait_synced(self, timeout: float) -> bool:
        return self._synced.wait(timeout)

    def items(self) -> list[Obj]:
        with self._lock:
            return list(self._store.values())

    def get(self, namespace: str, name: str) -> Obj | None:
        with self._lock:
            return self._store.get((namespace, name))

    @property
    def resource_version(self) -> str | None:
        with self._lock:
            return self._rv

    @property
    def error(self) -> str | None:
        with self._lock:
            return self._error

    # ------------------------------------------------------------------ loop

    def _what(self, verb: str) -> str:
        scope = "" if not self.kind.namespaced else f" in {self.scope}"
        return f"{verb} {self.kind.plural}{scope}"

    def _run(self) -> None:
        with contextlib.suppress(_Stopped):
            self._loop()

    def _loop(self) -> None:
        delay = self._retry_delay
        listed = False
        while not self._stop.is_set():
            try:
                if not listed:
                    self._list()
                    listed = True
                    delay = self._retry_delay
                events, seconds = self._watch()
                delay = self._retry_delay
                if events == 0 and seconds < SHORT_WATCH:
                    log.info(
                        "%s: very short watch (no event in %.2f s), backing off", self, seconds
                    )
                    self._wait(delay)
                    delay = min(delay * 2, self._max_retry_delay)
            except _Stopped:
                raise
            except ApiError as exc:
                if exc.status == 410:
                    log.info("%s: %s; relisting", self, exc)
                    listed = False
                    continue
                if exc.status == 404 and listed:
                    listed = False  # the kind went away while watched: the list says so
                    continue
                if exc.status == 404:
                    # The kind is not installed: synced and empty; look again later.
                    self._replace([], rv=None)
                    self._set_error(None)
                    self._synced.set()
                    self._wait(self._max_retry_delay)
                    continue
                self._failed(str(exc), delay)
                delay = min(delay * 2, self._max_retry_delay)
            except (urllib3.exceptions.HTTPError, OSError, ValueError, ApiException) as exc:
                if self._stop.is_set():
                    return
                verb = "watch" if listed else "list"
                detail = (
                    f"{exc.status} {exc.reason}"
                    if isinstance(exc, ApiException)
                    else f"{type(exc).__name__}: {exc}"
                )
                self._failed(f"{self._what(verb)}: {detail}", delay)
                delay = min(delay * 2, self._max_retry_delay)
            except Exception:
                log.exception("%s: unexpected failure", self)
                self._failed(f"{self._what('watch')}: unexpected failure (see log)", delay)
                delay = min(delay * 2, self._max_retry_delay)

    def _failed(self, message: str, delay: float) -> None:
        log.warning("%s; retrying in %.1f s", message, delay)
        self._set_error(message)
        self._wait(delay)

    def _wait(self, seconds: float) -> None:
        if self._stop.wait(seconds):
            raise _Stopped

    def _set_error(self, message: str | None) -> None:
        with self._lock:
            self._error = message

    def _request(self, query: list[tuple[str, str]], *, read_timeout: float) -> Any:
        """GET ``self._path`` with ``query``; the urllib3 response, unread."""
        method, url, headers, body, post = self._api.param_serialize(
            "GET",
            self._path,
            query_params=query,
            header_params={"Accept": "application/json"},
            auth_settings=["BearerToken"],
        )
        resp = self._api.call_api(
            method, url, headers, body, post, _request_timeout=(CONNECT_TIMEOUT, read_timeout)
        )
        return resp

    def _prepare(self, obj: Obj) -> Obj:
        obj.setdefault("apiVersion", self.kind.api_version())
        obj.setdefault("kind", self.kind.kind)
        if self._strip:
            meta = obj.get("metadata")
            if isinstance(meta, dict):
                meta.pop("managedFields", None)
        return obj

    # ------------------------------------------------------------------ list

    def _list(self) -> None:
        what = self._what("list")
        items: list[Obj] = []
        rv: str | None = None
        token = ""
        while True:
            if self._stop.is_set():
                raise _Stopped
            query = [("limit", str(LIST_PAGE_SIZE))]
            if token:
                query.append(("continue", token))
            resp = self._request(query, read_timeout=self._request_timeout)
            data = resp.read()
            if not 200 <= resp.status <= 299:
                exc = _error_from_body(what, resp.status, resp.reason or "", data)
                if exc.status == 410 and token:
                    token, items = "", []  # the continue token expired: list again
                    continue
                raise exc
            page = json.loads(data)
            meta = page.get("metadata") or {}
            rv = str(meta.get("resourceVersion") or "") or rv
            items += [self._prepare(o) for o in page.get("items") or [] if isinstance(o, dict)]
            token = str(meta.get("continue") or "")
            if not token:
                break
        self._replace(items, rv=rv)
        self._set_error(None)
        self._synced.set()

    def _replace(self, items: Sequence[Obj], *, rv: str | None) -> None:
        fresh = {_key(o): o for o in items}
        changes: list[Change] = []
        with self._lock:
            for key, obj in fresh.items():
                old = self._store.get(key)
                if old is None:
                    changes.append(Change("ADDED", self.kind.kind, obj))
                elif _rv(old) != _rv(obj):
                    changes.append(Change("MODIFIED", self.kind.kind, obj))
            changes += [
                Change("DELETED", self.kind.kind, old)
                for key, old in self._store.items()
                if key not in fresh
            ]
            self._store = fresh
            self._rv = rv
        self._emit(changes)

    # ------------------------------------------------------------------ watch

    def _watch(self) -> tuple[int, float]:
        """One watch request; (events handled, seconds) when it ends normally."""
        what = self._what("watch")
        query = [
            ("watch", "true"),
            ("allowWatchBookmarks", "true"),
            ("timeoutSeconds", str(self._watch_timeout)),
        ]
        rv = self.resource_version
        if rv:
            query.insert(1, ("resourceVersion", rv))
        started = time.monotonic()
        resp = self._request(query, read_timeout=self._watch_timeout + WATCH_READ_MARGIN)
        if not 200 <= resp.status <= 299:
            raise _error_from_body(what, resp.status, resp.reason or "", resp.read())
        self._set_error(None)
        raw = resp.response
        self._active = raw
        events = 0
        try:
            if self._stop.is_set():
                raise _Stopped
            for line in _lines(raw):
                self._handle(what, json.loads(line))
                events += 1
                if self._stop.is_set():
                    raise _Stopped
        except BaseException:
            raw.close()  # cut or broken: never back into the pool
            raise
        finally:
            self._active = None
        raw.release_conn()
        return events, time.monotonic() - started

    def _handle(self, what: str, event: Obj) -> None:
        type_ = str(event.get("type") or "")
        obj = event.get("object")
        if not isinstance(obj, dict):
            raise ValueError(f"{what}: event {type_!r} without an object")
        if type_ == "ERROR":
            raise ApiError(
                what,
                int(obj.get("code") or 0),
                str(obj.get("reason") or ""),
                str(obj.get("message") or ""),
            )
        rv = _rv(obj)
        if type_ == "BOOKMARK":
            with self._lock:
                self._rv = rv or self._rv
            return
        if type_ not in ("ADDED", "MODIFIED", "DELETED"):
            log.warning("%s: unknown event type %r ignored", what, type_)
            return
        obj = self._prepare(obj)
        key = _key(obj)
        with self._lock:
            if type_ == "DELETED":
                self._store.pop(key, None)
            else:
                self._store[key] = obj
            self._rv = rv or self._rv
        self._emit([Change(type_, self.kind.kind, obj)])

    def _emit(self, changes: Sequence[Change]) -> None:
        if self._on_change is None:
            return
        for change in changes:
            try:
                self._on_change(change)
            except Exception:
                log.exception("%s: on_change failed for %s", self, change.type)


class ClusterCache:
    """Every kind the evaluator and readiness need, scoped.

    ``namespaces`` None: one cluster-wide informer per kind; else one informer per
    (namespaced kind, namespace) and the cluster-scoped kinds cluster-wide.
    """

    def __init__(
        self,
        api: client.ApiClient,
        *,
        namespaces: Sequence[str] | None,
        kinds: Sequence[Kind] = EVALUATOR_KINDS,
        on_change: Callable[[Change], None] | None = None,
        **informer_kw: Any,
    ) -> None:
        self._on_change = on_change
        self._lock = threading.Lock()
        self._version = 0
        self._kinds = {k.kind: k for k in kinds}
        self.informers: list[Informer] = []
        self._by_scope: dict[tuple[str, str | None], Informer] = {}
        scopes = None if namespaces is None else list(dict.fromkeys(namespaces))
        for kind in kinds:
            targets: list[str | None] = (
                [None] if scopes is None or not kind.namespaced else list(scopes)
            )
            for ns in targets:
                informer = Informer(api, kind, namespace=ns, on_change=self._changed, **informer_kw)
                self.informers.append(informer)
                self._by_scope[(kind.kind, ns)] = informer
        pool = getattr(getattr(api, "configuration", None), "connection_pool_maxsize", None)
        if isinstance(pool, int) and pool < len(self.informers) + POOL_HEADROOM:
            # Each open watch holds a connection; a smaller pool discards and reconnects
            # (urllib3 "Connection pool is full") every time a watch ends.
            log.warning(
                "%d informers share an ApiClient whose connection pool holds %d: set "
                "Configuration.connection_pool_maxsize to at least %d before building it",
                len(self.informers),
                pool,
                len(self.informers) + POOL_HEADROOM,
            )

    def _changed(self, change: Change) -> None:
        with self._lock:
            self._version += 1
        if self._on_change is not None:
            self._on_change(change)

    def start(self) -> None:
        for informer in self.informers:
            informer.start()

    def stop(self) -> None:
        for informer in self.informers:
            informer.signal_stop()
        deadline = time.monotonic() + STOP_WAIT
        for informer in self.informers:
            informer.join(deadline - time.monotonic())

    def wait_synced(self, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        return all(i.wait_synced(max(0.0, deadline - time.monotonic())) for i in self.informers)

    @property
    def synced(self) -> bool:
        return all(i.synced for i in self.informers)

    @property
    def version(self) -> int:
        with self._lock:
            return self._version

    def docs(self) -> list[Obj]:
        out: list[Obj] = []
        for informer in self.informers:
            out += informer.items()
        return out

    def get(self, kind: str, namespace: str, name: str) -> Obj | None:
        """``namespace`` "" for cluster-scoped kinds; None when not cached (or out of scope)."""
        spec = self._kinds.get(kind)
        if spec is None:
            raise ValueError(f"kind {kind!r} is not cached (cached: {', '.join(self._kinds)})")
        informer = self._by_scope.get((kind, None))
        if informer is None and spec.namespaced:
            informer = self._by_scope.get((kind, namespace))
        return None if informer is None else informer.get(namespace, name)

    def errors(self) -> list[str]:
        return [e for i in self.informers if (e := i.error) is not None]
