"""Fixtures for e2e tests on the real local control plane (docs/local-control-plane.md).

The session reuses a healthy stack (`.local/cluster.env` + health checks) or starts one
with hack/cluster-up.sh, and stops it at the end only if it started it (set
CANARY_KEEP_STACK=1 to keep it). Each test gets a fresh namespace; namespaces are never
deleted (no namespace controller runs).
"""

from __future__ import annotations

import os
import re
import secrets
import subprocess
import sys
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client, config

REPO = Path(__file__).resolve().parents[2]
if str(REPO) not in sys.path:  # `stack/` is a repo directory, not an installed package
    sys.path.insert(0, str(REPO))
if str(Path(__file__).parent) not in sys.path:  # operator_support, test helpers
    sys.path.insert(0, str(Path(__file__).parent))

from stack.scenario import (  # noqa: E402 - after the sys.path fix above
    App,
    ClusterEnv,
    deploy_app,
    ensure_namespace,
    read_cluster_env,
)

LOCAL = Path(os.environ.get("CANARY_LOCAL", REPO / ".local"))
ENV_FILE = LOCAL / "cluster.env"
CACHE = Path(os.environ.get("CANARY_CACHE", "/var/cache/canary-e2e"))
KUBECTL = os.environ.get("CANARY_KUBECTL", str(CACHE / "venv" / "bin" / "kubectl"))

Kubectl = Callable[..., subprocess.CompletedProcess[str]]


def _ok(url: str, cafile: str | None = None) -> bool:
    import ssl

    ctx = ssl.create_default_context(cafile=cafile) if cafile else None
    try:
        with urllib.request.urlopen(url, timeout=2, context=ctx) as resp:
            return bool(resp.status == 200)
    except OSError:
        return False


def stack_healthy() -> bool:
    if not ENV_FILE.exists():
        return False
    env = read_cluster_env(ENV_FILE)
    try:
        return all(
            [
                _ok(f"{env['APISERVER_URL']}/readyz", env.get("CA_FILE")),
                _ok(f"{env['TRAEFIK_API_URL']}/ping"),
                _ok(f"{env['PROMETHEUS_URL']}/-/ready"),
                _ok(env["STABLE_CONTROL_URL"]),
                _ok(env["CANARY_CONTROL_URL"]),
            ]
        )
    except KeyError:
        return False


@pytest.fixture(scope="session")
def cluster() -> Iterator[dict[str, str]]:
    """The `.local/cluster.env` values of a running stack (started when absent)."""
    started = False
    if not stack_healthy():
        proc = subprocess.run(
            ["bash", str(REPO / "hack" / "cluster-up.sh")],
            cwd=REPO,
            capture_output=True,
            text=True,
            timeout=300,
        )
        if proc.returncode != 0:
            pytest.fail(f"cluster-up failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
        print(proc.stdout.strip().splitlines()[-1])
        started = True
    yield read_cluster_env(ENV_FILE)
    if started and not os.environ.get("CANARY_KEEP_STACK"):
        subprocess.run(["bash", str(REPO / "hack" / "cluster-down.sh")], cwd=REPO, timeout=120)


@pytest.fixture(scope="session")
def cluster_env(cluster: dict[str, str]) -> ClusterEnv:
    return ClusterEnv.from_mapping(cluster)


@pytest.fixture(scope="session")
def kube(cluster: dict[str, str]) -> client.ApiClient:
    """A kubernetes ApiClient authenticated as the stack's admin (client certificate)."""
    api: client.ApiClient = config.new_client_from_config(  # type: ignore[no-untyped-call]
        config_file=cluster["KUBECONFIG"]
    )
    return api


@pytest.fixture(scope="session")
def kubectl(cluster: dict[str, str]) -> Kubectl:
    """run kubectl: `kubectl("get", "ns", input=None, check=True)` → CompletedProcess."""
    env = {**os.environ, "KUBECONFIG": cluster["KUBECONFIG"]}
    env.pop("KUBERNETES_SERVICE_HOST", None)
    env.pop("KUBERNETES_SERVICE_PORT", None)

    def run(
        *args: str, input: str | None = None, check: bool = True
    ) -> subprocess.CompletedProcess[str]:
        proc = subprocess.run(
            [KUBECTL, *args], input=input, capture_output=True, text=True, env=env, timeout=60
        )
        if check and proc.returncode != 0:
            raise AssertionError(f"kubectl {' '.join(args)} failed: {proc.stderr.strip()}")
        return proc

    return run


def unique_namespace(nodeid: str) -> str:
    base = re.sub(r"[^a-z0-9]+", "-", nodeid.split("::")[-1].lower()).strip("-")
    return f"t-{base[:48].strip('-')}-{secrets.token_hex(3)}"


@pytest.fixture
def namespace(request: pytest.FixtureRequest, kube: client.ApiClient) -> str:
    """A fresh namespace for this test, admitted by infra/prod-gateway (never deleted)."""
    name = unique_namespace(request.node.nodeid)
    ensure_namespace(kube, name=name)
    return name


@pytest.fixture
def deploy(
    kube: client.ApiClient, cluster_env: ClusterEnv, namespace: str
) -> Iterator[Callable[..., App]]:
    """`deploy(weights=(90, 10), …)` → the seed's api-route with own backends in `namespace`."""
    apps: list[App] = []

    def make(**kwargs: Any) -> App:
        app = deploy_app(kube, cluster_env, namespace=kwargs.pop("namespace", namespace), **kwargs)
        apps.append(app)
        return app

    yield make
    for app in apps:
        app.close()


FIGURES: list[str] = []


@pytest.fixture
def figure(request: pytest.FixtureRequest) -> Callable[[str], None]:
    """`figure("patch→split 0.15 s")`: a measured figure, printed in the session summary."""

    def add(text: str) -> None:
        FIGURES.append(f"{request.node.name}: {text}")

    return add


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if FIGURES:
        terminalreporter.section("measured figures (reported, not asserted)")
        for line in FIGURES:
            terminalreporter.write_line(line)


@pytest.fixture
def operator(
    request: pytest.FixtureRequest, cluster: dict[str, str], namespace: str
) -> Iterator[Callable[..., Any]]:
    """`operator(identity="a", extra_args=(...), env=None)` → a started OperatorProcess.

    Watches only this test's namespace and holds its Lease there; stopped at teardown.
    Logs go to .local/logs/operator-<namespace>-<identity>.log.
    """
    from operator_support import OperatorProcess

    procs: list[Any] = []

    def start(identity: str = "op-a", **kwargs: Any) -> Any:
        proc = OperatorProcess(
            namespace=namespace,
            cluster=cluster,
            identity=identity,
            log_path=LOCAL / "logs" / f"operator-{namespace}-{identity}.log",
            **kwargs,
        ).start()
        procs.append(proc)
        return proc

    yield start
    for proc in procs:
        proc.stop()
