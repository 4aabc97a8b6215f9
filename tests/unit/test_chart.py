"""The Helm chart renders what we promise: least-privilege RBAC, a hardened Deployment.

Runs every helm that `make tools` built (hack/build-helm.sh: $CANARY_CACHE/helm/<v>/helm;
Helm 4 by default, Helm 3 too when built), so the chart is checked with both majors.
"""

from __future__ import annotations

import os
import re
import subprocess
import tomllib
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
CHART = REPO / "chart"
CACHE = Path(os.environ.get("CANARY_CACHE", "/var/cache/canary-e2e"))

Obj = dict[str, Any]
Render = Callable[..., list[Obj]]


def helm_binaries() -> list[Path]:
    """Every helm built by hack/build-helm.sh (or CANARY_HELM), newest major first."""
    if os.environ.get("CANARY_HELM"):
        return [Path(os.environ["CANARY_HELM"])]
    found = [p for p in (CACHE / "helm").glob("v*/helm") if os.access(p, os.X_OK)]
    return sorted(found, key=lambda p: p.parent.name, reverse=True)


HELMS = helm_binaries()
needs_helm = pytest.mark.skipif(
    not HELMS, reason=f"no helm under {CACHE}/helm/ — run `make tools` (hack/build-helm.sh)"
)

# (apiGroup, resource) → verbs: exactly what the operator uses (chart/README.md "RBAC").
NAMESPACED_RULES: dict[tuple[str, str], set[str]] = {
    ("canary.dev", "rollouts"): {"get", "list", "watch", "patch"},
    ("canary.dev", "rollouts/status"): {"get", "patch"},
    ("gateway.networking.k8s.io", "httproutes"): {"get", "list", "watch", "patch"},
    ("gateway.networking.k8s.io", "grpcroutes"): {"get", "list", "watch", "patch"},
    ("gateway.networking.k8s.io", "gateways"): {"get", "list", "watch"},
    ("gateway.networking.k8s.io", "referencegrants"): {"get", "list", "watch"},
    ("", "services"): {"get", "list", "watch"},
    ("discovery.k8s.io", "endpointslices"): {"get", "list", "watch"},
    ("", "events"): {"create", "patch"},
}
CLUSTER_SCOPED_RULES: dict[tuple[str, str], set[str]] = {
    ("gateway.networking.k8s.io", "gatewayclasses"): {"get", "list", "watch"},
    ("", "namespaces"): {"get", "list", "watch"},
    ("apiextensions.k8s.io", "customresourcedefinitions"): {"get", "list", "watch"},
}
# What the evaluator's caches list + watch in a read-only namespace (--read-namespace).
READ_ONLY_RULES = {
    key: {"get", "list", "watch"}
    for key in NAMESPACED_RULES
    if key[1]
    in {"gateways", "httproutes", "grpcroutes", "referencegrants", "services", "endpointslices"}
}
LEASE_RULES = {("coordination.k8s.io", "leases"): {"create", "get", "update"}}
FORBIDDEN_RESOURCES = {
    "secrets",
    "configmaps",
    "pods",
    "pods/exec",
    "deployments",
    "statefulsets",
    "daemonsets",
    "replicasets",
    "jobs",
    "cronjobs",
    "*",
}


class UniqueKeyLoader(yaml.SafeLoader):
    """A SafeLoader that refuses a mapping with a repeated key (PyYAML keeps the last one
    silently; the API server's decoder and other tools may keep the first or refuse)."""


def _unique_mapping(loader: yaml.SafeLoader, node: yaml.MappingNode, deep: bool = False) -> Any:
    seen: set[Any] = set()
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=deep)
        if key in seen:
            raise yaml.constructor.ConstructorError(
                "while constructing a mapping",
                node.start_mark,
                f"found duplicate key {key!r}",
                key_node.start_mark,
            )
        seen.add(key)
    return loader.construct_mapping(node, deep=deep)


UniqueKeyLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _unique_mapping)


def load_unique(text: str) -> list[Any]:
    """Every document of ``text``; a duplicate key anywhere raises ``ConstructorError``."""
    return list(yaml.load_all(text, Loader=UniqueKeyLoader))


