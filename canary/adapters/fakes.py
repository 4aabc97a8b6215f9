"""In-memory fakes of every port, for unit tests of the operator and the CLI.

They behave like the API server where our code depends on it: ``FakeRoutes`` applies
JSON Patch for real (a failed ``test`` or a vanished path raises ``PatchTestFailed``,
exactly what the API server's 422 maps to), bumps ``metadata.generation`` on spec
changes and ``resourceVersion`` on every change, and runs a validator (``InvalidObject``).
Hooks let a test play the concurrent writer between our read and our write.
"""

from __future__ import annotations

import copy
import itertools
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import Any

from canary.adapters import errors
from canary.adapters.ports import Obj
from canary.adapters.traefik import ServedRule
from canary.core.results import Sample
from canary.core.routes.patching import PatchConflict, PatchError, apply_patch

_rv = itertools.count(1)


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7386 JSON merge patch (``None`` deletes; lists and scalars replace)."""
    if not isinstance(patch, Mapping):
        return copy.deepcopy(patch)
    out = dict(target) if isinstance(target, Mapping) else {}
    for key, value in patch.items():
        if value is None:
            out.pop(key, None)
        else:
            out[key] = merge_patch(out.get(key), value)
    return out


def _key(obj: Mapping[str, Any]) -> tuple[str, str]:
    meta = obj.get("metadata") or {}
    return str(meta.get("namespace", "")), str(meta.get("name", ""))


def _stamp(obj: Obj, *, old: Obj | None) -> Obj:
    """Set resourceVersion always; generation 1 on create, +1 when spec changed."""
    meta = obj.setdefault("metadata", {})
    meta["resourceVersion"] = str(next(_rv))
    if old is None:
        meta.setdefault("generation", 1)
        meta.setdefault("uid", f"uid-{meta.get('namespace', '')}-{meta.get('name', '')}")
    else:
        generation = (old.get("metadata") or {}).get("generation", 1)
        meta["generation"] = generation + (1 if obj.get("spec") != old.get("spec") else 0)
    return obj


# --------------------------------------------------------------------------- rollouts


class FakeRollouts:
    """Rollouts in a dict; every change is recorded as a watch event."""

    def __init__(self, objects: Iterable[Obj] = ()) -> None:
        self.objects: dict[tuple[str, str], Obj] = {}
        self.status_patches: list[tuple[str, str, dict[str, Any]]] = []
        self._events: list[tuple[str, Obj]] = []
        self._cond = threading.Condition()
        for obj in objects:
            self.put(obj)

    # test helpers
    def put(self, obj: Mapping[str, Any]) -> Obj:
        new = copy.deepcopy(dict(obj))
        new.setdefault("apiVersion", "canary.dev/v1alpha1")
        new.setdefault("kind", "Rollout")
        key = _key(new)
        old = self.objects.get(key)
        self._store(key, _stamp(new, old=old), "ADDED" if old is None else "MODIFIED")
        return copy.deepcopy(new)

    def delete(self, *, namespace: str, name: str) -> None:
        obj = self.objects.pop((namespace, name))
        self._record("DELETED", obj)

    # the port
    def get(self, *, namespace: str, name: str) -> Obj:
        try:
            return copy.deepcopy(self.objects[(namespace, name)])
        except KeyError:
            raise errors.NotFound(f"rollout {namespace}/{name} not found", status=404) from None

    def list(self, *, namespace: str | None) -> list[Obj]:
        items = sorted(self.objects.items())
        return [copy.deepcopy(o) for (ns, _), o in items if namespace in (None, ns)]

    def watch(
        self, *, namespace: str | None, name: str | None = None, timeout: float | None = None
    ) -> Iterator[tuple[str, Obj]]:
        """ADDED for every matching object now stored, then changes as they happen.

        Returns when caught up if ``timeout`` is None, else after ``timeout`` seconds.
        """

        def matches(obj: Obj) -> bool:
            ns, nm = _key(obj)
            return namespace in (None, ns) and name in (None, nm)

        with self._cond:
            start = len(self._events)
            current = [copy.deepcopy(o) for o in self.objects.values() if matches(o)]
        for obj in current:
            yield "ADDED", obj
        deadline = None if timeout is None else time.monotonic() + timeout
        index = start
        while True:
            with self._cond:
                while index >= len(self._events):
                    remaining = None if deadline is None else deadline - time.monotonic()
                    if remaining is None or remaining <= 0:
                        return
                    self._cond.wait(remaining)
                type_, obj = self._events[index]
            index += 1
            if matches(obj):
                yield type_, copy.deepcopy(obj)

    def patch_status(self, *, namespace: str, name: str, patch: Mapping[str, Any]) -> Obj:
        old = self.get(namespace=namespace, name=name)
        self.status_patches.append((namespace, name, copy.deepcopy(dict(patch))))
        new = copy.deepcopy(old)
        new["status"] = merge_patch(old.get("status") or {}, dict(patch))
        self._store((namespace, name), _stamp(new, old=old), "MODIFIED")
        return copy.deepcopy(new)

    def annotate(self, *, namespace: str, name: str, annotations: Mapping[str, str | None]) -> Obj:
        old = self.get(namespace=namespace, name=name)
        new = merge_patch(old, {"metadata": {"annotations": dict(annotations)}})
        self._store((namespace, name), _stamp(new, old=old), "MODIFIED")
        return copy.deepcopy(new)

    def set_finalizers(
        self, *, namespace: str, name: str, finalizers: Sequence[str], resource_version: str
    ) -> Obj:
        old = self.get(namespace=namespace, name=name)
        if old["metadata"].get("resourceVersion") != resource_version:
            raise errors.Conflict(f"rollout {namespace}/{name} changed", status=409)
        new = copy.deepcopy(old)
        new["metadata"]["finalizers"] = list(finalizers)
        if not finalizers and new["metadata"].get("deletionTimestamp"):
            self.delete(namespace=namespace, name=name)  # the last finalizer gone: deleted
            return new
        self._store((namespace, name), _stamp(new, old=old), "MODIFIED")
        return copy.deepcopy(new)

    def _store(self, key: tuple[str, str], obj: Obj, type_: str) -> None:
        self.objects[key] = obj
        self._record(type_, obj)

    def _record(self, type_: str, obj: Obj) -> None:
        with self._cond:
            self._events.append((type_, copy.deepcopy(obj)))
            self._cond.notify_all()


# --------------------------------------------------------------------------- routes


def default_route_validator(route: Mapping[str, Any]) -> str | None:
    """What the Gateway API CRD schema says about weights: integers 0..1,000,000."""
    for i, rule in enumerate((route.get("spec") or {}).get("rules") or []):
        for j, ref in enumerate(rule.get("backendRefs") or []):
            weight = ref.get("weight", 1)
            if (
                isinstance(weight, bool)
                or not isinstance(weight, int)
                or not (0 <= weight <= 1_000_000)
            ):
                return f"spec.rules[{i}].backendRefs[{j}].weight: Invalid value: {weight!r}"
    return None


class FakeRoutes:
    """HTTPRoutes / GRPCRoutes keyed by (kind, namespace, name).

    ``before_patch`` runs inside ``json_patch`` before the ops are applied — the moment
    a concurrent writer would slip in. ``patches`` records every call, refused or not.
    """

    def __init__(
        self,
        objects: Iterable[Obj] = (),
        *,
        validator: Callable[[Mapping[str, Any]], str | None] = default_route_validator,
    ) -> None:
        self.objects: dict[tuple[str, str, str], Obj] = {}
        self.patches: list[tuple[str, str, str, list[dict[str, Any]]]] = []
        self.before_patch: Callable[[FakeRoutes, str, str, str], None] | None = None
        self.validator = validator
        self.gets = 0
        for obj in objects:
            self.put(obj)

    def put(self, obj: Mapping[str, Any]) -> Obj:
        new = copy.deepcopy(dict(obj))
        new.setdefault("apiVersion", "gateway.networking.k8s.io/v1")
        key = (str(new.get("kind", "HTTPRoute")), *_key(new))
        new["kind"] = key[0]
        self.objects[key] = _stamp(new, old=self.objects.get(key))
        return copy.deepcopy(new)

    def edit(self, *, kind: str, namespace: str, name: str, fn: Callable[[Obj], None]) -> Obj:
        """A foreign writer: ``fn`` mutates a copy in place; generation bumps on spec change."""
        old = self._live(kind, namespace, name)
        new = copy.deepcopy(old)
        fn(new)
        self.objects[(kind, namespace, name)] = _stamp(new, old=old)
        return copy.deepcopy(new)

    def get(self, *, kind: str, namespace: str, name: str) -> Obj:
        self.gets += 1
        return copy.deepcopy(self._live(kind, namespace, name))

    def json_patch(
        self, *, kind: str, namespace: str, name: str, ops: Sequence[Mapping[str, Any]]
    ) -> Obj:
        self.patches.append((kind, namespace, name, [dict(op) for op in ops]))
        if self.before_patch is not None:
            self.before_patch(self, kind, namespace, name)
        old = self._live(kind, namespace, name)
        what = f"json-patch {kind} {namespace}/{name}"
        try:
            new = apply_patch(old, ops)
        except (PatchConflict, PatchError) as exc:  # the API server answers both with 422
            raise errors.PatchTestFailed(f"{what}: {exc}", status=422) from exc
        problem = self.validator(new)
        if problem:
            raise errors.InvalidObject(f"{what}: {problem}", status=422)
        self.objects[(kind, namespace, name)] = _stamp(new, old=old)
        return copy.deepcopy(new)

    def _live(self, kind: str, namespace: str, name: str) -> Obj:
        try:
            return self.objects[(kind, namespace, name)]
        except KeyError:
            raise errors.NotFound(f"{kind} {namespace}/{name} not found", status=404) from None


# --------------------------------------------------------------------------- cluster read

CLUSTER_SCOPED = frozenset({"GatewayClass", "Namespace"})


class FakeClusterReader:
    """A fixed list of objects; namespaced ones are filtered by ``namespaces``."""

    def __init__(self, objects: Iterable[Obj] = ()) -> None:
        self.objects: list[Obj] = [copy.deepcopy(o) for o in objects]

    def snapshot(self, *, namespaces: Sequence[str] | None = None) -> list[Obj]:
        return [
            copy.deepcopy(o)
            for o in self.objects
            if namespaces is None
            or o.get("kind") in CLUSTER_SCOPED
            or (o.get("metadata") or {}).get("namespace") in namespaces
        ]


# --------------------------------------------------------------------------- events


class FakeEvents:
    """Records Events in the shape ``KubeEvents`` writes; repeats bump ``count``."""

    def __init__(self) -> None:
        self.events: list[Obj] = []

    def emit(self, *, obj: Mapping[str, Any], type_: str, reason: str, message: str) -> None:
        meta = obj.get("metadata") or {}
        involved = {
            "apiVersion": obj.get("apiVersion"),
            "kind": obj.get("kind"),
            "name": meta.get("name"),
            "namespace": meta.get("namespace"),
            "uid": meta.get("uid"),
        }
        for event in self.events:
            same = (event["involvedObject"], event["type"], event["reason"], event["message"])
            if same == (involved, type_, reason, message):
                event["count"] += 1
                self.events.remove(event)
                self.events.append(event)
                return
        self.events.append(
            {
                "apiVersion": "v1",
                "kind": "Event",
                "metadata": {"namespace": meta.get("namespace")},
                "involvedObject": involved,
                "type": type_,
                "reason": reason,
                "message": message,
                "count": 1,
                "source": {"component": "canary"},
                "reportingComponent": "canary",
            }
        )

    def list_for(self, *, obj: Mapping[str, Any], limit: int = 20) -> list[Obj]:
        meta = obj.get("metadata") or {}
        mine = [
            copy.deepcopy(e)
            for e in self.events
            if e["involvedObject"]["kind"] == obj.get("kind")
            and e["involvedObject"]["name"] == meta.get("name")
            and e["involvedObject"]["namespace"] == meta.get("namespace")
        ]
        return mine[-limit:] if limit > 0 else []

    def reasons(self) -> list[str]:
        """Reasons in emission order (of each Event's latest repeat)."""
        return [e["reason"] for e in self.events]


# --------------------------------------------------------------------------- metrics

Script = Sample | Exception | Sequence[Sample | Exception]


class FakeMetrics:
    """Answers a query with the script of the longest key that is a substring of it.

    A script is a ``Sample``, an exception to raise, or a sequence consumed one per
    query (the last entry repeats). An unscripted query raises ``MetricsError``.
    ``queries`` records every (promql, at).
    """

    def __init__(self, scripts: Mapping[str, Script] | None = None) -> None:
        self.scripts: dict[str, Script] = dict(scripts or {})
        self.queries: list[tuple[str, float | None]] = []
        self.deadlines: list[float | None] = []  # the deadline each query was given
        self._calls: dict[str, int] = {}

    def query(
        self, *, promql: str, at: float | None = None, deadline: float | None = None
    ) -> Sample:
        self.queries.append((promql, at))
        self.deadlines.append(deadline)
        keys = sorted((k for k in self.scripts if k in promql), key=len, reverse=True)
        if not keys:
            raise errors.MetricsError(f"FakeMetrics: no script matches {promql!r}")
        script = self.scripts[keys[0]]
        if isinstance(script, Sample | Exception):
            answer: Sample | Exception = script
        else:
            n = self._calls.get(keys[0], 0)
            self._calls[keys[0]] = n + 1
            answer = script[min(n, len(script) - 1)]
        if isinstance(answer, Exception):
            raise answer
        return answer


# --------------------------------------------------------------------------- traefik


class FakeTraefikApi:
    """In-memory TraefikApi for unit tests: set what each rule serves."""

    def __init__(self) -> None:
        self.rules: dict[tuple[str, str, str, int], Sequence[Mapping[int, int]]] = {}
        self.unavailable = False

    def set(
        self,
        *,
        namespace: str,
        route: str,
        rule: int,
        weights: Sequence[Mapping[int, int]],
        kind: str = "httproute",
    ) -> None:
        self.rules[(kind, namespace, route, rule)] = weights

    def served_rule(
        self, *, namespace: str, route: str, rule: int, kind: str = "httproute"
    ) -> ServedRule:
        if self.unavailable:
            raise errors.TraefikUnavailable("fake: unavailable")
        try:
            per_match = self.rules[(kind, namespace, route, rule)]
        except KeyError:
            raise errors.RuleNotServed(f"fake: no {kind} {namespace}/{route} rule {rule}") from None
        names = tuple(f"{kind}-{namespace}-{route}-{rule}-{i}-wrr" for i in range(len(per_match)))
        return ServedRule(
            services=names,
            weights=tuple({i: w for i, w in m.items() if w > 0} for m in per_match),
        )
