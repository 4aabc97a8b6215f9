"""kopf glue: watch Rollouts, log in, hold the Lease, run the passes, serve /metrics.

kopf only *watches* here (one ``on.event`` handler); it writes nothing. Its timers and
delete handlers would attach kopf's finalizer to every Rollout and store retry progress
in annotations — writes a standby would make too, and that no leadership check can guard.
Instead (see ``canary.operator.resync``) every known Rollout gets one pass every
``resync_interval`` — at once for a new Rollout, a new command, a deletion, or when the
Lease is gained — and only the Lease holder runs passes. A pass (:class:`Controller`):

* keeps our finalizer ``canary.dev/restore-route`` on the Rollout;
* reconciles (every decision is ``canary.core.rollout.machine.decide``'s);
* on deletion, lets the machine restore the route (``Reconciler.finalize``) and removes
  the finalizer once that is live and served.

Every write goes through ports that pass a failpoint and ``Leadership.guard()`` right
before the request (``canary.operator.leadership``): a process that lost the Lease, even
in the middle of a pass, writes nothing.
"""

from __future__ import annotations

import faulthandler
import logging
import signal
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any, Protocol

import kopf
from kubernetes.client import rest
from prometheus_client import start_http_server

from canary.adapters.cached import ready as cache_ready
from canary.adapters.errors import AdapterError, NotFound
from canary.adapters.informer import EVALUATOR_KINDS, POOL_HEADROOM, Change, ClusterCache
from canary.adapters.kube import CONNECT_TIMEOUT, READ_TIMEOUT, load_api_client
from canary.adapters.lease import KubeLease
from canary.adapters.ratelimit import TokenBucket, limit_requests
from canary.core.election import LeaseTimings
from canary.core.models import GROUP, PLURAL, VERSION
from canary.core.phases import COMMAND_ID_ANNOTATION
from canary.operator import failpoints, selfmetrics
from canary.operator.config import OperatorConfig
from canary.operator.leadership import (
    GuardedEvents,
    GuardedRollouts,
    GuardedRoutes,
    Leadership,
    NotLeader,
)
from canary.operator.observe import ViewBehind
from canary.operator.reconcile import Reconciler, StaleCopy, cache_scope
from canary.operator.resync import Key, Resync
from canary.operator.wakes import WakeIndex

log = logging.getLogger("canary.operator")

FINALIZER = "canary.dev/restore-route"
# kopf's own finalizer name: never on any object, and no kopf handler needs one, so kopf
# neither adds nor removes finalizers (ours above is written by the Controller, guarded).
KOPF_FINALIZER = "kopf.canary.dev/unused"

RETRY_DELAY = 2.0  # seconds before a pass that failed (API server, Traefik, bad data) reruns
DELETE_DELAY = 1.0  # seconds between passes while a deletion waits for the restore
STALE_RETRY = 0.5  # seconds before a pass skipped for a stale copy runs again


WATCH_SERVER_TIMEOUT = (
    300  # kopf's watch: the API server ends each watch after this (int: sent as timeoutSeconds)
)
WATCH_CLIENT_MARGIN = 30.0  # ... and the client gives up this much later


def lease_request_timeout(timings: LeaseTimings) -> float:
    """Each Lease request ends well within the renew deadline (at most 5 s)."""
    return max(0.5, min(timings.renew_deadline / 2, 5.0))


def _needs_prompt_reconcile(body: Mapping[str, Any]) -> bool:
    """A Rollout never reconciled (no phase), whose spec changed since its status was
    written (a new generation) or carrying a command not yet acknowledged."""
    status = body.get("status") or {}
    if not status.get("phase"):
        return True
    generation = body.get("metadata", {}).get("generation")
    if generation is not None and status.get("observedGeneration") not in (None, generation):
        return True
    annotations = body.get("metadata", {}).get("annotations") or {}
    command_id = annotations.get(COMMAND_ID_ANNOTATION)
    acked = (status.get("lastCommand") or {}).get("id")
    return bool(command_id) and command_id != acked


