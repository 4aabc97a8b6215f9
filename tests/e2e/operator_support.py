"""Helpers for operator e2e tests: run `canary run` as a process, drive traffic, wait.

Each test runs its own operator restricted to its namespace (`--namespace`), with its
own Lease in that namespace and free ports, so tests never share a writer.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from stack.loadgen import LoadReport, load  # noqa: E402

CANARY = str(Path(sys.executable).parent / "canary")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_until(
    what: str, fn: Callable[[], Any], *, timeout: float = 60.0, interval: float = 0.5
) -> Any:
    """Poll `fn` until it returns something truthy; fail with `what` on timeout."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        last = fn()
        if last:
            return last
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what} (last: {last!r})")


@dataclass
class OperatorProcess:
    """One `canary run` process; stop it by its PID only."""

    namespace: str
    cluster: dict[str, str]
    identity: str
    log_path: Path
    extra_args: tuple[str, ...] = ()
    env: dict[str, str] | None = None  # None: the admin kubeconfig
    health_port: int = field(default_factory=free_port)
    metrics_port: int = field(default_factory=free_port)
    proc: subprocess.Popen[bytes] | None = None

    def start(self) -> OperatorProcess:
        env = (
            dict(self.env)
            if self.env is not None
            else {**os.environ, "KUBECONFIG": self.cluster["KUBECONFIG"]}
        )
        env.pop("KUBERNETES_SERVICE_HOST", None)
        env.pop("KUBERNETES_SERVICE_PORT", None)
        args = [
            CANARY, "run",
            "--namespace", self.namespace,
            *self._read_namespaces(),
            "--lease-namespace", self.namespace,
            "--identity", self.identity,
            "--lease-duration", "6",
            "--prometheus-url", self.cluster["PROMETHEUS_URL"],
            "--traefik-api-url", self.cluster["TRAEFIK_API_URL"],
            "--health-host", "127.0.0.1",
            "--health-port", str(self.health_port),
            "--metrics-port", str(self.metrics_port),
            "--resync-interval", "1",
            *self.extra_args,
        ]  # fmt: skip
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        log = open(self.log_path, "ab")  # noqa: SIM115 - closed with the process
        self.proc = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT, env=env)
        wait_until(
            f"operator {self.identity} healthz",
            lambda: (
                self._get(f"http://127.0.0.1:{self.health_port}/healthz") is not None
                or self._dead()
            ),
            timeout=30,
        )
        if self._dead():
            raise AssertionError(f"operator {self.identity} exited: {self.log()[-2000:]}")
        return self

    def _dead(self) -> bool:
        return self.proc is not None and self.proc.poll() is not None

    @staticmethod
    def _get(url: str) -> str | None:
        try:
            with urllib.request.urlopen(url, timeout=2) as resp:
                return str(resp.read().decode())
        except OSError:
            return None

    def _read_namespaces(self) -> tuple[str, ...]:
        """The stack's Gateway lives in infra (infra/prod-gateway): read it, unless the
        test names its own read namespaces (a chart-rendered identity may not read infra)."""
        if any(a.startswith("--read-namespace") for a in self.extra_args):
            return ()
        return ("--read-namespace", "infra")

    def metrics(self) -> str:
        return self._get(f"http://127.0.0.1:{self.metrics_port}/metrics") or ""

    def is_leader(self) -> bool:
        return "canary_leader 1.0" in self.metrics()

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def kill(self, sig: int = signal.SIGKILL) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)

    def stop(self) -> None:
        self.kill(signal.SIGTERM)


class Traffic:
    """Background load in short bounded chunks until stopped; keeps every chunk's report."""

    def __init__(
        self, *, url: str, headers: dict[str, str], rate: float = 60.0, chunk: float = 2.0,
        limit: float = 600.0,
    ) -> None:  # fmt: skip
        self.url, self.headers, self.rate, self.chunk = url, headers, rate, chunk
        self.reports: list[tuple[float, LoadReport]] = []
        self._stop = threading.Event()
        self._deadline = time.monotonic() + limit
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set() and time.monotonic() < self._deadline:
            report = load(
                url=self.url, rate=self.rate, duration=self.chunk, headers=self.headers,
                concurrency=8, drain=3.0,
            )  # fmt: skip
            self.reports.append((time.monotonic(), report))

    def next_report(self, *, after: float, timeout: float = 30.0) -> LoadReport:
        """The first whole chunk that started at or after `after` (time.monotonic())."""

        def find() -> LoadReport | None:
            for end, report in list(self.reports):
                if end - report.elapsed >= after:
                    return report
            return None

        found: LoadReport = wait_until("a traffic chunk", find, timeout=timeout, interval=0.2)
        return found

    def start(self) -> Traffic:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=self.chunk + 10)

    def __enter__(self) -> Traffic:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def measure_split(
    *, url: str, headers: dict[str, str], canary: str, count: int = 200, rate: float = 100.0
) -> tuple[float, LoadReport]:
    """Send `count` requests now; the canary's share of the answers."""
    report = load(url=url, rate=rate, count=count, headers=headers, concurrency=8)
    return report.share(canary), report


DEFAULT_STEPS = [
    {"weight": 5, "pause": "8s"},
    {"weight": 50, "pause": "8s"},
    {"weight": 100, "pause": "4s"},
]


def reconciles(op: OperatorProcess, namespace: str, name: str = "rollout") -> float:
    """canary_reconciles_total of one Rollout on one operator's /metrics (0: none yet)."""
    prefix = f'canary_reconciles_total{{namespace="{namespace}",rollout="{name}"}} '
    for line in op.metrics().splitlines():
        if line.startswith(prefix):
            return float(line[len(prefix) :])
    return 0.0


