"""promote/abort/retry/pause/resume: annotations only, idempotent, acknowledged, exit codes."""

from __future__ import annotations

import copy
import json
import threading
from typing import Any

import pytest
from click.testing import CliRunner, Result

from canary.adapters import errors
from canary.adapters.fakes import FakeEvents, FakeRollouts
from canary.cli.cluster import Cluster
from canary.cli.send_command import new_id, precheck
from canary.cli.verbs import cli
from canary.core.phases import COMMAND_ANNOTATION, COMMAND_ID_ANNOTATION
from canary.core.rollout.command_effects import APPLIED, IGNORED, IN_EFFECT
from canary.core.rollout.machine import decide
from canary.core.rollout.observation import Command
from tests.unit.core.test_machine import T0, obs
from tests.unit.core.test_machine_commands import CASES as CORE_CASES
from tests.unit.core.test_machine_commands import STATES
from tests.unit.core.test_machine_support import make_rollout

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


def ro(phase: str | None, **status: Any) -> dict[str, Any]:
    out = copy.deepcopy(BASE)
    out["status"] = {"observedGeneration": 1, **({"phase": phase} if phase else {}), **status}
    return out


class Recording(FakeRollouts):
    """Counts annotation writes and refuses any write that is not the two annotations."""

    def __init__(self, *a: Any, **kw: Any) -> None:
        super().__init__(*a, **kw)
        self.writes: list[dict[str, Any]] = []

    def annotate(self, *, namespace: str, name: str, annotations: Any) -> dict[str, Any]:
        assert set(annotations) == {COMMAND_ANNOTATION, COMMAND_ID_ANNOTATION}
        self.writes.append(dict(annotations))
        return super().annotate(namespace=namespace, name=name, annotations=annotations)

    def patch_status(self, **kw: Any) -> dict[str, Any]:  # the CLI never writes status
        if threading.current_thread() is threading.main_thread():
            raise AssertionError("the CLI wrote status")
        return super().patch_status(**kw)


def run(fake: Any, *args: str) -> Result:
    return CliRunner().invoke(
        cli, list(args), obj=lambda t: Cluster(fake, FakeEvents(), t.namespace or NS)
    )


def annotations(fake: FakeRollouts) -> dict[str, str]:
    return dict(fake.get(namespace=NS, name="api")["metadata"].get("annotations") or {})


def err_line(result: Result) -> str:
    """The one error line (progress lines of a --wait come before it, timestamped)."""
    lines = [ln for ln in result.stderr.splitlines() if not ln[:4].isdigit()]
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    assert "Traceback" not in result.output
    return lines[0]


def ack_later(fake: FakeRollouts, result: str, delay: float = 0.1) -> None:
    """Play the operator: acknowledge whatever command is annotated, after ``delay``."""

    def act() -> None:
        ann = annotations(fake)
        fake.patch_status(
            namespace=NS,
            name="api",
            patch={
                "lastCommand": {
                    "id": ann[COMMAND_ID_ANNOTATION],
                    "verb": ann[COMMAND_ANNOTATION],
                    "at": "2024-05-01T10:00:00Z",
                    "result": result,
                }
            },
        )

    threading.Timer(delay, act).start()


# --------------------------------------------------------------------------- precheck table

WRITE, OK, NA = "write", 0, 1


@pytest.mark.parametrize(
    ("verb", "phase", "want"),
    [
        ("promote", "Progressing", WRITE),
        ("promote", "Paused", WRITE),
        ("promote", "Succeeded", OK),
        ("promote", "RolledBack", NA),
        ("promote", "Pending", NA),
        ("promote-full", "Progressing", WRITE),
        ("promote-full", "Aborted", NA),
        ("abort", "Progressing", WRITE),
        ("abort", "RollingBack", WRITE),
        ("abort", "Aborted", OK),
        ("abort", "RolledBack", OK),
        ("abort", "Succeeded", NA),
        ("retry", "RolledBack", WRITE),
        ("retry", "Aborted", WRITE),
        ("retry", "Failed", WRITE),
        ("retry", "Succeeded", NA),
        ("retry", "Progressing", NA),
        ("pause", "Progressing", WRITE),
        ("pause", "Pending", WRITE),
        ("pause", "Paused", OK),
        ("pause", "Succeeded", NA),
        ("resume", "Paused", WRITE),
        ("resume", "Progressing", OK),
        ("resume", "RolledBack", NA),
        ("abort", None, WRITE),  # never reconciled: the operator decides
    ],
)
def test_precheck(verb: str, phase: str | None, want: Any) -> None:
    check = precheck(verb, ro(phase))
    assert (WRITE if check.write else check.code) == want


