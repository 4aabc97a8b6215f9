"""CLI e2e on the local control plane: the CI flow (examples/ci/release.sh) and every verb.

Given the seed's api-route with real backends, Traefik, Prometheus and a `canary run`
operator confined to the test's namespace, when CI drives a Rollout with the `canary`
CLI, then exit codes follow docs/cli.md (0 reached, 1 rolled back/aborted, 2 timed
out) and every command is acknowledged in status.lastCommand.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from operator_support import Traffic, rollout_manifest, wait_until

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(300)]

REPO = Path(__file__).resolve().parents[2]
CANARY = str(Path(sys.executable).parent / "canary")
CI = REPO / "examples" / "ci"
GATED = [{"weight": 5, "pause": "4s"}, {"weight": 50}, {"weight": 100, "pause": "4s"}]
TWO_GATES = [{"weight": 5}, {"weight": 50}, {"weight": 100, "pause": "4s"}]


def env_for(kubeconfig: str) -> dict[str, str]:
    env = {**os.environ, "KUBECONFIG": kubeconfig}
    for key in ("KUBERNETES_SERVICE_HOST", "KUBERNETES_SERVICE_PORT", "CANARY_KUBE_SERVER"):
        env.pop(key, None)
    return env


def canary(cluster: dict[str, str], *args: str, env: dict[str, str] | None = None,
           timeout: float = 120) -> subprocess.CompletedProcess[str]:  # fmt: skip
    proc = subprocess.run(
        [CANARY, *args],
        capture_output=True,
        text=True,
        env=env or env_for(cluster["KUBECONFIG"]),
        timeout=timeout,
    )
    print(f"$ canary {' '.join(args)}  -> {proc.returncode}\n{proc.stdout}{proc.stderr}")
    return proc


def status(kubectl: Any, namespace: str, name: str = "rollout") -> dict[str, Any]:
    out = kubectl("-n", namespace, "get", "rollouts.canary.dev", name, "-o", "json").stdout
    return dict(json.loads(out).get("status") or {})


def route_weights(kubectl: Any, namespace: str) -> list[int]:
    route = json.loads(
        kubectl("-n", namespace, "get", "httproute", "api-route", "-o", "json").stdout
    )
    return [b.get("weight") for b in route["spec"]["rules"][0]["backendRefs"]]


def ci_identity(kubectl: Any, cluster: dict[str, str], namespace: str, tmp: Path) -> str:
    """examples/ci/rbac.yaml in this namespace; a kubeconfig holding only the SA's token."""
    rbac = (CI / "rbac.yaml").read_text().replace("app-team-a", namespace)
    kubectl("apply", "-f", "-", input=rbac)
    token = kubectl("-n", namespace, "create", "token", "canary-ci", "--duration=30m").stdout
    kubeconfig = tmp / "ci.kubeconfig"
    kubeconfig.write_text(
        json.dumps(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "clusters": [
                    {
                        "name": "local",
                        "cluster": {
                            "server": cluster["APISERVER_URL"],
                            "certificate-authority": cluster["CA_FILE"],
                        },
                    }
                ],
                "users": [{"name": "canary-ci", "user": {"token": token.strip()}}],
                "contexts": [
                    {
                        "name": "ci",
                        "context": {
                            "cluster": "local",
                            "user": "canary-ci",
                            "namespace": namespace,
                        },
                    }
                ],
                "current-context": "ci",
            }
        )
    )
    return str(kubeconfig)


def release(cluster: dict[str, str], kubeconfig: str, manifest: Path, app: Any,
            namespace: str) -> subprocess.CompletedProcess[str]:  # fmt: skip
    env = {
        **env_for(kubeconfig),
        "ROLLOUT_FILE": str(manifest),
        "NAMESPACE": namespace,
        "NAME": "rollout",
        "SMOKE_URL": app.url,
        "SMOKE_HEADERS": ";".join(f"{k}: {v}" for k, v in app.headers.items()),
        "GATE_TIMEOUT": "90s",
        "DONE_TIMEOUT": "90s",
        "CANARY": CANARY,
        "KUBECTL": os.environ.get(
            "CANARY_KUBECTL", str(Path(cluster["CANARY_CACHE"]) / "venv" / "bin" / "kubectl")
        ),
    }
    proc = subprocess.run(
        ["bash", str(CI / "release.sh")], capture_output=True, text=True, env=env, timeout=240
    )
    print(proc.stdout, proc.stderr)
    return proc


