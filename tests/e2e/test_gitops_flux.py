"""GitOps without a tug of war: canary and a real Flux kustomize-controller on one route.

Real parts: kube-apiserver + etcd, Traefik, and Flux kustomize-controller (v1.9.6, built
from its Go module by hack/build-flux.sh). No source-controller: the test serves "the Git
repository" as a tarball on loopback and writes the GitRepository's ``status.artifact``
(URL, ``sha256:`` digest, ``main@sha1:`` revision) the way source-controller would; the
controller downloads, verifies and applies it with server-side apply (field manager
``kustomize-controller``, forced) every ``interval`` (2 s here).

(a) without a recipe: Flux reverts our weights; the K-th revert ends in ``Contested``
    (Paused, the manager, the fields and the recipe named; K and the window passed as
    ``--contest-limit``/``--contest-window``, not the defaults, so the flags are proven to
    reach the operator), canary wrote the route at most K times — counted in the
    kube-apiserver audit log by field manager, not by polling — and ``canary status
    --wait`` exits 1. ``canary resume`` while Flux still reverts: Contested again after at
    most K more writes. Then the documented fix: ``.spec.ignore`` added to the
    Kustomization, ``canary resume``, and the rollout completes with Flux Ready;
(b) with ``.spec.ignore`` on the weight paths: the rollout completes, the Kustomization
    stays Ready at every step (a forced reconcile at each manual gate, and a poll over the
    whole rollout) and after it, and the weights stay ours;
(c) same recipe: a Git change to a header filter of the same rule during the rollout is
    applied by Flux (our weights adopted, not reverted) and survives our next step's patch
    and Flux's next reconcile.

No sleeps: "Flux has looked again" is Flux's own reconcile-request handshake
(``reconcile.fluxcd.io/requestedAt`` → ``status.lastHandledReconcileAt``); "the operator has
looked again" is its reconcile counter; "the audit log has caught up" is a marker request.
Needs the audit log (AUDIT_LOG in cluster.env): ``make e2e`` starts the stack with
CANARY_AUDIT=1.
"""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from audit import AuditLog, Entry
from flux_support import (
    ArtifactServer,
    FluxProcess,
    ReadyHistory,
    flux_dir,
    install_crds,
    kustomization,
    read_kustomization,
    ready,
    request_reconcile,
    route_manifest,
    set_ignore,
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
# Case (a)'s operator runs with --contest-limit K --contest-window WINDOW: not the defaults
# (3, 10m; canary.core.rollout.settings), so a setting that did not reach the operator fails
# the revert count and the message below.
K = 2
WINDOW, WINDOW_SECONDS = "5m", 300.0
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


def _audit(cluster: dict[str, str]) -> AuditLog:
    if not cluster.get("AUDIT_LOG"):
        pytest.fail(
            "this test counts canary's route writes in the apiserver audit log: restart the "
            "stack with CANARY_AUDIT=1 (make cluster-down; CANARY_AUDIT=1 make cluster-up)"
        )
    return AuditLog(cluster["AUDIT_LOG"])


def _route_writes(
    audit: AuditLog, kubectl: Any, namespace: str, manager: str, since: datetime
) -> list[Entry]:
    """Successful writes of ``manager`` to the route since ``since``, per the audit log
    (after a marker request shows it has caught up with everything sent before)."""
    marker = f"audit-marker-{secrets.token_hex(3)}"
    kubectl("-n", namespace, "get", "configmap", marker, check=False)

    def caught_up() -> list[Entry] | None:
        entries = audit.entries()
        return entries if any(e.name == marker for e in entries) else None

    entries: list[Entry] = wait_until("the audit log caught up", caught_up, timeout=30)
    return [
        e
        for e in entries
        if e.namespace == namespace
        and e.resource == "httproutes"
        and e.name == "api-route"
        and e.writes
        and e.code == 200
        and e.field_manager == manager
        and e.received >= since
    ]


def _most_in_a_window(writes: list[Entry], seconds: float) -> int:
    """The most writes any window of ``seconds`` holds."""
    times = [e.received for e in writes]
    return max(
        (sum(1 for u in times if 0 <= (u - t).total_seconds() < seconds) for t in times),
        default=0,
    )


def _time(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


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
    audit = _audit(cluster)
    server, flux, _ = gitops()
    op = operator(extra_args=("--contest-limit", str(K), "--contest-window", WINDOW))
    steps = [{"weight": 50}, {"weight": 100, "pause": "2s"}]  # a manual gate at step 1
    applied_at = datetime.now(UTC)
    started = time.monotonic()
    with RouteHistory(kube, namespace=namespace, name="api-route") as history:
        rollout = rollout_manifest(namespace=namespace, steps=steps, metrics=[], deadline="10m")
        kubectl("apply", "-f", "-", input=rollout)

        def contested() -> dict[str, Any] | None:
            obj = _rollout(kube, namespace)
            return obj if _cond(obj, "Contested").get("status") == "True" else None

        obj = wait_until("Contested", contested, timeout=150)
        seen_after = time.monotonic() - started
        status = obj["status"]
        assert status["phase"] == "Paused" and status["pauseReason"] == "contested"
        message = _cond(obj, "Contested")["message"]
        assert f"reverted the weights {K} times within {WINDOW} " in message, message
        for needle in ("kustomize-controller", "spec.rules", WEIGHT_PATHS[0], ".spec.ignore"):
            assert needle in message, message
        assert status["contest"]["manager"] == "kustomize-controller"
        assert len(status["contest"]["reverts"]) == K
        # Flux keeps reverting; we have stopped: after Flux reconciled again and the
        # operator looked several more times, Git's weights stand and nothing was re-written
        kz = request_reconcile(kube, namespace, flux)
        after_reconciles(op, namespace, count=3)
        assert _weights(_route(kube, namespace)) == (90, 10)
        # Flux itself is healthy: it applied the revision; it only takes the weights back
        assert ready(kz).get("status") == "True", kz.get("status")
        assert kz["status"]["lastAppliedRevision"] == server.revisions[-1]
        flips_seen = history.weights(1).count(50)
    # canary's own route writes, from the audit log: the step's write and K - 1
    # re-assertions at most, none after the contest (the reconciles above included)
    ours = _route_writes(audit, kubectl, namespace, "canary", applied_at)
    assert 1 <= len(ours) <= K, [e.received.isoformat() for e in ours]
    assert _most_in_a_window(ours, WINDOW_SECONDS) <= K
    assert all(e.received < _time(status["contest"]["since"]) for e in ours)
    flux_writes = _route_writes(audit, kubectl, namespace, "kustomize-controller", applied_at)
    # a 0.2 s poll misses flips (it saw 1 of 2 writes once): it only must not see more
    assert flips_seen <= len(ours), (history.changes, ours)
    events = rollout_events(kube, namespace=namespace, name="rollout")
    warnings = [e for e in events if e["reason"] == "Contested"]
    assert len(warnings) == 1 and warnings[0]["type"] == "Warning"
    assert "kustomize-controller" in warnings[0]["message"]
    wait = _cli(cluster, "status", "rollout", "-n", namespace, "--wait", "--timeout", "30s")
    assert wait.returncode == 1, (wait.stdout, wait.stderr)
    assert "Contested" in wait.stderr and "kustomize-controller" in wait.stderr
    contested_after = _time(status["contest"]["since"]) - _time(status["stepStartedAt"])

    # `canary resume` re-asserts once; Flux still reverts, so counting starts afresh and
    # the fight ends Contested again after at most K more writes
    resumed_at = datetime.now(UTC)
    resume = _cli(cluster, "resume", "rollout", "-n", namespace, "--wait", "--timeout", "60s")
    assert resume.returncode == 0, (resume.stdout, resume.stderr)

    def contested_again() -> dict[str, Any] | None:
        st = _rollout(kube, namespace)["status"]
        c = st.get("contest") or {}
        resumed, since = c.get("resumedAt"), c.get("since")
        return st if resumed and since and since > resumed else None

    again_status = wait_until("Contested again after resume", contested_again, timeout=150)
    assert again_status["phase"] == "Paused"
    after_reconciles(op, namespace, count=3)
    again = _route_writes(audit, kubectl, namespace, "canary", resumed_at)
    assert 1 <= len(again) <= K, [e.received.isoformat() for e in again]

    # The documented fix: the recipe in the Kustomization, then `canary resume`
    set_ignore(kube, namespace, RECIPE)
    kz = request_reconcile(kube, namespace, flux)
    assert ready(kz).get("status") == "True", kz.get("status")
    resume = _cli(cluster, "resume", "rollout", "-n", namespace, "--wait", "--timeout", "60s")
    assert resume.returncode == 0, (resume.stdout, resume.stderr)
    gate = _cli(
        cluster, "status", "rollout", "-n", namespace, "--until", "paused", "--timeout", "120s"
    )
    assert gate.returncode == 0, (gate.stdout, gate.stderr)
    kz = request_reconcile(kube, namespace, flux)  # Flux looks again: our weights stay
    assert ready(kz).get("status") == "True", kz.get("status")
    assert _weights(_route(kube, namespace)) == (50, 50)
    assert _cond(_rollout(kube, namespace), "Contested").get("status") == "False"
    promote = _cli(cluster, "promote", "rollout", "-n", namespace, "--wait", "--timeout", "60s")
    assert promote.returncode == 0, (promote.stdout, promote.stderr)
    done = _cli(cluster, "status", "rollout", "-n", namespace, "--wait", "--timeout", "120s")
    assert done.returncode == 0, (done.stdout, done.stderr)
    kz = request_reconcile(kube, namespace, flux)
    assert ready(kz).get("status") == "True" and _weights(_route(kube, namespace)) == (0, 100)
    assert _rollout(kube, namespace)["status"]["phase"] == "Succeeded"
    figure(
        f"Contested {contested_after.total_seconds():.1f} s after step 1 began "
        f"(stepStartedAt → contest.since), seen by the test {seen_after:.1f} s after the "
        f"apply; K={K}: canary wrote the route {len(ours)}x (audit log), Flux applied it "
        f"{len(flux_writes)}x, the poll saw {flips_seen} flips to ours; after resume "
        f"{len(again)} writes before Contested again"
    )


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
    # a manual gate at each step: Flux is made to reconcile while each step's weights are
    # live, then the rollout is promoted on
    steps = [{"weight": 20}, {"weight": 50}, {"weight": 100}]
    kubectl(
        "apply",
        "-f",
        "-",
        input=rollout_manifest(namespace=namespace, steps=steps, metrics=[], deadline="2m"),
    )
    sampled = []
    with ReadyHistory(kube, namespace) as kz_ready:
        for step in steps:
            gate = _cli(
                cluster, "status", "rollout", "-n", namespace, "--until", "paused",
                "--timeout", "120s",
            )  # fmt: skip
            assert gate.returncode == 0, (gate.stdout, gate.stderr)
            want = (100 - step["weight"], step["weight"])
            assert _weights(_route(kube, namespace)) == want
            kz = request_reconcile(kube, namespace, flux)  # Flux looks again at this step
            assert ready(kz).get("status") == "True", (step, kz.get("status"))
            assert kz["status"]["lastAppliedRevision"] == server.revisions[-1]
            assert _weights(_route(kube, namespace)) == want  # not reverted
            sampled.append(step["weight"])
            promote = _cli(
                cluster, "promote", "rollout", "-n", namespace, "--wait", "--timeout", "60s"
            )
            assert promote.returncode == 0, (promote.stdout, promote.stderr)
        done = _cli(cluster, "status", "rollout", "-n", namespace, "--wait", "--timeout", "150s")
        assert done.returncode == 0, (done.stdout, done.stderr)
    assert sampled == [20, 50, 100]
    # between the handshakes too: no poll over the whole rollout saw Ready=False
    assert kz_ready.polls > 0 and "False" not in kz_ready.statuses(), kz_ready.seen
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