def run_helm(helm: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "HELM_CACHE_HOME": "/tmp/canary-helm/cache"}
    env.update(HELM_CONFIG_HOME="/tmp/canary-helm/config", HELM_DATA_HOME="/tmp/canary-helm/data")
    return subprocess.run(
        [str(helm), *args], capture_output=True, text=True, env=env, timeout=60, check=False
    )


@pytest.fixture(params=HELMS, ids=[p.parent.name for p in HELMS])
def helm(request: pytest.FixtureRequest) -> Path:
    path: Path = request.param
    return path


@pytest.fixture
def render(helm: Path) -> Render:
    """`render(set=[...], namespace=...)` → the documents `helm template` produces."""

    def run(*, set: Iterable[str] = (), namespace: str = "canary-system") -> list[Obj]:
        args = ["template", "canary", str(CHART), "--namespace", namespace]
        for item in set:
            args += ["--set", item]
        proc = run_helm(helm, *args)
        assert proc.returncode == 0, proc.stderr
        return [d for d in load_unique(proc.stdout) if d]  # duplicate keys fail every render

    return run


def of_kind(docs: list[Obj], kind: str) -> list[Obj]:
    return [d for d in docs if d["kind"] == kind]


def one(docs: list[Obj], kind: str) -> Obj:
    found = of_kind(docs, kind)
    assert len(found) == 1, f"{len(found)} {kind}s"
    return found[0]


def rule_table(rules: list[Obj]) -> dict[tuple[str, str], set[str]]:
    """Flatten RBAC rules to (apiGroup, resource) → verbs (resourceNames ignored here)."""
    table: dict[tuple[str, str], set[str]] = {}
    for rule in rules:
        for group in rule["apiGroups"]:
            for resource in rule["resources"]:
                table.setdefault((group, resource), set()).update(rule["verbs"])
    return table


def env_of(container: Obj) -> dict[str, Any]:
    return {e["name"]: e.get("value", e.get("valueFrom")) for e in container.get("env", [])}


# -- chart metadata and copies -------------------------------------------------------------


def test_chart_metadata() -> None:
    chart = yaml.safe_load((CHART / "Chart.yaml").read_text())
    assert (chart["apiVersion"], chart["name"], chart["version"]) == ("v2", "canary", "0.1.0")
    assert chart["appVersion"] == "0.1.0"
    assert chart["kubeVersion"].startswith(">=1.29")


def test_chart_crd_is_a_copy_of_crds_rollout_yaml() -> None:
    """`make crds` copies it; if this fails, run `make crds`."""
    assert (CHART / "crds" / "rollout.yaml").read_bytes() == (
        REPO / "crds" / "rollout.yaml"
    ).read_bytes()
    assert sorted(p.name for p in (CHART / "crds").iterdir()) == ["rollout.yaml"]


def test_values_are_commented() -> None:
    """Every paragraph of values.yaml that sets top-level keys explains them in a comment."""
    text = (CHART / "values.yaml").read_text()
    keys = set(yaml.safe_load(text))
    seen: set[str] = set()
    for paragraph in text.split("\n\n"):
        lines = paragraph.strip("\n").splitlines()
        defined = {m.group(1) for line in lines if (m := re.match(r"^([A-Za-z]\w*):", line))}
        seen |= defined
        if defined - {"nameOverride", "fullnameOverride", "imagePullSecrets"}:
            assert any(line.lstrip().startswith("#") for line in lines), sorted(defined)
    assert seen == keys


def test_requirements_lock_pins_every_runtime_dependency() -> None:
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    lock = (REPO / "requirements.lock").read_text().splitlines()
    pins = dict(line.split("==", 1) for line in lock if line.strip() and not line.startswith("#"))

    def norm(name: str) -> str:
        return re.sub(r"[-_.]+", "-", name).lower()

    pinned = {norm(name) for name in pins}
    for dep in project["dependencies"]:
        name = norm(re.split(r"[<>=!~;\[ ]", dep, maxsplit=1)[0])
        assert name in pinned, f"{name} missing from requirements.lock"
    assert all(re.fullmatch(r"[0-9][0-9A-Za-z.+!-]*", v) for v in pins.values())


