"""Per-test scenarios on the local stack: namespaces, backends, Services, FQDN slices, routes.

A test gets its own namespace (labelled so `infra/prod-gateway` admits its routes), its
own demo backends (one `python -m stack.backend` process on free loopback ports), a
selector-less Service + FQDN EndpointSlice per backend (only Traefik resolves the FQDN,
to 127.0.0.1), Prometheus scrape targets (file_sd) and an HTTPRoute. `deploy_app` does
all of it for the seed's api-route shape:

    app = deploy_app(api, env, namespace=ns)            # 90/10 on rule 0, fallback rule 1
    report = load(url=app.url, rate=100, count=500, headers=app.headers)
    app.set_faults(app.canary, error_rate=0.2)
    app.close()                                         # stops the backends

Namespaces are never deleted (there is no namespace controller) and every app gets its
own hostname (`<namespace>.example.com`), so leftovers of earlier tests never shadow it.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kubernetes import client

from canary.adapters.traefik import HttpTraefikApi
from stack.ready import wait_route_applied, wait_scraped

REPO = Path(__file__).resolve().parent.parent
GATEWAY = ("infra", "prod-gateway")
GATEWAY_LABEL = {"gateway-access": "true"}
SERVICE_PORT = 8080
GATEWAY_GROUP = "gateway.networking.k8s.io"


@dataclass(frozen=True)
class ClusterEnv:
    """The keys of `.local/cluster.env` (docs/local-control-plane.md)."""

    kubeconfig: str
    gateway_url: str
    prometheus_url: str
    traefik_api_url: str
    stable_control_url: str
    canary_control_url: str
    backend_host: str = "backends.canary.test"
    local_dir: str = str(REPO / ".local")
    targets_dir: str = str(REPO / ".local" / "prometheus" / "targets")
    raw: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def from_mapping(cls, env: Mapping[str, str]) -> ClusterEnv:
        local = env.get("CANARY_LOCAL", str(REPO / ".local"))
        return cls(
            kubeconfig=env["KUBECONFIG"],
            gateway_url=env["GATEWAY_URL"],
            prometheus_url=env["PROMETHEUS_URL"],
            traefik_api_url=env["TRAEFIK_API_URL"],
            stable_control_url=env["STABLE_CONTROL_URL"],
            canary_control_url=env["CANARY_CONTROL_URL"],
            backend_host=env.get("BACKEND_HOST", "backends.canary.test"),
            local_dir=local,
            targets_dir=env.get("PROMETHEUS_TARGETS_DIR", f"{local}/prometheus/targets"),
            raw=dict(env),
        )


def read_cluster_env(path: str | Path) -> dict[str, str]:
    """Parse `export KEY=value` lines."""
    values: dict[str, str] = {}
    for line in Path(path).read_text().splitlines():
        line = line.strip()
        if line.startswith("export ") and "=" in line:
            key, _, value = line[len("export ") :].partition("=")
            values[key.strip()] = value.strip().strip("'\"")
    return values


# --- demo backends ------------------------------------------------------------------------


def get_faults(control_url: str) -> dict[str, Any]:
    with urllib.request.urlopen(control_url, timeout=5) as resp:
        data: dict[str, Any] = json.load(resp)
    return data


def set_faults(
    control_url: str, *, error_rate: float | None = None, latency_ms: float | None = None
) -> dict[str, Any]:
    """POST the control API; the backend's fault counter restarts."""
    body: dict[str, float] = {}
    if error_rate is not None:
        body["error_rate"] = error_rate
    if latency_ms is not None:
        body["latency_ms"] = latency_ms
    req = urllib.request.Request(
        control_url,
        data=json.dumps(body).encode(),
        method="POST",
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(req, timeout=5) as resp:
        data: dict[str, Any] = json.load(resp)
    return data


class Backends:
    """A `python -m stack.backend` child process serving named backends on free ports."""

    def __init__(
        self, proc: subprocess.Popen[str], ports: Mapping[str, int], pid_file: Path | None
    ):
        self.proc = proc
        self.ports = dict(ports)
        self.pid_file = pid_file

    @classmethod
    def start(
        cls,
        *,
        names: Sequence[str],
        log_dir: str | Path,
        tag: str,
        pid_dir: str | Path | None = None,
        host: str = "127.0.0.1",
        timeout: float = 15.0,
    ) -> Backends:
        """Start backends `names` (ports chosen by the OS); `tag` names the log and pid files.

        The pid is recorded in `pid_dir/extra-<tag>.pid` so `make cluster-down` stops
        leftovers of an interrupted test run.
        """
        log_path = Path(log_dir) / f"backends-{tag}.log"
        log_path.parent.mkdir(parents=True, exist_ok=True)
        args = [sys.executable, "-u", "-m", "stack.backend"]
        for name in names:
            args += ["--serve", f"{name}={host}:0"]
        env = {**os.environ, "PYTHONPATH": str(REPO)}
        with open(log_path, "a") as log:
            proc = subprocess.Popen(
                args, stdout=subprocess.PIPE, stderr=log, text=True, env=env, start_new_session=True
            )
        pid_file = Path(pid_dir) / f"extra-{tag}.pid" if pid_dir else None
        if pid_file:
            pid_file.parent.mkdir(parents=True, exist_ok=True)
            pid_file.write_text(f"{proc.pid}\n")
        ports: dict[str, int] = {}
        deadline = time.monotonic() + timeout
        assert proc.stdout is not None
        while len(ports) < len(names):
            line = proc.stdout.readline()
            if not line or time.monotonic() > deadline:
                proc.kill()
                raise RuntimeError(f"backends {list(names)} did not start; see {log_path}")
            info = json.loads(line)
            ports[info["name"]] = int(info["port"])
        return cls(proc, ports, pid_file)

    def control_url(self, name: str) -> str:
        return f"http://127.0.0.1:{self.ports[name]}/-/control"

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        if self.pid_file:
            self.pid_file.unlink(missing_ok=True)


# --- Kubernetes objects ---------------------------------------------------------------------


def ensure_namespace(
    api: client.ApiClient, *, name: str, labels: Mapping[str, str] = GATEWAY_LABEL
) -> None:
    """Create namespace `name` (labelled for prod-gateway by default); fine if it exists."""
    body: Any = {
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": {"name": name, "labels": dict(labels)},
    }
    try:
        client.CoreV1Api(api).create_namespace(body=body)
    except client.ApiException as exc:
        if exc.status != 409:
            raise


def create_backend_service(
    api: client.ApiClient,
    *,
    namespace: str,
    name: str,
    backend_port: int,
    host: str,
    service_port: int = SERVICE_PORT,
    ready: bool = True,
) -> None:
    """A selector-less Service `name` plus an FQDN EndpointSlice pointing at `host:backend_port`."""
    service: Any = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {"ports": [{"name": "http", "port": service_port, "protocol": "TCP"}]},
    }
    endpoint_slice: Any = {
        "apiVersion": "discovery.k8s.io/v1",
        "kind": "EndpointSlice",
        "metadata": {
            "name": f"{name}-local",
            "namespace": namespace,
            "labels": {
                "kubernetes.io/service-name": name,
                "endpointslice.kubernetes.io/managed-by": "canary-e2e",
            },
        },
        "addressType": "FQDN",
        "ports": [{"name": "http", "port": backend_port, "protocol": "TCP"}],
        "endpoints": [{"addresses": [host], "conditions": {"ready": ready}}],
    }
    client.CoreV1Api(api).create_namespaced_service(namespace, body=service)
    client.DiscoveryV1Api(api).create_namespaced_endpoint_slice(namespace, body=endpoint_slice)


