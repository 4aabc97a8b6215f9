"""``canary status``: the exit-code contract (0 reached, 1 failed, 2 timeout, 3 usage/missing)."""

from __future__ import annotations

import copy
import json
import re
import threading
from typing import Any

import pytest
import yaml
from click.testing import CliRunner, Result

from canary.adapters import errors
from canary.adapters.fakes import FakeEvents, FakeRollouts
from canary.cli.cluster import Cluster, Target
from canary.cli.status import Goal, is_stale, judge, judge_now, parse_until
from canary.cli.verbs import cli

NS = "app-team-a"
BASE: dict[str, Any] = {
    "metadata": {"name": "api", "namespace": NS, "generation": 1},
    "spec": {
        "routes": [{"kind": "HTTPRoute", "name": "api-route"}],
        "stable": {"name": "user-service-v2", "port": 8080},
        "canary": {"name": "user-service-v3", "port": 8080},
        "steps": [{"weight": 5, "pause": "1m"}, {"weight": 50}, {"weight": 100}],
    },
}


def conds(**kw: str) -> list[dict[str, str]]:
    return [{"type": k, "status": v} for k, v in kw.items()]


def ro(phase: str | None = "Progressing", **status: Any) -> dict[str, Any]:
    out = copy.deepcopy(BASE)
    st: dict[str, Any] = {"observedGeneration": 1, **status}
    if phase:
        st["phase"] = phase
    out["status"] = st
    return out


GATE = ro(stepIndex=1, stepLabel="2/3", canaryWeight=50, conditions=conds(AwaitingPromotion="True"))
STEP1 = ro(stepIndex=0, stepLabel="1/3", canaryWeight=5, conditions=conds(SplitVerified="True"))
STEP1_UNVERIFIED = ro(
    stepIndex=0, stepLabel="1/3", canaryWeight=5, conditions=conds(SplitVerified="False")
)


@pytest.mark.parametrize(
    ("obj", "goal", "code"),
    [
        (GATE, "paused", 0),
        (GATE, "done", None),  # a manual gate is not done
        (ro("Paused", pauseReason="user"), "done", None),  # --until done waits through it
        (ro("Paused", pauseReason="failure"), "done", 1),
        (ro("Paused", pauseReason="failure"), "paused", 1),
        (ro("Paused", pauseReason="contested", conditions=conds(Contested="True")), "done", 1),
        (ro("RollingBack", conditions=conds(Contested="True")), "done", 1),  # a person must act
        (ro("Paused", pauseReason="user", conditions=conds(Contested="False")), "done", None),
        (ro("Succeeded"), "done", 0),
        (ro("Succeeded"), "paused", 0),  # succeeded first: 0 with a note
        (ro("Succeeded"), "step=2", 0),
        (ro("RolledBack"), "done", 1),
        (ro("Aborted"), "paused", 1),
        (ro("Failed"), "done", 1),
        (ro("RollingBack"), "done", None),  # wait for RolledBack (traffic restored)
        (ro("Pending"), "paused", None),
        (STEP1, "step=1", 0),
        (STEP1_UNVERIFIED, "step=1", None),
        (STEP1, "step=2", None),
        (GATE, "step=1", 0),  # beyond
        (ro(None), "done", None),  # not yet observed
        (ro("Succeeded", observedGeneration=0), "done", None),  # stale: a new spec
    ],
)
def test_judge(obj: dict[str, Any], goal: str, code: int | None) -> None:
    outcome = judge(obj, parse_until(goal))
    assert (outcome.code if outcome else None) == code


def test_judge_notes_success_before_a_gate() -> None:
    outcome = judge(ro("Succeeded"), Goal("paused"))
    assert outcome is not None and "succeeded before reaching a manual gate" in outcome.reason


def test_stale_invalid_spec_is_judged() -> None:
    obj = ro("Failed", observedGeneration=1)
    obj["metadata"]["generation"] = 2
    assert is_stale(obj)
    obj["status"]["conditions"] = [
        {"type": "Invalid", "status": "True", "observedGeneration": 2, "message": "x"}
    ]
    assert not is_stale(obj)
    assert judge(obj, Goal("done")) is not None


@pytest.mark.parametrize(
    ("phase", "code"),
    [("Progressing", 0), ("Succeeded", 0), ("Paused", 0), ("RolledBack", 1), ("Aborted", 1)],
)
def test_judge_now(phase: str, code: int) -> None:
    assert judge_now(ro(phase)).code == code


