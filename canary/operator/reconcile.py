"""One reconcile of one Rollout: parse → observe → ``core.decide`` → execute the plan.

Executing a plan is mechanical and ordered (see ``canary.core.rollout.reconcile_plan``):
the status diff, then Events, then route writes through the guarded JSON Patch. The
status goes first so
a crash between the writes never leaves a route ahead of the recorded step (the next
leader would "re-assert" the previous step's weights: backwards, then the step again),
and Events follow it at once: they report the decision the status records, which the
next decide will not repeat. A failed route write is safe after both, because the
machine counts weights as applied only once it observes them live, and re-asserts them.
"""

from __future__ import annotations

import logging
import threading
from collections import defaultdict
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from kubernetes import client
from pydantic import ValidationError

from canary.adapters.cached import (
    CachedCluster,
    CachedRoutes,
    ClusterCachePort,
    SharedTraefikApi,
    newer,
)
from canary.adapters.kube import KubeEvents, KubeRollouts, KubeRoutes
from canary.adapters.ports import EventsPort, MetricsPort, RolloutsPort, RoutesPort, TraefikApi
from canary.adapters.prometheus import PrometheusMetrics, QueryLimiter, RefusedMetrics
from canary.adapters.routewrite import guarded_patch
from canary.adapters.traefik import HttpTraefikApi
from canary.core.analysis.addresses import Allowlist, normalize
from canary.core.models import AppliedWeight, Condition, Rollout, RolloutStatus
from canary.core.phases import KEPT_WHEN_INVALID_PHASES, Cond, Phase, Reason
from canary.core.rollout.checks import clip
from canary.core.rollout.machine import decide
from canary.core.rollout.observation import Observation
from canary.core.rollout.reconcile_plan import Plan
from canary.core.rollout.schedule import rfc3339
from canary.core.rollout.settings import ContestPolicy
from canary.core.rollout.statusdiff import diff
from canary.core.routes.patching import needs_write, weight_patch
from canary.core.routes.rules import resolve_rules
from canary.operator import selfmetrics
from canary.operator.config import OperatorConfig
from canary.operator.observe import Observer, ViewBehind
from canary.operator.wakes import WakeIndex

log = logging.getLogger("canary.operator")


def _invalid_message(exc: ValidationError) -> str:
    err = exc.errors()[0]
    loc = ".".join(str(p) if isinstance(p, str) else f"[{p}]" for p in err["loc"])
    loc = loc.replace(".[", "[")
    return f"{loc}: {err['msg']}" if loc else str(err["msg"])


def prometheus_for(config: OperatorConfig) -> Callable[[Rollout], MetricsPort | None]:
    """A Rollout's Prometheus: its ``analysis.address`` or the default — only when the
    allowlist holds it (else a port whose every query is a check error saying why). One
    client per address; one limit on queries in flight for all of them."""
    allowed = Allowlist([config.prometheus_url or "", *config.prometheus_allow])
    limiter = QueryLimiter(config.prometheus_max_concurrent)
    cache: dict[str, MetricsPort] = {}

    def metrics_for(rollout: Rollout) -> MetricsPort | None:
        url = rollout.spec.analysis.address or config.prometheus_url
        if not url:
            return None
        refusal = allowed.refusal(url)
        if refusal:
            return RefusedMetrics(refusal)
        key = normalize(url)  # one client per address, however it is spelled
        if key not in cache:
            cache[key] = PrometheusMetrics(url=url, limiter=limiter)
        return cache[key]

    return metrics_for


def cache_scope(config: OperatorConfig) -> list[str] | None:
    """The namespaces the watch caches cover: the watched ones and the read-only ones;
    None (all namespaces) when watching all."""
    if not config.namespaces:
        return None
    return list(dict.fromkeys([*config.namespaces, *config.read_namespaces]))


class StaleCopy(Exception):
    """The watch has not delivered our own last write of this Rollout yet."""