def test_dockerfile_runs_canary_run_as_non_root() -> None:
    text = (REPO / "Dockerfile").read_text()
    assert re.search(r"^FROM \$\{BASE_IMAGE\}$", text, re.M)  # tests/unit/test_image_build.py
    assert re.search(r"^USER 65532:65532$", text, re.M)
    assert 'ENTRYPOINT ["canary", "run"]' in text
    assert "requirements.lock" in text


# -- helm lint and template ----------------------------------------------------------------

NON_DEFAULT = [
    "replicas=2",
    "watchNamespaces={team-a,team-b}",
    "rbac.readOnlyNamespaces={infra}",
    "serviceMonitor.enabled=true",
    "serviceMonitor.labels.release=kube-prometheus-stack",
    "prometheus.url=http://prometheus.monitoring.svc:9090",
    "analysis.interval=30s",
    "analysis.minRequests=50",
    "log.level=debug",
    "log.format=text",
    "image.tag=0.1.1",
    "nodeSelector.kubernetes\\.io/os=linux",
    "tolerations[0].key=dedicated,tolerations[0].operator=Exists",
    "extraEnv[0].name=EXTRA,extraEnv[0].value=1",
]


# The uninstall hook and the single-node values (the node e2e's).
HOOK_AND_NODE = [
    "uninstall.releaseFinalizers=true",
    "watchNamespaces={team-a,team-b}",
    "hostNetwork=true",
    "updateStrategy.maxSurge=0",
    "updateStrategy.maxUnavailable=1",
]


@needs_helm
@pytest.mark.parametrize(
    "values", [[], NON_DEFAULT, HOOK_AND_NODE], ids=["defaults", "non-default", "hook-and-node"]
)
def test_helm_lint(helm: Path, values: list[str]) -> None:
    args = ["lint", str(CHART), "--strict"]
    for item in values:
        args += ["--set", item]
    proc = run_helm(helm, *args)
    assert proc.returncode == 0, proc.stdout + proc.stderr


@needs_helm
def test_kube_version_constraint(helm: Path) -> None:
    assert run_helm(helm, "template", str(CHART), "--kube-version", "1.29.0").returncode == 0
    old = run_helm(helm, "template", str(CHART), "--kube-version", "1.28.9")
    assert old.returncode != 0 and "kubeVersion" in old.stderr


@needs_helm
def test_defaults_render_the_documented_objects(render: Render) -> None:
    docs = render()
    kinds = sorted((d["kind"], d["metadata"]["name"]) for d in docs)
    assert kinds == [
        ("ClusterRole", "canary"),
        ("ClusterRoleBinding", "canary"),
        ("Deployment", "canary"),
        ("Role", "canary-lease"),
        ("RoleBinding", "canary-lease"),
        ("Service", "canary-metrics"),
        ("ServiceAccount", "canary"),
    ]
    for doc in docs:
        if doc["kind"] not in {"ClusterRole", "ClusterRoleBinding"}:
            assert doc["metadata"]["namespace"] == "canary-system", doc["kind"]


