"""Operator configuration: flags first, then environment, then defaults."""

from __future__ import annotations

import socket
from dataclasses import dataclass, field

from canary.core.election import LeaseTimings
from canary.core.rollout.settings import CONTEST_LIMIT, CONTEST_WINDOW, ContestPolicy


@dataclass(frozen=True)
class OperatorConfig:
    namespaces: tuple[str, ...] = ()  # empty: all namespaces
    # only with namespaces: more namespaces whose Gateways, ReferenceGrants, Services,
    # EndpointSlices and routes the evaluator reads (cached); nothing is written there
    read_namespaces: tuple[str, ...] = ()
    prometheus_url: str | None = None  # default for Rollouts without analysis.address
    # Addresses a Rollout's analysis.address may name, besides prometheus_url.
    prometheus_allow: tuple[str, ...] = ()
    prometheus_check_budget: float = 30.0  # seconds for all queries of one check; 0: none
    prometheus_max_concurrent: int = 4  # Prometheus queries in flight per operator
    traefik_api_url: str | None = None  # when set, "data plane applied" is checked for real
    health_host: str = "0.0.0.0"
    health_port: int = 8080  # GET /healthz (kopf liveness)
    metrics_port: int = 9090  # GET /metrics (prometheus_client); 0 disables
    log_format: str = "text"  # text | json
    log_level: str = "INFO"
    lease_name: str = "canary-operator"
    lease_namespace: str = "default"
    lease_duration: int = 15  # seconds a standby waits after the last observed renewal
    lease_renew_deadline: float | None = None  # the holder steps down after; None: 2/3 lease
    lease_retry_period: float | None = None  # between acquire/renew tries; None: 2/15 lease
    identity: str = field(default_factory=socket.gethostname)
    # safety net: a Rollout is looked at again at least this often (watches and the
    # plan's own requeue drive everything else)
    resync_interval: float = 300.0
    kube_qps: float = 20.0  # client-side limit on Kubernetes API requests per second
    kube_burst: int = 40  # requests allowed at once above kube_qps
    route_ready_fallback: float = 0.0  # >0: treat routes without status as ready after this
    default_interval: str = "1m"  # analysis.interval when a Rollout leaves it unset
    default_min_requests: int = 20  # analysis.minRequests when a Rollout leaves it unset
    # Contested: the contest_limit-th revert of the weights by another field manager within
    # contest_window seconds stops re-asserting (docs/state-machine.md "Contested")
    contest_limit: int = CONTEST_LIMIT
    contest_window: float = CONTEST_WINDOW
    kubeconfig: str | None = None
    context: str | None = None

    def contest_policy(self) -> ContestPolicy:
        return ContestPolicy(limit=self.contest_limit, window=self.contest_window)

    def lease_timings(self) -> LeaseTimings:
        return LeaseTimings.derived(
            float(self.lease_duration), self.lease_renew_deadline, self.lease_retry_period
        )
