"""kopf glue: register the handlers, log in, hold the Lease, serve /metrics.

Handlers only turn timers and deletions into ``Reconciler`` calls; every decision is made
by ``canary.core.machine.decide``. One timer per Rollout re-asserts the full desired state
every ``resync_interval`` (level-triggered), and only the Lease holder writes anything.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

import kopf
from prometheus_client import start_http_server

from canary.adapters.errors import AdapterError
from canary.adapters.kube import load_api_client
from canary.adapters.lease import KubeLease
from canary.adapters.traefik import TraefikApiError
from canary.core.models import GROUP, PLURAL, VERSION
from canary.core.phases import COMMAND_ID_ANNOTATION
from canary.operator import selfmetrics
from canary.operator.config import OperatorConfig
from canary.operator.reconcile import Reconciler

log = logging.getLogger("canary.operator")


class Leadership:
    """Keeps trying to hold the Lease in a background thread; ``is_leader`` is cheap."""

    def __init__(self, lease: KubeLease, *, identity: str) -> None:
        self._lease = lease
        self._identity = identity
        self._leader = False
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="canary-lease", daemon=True)

    @property
    def is_leader(self) -> bool:
        return self._leader

    def start(self) -> None:
        self._tick()
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._leader:
            self._lease.release(identity=self._identity)
        self._leader = False

    def _tick(self) -> None:
        try:
            leader = self._lease.try_acquire(identity=self._identity, now=datetime.now(UTC))
        except Exception as exc:  # the API server is away: stop writing until we know
            log.warning("lease %s: %s", self._lease.name, exc)
            leader = False
        if leader != self._leader:
            log.info(
                "%s lease %s/%s as %s",
                "acquired" if leader else "lost",
                self._lease.namespace,
                self._lease.name,
                self._identity,
            )
        self._leader = leader
        selfmetrics.LEADER.set(1 if leader else 0)

    def _loop(self) -> None:
        period = max(1.0, self._lease.duration_seconds / 3)
        while not self._stop.wait(period):
            self._tick()


@contextmanager
def _handler_errors() -> Iterator[None]:
    """Translate our errors to kopf's at the handler edge (STYLE: only here)."""
    try:
        yield
    except (AdapterError, TraefikApiError, ValueError) as exc:
        log.warning("reconcile failed, retrying: %s", exc)
        raise kopf.TemporaryError(str(exc), delay=2) from exc


def _needs_prompt_reconcile(body: Mapping[str, Any]) -> bool:
    """A Rollout never reconciled (no phase) or carrying a command not yet acknowledged."""
    status = body.get("status") or {}
    if not status.get("phase"):
        return True
    annotations = body.get("metadata", {}).get("annotations") or {}
    command_id = annotations.get(COMMAND_ID_ANNOTATION)
    acked = (status.get("lastCommand") or {}).get("id")
    return bool(command_id) and command_id != acked


class Peers:
    """The Rollouts of a namespace, from a kopf index (watch-backed, filled before any
    handler runs): what one-owner-per-rule compares a Rollout with."""

    def __init__(self) -> None:
        self.index: Mapping[str, Any] | None = None

    def bind(self, index: Mapping[str, Any]) -> None:
        self.index = index

    def __call__(self, namespace: str) -> list[dict[str, Any]]:
        if self.index is None:
            return []
        for _ in range(3):  # the index changes under us on the event loop: copy, retry
            try:
                return [dict(v) for v in self.index.get(namespace, ())]
            except RuntimeError:
                continue
        return []


def peer_view(body: Mapping[str, Any]) -> dict[str, Any]:
    """What ownership needs of a Rollout (canary.core.ownership.claim_of)."""
    meta = body.get("metadata") or {}
    status = body.get("status") or {}
    return {
        "metadata": {
            "name": meta.get("name"),
            "creationTimestamp": meta.get("creationTimestamp"),
            "deletionTimestamp": meta.get("deletionTimestamp"),
        },
        "spec": dict(body.get("spec") or {}),
        "status": {
            k: status[k] for k in ("phase", "lastAppliedWeights", "conditions") if k in status
        },
    }


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