@needs_helm
def test_deployment_is_hardened_and_probed(render: Render) -> None:
    deployment = one(render(), "Deployment")
    pod = deployment["spec"]["template"]["spec"]
    assert pod["serviceAccountName"] == "canary"
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["runAsUser"] == 65532
    assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    (container,) = pod["containers"]
    assert container["command"] == ["canary", "run"]
    sc = container["securityContext"]
    assert sc["runAsNonRoot"] is True
    assert sc["readOnlyRootFilesystem"] is True
    assert sc["allowPrivilegeEscalation"] is False
    assert sc["capabilities"] == {"drop": ["ALL"]}
    assert "add" not in sc["capabilities"] and not sc.get("privileged")
    ports = {p["name"]: p["containerPort"] for p in container["ports"]}
    assert ports == {"health": 8080, "metrics": 9090}
    for probe in ("startupProbe", "livenessProbe", "readinessProbe"):
        assert container[probe]["httpGet"] == {"path": "/healthz", "port": "health"}, probe
    assert container["resources"]["requests"] and container["resources"]["limits"]["memory"]
    assert {"--health-port=8080", "--metrics-port=9090", "--lease-name=canary-operator"} <= set(
        container["args"]
    )
    assert not any(a.startswith("--namespace") for a in container["args"])  # all namespaces
    env = env_of(container)
    assert env["POD_NAME"] == {"fieldRef": {"fieldPath": "metadata.name"}}
    assert env["POD_NAMESPACE"] == {"fieldRef": {"fieldPath": "metadata.namespace"}}
    assert "CANARY_PROMETHEUS_URL" not in env  # no default address unless configured
    assert (env["CANARY_DEFAULT_INTERVAL"], env["CANARY_DEFAULT_MIN_REQUESTS"]) == ("1m", "20")
    mounts = {m["mountPath"] for m in container["volumeMounts"]}
    assert mounts == {"/tmp"}


@needs_helm
def test_default_rbac_is_exactly_what_the_operator_uses(render: Render) -> None:
    docs = render()
    cluster_role = one(docs, "ClusterRole")
    assert rule_table(cluster_role["rules"]) == {**NAMESPACED_RULES, **CLUSTER_SCOPED_RULES}
    binding = one(docs, "ClusterRoleBinding")
    assert binding["roleRef"]["name"] == "canary"
    assert binding["subjects"] == [
        {"kind": "ServiceAccount", "name": "canary", "namespace": "canary-system"}
    ]
    lease_role = one(docs, "Role")
    assert rule_table(lease_role["rules"]) == LEASE_RULES
    named = [r for r in lease_role["rules"] if r.get("resourceNames")]
    assert named == [
        {
            "apiGroups": ["coordination.k8s.io"],
            "resources": ["leases"],
            "resourceNames": ["canary-operator"],
            "verbs": ["get", "update"],
        }
    ]


@needs_helm
@pytest.mark.parametrize("values", [[], NON_DEFAULT], ids=["defaults", "non-default"])
def test_no_rule_touches_secrets_configmaps_pods_or_workloads(
    render: Render, values: list[str]
) -> None:
    for doc in render(set=values):
        for rule in doc.get("rules", []):
            assert not FORBIDDEN_RESOURCES & set(rule["resources"]), (doc["kind"], rule)
            assert "*" not in rule["verbs"] and "*" not in rule["apiGroups"], rule
            assert not {"delete", "deletecollection", "escalate", "bind", "impersonate"} & set(
                rule["verbs"]
            ), rule


@needs_helm
def test_two_replicas_get_a_pdb_and_the_lease(render: Render) -> None:
    docs = render(set=["replicas=2"])
    deployment = one(docs, "Deployment")
    assert deployment["spec"]["replicas"] == 2
    pdb = one(docs, "PodDisruptionBudget")
    assert pdb["spec"]["minAvailable"] == 1
    assert pdb["spec"]["selector"]["matchLabels"] == deployment["spec"]["selector"]["matchLabels"]
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    assert "--lease-name=canary-operator" in container["args"]
    assert {"POD_NAME", "POD_NAMESPACE"} <= set(env_of(container))
    assert one(docs, "Role")["metadata"]["name"] == "canary-lease"
    assert not of_kind(render(), "PodDisruptionBudget")  # one replica: none by default
    assert of_kind(render(set=["podDisruptionBudget.enabled=true"]), "PodDisruptionBudget")