def _key(body: Mapping[str, Any]) -> Key:
    meta = body.get("metadata") or {}
    return str(meta.get("namespace", "")), str(meta.get("name", ""))


class WriteCheck(Protocol):
    def may_write(self) -> bool: ...


class ResyncPort(Protocol):
    def upsert(self, key: Key, body: dict[str, Any], *, prompt: bool = False) -> None: ...

    def forget(self, key: Key) -> None: ...


class Controller:
    """What happens to one Rollout on a watch event and on each pass."""

    def __init__(
        self,
        reconciler: Reconciler,
        leadership: WriteCheck,
        *,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.reconciler = reconciler
        self.leadership = leadership
        self._clock = clock
        self.resync: ResyncPort | None = None
        self._deleting: set[Key] = set()

    # -- the watch ----------------------------------------------------------------------

    def on_event(self, event: Mapping[str, Any]) -> None:
        """kopf's ``on.event``: remember the Rollout; prompt a pass when it needs one now.

        Reads only: a standby keeps its list current so it can act the moment it leads.
        """
        body = event.get("object") or {}
        if not isinstance(body, dict) or self.resync is None:
            return
        key = _key(body)
        if event.get("type") == "DELETED":
            self.resync.forget(key)
            self._deleting.discard(key)
            self.reconciler.observer.wakes.forget(key)
            if self.reconciler.written is not None:
                self.reconciler.written.forget(*key)
            return
        deleting = bool(body.get("metadata", {}).get("deletionTimestamp"))
        prompt = _needs_prompt_reconcile(body) or (deleting and key not in self._deleting)
        if deleting:
            self._deleting.add(key)
        self.resync.upsert(key, dict(body), prompt=prompt)

    # -- one pass -----------------------------------------------------------------------

    def run_pass(self, body: dict[str, Any]) -> float | None:
        """Reconcile (or finalize) one Rollout; the delay until its next pass (None: usual).

        A standby returns at once: it reads nothing and writes nothing.
        """
        if not self.leadership.may_write():
            return None
        ns, name = _key(body)
        try:
            if body.get("metadata", {}).get("deletionTimestamp"):
                return self._finalize(body)
            self._ensure_finalizer(body)
            plan = self.reconciler.reconcile(body, now=self._clock())
            return None if plan is None else plan.requeue_after  # None: the safety net
        except NotLeader as exc:
            log.info("%s/%s: stopped before a write: %s", ns, name, exc)
            return None
        except StaleCopy as exc:
            selfmetrics.STALE_COPIES.inc()
            log.debug("%s", exc)
            return STALE_RETRY  # the watch delivers our write in a moment (it also prompts)
        except ViewBehind as exc:
            log.debug("%s/%s: %s", ns, name, exc)
            return STALE_RETRY  # a newer shared view is built in a moment
        except (AdapterError, ValueError) as exc:  # Traefik's errors are AdapterErrors
            log.warning("%s/%s: reconcile failed, retrying: %s", ns, name, exc)
            return RETRY_DELAY

    def _ensure_finalizer(self, body: dict[str, Any]) -> None:
        """Add our finalizer from the watch's copy (no GET: measured at 1,000 Rollouts, a
        GET per new Rollout halved what the client-side QPS left for the passes); the
        write carries the copy's resourceVersion, so a stale copy gets 409 and the next
        pass tries again."""
        if FINALIZER in (body.get("metadata", {}).get("finalizers") or []):
            return
        ns, name = _key(body)
        meta = body.get("metadata") or {}
        finalizers = list(meta.get("finalizers") or [])
        if meta.get("deletionTimestamp"):
            return
        self.reconciler.rollouts.set_finalizers(
            namespace=ns,
            name=name,
            finalizers=[*finalizers, FINALIZER],
            resource_version=str(meta.get("resourceVersion", "")),
        )

    def _finalize(self, body: dict[str, Any]) -> float | None:
        ns, name = _key(body)
        if FINALIZER not in (body.get("metadata", {}).get("finalizers") or []):
            return None  # not ours to hold (anymore)
        if not self.reconciler.finalize(body, now=self._clock()):
            return DELETE_DELAY  # keep the finalizer until the gateway serves the restore
        try:
            fresh = self.reconciler.rollouts.get(namespace=ns, name=name)
        except NotFound:
            return None
        meta = fresh["metadata"]
        finalizers = list(meta.get("finalizers") or [])
        if FINALIZER in finalizers:
            self.reconciler.rollouts.set_finalizers(
                namespace=ns,
                name=name,
                finalizers=[f for f in finalizers if f != FINALIZER],
                resource_version=str(meta.get("resourceVersion", "")),
            )
            log.info("%s/%s: finalizer removed (onDelete done)", ns, name)
        selfmetrics.forget(ns, name)
        return None


def guard_writes(reconciler: Reconciler, leadership: Leadership) -> Reconciler:
    """Make every write of ``reconciler`` pass its failpoint and the leadership check."""
    reconciler.rollouts = GuardedRollouts(reconciler.rollouts, leadership.guard)
    reconciler.routes = GuardedRoutes(reconciler.routes, leadership.guard)
    reconciler.events = GuardedEvents(reconciler.events, leadership.guard)
    return reconciler


def _connection_info(config: OperatorConfig) -> kopf.ConnectionInfo:
    api = load_api_client(kubeconfig=config.kubeconfig, context=config.context)
    cfg = api.configuration
    header = cfg.get_api_key_with_prefix("BearerToken") or cfg.get_api_key_with_prefix(
        "authorization"
    )
    scheme, token = None, None
    if header:
        parts = header.split(" ", 1)
        scheme, token = (parts[0], parts[1]) if len(parts) == 2 else (None, parts[0])
    return kopf.ConnectionInfo(
        server=cfg.host,
        ca_path=cfg.ssl_ca_cert,
        insecure=not cfg.verify_ssl,
        scheme=scheme,
        token=token,
        certificate_path=cfg.cert_file,
        private_key_path=cfg.key_file,
    )


def configure_kopf(settings: kopf.OperatorSettings) -> None:
    """kopf watches and writes nothing; every call it makes is bounded in time."""
    settings.persistence.finalizer = KOPF_FINALIZER
    settings.persistence.progress_storage = kopf.AnnotationsProgressStorage(
        prefix="kopf.canary.dev"
    )
    settings.persistence.diffbase_storage = kopf.AnnotationsDiffBaseStorage(
        prefix="kopf.canary.dev"
    )
    settings.posting.enabled = False  # our Events go through the guarded port
    settings.watching.server_timeout = WATCH_SERVER_TIMEOUT
    settings.watching.client_timeout = WATCH_SERVER_TIMEOUT + WATCH_CLIENT_MARGIN
    settings.watching.connect_timeout = CONNECT_TIMEOUT
    settings.networking.request_timeout = READ_TIMEOUT
    settings.networking.connect_timeout = CONNECT_TIMEOUT
    settings.execution.max_workers = 4  # the on.event handler only records and wakes


def run_operator(config: OperatorConfig) -> None:
    """Register the handlers with kopf and run until SIGTERM/SIGINT."""
    failpoints.configure(failpoints.Failpoints.from_env())
    # `kill -USR2 <pid>` prints every thread's stack to stderr (a hung pass, a lock)
    faulthandler.register(signal.SIGUSR2, all_threads=True)
    timings = config.lease_timings()
    api_client = load_api_client(kubeconfig=config.kubeconfig, context=config.context)
    lease = KubeLease(
        api_client,
        namespace=config.lease_namespace,
        name=config.lease_name,
        duration_seconds=max(1, round(timings.lease_duration)),
        request_timeout=lease_request_timeout(timings),
    )
    holder: list[Resync] = []

    def changed(leader: bool) -> None:
        if leader and holder:
            holder[0].wake_all()

    leadership = Leadership(lease, identity=config.identity, timings=timings, on_change=changed)
    selfmetrics.LEADER.set_function(lambda: 1.0 if leadership.may_write() else 0.0)
    # every read of a pass comes from these watch caches (docs/operator.md "Caches"),
    # scoped to the watched namespaces and the read-only ones; all namespaces otherwise
    wakes = WakeIndex()

    def cluster_changed(change: Change) -> None:
        if holder:
            selfmetrics.WAKES.inc(holder[0].prompt(wakes.affected(change.kind, change.obj)))

    read_api = load_api_client(kubeconfig=config.kubeconfig, context=config.context)
    # each open watch holds a connection of the pool: room for all, and some to spare
    scope = cache_scope(config)
    kinds = len(EVALUATOR_KINDS)
    watches = kinds if scope is None else 2 + (kinds - 2) * len(scope)  # 2 cluster-scoped
    read_api.configuration.connection_pool_maxsize = watches + POOL_HEADROOM
    read_api.rest_client = rest.RESTClientObject(read_api.configuration)
    cache = ClusterCache(read_api, namespaces=scope, on_change=cluster_changed)
    # client-side QPS/burst for every request but watches (client-go's QPS/Burst)
    bucket = TokenBucket(config.kube_qps, config.kube_burst)
    limit_requests(api_client, bucket)
    limit_requests(read_api, bucket)
    # one owner per rule: the Rollouts of a namespace as the watch last showed them
    reconciler = guard_writes(
        Reconciler.from_api_client(
            api_client,
            config=config,
            cache=cache,
            peers=lambda ns: holder[0].bodies_in(ns) if holder else [],
            wakes=wakes,
        ),
        leadership,
    )
    controller = Controller(reconciler, leadership)
    resync = Resync(
        controller.run_pass,
        interval=config.resync_interval,
        active=lambda: leadership.may_write() and cache_ready(cache),
    )
    controller.resync = resync
    holder.append(resync)
    registry = kopf.OperatorRegistry()

    @kopf.on.startup(registry=registry)
    def startup(settings: kopf.OperatorSettings, **_: Any) -> None:
        configure_kopf(settings)
        if config.metrics_port:
            try:
                start_http_server(config.metrics_port, addr=config.health_host)
            except OSError as exc:
                raise kopf.PermanentError(
                    f"cannot serve /metrics on {config.health_host}:{config.metrics_port}: {exc}"
                ) from exc
        cache.start()
        leadership.start()
        resync.start()
        log.info(
            "canary operator %s: namespaces=%s lease=%s/%s (duration %g s, renew deadline "
            "%g s, retry %g s)",
            config.identity,
            ",".join(config.namespaces) or "*",
            config.lease_namespace,
            config.lease_name,
            timings.lease_duration,
            timings.renew_deadline,
            timings.retry_period,
        )

    @kopf.on.cleanup(registry=registry)
    def cleanup(**_: Any) -> None:
        resync.stop()
        cache.stop()
        leadership.stop()

    @kopf.on.login(registry=registry)
    def login(**_: Any) -> kopf.ConnectionInfo:
        return _connection_info(config)

    @kopf.on.event(GROUP, VERSION, PLURAL, registry=registry, id="track")
    def track(event: kopf.RawEvent, **_: Any) -> None:
        controller.on_event(event)

    started = time.monotonic()
    try:
        kopf.run(
            registry=registry,
            standalone=True,
            clusterwide=not config.namespaces,
            namespaces=list(config.namespaces),
            liveness_endpoint=f"http://{config.health_host}:{config.health_port}/healthz",
        )
    finally:
        resync.stop()
        cache.stop()
        leadership.stop()
        log.info("operator stopped after %.0f s", time.monotonic() - started)
