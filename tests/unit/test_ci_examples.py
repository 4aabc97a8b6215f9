"""examples/ci/: the workflow passes actionlint, release.sh parses, the YAML is what it says."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
CI = REPO / "examples" / "ci"
CACHE = Path(os.environ.get("CANARY_CACHE", "/var/cache/canary-e2e"))


def actionlint() -> str | None:
    """$ACTIONLINT, else the hack/build-actionlint.sh build in $CANARY_CACHE, else PATH."""
    if os.environ.get("ACTIONLINT"):
        return os.environ["ACTIONLINT"]
    built = sorted(CACHE.glob("actionlint/v*/actionlint"))
    return str(built[-1]) if built else shutil.which("actionlint")


def test_github_workflow_passes_actionlint() -> None:
    binary = actionlint()
    if binary is None:
        pytest.skip("actionlint not built: bash hack/build-actionlint.sh")
    proc = subprocess.run(
        [binary, "-no-color", str(CI / "github-release.yml")],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_release_script_parses_and_is_strict() -> None:
    script = CI / "release.sh"
    assert os.access(script, os.X_OK)
    subprocess.run(["bash", "-n", str(script)], check=True, timeout=30)
    text = script.read_text()
    assert "set -euo pipefail" in text
    for needed in ("--until paused", "promote", "--until done", "apply"):
        assert needed in text


def test_release_script_requires_the_rollout_file() -> None:
    env = {k: v for k, v in os.environ.items() if k != "ROLLOUT_FILE"}
    proc = subprocess.run(
        ["bash", str(CI / "release.sh")], capture_output=True, text=True, env=env, timeout=30
    )
    assert proc.returncode != 0 and "ROLLOUT_FILE" in proc.stderr


def load(name: str) -> list[dict[str, Any]]:
    return [d for d in yaml.safe_load_all((CI / name).read_text()) if d]


def test_gitlab_job_runs_the_script() -> None:
    (doc,) = load("gitlab-ci.yml")
    job = doc["release"]
    assert job["stage"] in doc["stages"]
    assert "bash examples/ci/release.sh" in job["script"]
    assert any("kubectl auth whoami" in line for line in job["before_script"])


def test_github_workflow_runs_the_script() -> None:
    (doc,) = load("github-release.yml")
    runs = [s.get("run", "") for s in doc["jobs"]["release"]["steps"]]
    assert any("examples/ci/release.sh" in r for r in runs)


def test_rbac_is_minimal() -> None:
    docs = {d["kind"]: d for d in load("rbac.yaml")}
    rules = docs["Role"]["rules"]
    assert rules == [
        {
            "apiGroups": ["canary.dev"],
            "resources": ["rollouts"],
            "verbs": ["get", "list", "watch", "patch", "create"],
        },
        {"apiGroups": [""], "resources": ["events"], "verbs": ["list"]},
    ]
    binding = docs["RoleBinding"]
    assert binding["roleRef"]["name"] == docs["Role"]["metadata"]["name"]
    assert binding["subjects"][0]["name"] == docs["ServiceAccount"]["metadata"]["name"]


def test_ci_rollout_has_one_manual_gate() -> None:
    from canary.core.models import Rollout

    (doc,) = load("rollout.yaml")
    rollout = Rollout.model_validate(doc)
    assert [s.pause is None for s in rollout.spec.steps] == [False, True, False]