@pytest.mark.parametrize("bad", ["soon", "step=0", "step=x", ""])
def test_parse_until_rejects(bad: str) -> None:
    from canary.cli.app import UsageFailure

    with pytest.raises(UsageFailure):
        parse_until(bad)


# --------------------------------------------------------------------------- CLI


def cluster_of(rollouts: Any, events: Any = None) -> Any:
    return lambda t: Cluster(rollouts, events or FakeEvents(), t.namespace or NS)


def run(fake: Any, *args: str) -> Result:
    return CliRunner().invoke(cli, ["status", *args], obj=cluster_of(fake))


def one_error_line(result: Result) -> str:
    lines = [ln for ln in result.stderr.splitlines() if ln.startswith("error: ")]
    assert len(lines) == 1, result.stderr
    assert "Traceback" not in result.output + result.stderr
    return lines[0]


def test_status_without_wait_prints_detail() -> None:
    obj = ro(
        "Progressing",
        stepIndex=1,
        stepLabel="2/3",
        canaryWeight=50,
        effectiveWeight=50.0,
        observedWeight=48.7,
        analysis=[
            {
                "name": "error-rate",
                "measurements": [
                    {"value": 0.2, "verdict": "fail", "bound": "max 0.05", "time": "t"},
                    {
                        "value": 0.004,
                        "stableValue": 0.003,
                        "bound": "max 0.01",
                        "samples": 230,
                        "verdict": "pass",
                        "time": "2024-05-01T10:05:00Z",
                    },
                ],
            }
        ],
        conditions=conds(SplitVerified="True", Healthy="True", AwaitingPromotion="True"),
        lastCommand={"id": "promote-1", "verb": "promote", "at": "t", "result": "applied: ok"},
    )
    result = run(FakeRollouts([obj]), "api")
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert "Rollout app-team-a/api" in out
    assert "✓ 5% 1m  ⏸ 50% gate  ○ 100% gate" in out
    assert "desired 50%  effective 50%  observed 48.7%" in out
    assert "error-rate: 0.004 (stable 0.003) vs max 0.01 → pass, 230 samples" in out  # the last
    assert "AwaitingPromotion=True" in out
    assert "Last command: promote (promote-1): applied: ok" in out
    assert result.stderr == ""


@pytest.mark.parametrize("phase", ["RolledBack", "Aborted", "Failed"])
def test_status_failed_terminal_exits_1(phase: str) -> None:
    result = run(
        FakeRollouts([ro(phase, message="analysis failed: error-rate 0.2 > max 0.05")]), "api"
    )
    assert result.exit_code == 1
    line = one_error_line(result)
    assert phase in line and "error-rate 0.2" in line


def test_status_missing_exits_3() -> None:
    result = run(FakeRollouts(), "nope")
    assert result.exit_code == 3
    assert one_error_line(result) == f"error: rollout {NS}/nope not found"


def test_status_namespace_flag() -> None:
    obj = ro("Succeeded")
    obj["metadata"]["namespace"] = "other"
    assert run(FakeRollouts([obj]), "api").exit_code == 3
    assert run(FakeRollouts([obj]), "api", "-n", "other").exit_code == 0


@pytest.mark.parametrize(
    ("exc", "text"),
    [
        (
            errors.Forbidden("get rollout x: forbidden: User cannot get", status=403),
            "access denied",
        ),
        (errors.KubeUnavailable("get rollout: connection refused"), "cluster unreachable"),
        (errors.KubeError("get rollout: teapot", status=418), "teapot"),
    ],
)
def test_status_adapter_errors_are_one_line(exc: Exception, text: str) -> None:
    class Broken(FakeRollouts):
        def get(self, *, namespace: str, name: str) -> dict[str, Any]:
            raise exc

    result = run(Broken(), "api")
    assert result.exit_code == 3
    assert text in one_error_line(result)


def test_factory_error_is_one_line() -> None:
    def boom(target: Target) -> Cluster:
        raise errors.KubeError("no usable Kubernetes configuration: no kubeconfig")

    result = CliRunner().invoke(cli, ["status", "api"], obj=boom)
    assert result.exit_code == 3
    assert one_error_line(result) == "error: no usable Kubernetes configuration: no kubeconfig"


def test_wait_until_paused_returns_at_the_gate() -> None:
    result = run(FakeRollouts([GATE]), "api", "--wait", "--until", "paused", "--timeout", "1s")
    assert result.exit_code == 0
    assert "is at a manual gate (step 2/3, weight 50)" in result.stdout


