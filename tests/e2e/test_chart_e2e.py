"""The chart's manifests on the real API server, and its RBAC as the operator's only identity.

Given the chart rendered by helm (hack/build-helm.sh), when its ServiceAccount, ClusterRole
and bindings are created for real and a token is minted for that ServiceAccount, then that
token — and nothing else: no KUBECONFIG, no admin certificate — can do exactly what the
operator needs and cannot read Secrets or write workloads.

Reuse for the operator proof (`canary run` through a healthy rollout under the chart's
RBAC): `from test_chart_e2e import chart_identity` (pytest registers an imported fixture),
then run the operator with `env=chart_identity.operator_env()`.
"""

from __future__ import annotations

import json
import os
import secrets
import subprocess
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml
from kubernetes import client

from stack.scenario import ensure_namespace

pytestmark = pytest.mark.e2e

REPO = Path(__file__).resolve().parents[2]
CACHE = Path(os.environ.get("CANARY_CACHE", "/var/cache/canary-e2e"))
CHART = REPO / "chart"
KUBECTL = os.environ.get("CANARY_KUBECTL", str(CACHE / "venv" / "bin" / "kubectl"))

Obj = dict[str, Any]
Kubectl = Callable[..., subprocess.CompletedProcess[str]]

# Variables through which a process could pick up credentials other than the token.
CREDENTIAL_VARS = ("KUBECONFIG", "KUBERNETES_SERVICE_HOST", "KUBERNETES_SERVICE_PORT")
RBAC_KINDS = ("ServiceAccount", "ClusterRole", "ClusterRoleBinding", "Role", "RoleBinding")


# -- helpers (reusable) --------------------------------------------------------------------


def unique_namespace(prefix: str) -> str:
    return f"t-chart-{prefix}-{secrets.token_hex(3)}"


def find_helm() -> Path | None:
    """The helm hack/build-helm.sh built (newest), or CANARY_HELM."""
    if os.environ.get("CANARY_HELM"):
        return Path(os.environ["CANARY_HELM"])
    found = sorted((CACHE / "helm").glob("v*/helm"), key=lambda p: p.parent.name, reverse=True)
    return found[0] if found else None


def render_chart(*, release: str, namespace: str, values: Sequence[str] = ()) -> list[Obj]:
    """`helm template RELEASE chart/ -n NAMESPACE --set …` as a list of objects."""
    helm = find_helm()
    if helm is None:
        pytest.skip(f"no helm under {CACHE}/helm/ — run `make tools` (hack/build-helm.sh)")
    args = [str(helm), "template", release, str(CHART), "--namespace", namespace]
    for value in values:
        args += ["--set", value]
    proc = subprocess.run(args, capture_output=True, text=True, timeout=60, check=False)
    assert proc.returncode == 0, proc.stderr
    return [doc for doc in yaml.safe_load_all(proc.stdout) if doc]


def to_yaml(docs: Sequence[Obj]) -> str:
    return yaml.safe_dump_all(docs, sort_keys=False)