def run_operator(config: OperatorConfig) -> None:
    """Register the handlers with kopf and run until SIGTERM/SIGINT."""
    api_client = load_api_client(kubeconfig=config.kubeconfig, context=config.context)
    peers = Peers()
    reconciler = Reconciler.from_api_client(api_client, config=config, peers=peers)
    leadership = Leadership(
        KubeLease(
            api_client,
            namespace=config.lease_namespace,
            name=config.lease_name,
            duration_seconds=config.lease_duration,
        ),
        identity=config.identity,
    )
    registry = kopf.OperatorRegistry()

    @kopf.on.startup(registry=registry)
    def startup(settings: kopf.OperatorSettings, **_: Any) -> None:
        # kopf's own state goes to annotations (a structural schema would prune status).
        settings.persistence.progress_storage = kopf.AnnotationsProgressStorage(
            prefix="kopf.canary.dev"
        )
        settings.persistence.diffbase_storage = kopf.AnnotationsDiffBaseStorage(
            prefix="kopf.canary.dev"
        )
        settings.persistence.finalizer = "canary.dev/restore-route"
        settings.posting.level = logging.WARNING
        settings.watching.server_timeout = 300
        settings.execution.max_workers = 8
        if config.metrics_port:
            try:
                start_http_server(config.metrics_port, addr=config.health_host)
            except OSError as exc:
                raise kopf.PermanentError(
                    f"cannot serve /metrics on {config.health_host}:{config.metrics_port}: {exc}"
                ) from exc
        leadership.start()
        log.info(
            "canary operator %s: namespaces=%s lease=%s/%s",
            config.identity,
            ",".join(config.namespaces) or "*",
            config.lease_namespace,
            config.lease_name,
        )

    @kopf.on.cleanup(registry=registry)
    def cleanup(**_: Any) -> None:
        leadership.stop()

    @kopf.on.login(registry=registry)
    def login(**_: Any) -> kopf.ConnectionInfo:
        return _connection_info(config)

    @kopf.index(GROUP, VERSION, PLURAL, registry=registry, id="rollout_peers")
    def rollouts_by_namespace(body: kopf.Body, **_: Any) -> dict[str, Any]:
        return {body.get("metadata", {}).get("namespace", ""): peer_view(body)}

    @kopf.timer(
        GROUP, VERSION, PLURAL, interval=config.resync_interval, registry=registry, id="resync"
    )
    def resync(body: kopf.Body, **kw: Any) -> None:
        peers.bind(kw["rollout_peers"])  # kopf passes every index by its name
        if not leadership.is_leader:
            return
        with _handler_errors():
            reconciler.reconcile(dict(body), now=datetime.now(UTC))

    @kopf.on.event(GROUP, VERSION, PLURAL, registry=registry, id="prompt")
    def changed(event: kopf.RawEvent, **kw: Any) -> None:
        peers.bind(kw["rollout_peers"])
        # React at once to a new Rollout or a new command instead of at the next timer
        # tick (the timer alone would add up to resync_interval to every gate).
        if not leadership.is_leader or event.get("type") not in ("ADDED", "MODIFIED"):
            return
        body = event.get("object") or {}
        if body.get("metadata", {}).get("deletionTimestamp"):
            return
        if not _needs_prompt_reconcile(body):
            return
        with _handler_errors():
            reconciler.reconcile(dict(body), now=datetime.now(UTC))

    @kopf.on.delete(GROUP, VERSION, PLURAL, registry=registry, id="restore-route")
    def deleted(body: kopf.Body, **_: Any) -> None:
        # Standbys must not let the finalizer go before the leader restored the route.
        if not leadership.is_leader:
            raise kopf.TemporaryError("not the Lease holder; waiting for it", delay=2)
        with _handler_errors():
            done = reconciler.finalize(dict(body), now=datetime.now(UTC))
        if not done:  # keep the finalizer until the gateway serves stable 100 / canary 0
            raise kopf.TemporaryError("waiting for the restore to be live and served", delay=1)
        ns, name = body["metadata"]["namespace"], body["metadata"]["name"]
        selfmetrics.forget(ns, name)

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
        leadership.stop()
        log.info("operator stopped after %.0f s", time.monotonic() - started)
