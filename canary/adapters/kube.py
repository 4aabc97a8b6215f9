"""The Kubernetes side of the ports, on the official ``kubernetes`` client.

Every call goes through :func:`_translated`, which turns the client's exceptions into
``canary.adapters.errors`` (the library error chained as ``__cause__``). Objects come
back as plain dicts in the API server's JSON shape (``ApiClient.sanitize_for_serialization``),
with ``apiVersion``/``kind`` set on every list item, so the core never sees client models.

Two client details this module relies on (kubernetes 37, checked in its source):

* ``patch_namespaced_custom_object`` defaults ``Content-Type`` to
  ``application/merge-patch+json`` whatever the body is; ``rest.py`` only *downgrades*
  ``json-patch+json`` to strategic merge when the body is not a list. A list of ops must
  therefore be sent with ``_content_type="application/json-patch+json"`` explicitly.
* A failed JSON Patch ``test`` op is answered 422 by the API server with a generic
  message (``handlers/patch.go`` wraps the json-patch error in
  ``NewGenericServerResponse(422, ...)``, which drops the library's text). A validation
  failure is also 422 but is built by ``NewInvalid`` with a message naming the object and
  ``details.causes`` naming the fields. :func:`is_patch_apply_failure` tells them apart.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import socket
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any
from urllib.parse import parse_qs, urlsplit

import urllib3.exceptions
from kubernetes import client
from kubernetes import config as _config
from kubernetes import watch as _watch
from kubernetes.client.exceptions import ApiException

from canary.adapters import errors
from canary.adapters.ports import Obj
from canary.core.models import GROUP, PLURAL, VERSION

FIELD_MANAGER = "canary"
COMPONENT = "canary"
GATEWAY_GROUP = "gateway.networking.k8s.io"

JSON_PATCH = "application/json-patch+json"
MERGE_PATCH = "application/merge-patch+json"

# The message NewGenericServerResponse gives every 422 (apimachinery api/errors/errors.go);
# patch.go uses it when a JSON Patch does not apply (failed `test`, missing path).
GENERIC_422_MESSAGE = "the server rejected our request due to an error in our request"
# The json-patch library's own texts (evanphx/json-patch v4/v5), in case a server or a
# proxy passes them through: "testing value %s failed", "... does not apply: ... path".
_PATCH_APPLY_HINTS = ("testing value", "test operation does not apply", "does not apply: doc is")

# The config loaders and Watch are untyped; keep them behind Any-typed names.
config: Any = _config
watch: Any = _watch

_ROUTE_PLURALS = {"HTTPRoute": "httproutes", "GRPCRoute": "grpcroutes"}

# Request timeouts (seconds), set once on every ApiClient built here: a call that names no
# ``_request_timeout`` of its own gets (connect, read) = (CONNECT_TIMEOUT, READ_TIMEOUT).
# A watch (``watch=true``) gets its own ``timeoutSeconds`` + WATCH_MARGIN as read timeout
# (no read bound when it asks for none). The Lease passes a shorter one (the renew deadline
# must not be outlived by a hung call; see canary.operator.leadership).
CONNECT_TIMEOUT = 5.0
READ_TIMEOUT = 30.0
WATCH_MARGIN = 10.0


# --------------------------------------------------------------------------- client


def load_api_client(
    *, kubeconfig: str | None = None, context: str | None = None
) -> client.ApiClient:
    """Build an ``ApiClient``, first match wins.

    1. ``kubeconfig`` (a file) — with ``context`` if given;
    2. ``CANARY_KUBE_SERVER`` + ``CANARY_KUBE_TOKEN_FILE`` (+ ``CANARY_KUBE_CA_FILE``):
       a ServiceAccount token outside a pod; the token file is re-read on every request
       so projected, rotating tokens keep working;
    3. in-cluster config (``KUBERNETES_SERVICE_HOST`` and the mounted ServiceAccount);
    4. ``$KUBECONFIG`` or ``~/.kube/config``.

    Every request made through it is bounded in time (see ``with_default_timeouts``).
    """
    return with_default_timeouts(_load_api_client(kubeconfig=kubeconfig, context=context))


def _load_api_client(*, kubeconfig: str | None, context: str | None) -> client.ApiClient:
    try:
        if kubeconfig:
            api: client.ApiClient = config.new_client_from_config(
                config_file=kubeconfig, context=context, persist_config=False
            )
            return api
        server = os.environ.get("CANARY_KUBE_SERVER")
        if server:
            return _token_client(
                server=server,
                token_file=os.environ.get("CANARY_KUBE_TOKEN_FILE"),
                ca_file=os.environ.get("CANARY_KUBE_CA_FILE"),
            )
        if os.environ.get("KUBERNETES_SERVICE_HOST") and not context:
            cfg = client.Configuration()
            config.load_incluster_config(client_configuration=cfg)
            return client.ApiClient(cfg)
        default: client.ApiClient = config.new_client_from_config(
            context=context, persist_config=False
        )
        return default
    except _config.ConfigException as exc:
        raise errors.KubeError(f"no usable Kubernetes configuration: {exc}") from exc


def default_timeout(url: str) -> tuple[float, float | None]:
    """(connect, read) seconds for a request to ``url`` that names no timeout itself."""
    query = {k.lower(): v for k, v in parse_qs(urlsplit(url).query).items()}
    if (query.get("watch") or [""])[0].lower() in ("true", "1"):
        seconds = query.get("timeoutseconds")
        try:
            read = float(seconds[0]) + WATCH_MARGIN if seconds else None
        except ValueError:
            read = None
        return (CONNECT_TIMEOUT, read)
    return (CONNECT_TIMEOUT, READ_TIMEOUT)


def with_default_timeouts(api: client.ApiClient) -> client.ApiClient:
    """Give every request of ``api`` a timeout unless the call passes ``_request_timeout``.

    The official client sends ``timeout=None`` (wait forever) to urllib3 when a call names
    none, so a pool-level default would never apply: ``call_api``, through which every
    generated API method goes, fills it in instead.
    """
    hooked: Any = api
    if getattr(hooked, "_canary_timeouts", False):
        return api
    original = hooked.call_api

    def call_api(
        method: str,
        url: str,
        header_params: Any = None,
        body: Any = None,
        post_params: Any = None,
        _request_timeout: Any = None,
    ) -> Any:
        if _request_timeout is None:
            _request_timeout = default_timeout(url)
        return original(
            method, url, header_params, body, post_params, _request_timeout=_request_timeout
        )

    hooked.call_api = call_api
    hooked._canary_timeouts = True
    return api


def _token_client(*, server: str, token_file: str | None, ca_file: str | None) -> client.ApiClient:
    if not token_file:
        raise errors.KubeError("CANARY_KUBE_SERVER is set but CANARY_KUBE_TOKEN_FILE is not")
    cfg = client.Configuration()
    cfg.host = server.rstrip("/")
    if ca_file:
        cfg.ssl_ca_cert = ca_file
    cfg.api_key_prefix["BearerToken"] = "Bearer"

    def refresh(c: client.Configuration) -> None:
        try:
            with open(token_file, encoding="utf-8") as fh:
                c.api_key["BearerToken"] = fh.read().strip()
        except OSError as exc:
            raise errors.Forbidden(f"cannot read token file {token_file}: {exc}") from exc

    refresh(cfg)
    hooked: Any = cfg
    hooked.refresh_api_key_hook = refresh
    return client.ApiClient(cfg)


# --------------------------------------------------------------------------- errors


def _status_body(exc: ApiException) -> dict[str, Any]:
    try:
        body = json.loads(exc.body or "")
    except (TypeError, ValueError):
        return {}
    return body if isinstance(body, dict) else {}


def is_patch_apply_failure(exc: ApiException) -> bool:
    """True when a 422 means "the JSON Patch did not apply to the live object".

    That is a failed ``test`` op (or a path that no longer exists): the object changed
    since it was read. A validation 422 (``NewInvalid``) names the object and lists
    ``details.causes``; the patch-apply 422 carries only the generic message.
    """
    if exc.status != 422:
        return False
    body = _status_body(exc)
    message = str(body.get("message", ""))
    if any(hint in message.lower() for hint in _PATCH_APPLY_HINTS):
        return True
    causes = (body.get("details") or {}).get("causes") or []
    return message.strip() == GENERIC_422_MESSAGE and not causes


def translate(exc: ApiException, *, what: str, json_patch: bool = False) -> errors.KubeError:
    """Map an ``ApiException`` to the adapter error tree (the caller chains the cause)."""
    status = exc.status
    body = _status_body(exc)
    detail = str(body.get("message") or exc.reason or "").strip()
    message = f"{what}: {detail}" if detail else what
    kind: type[errors.KubeError]
    if status == 404:
        kind = errors.NotFound
    elif status in (401, 403):
        kind = errors.Forbidden
    elif status == 409:
        kind = errors.Conflict
    elif status == 422:
        apply_failed = json_patch and is_patch_apply_failure(exc)
        kind = errors.PatchTestFailed if apply_failed else errors.InvalidObject
        if apply_failed:
            message = f"{what}: the live object no longer matches the patch's test ops ({detail})"
    elif status == 400:
        kind = errors.InvalidObject
    elif status == 429 or (status is not None and status >= 500) or status in (None, 0):
        kind = errors.KubeUnavailable
    else:
        kind = errors.KubeError
    return kind(message, status=status)


@contextmanager
def _translated(what: str, *, json_patch: bool = False) -> Iterator[None]:
    try:
        yield
    except ApiException as exc:
        raise translate(exc, what=what, json_patch=json_patch) from exc
    except (urllib3.exceptions.HTTPError, OSError) as exc:
        raise errors.KubeUnavailable(f"{what}: {exc}") from exc


# --------------------------------------------------------------------------- helpers


class _Base:
    def __init__(self, api_client: client.ApiClient) -> None:
        self._api: Any = api_client  # sanitize_for_serialization is untyped
        self._custom = client.CustomObjectsApi(api_client)
        self._core = client.CoreV1Api(api_client)
        self._discovery = client.DiscoveryV1Api(api_client)

    def _dict(self, value: Any) -> Any:
        return self._api.sanitize_for_serialization(value)

    def _items(self, result: Any, *, api_version: str, kind: str) -> list[Obj]:
        body = self._dict(result)
        items: list[Obj] = list(body.get("items") or [])
        for item in items:
            item.setdefault("apiVersion", api_version)
            item.setdefault("kind", kind)
        return items


# --------------------------------------------------------------------------- rollouts


class KubeRollouts(_Base):
    """``rollouts.canary.dev`` through ``CustomObjectsApi``."""

    def _what(self, namespace: str | None, name: str | None = None) -> str:
        return f"rollout {namespace or '*'}/{name or '*'}"

    def get(self, *, namespace: str, name: str) -> Obj:
        with _translated(f"get {self._what(namespace, name)}"):
            obj = self._custom.get_namespaced_custom_object(GROUP, VERSION, namespace, PLURAL, name)
        return dict(self._dict(obj))

    def list(self, *, namespace: str | None) -> list[Obj]:
        with _translated(f"list {self._what(namespace)}"):
            if namespace is None:
                res = self._custom.list_cluster_custom_object(GROUP, VERSION, PLURAL)
            else:
                res = self._custom.list_namespaced_custom_object(GROUP, VERSION, namespace, PLURAL)
        return self._items(res, api_version=f"{GROUP}/{VERSION}", kind="Rollout")

    def watch(
        self, *, namespace: str | None, name: str | None = None, timeout: float | None = None
    ) -> Iterator[tuple[str, Obj]]:
        """Stream ("ADDED"|"MODIFIED"|"DELETED", obj) until ``timeout`` seconds (server-side).

        An ``ERROR`` event (e.g. 410 Gone) is raised as a ``KubeError`` with its code:
        the caller re-lists and watches again.
        """
        kwargs: dict[str, Any] = {}
        if timeout is not None:
            kwargs["timeout_seconds"] = max(1, int(timeout))
        if name is not None:
            kwargs["field_selector"] = f"metadata.name={name}"
        w = watch.Watch()
        what = f"watch {self._what(namespace, name)}"
        try:
            with _translated(what):
                if namespace is None:
                    stream = w.stream(
                        self._custom.list_cluster_custom_object, GROUP, VERSION, PLURAL, **kwargs
                    )
                else:
                    stream = w.stream(
                        self._custom.list_namespaced_custom_object,
                        GROUP,
                        VERSION,
                        namespace,
                        PLURAL,
                        **kwargs,
                    )
                for event in stream:
                    type_ = str(event["type"])
                    obj = event.get("raw_object") or event.get("object") or {}
                    if type_ == "ERROR":
                        code = obj.get("code") if isinstance(obj, dict) else None
                        raise errors.KubeError(f"{what}: {obj.get('message', obj)}", status=code)
                    if type_ == "BOOKMARK":
                        continue
                    yield type_, dict(obj)
        finally:
            w.stop()

    def patch_status(self, *, namespace: str, name: str, patch: Mapping[str, Any]) -> Obj:
        """Merge-patch ``.status`` with ``patch`` — the diff only (``None`` deletes a key).

        ``patch`` is the content of ``.status``, e.g. ``{"phase": "Progressing"}``.
        JSON merge patch replaces lists whole (conditions: send the full list).
        """
        with _translated(f"patch status of {self._what(namespace, name)}"):
            obj = self._custom.patch_namespaced_custom_object_status(
                GROUP,
                VERSION,
                namespace,
                PLURAL,
                name,
                {"status": dict(patch)},
                field_manager=FIELD_MANAGER,
                _content_type=MERGE_PATCH,
            )
        return dict(self._dict(obj))

    def annotate(self, *, namespace: str, name: str, annotations: Mapping[str, str | None]) -> Obj:
        with _translated(f"annotate {self._what(namespace, name)}"):
            obj = self._custom.patch_namespaced_custom_object(
                GROUP,
                VERSION,
                namespace,
                PLURAL,
                name,
                {"metadata": {"annotations": dict(annotations)}},
                field_manager=FIELD_MANAGER,
                _content_type=MERGE_PATCH,
            )
        return dict(self._dict(obj))

    def set_finalizers(
        self, *, namespace: str, name: str, finalizers: Sequence[str], resource_version: str
    ) -> Obj:
        """Replace ``metadata.finalizers`` (a merge patch replaces the list whole), guarded by
        ``resource_version``: another writer in between gets ``Conflict`` (409), not lost."""
        body = {"metadata": {"finalizers": list(finalizers), "resourceVersion": resource_version}}
        with _translated(f"set finalizers of {self._what(namespace, name)}"):
            obj = self._custom.patch_namespaced_custom_object(
                GROUP,
                VERSION,
                namespace,
                PLURAL,
                name,
                body,
                field_manager=FIELD_MANAGER,
                _content_type=MERGE_PATCH,
            )
        return dict(self._dict(obj))


# --------------------------------------------------------------------------- routes


def _route_plural(kind: str) -> str:
    try:
        return _ROUTE_PLURALS[kind]
    except KeyError:
        raise errors.InvalidObject(f"not a route kind: {kind!r}") from None


class KubeRoutes(_Base):
    """HTTPRoute / GRPCRoute (``gateway.networking.k8s.io/v1``): read and JSON-patch."""

    def get(self, *, kind: str, namespace: str, name: str) -> Obj:
        plural = _route_plural(kind)
        with _translated(f"get {kind} {namespace}/{name}"):
            obj = self._custom.get_namespaced_custom_object(
                GATEWAY_GROUP, "v1", namespace, plural, name
            )
        return dict(self._dict(obj))

    def json_patch(
        self, *, kind: str, namespace: str, name: str, ops: Sequence[Mapping[str, Any]]
    ) -> Obj:
        """Apply RFC 6902 ``ops``; ``PatchTestFailed`` when a ``test`` op fails (422).

        The content type is forced to ``application/json-patch+json`` (see module doc).
        """
        plural = _route_plural(kind)
        body = [dict(op) for op in ops]
        with _translated(f"json-patch {kind} {namespace}/{name}", json_patch=True):
            obj = self._custom.patch_namespaced_custom_object(
                GATEWAY_GROUP,
                "v1",
                namespace,
                plural,
                name,
                body,
                field_manager=FIELD_MANAGER,
                _content_type=JSON_PATCH,
            )
        return dict(self._dict(obj))


# --------------------------------------------------------------------------- cluster read

# (group, version, plural, kind, namespaced)
GATEWAY_API_KINDS: tuple[tuple[str, str, str, str, bool], ...] = (
    (GATEWAY_GROUP, "v1", "gatewayclasses", "GatewayClass", False),
    (GATEWAY_GROUP, "v1", "gateways", "Gateway", True),
    (GATEWAY_GROUP, "v1", "httproutes", "HTTPRoute", True),
    (GATEWAY_GROUP, "v1", "grpcroutes", "GRPCRoute", True),
    (GATEWAY_GROUP, "v1beta1", "referencegrants", "ReferenceGrant", True),
)


class KubeClusterReader(_Base):
    """Everything the route evaluator needs, as one list of dicts.

    A Gateway API kind whose CRD is not installed (404 on list) is skipped, not an error.
    Cluster-scoped kinds (GatewayClass, Namespace) are always listed whole; namespaced
    kinds are limited to ``namespaces`` when given.
    """

    def snapshot(self, *, namespaces: Sequence[str] | None = None) -> list[Obj]:
        out: list[Obj] = []
        for group, version, plural, kind, namespaced in GATEWAY_API_KINDS:
            api_version = f"{group}/{version}"
            for ns in self._scopes(namespaced, namespaces):
                try:
                    with _translated(f"list {plural} in {ns or 'all namespaces'}"):
                        if ns is None:
                            res = self._custom.list_cluster_custom_object(group, version, plural)
                        else:
                            res = self._custom.list_namespaced_custom_object(
                                group, version, ns, plural
                            )
                except errors.NotFound:
                    break  # CRD not installed
                out += self._items(res, api_version=api_version, kind=kind)
        with _translated("list namespaces"):
            out += self._items(self._core.list_namespace(), api_version="v1", kind="Namespace")
        for ns in self._scopes(True, namespaces):
            with _translated(f"list services in {ns or 'all namespaces'}"):
                res = (
                    self._core.list_service_for_all_namespaces()
                    if ns is None
                    else self._core.list_namespaced_service(ns)
                )
            out += self._items(res, api_version="v1", kind="Service")
            with _translated(f"list endpointslices in {ns or 'all namespaces'}"):
                res = (
                    self._discovery.list_endpoint_slice_for_all_namespaces()
                    if ns is None
                    else self._discovery.list_namespaced_endpoint_slice(ns)
                )
            out += self._items(res, api_version="discovery.k8s.io/v1", kind="EndpointSlice")
        return out

    @staticmethod
    def _scopes(namespaced: bool, namespaces: Sequence[str] | None) -> list[str | None]:
        if not namespaced or namespaces is None:
            return [None]
        return list(dict.fromkeys(namespaces))


# --------------------------------------------------------------------------- events


def _rfc3339(t: dt.datetime) -> str:
    return t.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def event_key(obj: Mapping[str, Any]) -> tuple[str, str, str, str]:
    meta = obj.get("metadata") or {}
    return (
        str(obj.get("kind", "")),
        str(meta.get("namespace", "")),
        str(meta.get("name", "")),
        str(meta.get("uid", "")),
    )


def involved_object(obj: Mapping[str, Any]) -> dict[str, Any]:
    meta = obj.get("metadata") or {}
    ref = {
        "apiVersion": obj.get("apiVersion"),
        "kind": obj.get("kind"),
        "name": meta.get("name"),
        "namespace": meta.get("namespace"),
        "uid": meta.get("uid"),
        "resourceVersion": meta.get("resourceVersion"),
    }
    return {k: v for k, v in ref.items() if v}


class KubeEvents(_Base):
    """core/v1 Events, ``source.component`` and ``reportingComponent`` "canary".

    Repeats (same object, type, reason and message) emitted by this process bump
    ``count`` and ``lastTimestamp`` of the Event already written (a merge patch), as
    client-go's recorder does; if that Event is gone (TTL), a new one is created.
    """

    def __init__(
        self,
        api_client: client.ApiClient,
        *,
        instance: str | None = None,
        clock: Callable[[], dt.datetime] | None = None,
    ) -> None:
        super().__init__(api_client)
        self._instance = instance or socket.gethostname()
        self._clock = clock or (lambda: dt.datetime.now(dt.UTC))
        self._seen: dict[tuple[Any, ...], tuple[str, int]] = {}
        self._lock = threading.Lock()

    def emit(self, *, obj: Mapping[str, Any], type_: str, reason: str, message: str) -> None:
        namespace = (obj.get("metadata") or {}).get("namespace") or "default"
        now = _rfc3339(self._clock())
        key = (*event_key(obj), type_, reason, message)
        with self._lock:
            seen = self._seen.get(key)
        if seen is not None:
            name, count = seen
            try:
                with _translated(f"update event {namespace}/{name}"):
                    self._core.patch_namespaced_event(
                        name,
                        namespace,
                        {"count": count + 1, "lastTimestamp": now},
                        _content_type=MERGE_PATCH,
                    )
                with self._lock:
                    self._seen[key] = (name, count + 1)
                return
            except errors.NotFound:
                pass
        body = {
            "apiVersion": "v1",
            "kind": "Event",
            "metadata": {
                "generateName": f"{(obj.get('metadata') or {}).get('name', 'canary')}.",
                "namespace": namespace,
            },
            "involvedObject": involved_object(obj),
            "reason": reason,
            "message": message[:1024],
            "type": type_,
            "count": 1,
            "firstTimestamp": now,
            "lastTimestamp": now,
            "source": {"component": COMPONENT},
            "reportingComponent": COMPONENT,
            "reportingInstance": self._instance,
        }
        with _translated(f"create event in {namespace}"):
            created = self._core.create_namespaced_event(
                namespace, client.CoreV1Event.model_validate(body)
            )
        with self._lock:
            self._seen[key] = (str(created.metadata.name), 1)

    def list_for(self, *, obj: Mapping[str, Any], limit: int = 20) -> list[Obj]:
        """The most recent ``limit`` Events about ``obj``, oldest first."""
        kind, namespace, name, uid = event_key(obj)
        selector = (
            f"involvedObject.uid={uid}"
            if uid
            else (f"involvedObject.kind={kind},involvedObject.name={name}")
        )
        with _translated(f"list events of {kind} {namespace}/{name}"):
            res = self._core.list_namespaced_event(namespace or "default", field_selector=selector)
        items = self._items(res, api_version="v1", kind="Event")
        items.sort(key=_event_time)
        return items[-limit:] if limit > 0 else []


def _event_time(event: Mapping[str, Any]) -> str:
    meta = event.get("metadata") or {}
    return str(
        event.get("lastTimestamp") or event.get("eventTime") or meta.get("creationTimestamp") or ""
    )