class TrackingRollouts:
    """A ``RolloutsPort`` that remembers the object each of its writes returned."""

    def __init__(self, inner: RolloutsPort) -> None:
        self._inner = inner
        self._last: dict[tuple[str, str], dict[str, Any]] = {}
        self._lock = threading.Lock()

    def last(self, namespace: str, name: str) -> dict[str, Any] | None:
        with self._lock:
            return self._last.get((namespace, name))

    def forget(self, namespace: str, name: str) -> None:
        with self._lock:
            self._last.pop((namespace, name), None)

    def _keep(self, namespace: str, name: str, obj: dict[str, Any]) -> dict[str, Any]:
        with self._lock:
            self._last[(namespace, name)] = obj
        return obj

    def get(self, *, namespace: str, name: str) -> dict[str, Any]:
        return self._inner.get(namespace=namespace, name=name)

    def list(self, *, namespace: str | None) -> list[dict[str, Any]]:
        return self._inner.list(namespace=namespace)

    def watch(
        self, *, namespace: str | None, name: str | None = None, timeout: float | None = None
    ) -> Iterator[tuple[str, dict[str, Any]]]:
        return self._inner.watch(namespace=namespace, name=name, timeout=timeout)

    def patch_status(
        self, *, namespace: str, name: str, patch: Mapping[str, Any]
    ) -> dict[str, Any]:
        obj = self._inner.patch_status(namespace=namespace, name=name, patch=patch)
        return self._keep(namespace, name, obj)

    def annotate(
        self, *, namespace: str, name: str, annotations: Mapping[str, str | None]
    ) -> dict[str, Any]:
        obj = self._inner.annotate(namespace=namespace, name=name, annotations=annotations)
        return self._keep(namespace, name, obj)

    def set_finalizers(
        self, *, namespace: str, name: str, finalizers: Sequence[str], resource_version: str
    ) -> dict[str, Any]:
        obj = self._inner.set_finalizers(
            namespace=namespace, name=name, finalizers=finalizers, resource_version=resource_version
        )
        return self._keep(namespace, name, obj)