@dataclass(frozen=True)
class TokenIdentity:
    """A ServiceAccount token and what a client needs to use it — no other credential."""

    username: str  # system:serviceaccount:<namespace>:<name>
    server: str
    token_file: Path
    ca_file: str
    home: Path  # an empty HOME: no ~/.kube/config to fall back on

    def operator_env(self, base: Mapping[str, str] | None = None) -> dict[str, str]:
        """Environment for `canary run` as this identity only (adapters/kube.py, way 2)."""
        env = {
            key: value
            for key, value in (os.environ if base is None else base).items()
            if key not in CREDENTIAL_VARS and not key.startswith("CANARY_KUBE_")
        }
        env.update(
            CANARY_KUBE_SERVER=self.server,
            CANARY_KUBE_TOKEN_FILE=str(self.token_file),
            CANARY_KUBE_CA_FILE=self.ca_file,
            HOME=str(self.home),
        )
        assert_only_token_credentials(env)
        return env

    def kubectl(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        """kubectl as this identity: an empty kubeconfig, the server, the CA, the token."""
        token = self.token_file.read_text().strip()
        proc = subprocess.run(
            [
                KUBECTL,
                "--kubeconfig",
                os.devnull,
                "--server",
                self.server,
                "--certificate-authority",
                self.ca_file,
                "--token",
                token,
                *args,
            ],
            capture_output=True,
            text=True,
            env=self.operator_env(),
            timeout=60,
            check=False,
        )
        if check and proc.returncode != 0:
            raise AssertionError(f"kubectl {' '.join(args)} as {self.username}: {proc.stderr}")
        return proc

    def can(self, verb: str, resource: str, *flags: str) -> bool:
        """`kubectl auth can-i VERB RESOURCE FLAGS…` as this identity."""
        proc = self.kubectl("auth", "can-i", verb, resource, *flags, check=False)
        answer = proc.stdout.strip().splitlines()[-1] if proc.stdout.strip() else ""
        assert answer in {"yes", "no"}, f"can-i {verb} {resource}: {proc.stdout}{proc.stderr}"
        return answer == "yes"


def assert_only_token_credentials(env: Mapping[str, str]) -> None:
    """No kubeconfig, no in-cluster variables, nothing pointing at the admin's key pair."""
    assert not set(CREDENTIAL_VARS) & set(env), set(CREDENTIAL_VARS) & set(env)
    for key, value in env.items():
        assert "admin.key" not in value and "admin.crt" not in value, key
        assert not value.endswith("kubeconfig"), key


def mint_identity(
    kubectl: Kubectl,
    cluster: Mapping[str, str],
    *,
    namespace: str,
    service_account: str,
    directory: Path,
    duration: str = "2h",
) -> TokenIdentity:
    """TokenRequest for the ServiceAccount (as admin), written to a 0600 file."""
    token = kubectl(
        "create", "token", service_account, "-n", namespace, f"--duration={duration}"
    ).stdout.strip()
    directory.mkdir(parents=True, exist_ok=True)
    token_file = directory / "token"
    token_file.touch(mode=0o600)
    token_file.write_text(token)
    home = directory / "home"
    home.mkdir(exist_ok=True)
    return TokenIdentity(
        username=f"system:serviceaccount:{namespace}:{service_account}",
        server=cluster["APISERVER_URL"],
        token_file=token_file,
        ca_file=cluster["CA_FILE"],
        home=home,
    )


def install_chart_rbac(kubectl: Kubectl, docs: Sequence[Obj]) -> Callable[[], None]:
    """Create the chart's ServiceAccount, (Cluster)Roles and bindings for real.

    Returns a cleanup that deletes the cluster-scoped ones (namespaced objects go with
    their test namespace's lifetime; the stack never deletes namespaces).
    """
    rbac = [doc for doc in docs if doc["kind"] in RBAC_KINDS]
    kubectl(
        "apply", "--server-side", "--field-manager=canary-chart-e2e", "-f", "-", input=to_yaml(rbac)
    )
    cluster_scoped = [d for d in rbac if d["kind"] in {"ClusterRole", "ClusterRoleBinding"}]

    def cleanup() -> None:
        for doc in cluster_scoped:
            kind = doc["kind"].lower()
            kubectl("delete", kind, doc["metadata"]["name"], "--ignore-not-found", check=False)

    return cleanup


@pytest.fixture
def chart_identity(
    cluster: dict[str, str], kubectl: Kubectl, namespace: str, tmp_path: Path
) -> Iterator[TokenIdentity]:
    """The chart's RBAC installed (release in `namespace`, default values: all namespaces)
    and a token for its ServiceAccount. Run the operator with `.operator_env()`.
    """
    release = f"canary-{secrets.token_hex(3)}"
    docs = render_chart(release=release, namespace=namespace)
    cleanup = install_chart_rbac(kubectl, docs)
    (sa,) = [d["metadata"]["name"] for d in docs if d["kind"] == "ServiceAccount"]
    try:
        yield mint_identity(
            kubectl, cluster, namespace=namespace, service_account=sa, directory=tmp_path / "sa"
        )
    finally:
        cleanup()


# -- tests ---------------------------------------------------------------------------------


@pytest.mark.timeout(120)
def test_rendered_manifests_pass_server_side_dry_run(
    kubectl: Kubectl, kube: client.ApiClient, namespace: str
) -> None:
    other = unique_namespace("watched")
    ensure_namespace(kube, name=other)
    for values in (
        [],
        ["replicas=2", f"watchNamespaces={{{other}}}", "prometheus.url=http://prom:9090"],
    ):
        docs = render_chart(release="canary", namespace=namespace, values=values)
        kinds = {doc["kind"] for doc in docs}
        assert "Deployment" in kinds
        out = kubectl(
            "apply", "--dry-run=server", "--server-side", "--field-manager=canary-chart-e2e",
            "-f", "-", input=to_yaml(docs),
        ).stdout  # fmt: skip
        print(out)
        assert "deployment.apps/canary serverside-applied (server dry run)" in out
        if "replicas=2" in values:
            assert "poddisruptionbudget.policy/canary serverside-applied" in out
            assert "role.rbac.authorization.k8s.io/canary serverside-applied" in out
    crd = kubectl(
        "apply", "--dry-run=server", "--server-side", "--force-conflicts",
        "--field-manager=canary-chart-e2e", "-f", str(CHART / "crds" / "rollout.yaml"),
    ).stdout  # fmt: skip
    assert "customresourcedefinition.apiextensions.k8s.io/rollouts.canary.dev" in crd


@pytest.mark.timeout(120)
def test_chart_service_account_can_do_exactly_what_the_operator_needs(
    chart_identity: TokenIdentity, namespace: str
) -> None:
    me = chart_identity
    whoami = json.loads(me.kubectl("auth", "whoami", "-o", "json").stdout)
    print("kubectl auth whoami:", json.dumps(whoami["status"]["userInfo"]))
    assert whoami["status"]["userInfo"]["username"] == me.username
    assert "system:masters" not in whoami["status"]["userInfo"].get("groups", [])
    print(me.kubectl("auth", "can-i", "--list", "-n", namespace).stdout)

    allowed = [
        ("patch", "rollouts.canary.dev"),
        ("watch", "rollouts.canary.dev"),
        ("patch", "rollouts.canary.dev", "--subresource=status"),
        ("patch", "httproutes.gateway.networking.k8s.io"),
        ("patch", "grpcroutes.gateway.networking.k8s.io"),
        ("list", "gateways.gateway.networking.k8s.io"),
        ("list", "referencegrants.gateway.networking.k8s.io"),
        ("list", "gatewayclasses.gateway.networking.k8s.io"),
        ("watch", "services"),
        ("watch", "endpointslices.discovery.k8s.io"),
        ("list", "namespaces"),
        ("watch", "customresourcedefinitions.apiextensions.k8s.io"),
        ("create", "events"),
        ("create", "leases.coordination.k8s.io", "-n", namespace),
        ("update", "leases.coordination.k8s.io/canary-operator", "-n", namespace),
    ]
    denied = [
        ("get", "secrets"),
        ("list", "secrets", "-A"),
        ("get", "configmaps"),
        ("list", "pods"),
        ("create", "deployments.apps"),
        ("patch", "deployments.apps"),
        ("update", "deployments.apps"),
        ("create", "httproutes.gateway.networking.k8s.io"),
        ("update", "httproutes.gateway.networking.k8s.io"),
        ("delete", "httproutes.gateway.networking.k8s.io"),
        ("delete", "rollouts.canary.dev"),
        ("patch", "gateways.gateway.networking.k8s.io"),
        ("patch", "services"),
        ("update", "leases.coordination.k8s.io/someone-else", "-n", namespace),
        ("create", "leases.coordination.k8s.io", "-n", "default"),
        ("create", "clusterrolebindings.rbac.authorization.k8s.io"),
    ]

    def scoped(flags: list[str]) -> list[str]:
        return flags if {"-n", "-A"} & set(flags) else ["-n", namespace, *flags]

    for verb, resource, *flags in allowed:
        assert me.can(verb, resource, *scoped(flags)), (verb, resource, flags)
    for verb, resource, *flags in denied:
        assert not me.can(verb, resource, *scoped(flags)), (verb, resource, flags)

    # Real requests, not only the authorizer's opinion.
    assert me.kubectl("get", "httproutes.gateway.networking.k8s.io", "-A").returncode == 0
    assert me.kubectl("get", "rollouts.canary.dev", "-A").returncode == 0
    forbidden = me.kubectl("get", "secrets", "-n", namespace, check=False)
    assert forbidden.returncode != 0 and "forbidden" in forbidden.stderr.lower()
    forbidden = me.kubectl(
        "create", "deployment", "x", "--image=busybox", "-n", namespace, check=False
    )
    assert forbidden.returncode != 0 and "forbidden" in forbidden.stderr.lower()


@pytest.mark.timeout(120)
def test_watch_namespaces_confine_the_service_account(
    cluster: dict[str, str],
    kubectl: Kubectl,
    kube: client.ApiClient,
    namespace: str,
    tmp_path: Path,
) -> None:
    watched, unwatched = unique_namespace("watched"), unique_namespace("unwatched")
    for ns in (watched, unwatched):
        ensure_namespace(kube, name=ns)
    release = f"canary-{secrets.token_hex(3)}"
    docs = render_chart(
        release=release, namespace=namespace, values=[f"watchNamespaces={{{watched}}}"]
    )
    cleanup = install_chart_rbac(kubectl, docs)
    try:
        me = mint_identity(
            kubectl, cluster, namespace=namespace, service_account=release, directory=tmp_path
        )
        route = "httproutes.gateway.networking.k8s.io"
        assert me.can("patch", route, "-n", watched)
        assert me.can("patch", "rollouts.canary.dev", "-n", watched, "--subresource=status")
        assert not me.can("patch", route, "-n", unwatched)
        assert not me.can("list", "rollouts.canary.dev", "-n", unwatched)
        assert not me.can("list", route, "-A")
        # Cluster-scoped reads stay (a Role cannot grant them); still nothing on Secrets.
        assert me.can("list", "gatewayclasses.gateway.networking.k8s.io")
        assert me.can("list", "namespaces")
        assert not me.can("get", "secrets", "-n", watched)
    finally:
        cleanup()


def test_operator_env_carries_the_token_only(chart_identity: TokenIdentity) -> None:
    base = {"KUBECONFIG": "/x/kubeconfig", "KUBERNETES_SERVICE_HOST": "10.0.0.1", "PATH": "/bin"}
    env = chart_identity.operator_env(base)
    assert env["PATH"] == "/bin"
    assert env["CANARY_KUBE_SERVER"].startswith("https://")
    assert Path(env["CANARY_KUBE_TOKEN_FILE"]).read_text().count(".") == 2  # a JWT
    assert Path(env["CANARY_KUBE_CA_FILE"]).is_file()
    assert not any(k in env for k in CREDENTIAL_VARS)
    assert not list(Path(env["HOME"]).iterdir())