def split_rule(
    *,
    stable: str,
    canary: str,
    weights: tuple[int, int],
    path: str = "/",
    headers: Mapping[str, str] | None = None,
    port: int = SERVICE_PORT,
) -> dict[str, Any]:
    """One HTTPRoute rule: PathPrefix `path` (+ exact headers) split stable/canary."""
    match: dict[str, Any] = {"path": {"type": "PathPrefix", "value": path}}
    if headers:
        match["headers"] = [{"name": k, "value": v} for k, v in headers.items()]
    return {
        "matches": [match],
        "backendRefs": [
            {"name": stable, "port": port, "weight": weights[0]},
            {"name": canary, "port": port, "weight": weights[1]},
        ],
    }


def create_httproute(
    api: client.ApiClient,
    *,
    namespace: str,
    name: str,
    rules: Sequence[Mapping[str, Any]],
    hostnames: Sequence[str],
    gateway: tuple[str, str] = GATEWAY,
) -> dict[str, Any]:
    body = {
        "apiVersion": f"{GATEWAY_GROUP}/v1",
        "kind": "HTTPRoute",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {
            "parentRefs": [{"name": gateway[1], "namespace": gateway[0]}],
            "hostnames": list(hostnames),
            "rules": [dict(r) for r in rules],
        },
    }
    created: Any = client.CustomObjectsApi(api).create_namespaced_custom_object(
        GATEWAY_GROUP, "v1", namespace, "httproutes", body
    )
    return dict(created)


