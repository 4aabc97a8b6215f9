"""The CLI's ports on the official ``kubernetes`` client, importing only what they use.

``canary get``, ``status`` and the command verbs read, watch and annotate Rollouts and
list Events. The operator's adapters (``canary.adapters.kube``) build ``CoreV1Api`` and
``DiscoveryV1Api`` for every port, and resolving those two classes imports some 275
pydantic model classes (≈ 1.5 s here; docs/performance.md). A CLI call needs none of
them: Rollouts go through ``CustomObjectsApi`` (its responses are plain JSON objects),
and the one core/v1 call the CLI makes — listing a Rollout's Events — goes through the
same ``ApiClient`` request path as a generated method, with the response left as JSON
(``"object"``) instead of being turned into ``CoreV1EventList`` models and back.

Configuration (:func:`canary.adapters.kube.load_api_client`) and error translation
(:func:`canary.adapters.kube.translate`) are the adapters' own, so both sides read a
kubeconfig and report a 404 or a 403 the same way.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

import urllib3.exceptions
from kubernetes import watch as _watch
from kubernetes.client.api.custom_objects_api import CustomObjectsApi
from kubernetes.client.exceptions import ApiException

from canary.adapters import errors
from canary.adapters.kube import FIELD_MANAGER, MERGE_PATCH, event_key, load_api_client, translate
from canary.adapters.ports import Obj
from canary.core.models import GROUP, PLURAL, VERSION

__all__ = ["CliEvents", "CliRollouts", "load_api_client"]

watch: Any = _watch  # untyped module


@contextmanager
def _translated(what: str) -> Iterator[None]:
    try:
        yield
    except ApiException as exc:
        raise translate(exc, what=what) from exc
    except (urllib3.exceptions.HTTPError, OSError) as exc:
        raise errors.KubeUnavailable(f"{what}: {exc}") from exc


def _items(body: Any, *, api_version: str, kind: str) -> list[Obj]:
    items: list[Obj] = list((body or {}).get("items") or [])
    for item in items:
        item.setdefault("apiVersion", api_version)
        item.setdefault("kind", kind)
    return items


class CliRollouts:
    """``rollouts.canary.dev``: get, list, watch and annotate (``RolloutsPort``'s CLI part)."""

    def __init__(self, api_client: Any) -> None:
        self._custom: Any = CustomObjectsApi(api_client)

    @staticmethod
    def _what(namespace: str | None, name: str | None = None) -> str:
        return f"rollout {namespace or '*'}/{name or '*'}"

    def get(self, *, namespace: str, name: str) -> Obj:
        with _translated(f"get {self._what(namespace, name)}"):
            return dict(
                self._custom.get_namespaced_custom_object(GROUP, VERSION, namespace, PLURAL, name)
            )

    def list(self, *, namespace: str | None) -> list[Obj]:
        with _translated(f"list {self._what(namespace)}"):
            if namespace is None:
                res = self._custom.list_cluster_custom_object(GROUP, VERSION, PLURAL)
            else:
                res = self._custom.list_namespaced_custom_object(GROUP, VERSION, namespace, PLURAL)
        return _items(res, api_version=f"{GROUP}/{VERSION}", kind="Rollout")

    def watch(
        self, *, namespace: str | None, name: str | None = None, timeout: float | None = None
    ) -> Iterator[tuple[str, Obj]]:
        """("ADDED"|"MODIFIED"|"DELETED", obj) until ``timeout`` s; ERROR raises KubeError."""
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
                    args: tuple[Any, ...] = (self._custom.list_cluster_custom_object, GROUP)
                    args += (VERSION, PLURAL)
                else:
                    args = (self._custom.list_namespaced_custom_object, GROUP, VERSION)
                    args += (namespace, PLURAL)
                for event in w.stream(*args, **kwargs):
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

    def annotate(self, *, namespace: str, name: str, annotations: Mapping[str, str | None]) -> Obj:
        with _translated(f"annotate {self._what(namespace, name)}"):
            return dict(
                self._custom.patch_namespaced_custom_object(
                    GROUP,
                    VERSION,
                    namespace,
                    PLURAL,
                    name,
                    {"metadata": {"annotations": dict(annotations)}},
                    field_manager=FIELD_MANAGER,
                    _content_type=MERGE_PATCH,
                )
            )

    def patch_status(self, *, namespace: str, name: str, patch: Mapping[str, Any]) -> Obj:
        raise NotImplementedError("the CLI never writes a Rollout's status")


class CliEvents:
    """core/v1 Events about one object, read-only (``EventsPort``'s CLI part)."""

    def __init__(self, api_client: Any) -> None:
        self._api: Any = api_client

    def list_for(self, *, obj: Mapping[str, Any], limit: int = 20) -> list[Obj]:
        """The most recent ``limit`` Events about ``obj``, oldest first."""
        kind, namespace, name, uid = event_key(obj)
        selector = (
            f"involvedObject.uid={uid}"
            if uid
            else f"involvedObject.kind={kind},involvedObject.name={name}"
        )
        with _translated(f"list events of {kind} {namespace}/{name}"):
            request = self._api.param_serialize(
                method="GET",
                resource_path="/api/v1/namespaces/{namespace}/events",
                path_params={"namespace": namespace or "default"},
                query_params=[("fieldSelector", selector)],
                header_params={"Accept": "application/json"},
                auth_settings=["BearerToken"],
            )
            response = self._api.call_api(*request)
            response.read()
            body = self._api.response_deserialize(response, {"200": "object"}).data
        items = _items(body, api_version="v1", kind="Event")
        items.sort(key=_event_time)
        return items[-limit:] if limit > 0 else []

    def emit(self, *, obj: Mapping[str, Any], type_: str, reason: str, message: str) -> None:
        raise NotImplementedError("the CLI emits no Events")


def _event_time(event: Mapping[str, Any]) -> str:
    meta = event.get("metadata") or {}
    return str(
        event.get("lastTimestamp") or event.get("eventTime") or meta.get("creationTimestamp") or ""
    )
