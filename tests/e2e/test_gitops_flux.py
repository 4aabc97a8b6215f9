"""GitOps without a tug of war: canary and a real Flux kustomize-controller on one route.

Real parts: kube-apiserver + etcd, Traefik, and Flux kustomize-controller (v1.9.6, built
from its Go module by hack/build-flux.sh). No source-controller: the test serves "the Git
repository" as a tarball on loopback and writes the GitRepository's ``status.artifact``
(URL, ``sha256:`` digest, ``main@sha1:`` revision) the way source-controller would; the
controller downloads, verifies and applies it with server-side apply (field manager
``kustomize-controller``, forced) every ``interval`` (2 s here).

(a) without a recipe: Flux reverts our weights; the 3rd revert ends in ``Contested``
    (Paused, the manager, the fields and the recipe named), the route flipped to our
    weights at most 3 times, and ``canary status --wait`` exits 1;
(b) with ``.spec.ignore`` on the weight paths: the rollout completes, the Kustomization
    stays Ready through reconciles, and the weights stay ours;
(c) same recipe: a Git change to a header filter of the same rule during the rollout is
    applied by Flux (our weights adopted, not reverted) and survives our next step's patch
    and Flux's next reconcile.

No sleeps: "Flux has looked again" is Flux's own reconcile-request handshake
(``reconcile.fluxcd.io/requestedAt`` → ``status.lastHandledReconcileAt``); "the operator has
looked again" is its reconcile counter.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from flux_support import (
    ArtifactServer,
    FluxProcess,
    flux_dir,
    install_crds,
    kustomization,
    read_kustomization,
    ready,
    request_reconcile,
    route_manifest,
    wait_applied,
)
from kubernetes import client
from operator_support import (
    REPO,
    RouteHistory,
    after_reconciles,
    rollout_events,
    rollout_manifest,
    wait_until,
)

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(300)]

GW = ("gateway.networking.k8s.io", "v1", "httproutes")
CANARY = str(Path(sys.executable).parent / "canary")
LOCAL = Path(os.environ.get("CANARY_LOCAL", REPO / ".local"))
K = 3  # canary.core.rollout.contest.REVERTS
WEIGHT_PATHS = ["/spec/rules/0/backendRefs/0/weight", "/spec/rules/0/backendRefs/1/weight"]
RECIPE = [
    {
        "paths": WEIGHT_PATHS,
        "target": {"group": "gateway.networking.k8s.io", "kind": "HTTPRoute", "name": "api-route"},
    }
]


@pytest.fixture(scope="module")
def flux_bin(kubectl: Any) -> Path:
    built = flux_dir()
    install_crds(kubectl, built / "crds")
    return built / "kustomize-controller"


def _route(kube: client.ApiClient, ns: str) -> dict[str, Any]:
    obj: Any = client.CustomObjectsApi(kube).get_namespaced_custom_object(
        GW[0], GW[1], ns, GW[2], "api-route"
    )
    return dict(obj)


def _weights(route: dict[str, Any]) -> tuple[int, ...]:
    return tuple(int(b.get("weight", 1)) for b in route["spec"]["rules"][0]["backendRefs"])


def _rollout(kube: client.ApiClient, ns: str) -> dict[str, Any]:
    obj: Any = client.CustomObjectsApi(kube).get_namespaced_custom_object(
        "canary.dev", "v1alpha1", ns, "rollouts", "rollout"
    )
    return dict(obj)


def _cond(obj: dict[str, Any], ctype: str) -> dict[str, Any]:
    conds = (obj.get("status") or {}).get("conditions") or []
    return next((dict(c) for c in conds if c["type"] == ctype), {})


def _cli(cluster: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "KUBECONFIG": cluster["KUBECONFIG"]}
    env.pop("KUBERNETES_SERVICE_HOST", None)
    return subprocess.run(
        [CANARY, *args], capture_output=True, text=True, env=env, timeout=200, check=False
    )


@pytest.fixture
def gitops(
    kube: client.ApiClient,
    cluster: dict[str, str],
    namespace: str,
    deploy: Callable[..., Any],
    flux_bin: Path,
) -> Iterator[Callable[..., tuple[ArtifactServer, FluxProcess, dict[str, Any]]]]:
    """`gitops(ignore=None)`: the seed route (90/10) put in "Git" and handed to a real Flux.

    Returns (artifact server, the controller, the Git copy of the route) once the
    Kustomization is Ready with the first revision applied."""
    started: list[Any] = []

    def make(
        ignore: list[dict[str, Any]] | None = None,
    ) -> tuple[ArtifactServer, FluxProcess, dict[str, Any]]:
        deploy(weights=(90, 10))
        git_route = _route(kube, namespace)
        server = ArtifactServer(kube, namespace).start()
        started.append(server)
        revision = server.publish({"route.yaml": route_manifest(git_route)})
        flux = FluxProcess(
            binary=flux_bin,
            namespace=namespace,
            kubeconfig=cluster["KUBECONFIG"],
            log_path=LOCAL / "logs" / f"flux-{namespace}.log",
        ).start()
        started.append(flux)
        kustomization(kube, namespace, ignore=ignore)
        wait_applied(kube, namespace, revision, flux)
        managers = [m["manager"] for m in _route(kube, namespace)["metadata"]["managedFields"]]
        assert "kustomize-controller" in managers, managers  # Flux really applied the route
        return server, flux, git_route

    yield make
    for thing in reversed(started):
        thing.stop()


def test_a_without_the_recipe_the_fight_ends_contested(
    kube: client.ApiClient,
    cluster: dict[str, str],
    namespace: str,
    operator: Callable[..., Any],
    gitops: Callable[..., Any],
    kubectl: Any,
    figure: Callable[[str], None],
) -> None:
    server, flux, _ = gitops()
    op = operator()
    steps = [{"weight": 50, "pause": "1h"}, {"weight": 100}]
    with RouteHistory(kube, namespace=namespace, name="api-route") as history:
        rollout = rollout_manifest(namespace=namespace, steps=steps, metrics=[], deadline="10m")
        kubectl("apply", "-f", "-", input=rollout)

        def contested() -> dict[str, Any] | None:
            obj = _rollout(kube, namespace)
            return obj if _cond(obj, "Contested").get("status") == "True" else None

        obj = wait_until("Contested", contested, timeout=150)
        status = obj["status"]
        assert status["phase"] == "Paused" and status["pauseReason"] == "contested"
        message = _cond(obj, "Contested")["message"]
        for needle in ("kustomize-controller", "spec.rules", WEIGHT_PATHS[0], ".spec.ignore"):
            assert needle in message, message
        assert status["contest"]["manager"] == "kustomize-controller"
        assert len(status["contest"]["reverts"]) == K
        # Flux keeps reverting; we have stopped: after Flux reconciled again and the
        # operator looked several more times, Git's weights stand and nothing was re-written
        request_reconcile(kube, namespace, flux)
        after_reconciles(op, namespace, count=3)
        assert _weights(_route(kube, namespace)) == (90, 10)
        flips_seen = history.weights(1).count(50)
    assert 1 <= flips_seen <= K, history.changes
    events = rollout_events(kube, namespace=namespace, name="rollout")
    warnings = [e for e in events if e["reason"] == "Contested"]
    assert len(warnings) == 1 and warnings[0]["type"] == "Warning"
    assert "kustomize-controller" in warnings[0]["message"]
    wait = _cli(cluster, "status", "rollout", "-n", namespace, "--wait", "--timeout", "30s")
    assert wait.returncode == 1, (wait.stdout, wait.stderr)
    assert "Contested" in wait.stderr and "kustomize-controller" in wait.stderr
    assert server.hits() >= 1

    # `canary resume` re-asserts once; Flux still reverts, so counting starts afresh and
    # the fight ends Contested again after at most K more flips
    with RouteHistory(kube, namespace=namespace, name="api-route") as again:
        resume = _cli(cluster, "resume", "rollout", "-n", namespace, "--wait", "--timeout", "60s")
        assert resume.returncode == 0, (resume.stdout, resume.stderr)

        def contested_again() -> dict[str, Any] | None:
            st = _rollout(kube, namespace)["status"]
            c = st.get("contest") or {}
            resumed, since = c.get("resumedAt"), c.get("since")
            return st if resumed and since and since > resumed else None

        again_status = wait_until("Contested again after resume", contested_again, timeout=150)
    assert again_status["phase"] == "Paused"
    assert 1 <= again.weights(1).count(50) <= K, again.changes
    started = obj["status"].get("stepStartedAt")
    since = status["contest"]["since"]
    figure(f"Contested {since} after step start {started}; route flipped to ours {flips_seen}x")


def test_b_with_spec_ignore_the_rollout_completes_and_the_weights_stay_ours(
    kube: client.ApiClient,
    cluster: dict[str, str],
    namespace: str,
    operator: Callable[..., Any],
    gitops: Callable[..., Any],
    kubectl: Any,
) -> None:
    server, flux, _ = gitops(ignore=RECIPE)
    operator()
    steps = [{"weight": 50, "pause": "3s"}, {"weight": 100, "pause": "2s"}]
    kubectl(
        "apply",
        "-f",
        "-",
        input=rollout_manifest(namespace=namespace, steps=steps, metrics=[], deadline="2m"),
    )
    done = _cli(cluster, "status", "rollout", "-n", namespace, "--wait", "--timeout", "150s")
    assert done.returncode == 0, (done.stdout, done.stderr)
    obj = _rollout(kube, namespace)
    assert obj["status"]["phase"] == "Succeeded"
    assert _cond(obj, "Contested") == {} and obj["status"].get("contest") is None
    for _ in range(2):  # Flux looks again (twice): Ready, nothing reverted
        kz = request_reconcile(kube, namespace, flux)
        assert ready(kz).get("status") == "True", kz.get("status")
        assert kz["status"]["lastAppliedRevision"] == server.revisions[-1]
        assert _weights(_route(kube, namespace)) == (0, 100)
    assert _cond(_rollout(kube, namespace), "Drifted").get("status") != "True"


def test_c_a_git_change_to_a_header_filter_is_applied_and_survives_our_patches(
    kube: client.ApiClient,
    cluster: dict[str, str],
    namespace: str,
    operator: Callable[..., Any],
    gitops: Callable[..., Any],
    kubectl: Any,
) -> None:
    server, flux, git_route = gitops(ignore=RECIPE)
    op = operator()
    steps = [{"weight": 50}, {"weight": 100, "pause": "2s"}]  # a manual gate at step 1
    kubectl(
        "apply",
        "-f",
        "-",
        input=rollout_manifest(namespace=namespace, steps=steps, metrics=[], deadline="2m"),
    )
    gate = _cli(
        cluster, "status", "rollout", "-n", namespace, "--until", "paused", "--timeout", "120s"
    )
    assert gate.returncode == 0, (gate.stdout, gate.stderr)
    assert _weights(_route(kube, namespace)) == (50, 50)

    # a commit to Git: a header filter on the rule canary re-weights (weights unchanged: 90/10)
    header = {"name": "X-Git-Change", "value": "filter-1"}
    changed = json.loads(json.dumps(git_route))
    changed["spec"]["rules"][0]["filters"] = [
        {"type": "RequestHeaderModifier", "requestHeaderModifier": {"set": [header]}}
    ]
    revision = server.publish({"route.yaml": route_manifest(changed)})
    wait_applied(kube, namespace, revision, flux)
    route = _route(kube, namespace)
    assert route["spec"]["rules"][0]["filters"][0]["requestHeaderModifier"]["set"] == [header]
    assert _weights(route) == (50, 50)  # Flux adopted our live weights, not Git's 90/10
    rules_owner = [
        m["manager"] for m in route["metadata"]["managedFields"] if "f:rules" in json.dumps(m)
    ]
    assert "kustomize-controller" in rules_owner  # Flux applied (owns the atomic rules now)

    promote = _cli(cluster, "promote", "rollout", "-n", namespace, "--wait", "--timeout", "60s")
    assert promote.returncode == 0, (promote.stdout, promote.stderr)
    done = _cli(cluster, "status", "rollout", "-n", namespace, "--wait", "--timeout", "120s")
    assert done.returncode == 0, (done.stdout, done.stderr)
    after_reconciles(op, namespace, count=2)
    kz = request_reconcile(kube, namespace, flux)
    assert ready(kz).get("status") == "True" and kz["status"]["lastAppliedRevision"] == revision
    route = _route(kube, namespace)
    assert route["spec"]["rules"][0]["filters"][0]["requestHeaderModifier"]["set"] == [header]
    assert _weights(route) == (0, 100)
    obj = _rollout(kube, namespace)
    assert obj["status"]["phase"] == "Succeeded" and _cond(obj, "Contested") == {}
    assert read_kustomization(kube, namespace)["status"]["lastAppliedRevision"] == revision