def test_wait_timeout_exits_2_with_progress_lines() -> None:
    result = run(FakeRollouts([GATE]), "api", "--until", "done", "--timeout", "200ms")
    assert result.exit_code == 2
    assert "timed out after 200ms waiting for --until done" in one_error_line(result)
    # progress: one timestamped plain line per change (not a TTY)
    assert re.search(
        r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ app-team-a/api Progressing", result.stderr, re.M
    )


def test_wait_follows_the_watch_to_the_goal() -> None:
    fake = FakeRollouts([STEP1])

    def operator() -> None:
        fake.patch_status(namespace=NS, name="api", patch=GATE["status"])
        fake.patch_status(namespace=NS, name="api", patch={"phase": "Succeeded", "conditions": []})

    threading.Timer(0.1, operator).start()
    result = run(fake, "api", "--wait", "--timeout", "5s")
    assert result.exit_code == 0, result.output
    assert "rollout app-team-a/api Succeeded" in result.stdout
    assert result.stderr.count("app-team-a/api ") >= 2  # a line per change


def test_wait_rolled_back_exits_1() -> None:
    fake = FakeRollouts([STEP1])
    threading.Timer(
        0.1,
        lambda: fake.patch_status(
            namespace=NS, name="api", patch={"phase": "RolledBack", "message": "error-rate failed"}
        ),
    ).start()
    result = run(fake, "api", "--wait", "--until", "paused", "--timeout", "5s")
    assert result.exit_code == 1
    assert "RolledBack: error-rate failed" in one_error_line(result)


def test_wait_ignores_a_stale_success_after_a_new_spec() -> None:
    obj = ro("Succeeded")
    obj["metadata"]["generation"] = 2  # CI just applied a new release
    result = run(FakeRollouts([obj]), "api", "--until", "done", "--timeout", "200ms")
    assert result.exit_code == 2


def test_wait_deleted_exits_3() -> None:
    fake = FakeRollouts([STEP1])
    threading.Timer(0.1, lambda: fake.delete(namespace=NS, name="api")).start()
    result = run(fake, "api", "--wait", "--timeout", "5s")
    assert result.exit_code == 3
    assert "was deleted" in one_error_line(result)


def test_wait_survives_a_410_by_reopening_the_watch() -> None:
    class Gone(FakeRollouts):
        opened = 0

        def watch(self, **kw: Any) -> Any:
            Gone.opened += 1
            if Gone.opened == 1:
                raise errors.KubeError("watch: too old resource version", status=410)
            yield from super().watch(**kw)

    fake = Gone([STEP1])
    threading.Timer(
        0.3, lambda: fake.patch_status(namespace=NS, name="api", patch={"phase": "Succeeded"})
    ).start()
    result = run(fake, "api", "--wait", "--timeout", "5s")
    assert result.exit_code == 0, result.output
    assert Gone.opened >= 2


@pytest.mark.parametrize(
    ("args", "text"),
    [
        (["--until", "soon"], "--until: expected done, paused or step=N"),
        (["--timeout", "ten"], "--timeout: invalid duration"),
        (["--until", "step=4"], "has 3 steps"),
    ],
)
def test_usage_errors_exit_3(args: list[str], text: str) -> None:
    result = run(FakeRollouts([STEP1]), "api", *args)
    assert result.exit_code == 3
    assert text in one_error_line(result)


def test_step_goal() -> None:
    result = run(FakeRollouts([STEP1]), "api", "--until", "step=1", "--timeout", "1s")
    assert result.exit_code == 0
    assert "reached step 1 (step 1/3, weight 5)" in result.stdout


@pytest.mark.parametrize("fmt", ["json", "yaml"])
def test_status_data_output(fmt: str) -> None:
    result = run(FakeRollouts([ro("RolledBack", message="m")]), "api", "-o", fmt)
    assert result.exit_code == 1
    data = json.loads(result.stdout) if fmt == "json" else yaml.safe_load(result.stdout)
    assert data["name"] == "api" and data["namespace"] == NS
    assert data["result"]["exitCode"] == 1
    assert data["status"]["phase"] == "RolledBack"


def test_contested_names_the_manager_and_the_fix() -> None:
    message = "kustomize-controller reverted the weights 3 times within 10m (...). Fix: ..."
    cond = {"type": "Contested", "status": "True", "reason": "Contested", "message": message}
    outcome = judge(ro("Paused", pauseReason="contested", conditions=[cond]), parse_until("done"))
    assert outcome is not None and outcome.code == 1
    assert "Contested" in outcome.reason and "kustomize-controller" in outcome.reason