@needs_helm
def test_watch_namespaces_use_a_role_per_namespace(render: Render) -> None:
    docs = render(set=["watchNamespaces={a,b}", "rbac.readOnlyNamespaces={infra,a}"])
    roles = {(r["metadata"]["namespace"], r["metadata"]["name"]): r for r in of_kind(docs, "Role")}
    assert set(roles) == {
        ("a", "canary"),
        ("b", "canary"),
        ("infra", "canary-read"),  # "a" is watched already: no extra read-only Role
        ("canary-system", "canary-lease"),
    }
    for ns in ("a", "b"):
        assert rule_table(roles[(ns, "canary")]["rules"]) == NAMESPACED_RULES
    assert rule_table(roles[("infra", "canary-read")]["rules"]) == READ_ONLY_RULES
    # The ClusterRole keeps only what a Role cannot grant: reads of cluster-scoped objects.
    assert rule_table(one(docs, "ClusterRole")["rules"]) == CLUSTER_SCOPED_RULES
    bindings = {
        (b["metadata"]["namespace"], b["roleRef"]["name"]) for b in of_kind(docs, "RoleBinding")
    }
    assert bindings == set(roles)
    (container,) = one(docs, "Deployment")["spec"]["template"]["spec"]["containers"]
    assert [a for a in container["args"] if a.startswith("--namespace")] == [
        "--namespace=a",
        "--namespace=b",
    ]
    # "infra" only is read (a Role there and --read-namespace); "a" is watched already.
    assert [a for a in container["args"] if a.startswith("--read-namespace")] == [
        "--read-namespace=infra"
    ]


@needs_helm
def test_the_caches_may_list_and_watch_every_kind_they_read(render: Render) -> None:
    """Namespaced mode: each kind the evaluator caches is list+watch in the watched and in
    the read-only namespaces; GatewayClasses and Namespaces cluster-wide (ClusterRole)."""
    docs = render(set=["watchNamespaces={team}", "rbac.readOnlyNamespaces={infra}"])
    cached = [
        ("gateway.networking.k8s.io", kind)
        for kind in ("gateways", "httproutes", "grpcroutes", "referencegrants")
    ] + [("", "services"), ("discovery.k8s.io", "endpointslices")]
    roles = {r["metadata"]["namespace"]: rule_table(r["rules"]) for r in of_kind(docs, "Role")}
    for ns in ("team", "infra"):
        for key in cached:
            assert {"list", "watch"} <= roles[ns].get(key, set()), (ns, key)
    cluster = rule_table(one(docs, "ClusterRole")["rules"])
    for key in (("gateway.networking.k8s.io", "gatewayclasses"), ("", "namespaces")):
        assert {"list", "watch"} <= cluster[key], key


@needs_helm
def test_read_only_namespaces_without_watch_namespaces_are_refused(helm: Path) -> None:
    proc = run_helm(helm, "template", str(CHART), "--set", "rbac.readOnlyNamespaces={infra}")
    assert proc.returncode != 0
    assert "rbac.readOnlyNamespaces needs watchNamespaces" in proc.stderr, proc.stderr


@needs_helm
def test_client_limits_resync_and_contest_settings_reach_the_operator(render: Render) -> None:
    def args(values: list[str]) -> list[str]:
        (container,) = one(render(set=values), "Deployment")["spec"]["template"]["spec"][
            "containers"
        ]
        return [a for a in container["args"] if a.split("=")[0] in LIMIT_FLAGS]

    assert args([]) == [
        "--resync-interval=300",
        "--kube-qps=20",
        "--kube-burst=40",
        "--contest-limit=3",
        "--contest-window=10m",
    ]
    assert args(["kubeClient.qps=50", "kubeClient.burst=100", "resyncInterval=600"]) == [
        "--resync-interval=600",
        "--kube-qps=50",
        "--kube-burst=100",
        "--contest-limit=3",
        "--contest-window=10m",
    ]
    assert args(["kubeClient.qps=2.5"])[1] == "--kube-qps=2.5"
    assert args(["contest.limit=5", "contest.window=30m"])[-2:] == [
        "--contest-limit=5",
        "--contest-window=30m",
    ]
    # No --read-namespace in all-namespaces mode (the operator would refuse to start).
    (container,) = one(render(), "Deployment")["spec"]["template"]["spec"]["containers"]
    assert not any(a.startswith("--read-namespace") for a in container["args"])


LIMIT_FLAGS = {
    "--resync-interval",
    "--kube-qps",
    "--kube-burst",
    "--contest-limit",
    "--contest-window",
}