@pytest.mark.parametrize(
    ("phase", "contested", "want"),
    [
        (
            "RolledBack",
            "True",
            WRITE,
        ),  # a contested rollback re-asserts stable 100, keeps its phase
        ("Aborted", "True", WRITE),
        ("RollingBack", "True", WRITE),
        ("Aborted", "False", NA),
        ("Succeeded", "True", NA),
    ],
)
def test_precheck_resume_when_contested(phase: str, contested: str, want: Any) -> None:
    obj = ro(phase)
    obj["status"]["conditions"] = [{"type": "Contested", "status": contested}]
    check = precheck("resume", obj)
    assert (WRITE if check.write else check.code) == want


@pytest.mark.parametrize(("verb", "state"), CORE_CASES, ids=[f"{v}-{s}" for v, s in CORE_CASES])
def test_precheck_answers_what_the_operator_answers(verb: str, state: str) -> None:
    """Every verb in every phase of the operator's table: the CLI writes exactly when the
    operator applies; otherwise both give the same exit code and the same text."""
    given, canary = STATES[state]
    plan = decide(make_rollout(), given, obs(canary, command=Command(verb, "c-1")), T0)
    assert plan.command_ack is not None
    kind, _, detail = plan.command_ack.result.partition(": ")
    obj = copy.deepcopy(BASE)
    obj["status"] = {
        **given.model_dump(by_alias=True, exclude_none=True, mode="json"),
        "observedGeneration": 1,
    }
    check = precheck(verb, obj)
    if kind == APPLIED:
        assert check.write
    else:
        assert not check.write
        assert (check.code, check.reason) == ({IN_EFFECT: OK, IGNORED: NA}[kind], detail)


def test_precheck_stale_status_writes() -> None:
    obj = ro("Succeeded")
    obj["metadata"]["generation"] = 2
    assert precheck("promote", obj).write


# --------------------------------------------------------------------------- CLI


@pytest.mark.parametrize(
    ("args", "verb"),
    [
        (["promote", "api"], "promote"),
        (["promote", "api", "--full"], "promote-full"),
        (["abort", "api"], "abort"),
        (["pause", "api"], "pause"),
    ],
)
def test_writes_the_two_annotations_only(args: list[str], verb: str) -> None:
    fake = Recording([ro("Progressing")])
    before = fake.get(namespace=NS, name="api")
    result = run(fake, *args)
    assert result.exit_code == 0, result.output
    assert len(fake.writes) == 1
    ann = annotations(fake)
    assert ann[COMMAND_ANNOTATION] == verb
    assert ann[COMMAND_ID_ANNOTATION].startswith(f"{verb}-")
    after = fake.get(namespace=NS, name="api")
    assert after["spec"] == before["spec"] and after["status"] == before["status"]
    assert (
        f"{verb} requested on rollout {NS}/api (id {ann[COMMAND_ID_ANNOTATION]})" in result.stdout
    )


def test_new_ids_are_unique() -> None:
    import datetime as dt

    now = dt.datetime(2024, 5, 1, 10, tzinfo=dt.UTC)
    ids = {new_id("promote", now) for _ in range(50)}
    assert len(ids) == 50 and all(i.startswith("promote-20240501T100000Z-") for i in ids)


@pytest.mark.parametrize(
    ("args", "phase", "text"),
    [
        (["pause", "api"], "Paused", "already paused (user)"),
        (["resume", "api"], "Progressing", "not paused"),
        (["abort", "api"], "Aborted", "already Aborted"),
        (["promote", "api"], "Succeeded", "already succeeded"),
    ],
)
def test_already_in_effect_exits_0_without_writing(args: list[str], phase: str, text: str) -> None:
    fake = Recording([ro(phase, pauseReason="user" if phase == "Paused" else None)])
    result = run(fake, *args)
    assert result.exit_code == 0
    assert text in result.stdout
    assert fake.writes == []


@pytest.mark.parametrize(
    ("args", "phase", "text"),
    [
        (["retry", "api"], "Succeeded", "nothing to retry in phase Succeeded"),
        (["promote", "api"], "RolledBack", "cannot promote in phase RolledBack"),
        (["pause", "api"], "Aborted", "cannot pause in phase Aborted"),
        (["resume", "api"], "Failed", "cannot resume in phase Failed"),
    ],
)
def test_not_applicable_exits_1_without_writing(args: list[str], phase: str, text: str) -> None:
    fake = Recording([ro(phase)])
    result = run(fake, *args)
    assert result.exit_code == 1
    assert text in err_line(result)
    assert fake.writes == []