def after_reconciles(
    op: OperatorProcess, namespace: str, count: int = 3, name: str = "rollout"
) -> None:
    """Wait until `op` has reconciled the Rollout `count` more times: whatever the checked
    state is, the operator has looked at it since (instead of a sleep "long enough")."""
    start = reconciles(op, namespace, name)
    wait_until(
        f"{count} more reconciles of {namespace}/{name}",
        lambda: reconciles(op, namespace, name) >= start + count,
        timeout=60,
    )


def rollout_manifest(
    *,
    namespace: str,
    name: str = "rollout",
    route: str = "api-route",
    stable: str = "user-service-v2",
    canary: str = "user-service-v3",
    steps: list[dict[str, Any]] | None = None,
    metrics: list[dict[str, Any]] | None = None,
    interval: str = "3s",
    min_requests: int = 5,
    failure_limit: int = 0,
    deadline: str = "2m",
    extra_spec: dict[str, Any] | None = None,
) -> str:
    """A Rollout with fast test settings (2–5 s analysis, small minRequests)."""
    spec: dict[str, Any] = {
        "routes": [{"name": route}],
        "stable": {"name": stable, "port": 8080},
        "canary": {"name": canary, "port": 8080},
        "steps": steps or DEFAULT_STEPS,
        "progressDeadline": deadline,
        "analysis": {
            "interval": interval,
            "minRequests": min_requests,
            "failureLimit": failure_limit,
            "metrics": metrics
            if metrics is not None
            else [
                {"name": "error-rate", "template": "error-rate", "flavor": "traefik", "max": 0.05},
                {"name": "p99-latency", "template": "latency", "quantile": 0.99,
                 "flavor": "traefik", "max": 0.25},
            ],
        },
        **(extra_spec or {}),
    }  # fmt: skip
    return json.dumps(
        {
            "apiVersion": "canary.dev/v1alpha1",
            "kind": "Rollout",
            "metadata": {"name": name, "namespace": namespace},
            "spec": spec,
        }
    )


# --- route history, Events, the Lease (resilience scenarios) ------------------------------

GATEWAY_GROUP = "gateway.networking.k8s.io"


class RouteHistory:
    """Polls one route every `interval` s in a thread and keeps every change it sees.

    `changes` holds (time.monotonic(), metadata.generation, weights of the rule's
    backendRefs in order) each time the weights differ from the previous poll;
    `weights(index)` is the sequence of one backendRef's weight over time.
    """

    def __init__(
        self, api: Any, *, namespace: str, name: str, rule: int = 0, interval: float = 0.2,
        kind: str = "httproutes",
    ) -> None:  # fmt: skip
        from kubernetes import client

        self._custom = client.CustomObjectsApi(api)
        self.namespace, self.name, self.rule, self.interval, self.kind = (
            namespace, name, rule, interval, kind,
        )  # fmt: skip
        self.changes: list[tuple[float, int, tuple[int, ...]]] = []
        self.polls = 0
        self.errors: list[str] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def read(self) -> tuple[int, tuple[int, ...]]:
        obj = self._custom.get_namespaced_custom_object(
            GATEWAY_GROUP, "v1", self.namespace, self.kind, self.name
        )
        refs = obj["spec"]["rules"][self.rule].get("backendRefs") or []
        weights = tuple(int(r.get("weight", 1)) for r in refs)
        return int(obj["metadata"].get("generation", 0)), weights

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                generation, weights = self.read()
            except Exception as exc:  # the API server is reachable in e2e; keep the record
                self.errors.append(repr(exc))
            else:
                self.polls += 1
                if not self.changes or self.changes[-1][2] != weights:
                    self.changes.append((time.monotonic(), generation, weights))
            self._stop.wait(self.interval)

    def weights(self, index: int) -> list[int]:
        """backendRef `index`'s weight at each change (consecutive repeats collapsed)."""
        out: list[int] = []
        for _, _, weights in self.changes:
            w = weights[index] if index < len(weights) else 0
            if not out or out[-1] != w:
                out.append(w)
        return out

    def start(self) -> RouteHistory:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def __enter__(self) -> RouteHistory:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def rollout_events(api: Any, *, namespace: str, name: str) -> list[dict[str, Any]]:
    """core/v1 Events about Rollout `name`, oldest first: type, reason, message, count,
    reporting component and instance."""
    from kubernetes import client

    selector = f"involvedObject.kind=Rollout,involvedObject.name={name}"
    items = client.CoreV1Api(api).list_namespaced_event(namespace, field_selector=selector).items
    out = [
        {
            "type": e.type,
            "reason": e.reason,
            "message": e.message,
            "count": e.count or 1,
            "component": e.reporting_component,
            "instance": e.reporting_instance,
            "first": e.first_timestamp,
        }
        for e in items
    ]
    return sorted(out, key=lambda e: e["first"].timestamp() if e["first"] else 0.0)


def lease_holder(api: Any, *, namespace: str, name: str = "canary-operator") -> str | None:
    """The Lease's holderIdentity (None: no Lease or released)."""
    from kubernetes import client

    try:
        lease = client.CoordinationV1Api(api).read_namespaced_lease(name, namespace)
    except client.ApiException as exc:
        if exc.status == 404:
            return None
        raise
    return lease.spec.holder_identity if lease.spec else None