@dataclass
class Reconciler:
    rollouts: RolloutsPort
    routes: RoutesPort
    events: EventsPort
    observer: Observer
    locks: dict[tuple[str, str], threading.Lock] = field(
        default_factory=lambda: defaultdict(threading.Lock)
    )

    defaults: dict[str, Any] = field(default_factory=dict)  # analysis defaults (operator)
    contest: ContestPolicy = field(default_factory=ContestPolicy)  # --contest-limit/-window
    written: TrackingRollouts | None = None  # our last write per Rollout (stale-copy guard)

    @classmethod
    def from_api_client(
        cls,
        api: client.ApiClient,
        *,
        config: OperatorConfig,
        cache: ClusterCachePort,
        peers: Callable[[str], Sequence[dict[str, Any]]] = lambda ns: (),
        wakes: WakeIndex | None = None,
    ) -> Reconciler:
        """The operator's reconciler: reads from ``cache`` (watches), writes through ``api``."""
        routes = CachedRoutes(cache, KubeRoutes(api))
        metrics_for = prometheus_for(config)
        traefik: TraefikApi | None = None
        if config.traefik_api_url:
            http = HttpTraefikApi(base_url=config.traefik_api_url)
            traefik = SharedTraefikApi(lambda: http.services(search=""))
        observer = Observer(
            routes=routes,
            cluster=CachedCluster(cache),
            metrics_for=metrics_for,
            traefik=traefik,
            cluster_namespaces=cache_scope(config),
            route_ready_fallback=config.route_ready_fallback,
            peers=peers,
            check_budget=config.prometheus_check_budget,
            wakes=wakes if wakes is not None else WakeIndex(),
        )
        tracking = TrackingRollouts(KubeRollouts(api))
        return cls(
            rollouts=tracking,
            routes=routes,
            # reportingInstance: the Lease identity (the Pod's name in the chart)
            events=KubeEvents(api, instance=config.identity),
            observer=observer,
            defaults={
                "interval": config.default_interval,
                "minRequests": config.default_min_requests,
            },
            contest=config.contest_policy(),
            written=tracking,
        )

    # -- entry points ----------------------------------------------------------------

    def reconcile(
        self, body: dict[str, Any], *, now: datetime, deleting: bool = False
    ) -> Plan | None:
        """One pass over the watch's copy of the Rollout (no read of its own).

        A watch may lag behind our own last write; deciding from such a copy would replay
        an older step (or skip one). So the copy must be at least as new as the last
        object any write of ours returned (``TrackingRollouts``), else ``StaleCopy``: the
        pass is retried when the watch has caught up.
        ``deleting``: the finalizing pass (the restore), whatever the copy says."""
        meta = body.get("metadata") or {}
        ns, name = meta.get("namespace", ""), meta.get("name", "")
        with self.locks[(ns, name)]:
            selfmetrics.RECONCILES.labels(ns, name).inc()
            try:
                fresh = body
                written = self.written.last(ns, name) if self.written is not None else None
                if written is not None and newer(written, body):
                    rv = (written.get("metadata") or {}).get("resourceVersion")
                    raise StaleCopy(
                        f"{ns}/{name}: the watch's copy is older than our last write "
                        f"(resourceVersion {rv})"
                    )
                if deleting and not fresh["metadata"].get("deletionTimestamp"):
                    stamp = meta.get("deletionTimestamp") or now.isoformat()
                    fresh = {**fresh, "metadata": {**fresh["metadata"], "deletionTimestamp": stamp}}
                return self._reconcile(fresh, now=now)
            except (StaleCopy, ViewBehind):
                raise
            except Exception:
                selfmetrics.RECONCILE_ERRORS.labels(ns, name).inc()
                raise

    def finalize(self, body: dict[str, Any], *, now: datetime) -> bool:
        """The Rollout is being deleted: let the machine restore the route (onDelete).

        True once the finalizer may go: the restore is live and served by the gateway.
        """
        plan = self.reconcile(body, now=now, deleting=True)
        return plan is None or plan.requeue_after is None

    # -- one pass --------------------------------------------------------------------

    def _reconcile(self, body: dict[str, Any], *, now: datetime) -> Plan | None:
        meta = body.get("metadata") or {}
        ns, name = meta.get("namespace", ""), meta.get("name", "")
        status = RolloutStatus.model_validate(body.get("status") or {})
        invalid: str | None = None
        try:
            rollout = Rollout.model_validate(self._with_defaults(body))
        except ValidationError as exc:
            invalid = _invalid_message(exc)
            kept = status.phase in KEPT_WHEN_INVALID_PHASES and not meta.get("deletionTimestamp")
            backends = _backends_only(body) if kept else None
            if backends is None:
                self._mark_invalid(body, invalid, status, now)
                return None
            rollout = backends  # RolledBack/Aborted keep stable 100 where that is safe
        obs = self.observer.observe(rollout, status, now=now, invalid=invalid)
        plan = decide(rollout, status, obs, now, self.contest)
        self._execute(rollout, body, obs, plan)
        selfmetrics.record_status(ns, name, plan.status.dump())
        return plan

    def _with_defaults(self, body: dict[str, Any]) -> dict[str, Any]:
        """Fill the analysis fields whose defaults are the operator's (CRD leaves them unset)."""
        spec = body.get("spec")
        if not isinstance(spec, dict) or not self.defaults:
            return body
        analysis = spec.get("analysis") or {}
        if not isinstance(analysis, dict):
            return body
        filled = {**self.defaults, **analysis}
        return {**body, "spec": {**spec, "analysis": filled}}

    def _execute(
        self, rollout: Rollout, body: dict[str, Any], obs: Observation, plan: Plan
    ) -> None:
        ns, name = rollout.metadata.namespace, rollout.metadata.name
        if plan.status_patch:  # first: the step is recorded before its weights go live
            self.rollouts.patch_status(namespace=ns, name=name, patch=plan.status_patch)
        for event in plan.events:  # they tell what the status now says; a failed or
            # interrupted route write must not lose them (the next decide won't repeat them)
            level = logging.WARNING if event.type == "Warning" else logging.INFO
            log.log(level, "%s/%s %s: %s", ns, name, event.reason, event.message)
            try:
                self.events.emit(
                    obj=body, type_=event.type, reason=event.reason, message=event.message
                )
            except Exception as exc:  # an Event is best effort; never fail the reconcile
                log.warning("%s/%s: cannot post Event %s: %s", ns, name, event.reason, exc)
        if plan.command_ack is not None:
            ack = plan.command_ack
            result = "ignored" if "ignored" in ack.result.lower() else "applied"
            selfmetrics.COMMANDS.labels(ns, name, ack.verb, result).inc()
        if plan.write_routes and plan.desired:
            self._write_routes(rollout, plan.desired)
        if obs.analysis is not None:
            for r in obs.analysis.results:
                selfmetrics.VERDICTS.labels(ns, name, r.name, r.verdict.value).inc()

    def _write_routes(self, rollout: Rollout, desired: tuple[AppliedWeight, ...]) -> None:
        ns = rollout.metadata.namespace
        by_route: dict[str, int] = {}
        for w in desired:
            by_route[w.route] = w.canary
        for i, ref in enumerate(rollout.spec.routes):
            label = f"{ref.kind}/{ref.name}"
            if label not in by_route:
                continue
            weight = by_route[label]
            compute = self._ops_for(rollout, i, weight)
            guarded_patch(
                routes=self.routes, kind=ref.kind, namespace=ns, name=ref.name, compute_ops=compute
            )
            log.info("%s/%s: %s canary weight %d", ns, rollout.metadata.name, label, weight)

    @staticmethod
    def _ops_for(
        rollout: Rollout, index: int, weight: int
    ) -> Callable[[dict[str, Any]], list[dict[str, object]] | None]:
        ref = rollout.spec.routes[index]

        def compute(live: dict[str, Any]) -> list[dict[str, object]] | None:
            resolved = resolve_rules(
                live, rollout.spec, ref, namespace=rollout.metadata.namespace, route_index=index
            )
            if not needs_write(live, resolved, weight):
                return None
            return list(weight_patch(live, resolved, canary_weight=weight))

        return compute

    def _mark_invalid(
        self, body: dict[str, Any], message: str, status: RolloutStatus, now: datetime
    ) -> None:
        """A spec the API server accepted but the models reject: Failed, route untouched.

        RolledBack, Aborted and Succeeded keep their phase (the backends and routes could
        not be read either, so nothing can be asserted safely): only ``Invalid=True``
        changes, saying so."""
        meta = body.get("metadata") or {}
        ns, name = meta.get("namespace", ""), meta.get("name", "")
        if status.phase in KEPT_WHEN_INVALID_PHASES:
            self._mark_invalid_kept(body, message, status, now)
            return
        if status.phase == "Failed" and status.message == message:
            return
        patch = {
            "phase": "Failed",
            "message": message,
            "conditions": [
                {
                    "type": "Invalid",
                    "status": "True",
                    "reason": Reason.INVALID_SPEC.value,
                    "message": message,
                    "observedGeneration": meta.get("generation"),
                }
            ],
        }
        self.rollouts.patch_status(namespace=ns, name=name, patch=patch)
        self.events.emit(obj=body, type_="Warning", reason=Reason.INVALID_SPEC, message=message)

    def _mark_invalid_kept(
        self, body: dict[str, Any], message: str, status: RolloutStatus, now: datetime
    ) -> None:
        meta = body.get("metadata") or {}
        ns, name = meta.get("namespace", ""), meta.get("name", "")
        phase = status.phase
        if phase == Phase.SUCCEEDED:
            kept = "Succeeded kept: hands off, the route is not written"
        else:
            kept = (
                f"{phase} kept: nothing can be asserted safely (spec.stable, canary, routes "
                "or steps cannot be read); the route is not written"
            )
        note = clip(f"{message}; {kept}", 1024)
        before = status.condition(Cond.INVALID)
        if before is not None and before.status == "True" and before.message == note:
            return
        at = rfc3339(now)
        since = before.last_transition_time if before and before.status == "True" else at
        invalid = Condition(
            type=Cond.INVALID,
            status="True",
            reason=Reason.INVALID_SPEC,
            message=note,
            last_transition_time=since,
            observed_generation=meta.get("generation"),
        )
        conditions = [c for c in status.conditions if c.type != Cond.INVALID] + [invalid]
        new = status.model_copy(update={"conditions": conditions})
        self.rollouts.patch_status(namespace=ns, name=name, patch=diff(status.dump(), new.dump()))
        self.events.emit(obj=body, type_="Warning", reason=Reason.INVALID_SPEC, message=note)


def _backends_only(body: dict[str, Any]) -> Rollout | None:
    """The Rollout rebuilt from what decides which backendRefs it sets (stable, canary,
    routes, steps, manageBackends) when the rest of its spec is invalid; None when those
    cannot be read either. Its hash is ``spec_hash`` of the whole spec."""
    spec = body.get("spec")
    if not isinstance(spec, dict):
        return None
    keep = ("stable", "canary", "routes", "steps", "manageBackends")
    try:
        return Rollout.model_validate({**body, "spec": {k: spec[k] for k in keep if k in spec}})
    except ValidationError:
        return None