def patch_weights(
    api: client.ApiClient, *, namespace: str, name: str, rule: int, weights: Sequence[int]
) -> None:
    """Test helper (not the operator's guarded patch): set a rule's backendRef weights."""
    ops = [
        {"op": "replace", "path": f"/spec/rules/{rule}/backendRefs/{i}/weight", "value": w}
        for i, w in enumerate(weights)
    ]
    client.CustomObjectsApi(api).patch_namespaced_custom_object(
        GATEWAY_GROUP,
        "v1",
        namespace,
        "httproutes",
        name,
        ops,
        _content_type="application/json-patch+json",
    )


def register_scrape_targets(
    targets_dir: str | Path, *, namespace: str, backends: Mapping[str, int]
) -> Path:
    """Write `<namespace>.json` for Prometheus' file_sd (labels namespace, service)."""
    path = Path(targets_dir) / f"{namespace}.json"
    groups = [
        {"targets": [f"127.0.0.1:{port}"], "labels": {"namespace": namespace, "service": name}}
        for name, port in backends.items()
    ]
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(groups, indent=1))
    tmp.replace(path)  # atomic: Prometheus never reads half a file
    return path


# --- the seed's api-route in a test namespace -----------------------------------------------


@dataclass
class App:
    """A deployed api-route scenario; `close()` stops its backends and scrape targets."""

    namespace: str
    route: str
    stable: str
    canary: str
    hostname: str
    url: str
    headers: dict[str, str]
    backends: Backends
    targets_file: Path

    def control_url(self, name: str) -> str:
        return self.backends.control_url(name)

    def set_faults(
        self, name: str, *, error_rate: float | None = None, latency_ms: float | None = None
    ) -> dict[str, Any]:
        return set_faults(self.control_url(name), error_rate=error_rate, latency_ms=latency_ms)

    def close(self) -> None:
        self.targets_file.unlink(missing_ok=True)
        self.backends.stop()


def deploy_app(
    api: client.ApiClient,
    env: ClusterEnv,
    *,
    namespace: str,
    route: str = "api-route",
    stable: str = "user-service-v2",
    canary: str = "user-service-v3",
    weights: tuple[int, int] = (90, 10),
    path: str = "/users",
    headers: Mapping[str, str] | None = None,
    hostname: str | None = None,
    fallback_rule: bool = True,
    gateway: tuple[str, str] = GATEWAY,
    timeout: float = 30.0,
) -> App:
    """The seed's api-route in `namespace`: rule 0 splits `headers`-matching traffic
    `weights` between stable and canary; rule 1 (fallback) sends the rest of `path` to stable.

    The route's parent is `gateway` (namespace, name): the seed's infra/prod-gateway unless
    a test brings its own.

    Returns once the route is Accepted/ResolvedRefs, Traefik serves the weights, and
    Prometheus scrapes both backends.
    """
    headers = dict(headers if headers is not None else {"X-Api-Version": "v2"})
    hostname = hostname or f"{namespace}.example.com"
    ensure_namespace(api, name=namespace)
    backends = Backends.start(
        names=[stable, canary],
        log_dir=Path(env.local_dir) / "logs",
        pid_dir=Path(env.local_dir) / "pids",
        tag=namespace,
    )
    try:
        for name in (stable, canary):
            create_backend_service(
                api,
                namespace=namespace,
                name=name,
                backend_port=backends.ports[name],
                host=env.backend_host,
            )
        rules = [
            split_rule(stable=stable, canary=canary, weights=weights, path=path, headers=headers)
        ]
        if fallback_rule:
            rules.append(
                {
                    "matches": [{"path": {"type": "PathPrefix", "value": path}}],
                    "backendRefs": [{"name": stable, "port": SERVICE_PORT}],
                }
            )
        create_httproute(
            api, namespace=namespace, name=route, rules=rules, hostnames=[hostname], gateway=gateway
        )
        targets = register_scrape_targets(
            env.targets_dir, namespace=namespace, backends=backends.ports
        )
        wait_route_applied(
            api,
            HttpTraefikApi(base_url=env.traefik_api_url),
            namespace=namespace,
            name=route,
            rules={0: {0: weights[0], 1: weights[1]}},
            timeout=timeout,
        )
        for port in backends.ports.values():
            instance = f"127.0.0.1:{port}"
            wait_scraped(
                env.prometheus_url, instance=instance, namespace=namespace, timeout=timeout
            )
    except BaseException:
        backends.stop()
        raise
    return App(
        namespace=namespace,
        route=route,
        stable=stable,
        canary=canary,
        hostname=hostname,
        url=f"{env.gateway_url}{path}",
        headers={"Host": hostname, **headers},
        backends=backends,
        targets_file=targets,
    )


@contextlib.contextmanager
def app_context(api: client.ApiClient, env: ClusterEnv, **kwargs: Any) -> Any:
    """`with app_context(api, env, namespace=ns) as app:` — deploy_app + close."""
    app = deploy_app(api, env, **kwargs)
    try:
        yield app
    finally:
        app.close()