def test_chart_defaults_equal_the_operator_defaults() -> None:
    """values.yaml's kubeClient/resyncInterval are `canary run`'s own defaults."""
    import click

    from canary.operator.run import register_run

    group = click.Group()
    register_run(group)
    defaults = {p.name: p.default for p in group.commands["run"].params}
    values = yaml.safe_load((CHART / "values.yaml").read_text())
    assert values["kubeClient"]["qps"] == defaults["kube_qps"]
    assert values["kubeClient"]["burst"] == defaults["kube_burst"]
    assert values["resyncInterval"] == defaults["resync_interval"]
    assert values["contest"]["limit"] == defaults["contest_limit"]
    assert values["contest"]["window"] == defaults["contest_window"]


@needs_helm
def test_service_monitor_and_metrics_service(render: Render) -> None:
    assert not of_kind(render(), "ServiceMonitor")
    docs = render(set=["serviceMonitor.enabled=true", "serviceMonitor.labels.release=prom"])
    monitor = one(docs, "ServiceMonitor")
    assert monitor["apiVersion"] == "monitoring.coreos.com/v1"
    assert monitor["metadata"]["labels"]["release"] == "prom"
    service = one(docs, "Service")
    assert service["spec"]["ports"] == [
        {"name": "metrics", "port": 9090, "targetPort": "metrics", "protocol": "TCP"}
    ]
    selector = monitor["spec"]["selector"]["matchLabels"]
    assert selector.items() <= service["metadata"]["labels"].items()
    assert monitor["spec"]["endpoints"][0]["port"] == "metrics"
    assert monitor["spec"]["endpoints"][0]["path"] == "/metrics"


