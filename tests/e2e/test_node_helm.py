"""`helm install canary chart/` on a real node, running the image `make image` built.

Given the local control plane, a real node beside it (hack/node-up.sh: containerd 2.x +
runc + kubelet, kube-scheduler, kube-controller-manager; Pods on the host network only) and
the image built from the Dockerfile (hack/build-image.sh) and pushed to a loopback registry
(hack/registry.sh) by hack/push-image.sh, as `make image-push` pushes to a user's, when the
chart is installed with that image, then the operator Pod becomes Ready through its own
probes under the chart's securityContext, and it — not a process of this test — walks a
healthy Rollout to Succeeded and rolls a failing one back (Traefik, Prometheus and the
backends stay outside the cluster, reached on loopback); `helm upgrade` with a changed
value replaces the Pod and the Lease hands over with no step taken twice; after
`helm uninstall`, deleting a Rollout does not hang on its finalizer.

The tests of this module run in order and share one release.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import pytest
from kubernetes import client
from operator_support import Traffic, lease_holder, rollout_events, rollout_manifest, wait_until
from test_chart_e2e import find_helm

from stack.scenario import ClusterEnv, deploy_app, ensure_namespace

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(900)]

REPO = Path(__file__).resolve().parents[2]
LOCAL = Path(os.environ.get("CANARY_LOCAL", REPO / ".local"))
CACHE = Path(os.environ.get("CANARY_CACHE", "/var/cache/canary-e2e"))
CANARY = str(Path(sys.executable).parent / "canary")
RELEASE = "canary"
STEPS = [
    {"weight": 5, "pause": "4s"},
    {"weight": 50, "pause": "4s"},
    {"weight": 100, "pause": "2s"},
]
GATED = [{"weight": 5, "pause": "4s"}, {"weight": 50}, {"weight": 100, "pause": "2s"}]  # gate at 2


def sh(*args: str, timeout: float = 900) -> str:
    proc = subprocess.run(
        ["bash", *args], cwd=REPO, capture_output=True, text=True, timeout=timeout, check=False
    )
    assert proc.returncode == 0, f"{' '.join(args)} failed:\n{proc.stdout}\n{proc.stderr}"
    return proc.stdout


@dataclass
class Node:
    image: str  # registry reference without tag/digest
    digest: str
    node_ip: str
    cluster: dict[str, str]


@pytest.fixture(scope="module")
def node(cluster: dict[str, str]) -> Iterator[Node]:
    """The image (re)built from the working tree, pushed, and the node up (stopped after)."""
    port = urlparse(cluster["APISERVER_URL"]).port
    env_ports = {"APISERVER_PORT": str(port)}
    saved = {k: os.environ.get(k) for k in env_ports}
    os.environ.update(env_ports)  # the hack/ scripts derive the node's ports from it
    try:
        yield from _node_up(cluster)
    finally:
        for k, v in saved.items():  # the rest of the session sees the environment it had
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def _node_up(cluster: dict[str, str]) -> Iterator[Node]:
    for tool in ("kubelet", "kube-scheduler", "kube-controller-manager"):
        if not (CACHE / "k8s" / os.environ.get("K8S_VERSION", "v1.36.3") / tool).exists():
            pytest.fail(f"{tool} is not built: run `make node-tools` (hack/build-node.sh)")
    registry_up = (LOCAL / "registry" / "registry.env").exists()
    started = time.monotonic()
    sh("hack/build-image.sh")
    print(f"image (re)built from the working tree in {time.monotonic() - started:.0f} s")
    sh("hack/registry.sh", "up")
    registry = (LOCAL / "registry" / "registry.env").read_text().split("REGISTRY=")[1].strip()
    # the user's path (`make image-push IMAGE=…`), to the loopback registry (plain HTTP)
    ref = f"{registry}/canary:dev"
    out = sh("hack/push-image.sh", ref, "--tls-verify=false").strip().splitlines()
    digest = out[-1].rsplit("@", 1)[1]
    assert out[-1] == f"{ref}@{digest}" and digest.startswith("sha256:"), out
    already = (LOCAL / "node" / "node.env").exists()
    print(sh("hack/node-up.sh").strip().splitlines()[-1])
    node_ip = (LOCAL / "node" / "node-ip").read_text().strip()
    yield Node(image=ref.rsplit(":", 1)[0], digest=digest, node_ip=node_ip, cluster=cluster)
    if not already and not os.environ.get("CANARY_KEEP_STACK"):
        sh("hack/node-down.sh", timeout=120)
        if not registry_up:
            sh("hack/registry.sh", "down", timeout=60)


@dataclass
class Release:
    namespace: str  # the release's (and the Lease's)
    watched: dict[str, str]  # purpose -> a namespace of this module's Rollouts
    values: list[str]
    health_port: int

    def pods(self, kube: Any) -> list[Any]:
        selector = f"app.kubernetes.io/instance={RELEASE}"
        items = client.CoreV1Api(kube).list_namespaced_pod(self.namespace, label_selector=selector)
        return list(items.items)


def helm(*args: str) -> subprocess.CompletedProcess[str]:
    binary = find_helm()
    if binary is None:
        pytest.fail(f"no helm under {CACHE}/helm/: run `make tools`")
    env = {**os.environ, "KUBECONFIG": str(LOCAL / "kubeconfig")}
    env.pop("KUBERNETES_SERVICE_HOST", None)
    return subprocess.run(
        [str(binary), *args], capture_output=True, text=True, timeout=300, env=env, check=False
    )


@pytest.fixture(scope="module")
def release(node: Node, kube: Any) -> Iterator[Release]:
    """`helm install canary chart/` with the local image; otherwise the chart's defaults
    (all namespaces, a ClusterRole). The tests use three fresh namespaces.

    The namespaced mode (`watchNamespaces`, Roles) is run by
    tests/e2e/test_chart_namespaced_rollout.py (the operator as a process with the chart's
    ServiceAccount token); its Gateway 403 at the cluster scope was fixed by issue 11's
    scoped caches. Here the chart's default mode runs in a Pod.
    """
    suffix = os.urandom(3).hex()
    ns = f"t-node-{suffix}"
    watched = {p: f"t-node-{p}-{suffix}" for p in ("healthy", "faulty", "upgrade")}
    for name in (ns, *watched.values()):
        ensure_namespace(kube, name=name)
    apiserver = urlparse(node.cluster["APISERVER_URL"])
    assert apiserver.port is not None
    health_port, metrics_port = apiserver.port + 106, apiserver.port + 107
    extra_env = {
        # the `kubernetes` Service's ClusterIP needs kube-proxy; the node has none, and
        # the operator shares the host's network: the apiserver listens on loopback
        "KUBERNETES_SERVICE_HOST": "127.0.0.1",
        "KUBERNETES_SERVICE_PORT": str(apiserver.port),
        "CANARY_TRAEFIK_API_URL": node.cluster["TRAEFIK_API_URL"],
    }
    values = [
        f"image.repository={node.image}",
        f"image.digest={node.digest}",
        "hostNetwork=true",
        "updateStrategy.maxSurge=0",
        "updateStrategy.maxUnavailable=1",
        f"health.port={health_port}",
        f"metrics.port={metrics_port}",
        f"metrics.service.port={metrics_port}",
        f"prometheus.url={node.cluster['PROMETHEUS_URL']}",
        "extraArgs={--resync-interval=1}",
        # a short Lease so the upgrade's hand-over is quick (renew deadline < duration)
        "leaderElection.leaseDuration=6",
        "leaderElection.renewDeadline=4",
        "leaderElection.retryPeriod=1",
        "uninstall.releaseFinalizers=true",
    ]
    for i, (name, value) in enumerate(extra_env.items()):
        values += [f"extraEnv[{i}].name={name}", f"extraEnv[{i}].value={value}"]
    args = ["install", RELEASE, str(REPO / "chart"), "-n", ns]
    for v in values:
        args += ["--set", v]
    proc = helm(*args, "--wait", "--timeout", "180s")
    assert proc.returncode == 0, proc.stderr
    yield Release(namespace=ns, watched=watched, values=values, health_port=health_port)
    if RELEASE in helm("list", "-n", ns, "-q").stdout.split():  # a test failed before uninstall
        helm("uninstall", RELEASE, "-n", ns, "--wait", "--timeout", "180s")


# -- helpers ---------------------------------------------------------------------------------


def _rollout(kube: Any, namespace: str, name: str = "rollout") -> dict[str, Any]:
    obj = client.CustomObjectsApi(kube).get_namespaced_custom_object(
        "canary.dev", "v1alpha1", namespace, "rollouts", name
    )
    return dict(obj)


def _status(kube: Any, namespace: str) -> dict[str, Any]:
    return dict(_rollout(kube, namespace).get("status") or {})


def _phase(kube: Any, namespace: str, phase: str) -> Any:
    def check() -> dict[str, Any] | None:
        st = _status(kube, namespace)
        return st if st.get("phase") == phase else None

    return check


def _ready_pod(kube: Any, rel: Release) -> Any:
    """The one Ready operator Pod that is not being deleted, else None."""
    pods = [p for p in rel.pods(kube) if p.metadata.deletion_timestamp is None]
    if len(pods) != 1:
        return None
    conds = {c.type: c.status for c in pods[0].status.conditions or []}
    return pods[0] if conds.get("Ready") == "True" else None


def _container_pid(pod: Any) -> int:
    """The operator container's init process, from containerd's own record."""
    (status,) = pod.status.container_statuses
    cid = status.container_id.removeprefix("containerd://")
    tasks = LOCAL / "node" / "containerd" / "state" / "io.containerd.runtime.v2.task"
    return int((tasks / "k8s.io" / cid / "init.pid").read_text())


def _proc_status(pid: int) -> dict[str, str]:
    lines = Path(f"/proc/{pid}/status").read_text().splitlines()
    return dict(line.split(":\t", 1) for line in lines if ":\t" in line)


def _mount_options(pid: int) -> dict[str, set[str]]:
    """Mount point (inside the container) -> its per-mount options."""
    out: dict[str, set[str]] = {}
    for line in Path(f"/proc/{pid}/mountinfo").read_text().splitlines():
        fields = line.split()
        out[fields[4]] = set(fields[5].split(","))
    return out


def _weight_events(kube: Any, namespace: str) -> list[str]:
    out: list[str] = []
    for e in rollout_events(kube, namespace=namespace, name="rollout"):
        if e["reason"] == "WeightsApplied":
            out += [e["message"]] * int(e["count"])
    return out


def _step_events(kube: Any, namespace: str) -> list[str]:
    out: list[str] = []
    for e in rollout_events(kube, namespace=namespace, name="rollout"):
        if e["reason"] == "StepAdvanced":
            out += [e["message"]] * int(e["count"])
    return out


# -- tests -----------------------------------------------------------------------------------


def test_image_holds_the_pinned_packages_and_a_nonroot_user(node: Node) -> None:
    store = CACHE / "image"
    bah = ["buildah", "--root", str(store / "storage"), "--runroot", str(store / "run")]
    image = os.environ.get("CANARY_IMAGE", "localhost/canary:dev")
    cfg = json.loads(subprocess.check_output([*bah, "inspect", "--type", "image", image]))
    assert cfg["OCIv1"]["config"]["User"] == "65532:65532"
    assert cfg["OCIv1"]["config"]["Entrypoint"] == ["canary", "run"]
    ctr = subprocess.check_output([*bah, "from", image], text=True).strip()
    try:
        root = Path(subprocess.check_output([*bah, "mount", ctr], text=True).strip())
        site = next((root / "opt/canary/lib").glob("python3*/site-packages"))
        installed = {}
        for info in site.glob("*.dist-info"):
            meta = (info / "METADATA").read_text(errors="replace")
            name = re.search(r"^Name: (.+)$", meta, re.M)
            version = re.search(r"^Version: (.+)$", meta, re.M)
            assert name and version, info
            installed[re.sub(r"[-_.]+", "-", name.group(1)).lower()] = version.group(1)
        lock = {}
        for line in (REPO / "requirements.lock").read_text().splitlines():
            if line.strip() and not line.startswith("#"):
                n, v = line.split("==")
                lock[re.sub(r"[-_.]+", "-", n).lower()] = v.strip()
        assert installed.pop("canary")
        assert installed == lock  # exactly the pins: no pip, no setuptools, nothing else
        dpkg = (root / "var/lib/dpkg/status").read_text()
        packages = set(re.findall(r"^Package: (\S+)$", dpkg, re.M))
        runtime = re.search(r"# canary-runtime-packages.*\n.*--no-install-recommends ([^\\]+)",
                            (REPO / "Dockerfile").read_text())  # fmt: skip
        assert runtime
        assert set(runtime.group(1).split()) <= packages
        assert "python3-venv" not in packages and "python3-pip" not in packages
        passwd = (root / "etc/passwd").read_text()
        assert re.search(r"^nonroot:x:65532:65532:", passwd, re.M)
    finally:
        subprocess.run([*bah, "umount", ctr], capture_output=True, check=False)
        subprocess.run([*bah, "rm", ctr], capture_output=True, check=False)


def test_operator_pod_is_ready_through_its_probes_under_the_charts_security_context(
    release: Release, kube: Any, node: Node
) -> None:
    pod = wait_until("a Ready operator Pod", lambda: _ready_pod(kube, release), timeout=120)
    (container,) = pod.spec.containers
    assert container.image == f"{node.image}@{node.digest}"
    for probe in (container.startup_probe, container.liveness_probe, container.readiness_probe):
        assert probe.http_get.path == "/healthz" and probe.http_get.port == "health"
    assert pod.spec.node_name == "canary-node" and pod.spec.host_network
    # what the kernel says about the running container, not what the spec asks for
    pid = _container_pid(pod)
    st = _proc_status(pid)
    assert st["Uid"].split() == ["65532"] * 4, st["Uid"]
    assert st["Gid"].split() == ["65532"] * 4, st["Gid"]
    assert int(st["CapEff"], 16) == 0 and int(st["CapBnd"], 16) == 0, st
    assert st["NoNewPrivs"] == "1"
    assert st["Seccomp"] == "2", "RuntimeDefault seccomp filter not applied"
    mounts = _mount_options(pid)
    assert "ro" in mounts["/"], mounts["/"]
    assert "rw" in mounts["/tmp"], mounts["/tmp"]
    tokens = {
        "/var/run/secrets/kubernetes.io/serviceaccount",
        "/run/secrets/kubernetes.io/serviceaccount",
    }
    assert tokens & set(mounts), "no ServiceAccount token mounted (ServiceAccount admission off?)"
    # it serves its health endpoint and holds the Lease under its Pod name
    assert lease_holder(kube, namespace=release.namespace) == pod.metadata.name
    assert "Ready" in {c.type for c in pod.status.conditions if c.status == "True"}


def test_healthy_rollout_succeeds_and_faulty_one_rolls_back_driven_by_the_pod(
    release: Release, kube: Any, kubectl: Any, cluster_env: ClusterEnv
) -> None:
    pod = wait_until("a Ready operator Pod", lambda: _ready_pod(kube, release), timeout=60)
    good, bad = release.watched["healthy"], release.watched["faulty"]
    apps = [deploy_app(kube, cluster_env, namespace=ns, weights=(90, 10)) for ns in (good, bad)]
    try:
        apps[1].set_faults(apps[1].canary, error_rate=0.5)
        with (
            Traffic(url=apps[0].url, headers=apps[0].headers, rate=40),
            Traffic(url=apps[1].url, headers=apps[1].headers, rate=40),
        ):
            for ns in (good, bad):
                kubectl("apply", "-f", "-", input=rollout_manifest(namespace=ns, steps=STEPS))
            wait_until("faulty: RolledBack", _phase(kube, bad, "RolledBack"), timeout=120)
            done = wait_until("healthy: Succeeded", _phase(kube, good, "Succeeded"), timeout=120)
    finally:
        for app in apps:
            app.close()
    assert done["canaryWeight"] == 100
    assert _status(kube, bad)["canaryWeight"] == 0
    assert "error-rate" in _status(kube, bad)["message"]
    assert _step_events(kube, good) == ["step 1/3: canary 5%", "step 2/3: canary 50%",
                                        "step 3/3: canary 100%"]  # fmt: skip
    # the in-cluster operator did it: it holds the Lease under its Pod name, and every
    # Event about these Rollouts was reported by that Pod (reportingInstance is the Lease
    # identity, POD_NAME in the chart; the Pod's hostname is the node's on the host network)
    assert lease_holder(kube, namespace=release.namespace) == pod.metadata.name
    events = [e for ns in (good, bad) for e in rollout_events(kube, namespace=ns, name="rollout")]
    assert {"StepAdvanced", "RolledBack"} <= {e["reason"] for e in events}, events
    assert {(e["component"], e["instance"]) for e in events} == {("canary", pod.metadata.name)}


def _at_gate(kube: Any, namespace: str) -> Any:
    def check() -> dict[str, Any] | None:
        st = _status(kube, namespace)
        at = st.get("phase") == "Progressing" and st.get("stepLabel") == "2/3"
        verified = any(
            c["type"] == "SplitVerified" and c["status"] == "True" for c in st.get("conditions", [])
        )
        return st if at and verified else None

    return check


def _promote(namespace: str) -> None:
    env = {**os.environ, "KUBECONFIG": str(LOCAL / "kubeconfig")}
    subprocess.run([CANARY, "promote", "rollout", "-n", namespace], env=env, check=True,
                   capture_output=True, timeout=60)  # fmt: skip


def test_helm_upgrade_replaces_the_pod_and_the_lease_hands_over_without_a_double_step(
    release: Release, kube: Any, kubectl: Any, cluster_env: ClusterEnv
) -> None:
    ns = release.watched["upgrade"]
    first = wait_until("a Ready operator Pod", lambda: _ready_pod(kube, release), timeout=60)
    app = deploy_app(kube, cluster_env, namespace=ns, weights=(90, 10))
    try:
        with Traffic(url=app.url, headers=app.headers, rate=40):
            kubectl("apply", "-f", "-", input=rollout_manifest(namespace=ns, steps=GATED))
            held = wait_until("held at the manual gate of step 2", _at_gate(kube, ns), timeout=120)
            # a changed value: a new Pod template (log level), same image
            args = ["upgrade", RELEASE, str(REPO / "chart"), "-n", release.namespace]
            for v in [*release.values, "log.level=debug"]:
                args += ["--set", v]
            proc = helm(*args, "--wait", "--timeout", "180s")
            assert proc.returncode == 0, proc.stderr

            def handed_over() -> Any:
                pod = _ready_pod(kube, release)
                new = pod is not None and pod.metadata.name != first.metadata.name
                holder = lease_holder(kube, namespace=release.namespace)
                return pod if new and holder == pod.metadata.name else None

            second = wait_until("the new Pod holds the Lease", handed_over, timeout=120)
            (container,) = second.spec.containers
            assert "--log-level=debug" in container.args
            # the gate still holds across the hand-over: nothing moved by itself
            again = wait_until("still at the gate", _at_gate(kube, ns), timeout=30)
            assert again["stepStartedAt"] == held["stepStartedAt"]
            _promote(ns)
            done = wait_until("Succeeded", _phase(kube, ns, "Succeeded"), timeout=90)
    finally:
        app.close()
    assert done["canaryWeight"] == 100
    # every step's weights were written exactly once, in order, across the two Pods
    # (step 3 was entered by the promotion: a Promoted Event instead of StepAdvanced)
    assert _weight_events(kube, ns) == ["writing stable 95 / canary 5",
                                        "writing stable 50 / canary 50",
                                        "writing stable 0 / canary 100"]  # fmt: skip
    assert _step_events(kube, ns) == ["step 1/3: canary 5%", "step 2/3: canary 50%"]


def test_after_helm_uninstall_deleting_a_rollout_does_not_hang_on_its_finalizer(
    release: Release, kube: Any, kubectl: Any
) -> None:
    finalizer = "canary.dev/restore-route"
    watched = list(release.watched.values())
    before = {ns: _rollout(kube, ns)["metadata"].get("finalizers", []) for ns in watched}
    assert all(finalizer in f for f in before.values()), before
    proc = helm("uninstall", RELEASE, "-n", release.namespace, "--wait", "--timeout", "300s")
    assert proc.returncode == 0, proc.stderr
    # the post-delete hook ran after every operator Pod was gone, and removed only that
    assert not release.pods(kube)
    for ns in watched:
        assert finalizer not in (_rollout(kube, ns)["metadata"].get("finalizers") or [])
    jobs = client.BatchV1Api(kube).list_namespaced_job(release.namespace).items
    assert not jobs, [j.metadata.name for j in jobs]  # hook-succeeded: deleted with its RBAC
    for ns in watched:
        kubectl("-n", ns, "delete", "rollouts.canary.dev", "rollout", "--timeout=30s")
        gone = kubectl("-n", ns, "get", "rollouts.canary.dev", "-o", "name", check=False)
        assert gone.stdout.strip() == "", gone.stdout