def test_release_script_green_as_the_ci_identity(
    deploy: Any, operator: Any, kubectl: Any, namespace: str, cluster: dict[str, str],
    tmp_path: Path,
) -> None:  # fmt: skip
    """Given the documented CI Role only, release.sh applies, waits, smokes, promotes: exit 0."""
    app = deploy(weights=(90, 10))
    operator()
    kubeconfig = ci_identity(kubectl, cluster, namespace, tmp_path)
    whoami = kubectl("--kubeconfig", kubeconfig, "auth", "whoami").stdout
    print(whoami)
    assert f"system:serviceaccount:{namespace}:canary-ci" in whoami
    manifest = tmp_path / "rollout.json"
    manifest.write_text(rollout_manifest(namespace=namespace, steps=GATED))
    with Traffic(url=app.url, headers=app.headers, rate=60):
        proc = release(cluster, kubeconfig, manifest, app, namespace)
    assert proc.returncode == 0, proc.stderr
    assert "is at a manual gate (step 2/3, weight 50)" in proc.stdout
    assert "promote on rollout" in proc.stdout and "applied" in proc.stdout
    st = status(kubectl, namespace)
    assert st["phase"] == "Succeeded"
    assert st["lastCommand"]["verb"] == "promote"


def test_release_script_on_a_faulty_canary_exits_1(
    deploy: Any, operator: Any, kubectl: Any, namespace: str, cluster: dict[str, str],
    tmp_path: Path,
) -> None:  # fmt: skip
    """Given a canary failing 50 % of requests, release.sh exits 1 and traffic is restored."""
    app = deploy(weights=(90, 10))
    app.set_faults(app.canary, error_rate=0.5)
    operator()
    manifest = tmp_path / "rollout.json"
    manifest.write_text(rollout_manifest(namespace=namespace, steps=GATED))
    with Traffic(url=app.url, headers=app.headers, rate=60):
        proc = release(cluster, cluster["KUBECONFIG"], manifest, app, namespace)
    assert proc.returncode == 1, proc.stderr
    assert "RolledBack" in proc.stderr
    assert status(kubectl, namespace)["phase"] == "RolledBack"
    assert route_weights(kubectl, namespace) == [100, 0]


def test_gate_timeout_promote_abort_retry(
    deploy: Any, operator: Any, kubectl: Any, namespace: str, cluster: dict[str, str]
) -> None:
    """Manual gates: a short --timeout exits 2, promote moves on, abort restores, retry restarts."""
    app = deploy(weights=(90, 10))
    operator()
    kubectl("apply", "-f", "-", input=rollout_manifest(namespace=namespace, steps=TWO_GATES))
    ns = ("-n", namespace)
    with Traffic(url=app.url, headers=app.headers, rate=60):
        gate1 = canary(cluster, "status", "rollout", *ns, "--until", "paused", "--timeout", "90s")
        assert gate1.returncode == 0 and "step 1/3" in gate1.stdout

        short = canary(cluster, "status", "rollout", *ns, "--until", "done", "--timeout", "2s")
        assert short.returncode == 2
        assert short.stderr.splitlines()[-1].startswith("error: timed out after 2s")

        promoted = canary(cluster, "promote", "rollout", *ns, "--wait", "--timeout", "60s")
        assert promoted.returncode == 0 and "applied" in promoted.stdout
        gate2 = canary(cluster, "status", "rollout", *ns, "--until", "paused", "--timeout", "90s")
        assert gate2.returncode == 0 and "step 2/3" in gate2.stdout

        aborted = canary(cluster, "abort", "rollout", *ns, "--wait", "--timeout", "60s")
        assert aborted.returncode == 0 and "applied" in aborted.stdout
        wait_until("stable 100 / canary 0", lambda: route_weights(kubectl, namespace) == [100, 0])
        after = canary(cluster, "status", "rollout", *ns)
        assert after.returncode == 1
        # the CLI's own Events call (canary.cli.kubeapi.CliEvents) found the abort's Event
        assert "  Events:" in after.stdout and "abort" in after.stdout.split("  Events:")[1]
        again = canary(cluster, "abort", "rollout", *ns)
        assert again.returncode == 0 and "already Aborted" in again.stdout
        assert canary(cluster, "promote", "rollout", *ns).returncode == 1  # not applicable

        retried = canary(cluster, "retry", "rollout", *ns, "--wait", "--timeout", "60s")
        assert retried.returncode == 0 and "restarted at step 1" in retried.stdout
        step1 = canary(cluster, "status", "rollout", *ns, "--until", "step=1", "--timeout", "90s")
        assert step1.returncode == 0
        assert route_weights(kubectl, namespace) == [95, 5]