def test_repeating_a_pending_command_does_not_write_twice() -> None:
    fake = Recording([ro("Progressing")])
    first = run(fake, "pause", "api")
    second = run(fake, "pause", "api")
    assert first.exit_code == second.exit_code == 0
    assert len(fake.writes) == 1
    assert "already requested (not written again)" in second.stdout


def test_a_different_verb_replaces_a_pending_command() -> None:
    fake = Recording([ro("Progressing")])
    run(fake, "pause", "api")
    assert run(fake, "abort", "api").exit_code == 0
    assert [w[COMMAND_ANNOTATION] for w in fake.writes] == ["pause", "abort"]


def test_own_id_is_idempotent_across_ci_retries() -> None:
    fake = Recording([ro("Progressing")])
    assert run(fake, "promote", "api", "--id", "ci-42").exit_code == 0
    assert run(fake, "promote", "api", "--id", "ci-42").exit_code == 0  # pending: no rewrite
    assert len(fake.writes) == 1
    t = threading.Thread(  # the operator acknowledges (status writes come from it, not the CLI)
        target=lambda: fake.patch_status(
            namespace=NS,
            name="api",
            patch={
                "phase": "Progressing",
                "lastCommand": {
                    "id": "ci-42",
                    "verb": "promote",
                    "at": "t",
                    "result": "applied: x",
                },
            },
        )
    )
    t.start()
    t.join()
    third = run(fake, "promote", "api", "--id", "ci-42")  # already acknowledged: reported
    assert third.exit_code == 0
    assert "applied: x" in third.stdout
    assert len(fake.writes) == 1


def test_wait_for_acknowledgement_applied() -> None:
    fake = Recording([ro("Progressing")])
    ack_later(fake, "applied: step 1/3 promoted; now Progressing at step 2/3")
    result = run(fake, "promote", "api", "--wait", "--timeout", "5s")
    assert result.exit_code == 0, result.output
    assert f"promote on rollout {NS}/api: applied: step 1/3 promoted" in result.stdout


def test_wait_for_acknowledgement_ignored_exits_1() -> None:
    fake = Recording([ro("Progressing")])
    ack_later(fake, "ignored: cannot promote in phase RollingBack")
    result = run(fake, "promote", "api", "--wait", "--timeout", "5s")
    assert result.exit_code == 1
    assert "ignored: cannot promote in phase RollingBack" in err_line(result)


def test_wait_without_operator_times_out_2_and_stays_persisted() -> None:
    fake = Recording([ro("Progressing")])
    result = run(fake, "pause", "api", "--wait", "--timeout", "200ms")
    assert result.exit_code == 2
    assert "stays persisted" in result.stderr.splitlines()[-1]
    assert annotations(fake)[COMMAND_ANNOTATION] == "pause"


def test_json_output() -> None:
    fake = Recording([ro("Progressing")])
    result = run(fake, "abort", "api", "-o", "json")
    data = json.loads(result.stdout)
    assert data["written"] is True and data["id"].startswith("abort-")
    assert data["result"]["exitCode"] == 0


def test_missing_rollout_exits_3() -> None:
    result = run(Recording(), "promote", "nope")
    assert result.exit_code == 3
    assert err_line(result) == f"error: rollout {NS}/nope not found"


def test_forbidden_write_exits_3_one_line() -> None:
    class ReadOnly(FakeRollouts):
        def annotate(self, **kw: Any) -> dict[str, Any]:
            raise errors.Forbidden(
                'annotate rollout app-team-a/api: rollouts.canary.dev "api" is forbidden',
                status=403,
            )

    result = run(ReadOnly([ro("Progressing")]), "promote", "api")
    assert result.exit_code == 3
    assert err_line(result).startswith("error: access denied: annotate rollout")


@pytest.mark.parametrize(
    ("args", "text"),
    [
        (["promote"], "Missing argument 'NAME'. (see: cli promote --help)"),
        (["pause", "api", "--bogus"], "No such option '--bogus'"),
        (["pause", "api", "--timeout", "x"], "--timeout: invalid duration"),
        (["abort", "api", "--id", "x" * 254], "--id: 1 to 253 characters"),
    ],
)
def test_usage_errors_exit_3_with_one_line(args: list[str], text: str) -> None:
    result = run(Recording([ro("Progressing")]), *args)
    assert result.exit_code == 3  # click's own usage exit (2) means "timed out" in the contract
    assert text in err_line(result)