@needs_helm
def test_non_default_values_reach_the_deployment(render: Render) -> None:
    docs = render(set=NON_DEFAULT)
    pod = one(docs, "Deployment")["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    env = env_of(container)
    assert env["CANARY_PROMETHEUS_URL"] == "http://prometheus.monitoring.svc:9090"
    assert (env["CANARY_DEFAULT_INTERVAL"], env["CANARY_DEFAULT_MIN_REQUESTS"]) == ("30s", "50")
    assert env["EXTRA"] == "1"
    assert {"--log-level=debug", "--log-format=text"} <= set(container["args"])
    assert container["image"] == "ghcr.io/canary-dev/canary:0.1.1"
    assert pod["nodeSelector"] == {"kubernetes.io/os": "linux"}
    assert pod["tolerations"] == [{"key": "dedicated", "operator": "Exists"}]
    digest = "sha256:" + "0" * 64
    (pinned,) = one(render(set=[f"image.digest={digest}"]), "Deployment")["spec"]["template"][
        "spec"
    ]["containers"]
    assert pinned["image"] == f"ghcr.io/canary-dev/canary@{digest}"


@needs_helm
def test_rbac_create_false_renders_no_rbac(render: Render) -> None:
    docs = render(
        set=["rbac.create=false", "serviceAccount.create=false", "serviceAccount.name=mine"]
    )
    assert not {"ClusterRole", "ClusterRoleBinding", "Role", "RoleBinding", "ServiceAccount"} & {
        d["kind"] for d in docs
    }
    assert one(docs, "Deployment")["spec"]["template"]["spec"]["serviceAccountName"] == "mine"


# -- duplicate keys ----------------------------------------------------------------------


def test_the_unique_key_loader_refuses_a_repeated_key() -> None:
    assert load_unique("a: 1\nb: {c: 2}\n---\nd: 3\n") == [{"a": 1, "b": {"c": 2}}, {"d": 3}]
    with pytest.raises(yaml.constructor.ConstructorError, match="duplicate key 'component'"):
        load_unique("metadata:\n  labels:\n    component: operator\n    component: metrics\n")


@needs_helm
def test_no_rendered_object_repeats_a_key(render: Render) -> None:
    """Every template, every optional object on (render() loads with UniqueKeyLoader)."""
    docs = render(
        set=[
            "replicas=2",
            "serviceMonitor.enabled=true",
            "watchNamespaces={a,b}",
            "rbac.readOnlyNamespaces={infra}",
            "prometheus.url=http://prometheus:9090",
            "prometheus.allow={http://other:9090}",
            "extraEnv[0].name=X",
            "extraEnv[0].value=1",
            "extraArgs={--log-level=debug}",
            "uninstall.releaseFinalizers=true",
            "hostNetwork=true",
        ]
    )
    kinds = {d["kind"] for d in docs}
    assert {"Deployment", "Service", "ServiceMonitor", "PodDisruptionBudget", "Role"} <= kinds
    assert "Job" in kinds  # the post-delete hook
    service = one(docs, "Service")
    assert service["metadata"]["labels"]["app.kubernetes.io/component"] == "metrics"


# -- the uninstall hook, hostNetwork, updateStrategy ----------------------------------------

HOOK = "canary-release-finalizers"
HOOK_RULES = {("canary.dev", "rollouts"): {"list", "patch"}}


def hooked(docs: list[Obj]) -> list[Obj]:
    annotations = (d["metadata"].get("annotations") or {} for d in docs)
    return [d for d, a in zip(docs, annotations, strict=True) if "helm.sh/hook" in a]


def selector_of(text: str) -> dict[str, str]:
    return dict(pair.split("=", 1) for pair in text.split(","))


@needs_helm
def test_release_finalizers_hook_is_off_by_default(render: Render) -> None:
    for values in ([], NON_DEFAULT, ["hostNetwork=true"]):
        docs = render(set=values)
        assert not hooked(docs), values
        assert not of_kind(docs, "Job"), values
        assert not [d for d in docs if d["metadata"]["name"].startswith(HOOK)], values


@needs_helm
def test_release_finalizers_hook_is_a_post_delete_job_with_its_own_narrow_rbac(
    render: Render,
) -> None:
    docs = render(set=["uninstall.releaseFinalizers=true"])
    hooks = hooked(docs)
    assert sorted((d["kind"], d["metadata"]["name"]) for d in hooks) == [
        ("ClusterRole", HOOK),
        ("ClusterRoleBinding", HOOK),
        ("Job", HOOK),
        ("Role", f"{HOOK}-pods"),
        ("RoleBinding", f"{HOOK}-pods"),
        ("ServiceAccount", HOOK),
    ]
    weight = {}
    for d in hooks:
        notes = d["metadata"]["annotations"]
        assert notes["helm.sh/hook"] == "post-delete", d["kind"]
        # deleted when it succeeded (and replaced if one was left over): nothing stays
        assert notes["helm.sh/hook-delete-policy"] == "before-hook-creation,hook-succeeded"
        weight[d["kind"]] = int(notes.get("helm.sh/hook-weight", "0"))
    # the identity and its rules exist before the bindings, the bindings before the Job
    assert weight["ServiceAccount"] < weight["ClusterRoleBinding"] < weight["Job"]
    assert weight["ClusterRole"] == weight["Role"] == weight["ServiceAccount"]
    assert weight["RoleBinding"] == weight["ClusterRoleBinding"]
    # only the finalizer's patch of Rollouts, and a read of the release's Pods
    roles = {d["kind"]: d for d in hooks}
    assert rule_table(roles["ClusterRole"]["rules"]) == HOOK_RULES
    assert rule_table(roles["Role"]["rules"]) == {("", "pods"): {"list"}}
    assert roles["Role"]["metadata"]["namespace"] == "canary-system"
    subject = [{"kind": "ServiceAccount", "name": HOOK, "namespace": "canary-system"}]
    for kind in ("ClusterRoleBinding", "RoleBinding"):
        assert roles[kind]["subjects"] == subject, kind
    assert roles["ClusterRoleBinding"]["roleRef"]["name"] == HOOK
    assert roles["RoleBinding"]["roleRef"]["name"] == f"{HOOK}-pods"

    job = roles["Job"]
    pod = job["spec"]["template"]["spec"]
    assert pod["serviceAccountName"] == HOOK and pod["restartPolicy"] == "Never"
    assert job["spec"]["activeDeadlineSeconds"] > 0 and job["spec"]["backoffLimit"] >= 0
    deployment = one(docs, "Deployment")["spec"]["template"]
    (operator,) = deployment["spec"]["containers"]
    (container,) = pod["containers"]
    # the operator's image and hardening
    assert container["image"] == operator["image"]
    assert pod["securityContext"] == deployment["spec"]["securityContext"]
    assert container["securityContext"] == operator["securityContext"]
    assert {m["mountPath"] for m in container["volumeMounts"]} == {"/tmp"}
    env = env_of(container)
    assert env["WATCH_NAMESPACES"] == ""  # all namespaces: the cluster-wide list
    # it waits for the operator's Pods, and its own Pod is not one of them
    selector = selector_of(env["OPERATOR_SELECTOR"])
    assert selector.items() <= deployment["metadata"]["labels"].items()
    assert not selector.items() <= job["spec"]["template"]["metadata"]["labels"].items()
    script = "\n".join(container["args"])
    assert '"canary.dev/restore-route"' in script and '"op": "test"' in script
    assert "list_cluster_custom_object" in script


@needs_helm
def test_release_finalizers_hook_with_watch_namespaces_has_a_role_per_namespace(
    render: Render,
) -> None:
    docs = render(set=["uninstall.releaseFinalizers=true", "watchNamespaces={a,b}"])
    hooks = hooked(docs)
    assert not {"ClusterRole", "ClusterRoleBinding"} & {d["kind"] for d in hooks}
    roles = {
        (d["kind"], d["metadata"]["namespace"], d["metadata"]["name"]): d
        for d in hooks
        if d["kind"] in {"Role", "RoleBinding"}
    }
    assert set(roles) == {
        ("Role", "a", HOOK),
        ("RoleBinding", "a", HOOK),
        ("Role", "b", HOOK),
        ("RoleBinding", "b", HOOK),
        ("Role", "canary-system", f"{HOOK}-pods"),
        ("RoleBinding", "canary-system", f"{HOOK}-pods"),
    }
    for ns in ("a", "b"):
        assert rule_table(roles[("Role", ns, HOOK)]["rules"]) == HOOK_RULES
        binding = roles[("RoleBinding", ns, HOOK)]
        assert binding["roleRef"] == {
            "apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": HOOK,
        }  # fmt: skip
        assert binding["subjects"] == [
            {"kind": "ServiceAccount", "name": HOOK, "namespace": "canary-system"}
        ]
    (container,) = one(docs, "Job")["spec"]["template"]["spec"]["containers"]
    assert env_of(container)["WATCH_NAMESPACES"] == "a,b"  # lists only where it may


@needs_helm
def test_host_network_is_off_by_default_and_reaches_the_operator_and_the_hook(
    render: Render,
) -> None:
    docs = render(set=["uninstall.releaseFinalizers=true"])
    for kind in ("Deployment", "Job"):
        pod = one(docs, kind)["spec"]["template"]["spec"]
        assert "hostNetwork" not in pod and "dnsPolicy" not in pod, kind
    docs = render(set=["uninstall.releaseFinalizers=true", "hostNetwork=true"])
    for kind in ("Deployment", "Job"):
        pod = one(docs, kind)["spec"]["template"]["spec"]
        # on the host network the cluster DNS needs ClusterFirstWithHostNet
        assert (pod["hostNetwork"], pod["dnsPolicy"]) == (True, "ClusterFirstWithHostNet"), kind


@needs_helm
def test_update_strategy_defaults_to_surge_and_takes_the_values(render: Render) -> None:
    def strategy(values: list[str]) -> Obj:
        found: Obj = one(render(set=values), "Deployment")["spec"]["strategy"]
        return found

    # default: the new Pod starts before the old one stops (the Lease keeps one acting)
    assert strategy([]) == {
        "type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0},
    }  # fmt: skip
    # a single node on the host network: stop, then start
    stop_start = strategy(["updateStrategy.maxSurge=0", "updateStrategy.maxUnavailable=1"])
    assert stop_start["rollingUpdate"] == {"maxSurge": 0, "maxUnavailable": 1}
    percent = strategy(["updateStrategy.maxSurge=50%", "updateStrategy.maxUnavailable=25%"])
    assert percent["rollingUpdate"] == {"maxSurge": "50%", "maxUnavailable": "25%"}