def test_pause_resume_and_get(
    deploy: Any, operator: Any, kubectl: Any, namespace: str, cluster: dict[str, str]
) -> None:
    """pause holds (no spec write), a second pause is 'already paused', resume continues."""
    app = deploy(weights=(90, 10))
    operator()
    # step 1 is a manual gate: pause/resume land inside it however slow the machine is
    steps = [{"weight": 5}, {"weight": 50, "pause": "4s"}, {"weight": 100, "pause": "2s"}]
    kubectl("apply", "-f", "-", input=rollout_manifest(namespace=namespace, steps=steps))
    ns = ("-n", namespace)
    with Traffic(url=app.url, headers=app.headers, rate=60):
        assert canary(cluster, "status", "rollout", *ns, "--until", "step=1").returncode == 0
        generation = json.loads(
            kubectl(*ns, "get", "rollouts.canary.dev", "rollout", "-o", "json").stdout
        )["metadata"]["generation"]
        paused = canary(cluster, "pause", "rollout", *ns, "--wait", "--timeout", "60s")
        assert paused.returncode == 0 and "applied: paused at step 1/3" in paused.stdout
        again = canary(cluster, "pause", "rollout", *ns)
        assert again.returncode == 0 and "already paused" in again.stdout
        table = canary(cluster, "get", *ns)
        assert table.stdout.splitlines()[1].split()[:3] == ["rollout", "Paused", "1/3"]
        obj = json.loads(kubectl(*ns, "get", "rollouts.canary.dev", "rollout", "-o", "json").stdout)
        assert obj["metadata"]["generation"] == generation  # annotations only, never spec
        resumed = canary(cluster, "resume", "rollout", *ns, "--wait", "--timeout", "60s")
        assert resumed.returncode == 0 and "resumed at step 1/3" in resumed.stdout
        promoted = canary(cluster, "promote", "rollout", *ns, "--wait", "--timeout", "60s")
        assert promoted.returncode == 0 and "applied" in promoted.stdout
        done = canary(cluster, "status", "rollout", *ns, "--wait", "--timeout", "120s")
        assert done.returncode == 0 and "Succeeded" in done.stdout


def test_a_command_given_while_the_operator_is_stopped(
    deploy: Any, operator: Any, kubectl: Any, namespace: str, cluster: dict[str, str]
) -> None:
    """promote while no operator runs: persisted, acted on once the operator is back."""
    app = deploy(weights=(90, 10))
    first = operator(identity="op-a")
    kubectl("apply", "-f", "-", input=rollout_manifest(namespace=namespace, steps=TWO_GATES))
    ns = ("-n", namespace)
    with Traffic(url=app.url, headers=app.headers, rate=60):
        assert canary(cluster, "status", "rollout", *ns, "--until", "paused").returncode == 0
        first.stop()
        waited = canary(cluster, "promote", "rollout", *ns, "--id", "ci-1", "--wait",
                        "--timeout", "3s")  # fmt: skip
        assert waited.returncode == 2 and "stays persisted" in waited.stderr
        assert status(kubectl, namespace)["stepLabel"] == "1/3"
        operator(identity="op-b")
        acked = canary(cluster, "promote", "rollout", *ns, "--id", "ci-1", "--wait",
                       "--timeout", "60s")  # fmt: skip
        assert acked.returncode == 0 and "applied" in acked.stdout
        gate2 = canary(cluster, "status", "rollout", *ns, "--until", "paused", "--timeout", "90s")
        assert gate2.returncode == 0 and "step 2/3" in gate2.stdout
        assert status(kubectl, namespace)["lastCommand"]["id"] == "ci-1"
