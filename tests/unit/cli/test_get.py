"""``canary get``: kubectl-like tables, data output, -A, watch lines, the detail renderers."""

from __future__ import annotations

import copy
import datetime as dt
import json
import re
import threading
from typing import Any

import pytest
import yaml
from click.testing import CliRunner, Result
from rich.console import Console

from canary.adapters import errors
from canary.adapters.fakes import FakeEvents, FakeRollouts
from canary.cli import render
from canary.cli.cluster import Cluster
from canary.cli.verbs import cli

NOW = dt.datetime(2024, 5, 1, 10, 10, tzinfo=dt.UTC)


def ro(name: str, ns: str = "app-team-a", **status: Any) -> dict[str, Any]:
    return {
        "metadata": {
            "name": name,
            "namespace": ns,
            "generation": 1,
            "creationTimestamp": "2024-05-01T10:00:00Z",
        },
        "spec": {
            "routes": [{"kind": "HTTPRoute", "name": "api-route"}],
            "stable": {"name": "user-service-v2", "port": 8080},
            "canary": {"name": "user-service-v3", "port": 8080},
            "steps": [{"weight": 5, "pause": "1m"}, {"weight": 50}, {"weight": 100}],
        },
        "status": {"observedGeneration": 1, **status},
    }


API = ro(
    "api",
    phase="Progressing",
    stepIndex=1,
    stepLabel="2/3",
    canaryWeight=50,
    effectiveWeight=47.62,
    observedWeight=48.1,
    message="step 2/3: awaiting promotion",
    conditions=[
        {"type": "RouteReady", "status": "True"},
        {"type": "SplitVerified", "status": "True"},
        {"type": "Healthy", "status": "True"},
        {"type": "AwaitingPromotion", "status": "True"},
    ],
    analysis=[
        {
            "name": "error-rate",
            "measurements": [
                {
                    "value": 0.004,
                    "stableValue": 0.003,
                    "bound": "max 0.01",
                    "samples": 230,
                    "verdict": "pass",
                    "time": "2024-05-01T10:09:30Z",
                }
            ],
        }
    ],
)
WEB = ro(
    "web", phase="Succeeded", stepIndex=2, stepLabel="3/3", canaryWeight=100, effectiveWeight=100
)
OTHER = ro(
    "cart", ns="shop", phase="RolledBack", stepLabel="1/3", canaryWeight=0, effectiveWeight=0
)


def run(fake: Any, *args: str, events: Any = None) -> Result:
    return CliRunner().invoke(
        cli,
        ["get", *args],
        obj=lambda t: Cluster(fake, events or FakeEvents(), t.namespace or "app-team-a"),
    )


def test_table_columns_like_kubectl() -> None:
    text = render.table([API, WEB], now=NOW)
    assert text.splitlines() == [
        "NAME   PHASE         STEP   WEIGHT   EFFECTIVE   AGE",
        "api    Progressing   2/3    50       47.6%       10m",
        "web    Succeeded     3/3    100      100%        10m",
    ]


def test_wide_and_all_namespaces() -> None:
    text = render.table([API, OTHER], now=NOW, wide=True, all_namespaces=True)
    lines = text.splitlines()
    assert lines[0].split() == [
        "NAMESPACE", "NAME", "PHASE", "STEP", "WEIGHT", "EFFECTIVE", "AGE", "STABLE", "CANARY",
        "MESSAGE",
    ]  # fmt: skip
    assert lines[1].split()[:9] == [
        "app-team-a", "api", "Progressing", "2/3", "50", "47.6%", "10m",
        "user-service-v2:8080", "user-service-v3:8080",
    ]  # fmt: skip
    assert lines[1].endswith("step 2/3: awaiting promotion")


def test_unobserved_rollout_row() -> None:
    row = render.row(ro("new"), now=NOW, wide=False, all_namespaces=False)
    assert row == ["new", "<none>", "-", "-", "-", "10m"]


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(5, "5s"), (119, "119s"), (330, "5m30s"), (600, "10m"), (3 * 3600 + 60, "3h1m"),
     (9 * 3600, "9h"), (50 * 3600, "2d2h"), (40 * 86400, "40d")],
)  # fmt: skip
def test_age(seconds: int, text: str) -> None:
    created = (NOW - dt.timedelta(seconds=seconds)).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert render.age(created, NOW) == text


def test_get_lists_the_namespace() -> None:
    result = run(FakeRollouts([API, WEB, OTHER]))
    assert result.exit_code == 0
    assert [ln.split()[0] for ln in result.stdout.splitlines()] == ["NAME", "api", "web"]


def test_get_all_namespaces() -> None:
    result = run(FakeRollouts([API, OTHER]), "-A")
    assert result.exit_code == 0
    assert [ln.split()[:2] for ln in result.stdout.splitlines()[1:]] == [
        ["app-team-a", "api"],
        ["shop", "cart"],
    ]


def test_get_one_wide() -> None:
    result = run(FakeRollouts([API, WEB]), "api", "-o", "wide")
    assert result.exit_code == 0
    assert len(result.stdout.splitlines()) == 2 and "user-service-v3:8080" in result.stdout


def test_get_empty_says_so_on_stderr() -> None:
    result = run(FakeRollouts(), "-n", "empty")
    assert result.exit_code == 0
    assert result.stdout == ""
    assert result.stderr.strip() == "No rollouts found in empty namespace."


def test_get_json_one_and_yaml_list() -> None:
    one = json.loads(run(FakeRollouts([API]), "api", "-o", "json").stdout)
    assert one["metadata"]["name"] == "api" and one["kind"] == "Rollout"
    many = yaml.safe_load(run(FakeRollouts([API, WEB]), "-o", "yaml").stdout)
    assert many["kind"] == "List" and [i["metadata"]["name"] for i in many["items"]] == [
        "api",
        "web",
    ]


@pytest.mark.parametrize(
    ("args", "text"),
    [
        (["nope"], "error: rollout app-team-a/nope not found"),
        (["-A", "-n", "x"], "are exclusive"),
        (["api", "-A"], "a NAME needs a namespace"),
        (["-o", "table"], "Invalid value for '-o' / '--output'"),
    ],
)
def test_get_errors_exit_3_with_one_line(args: list[str], text: str) -> None:
    result = run(FakeRollouts([API]), *args)
    assert result.exit_code == 3
    assert len(result.stderr.splitlines()) == 1 and text in result.stderr


def test_get_forbidden_list() -> None:
    class Denied(FakeRollouts):
        def list(self, *, namespace: str | None) -> list[dict[str, Any]]:
            raise errors.Forbidden("list rollout */*: forbidden", status=403)

    result = run(Denied(), "-A")
    assert result.exit_code == 3
    assert result.stderr.strip() == "error: access denied: list rollout */*: forbidden"


def test_watch_without_tty_prints_a_timestamped_line_per_change() -> None:
    fake = FakeRollouts([API])

    def operator() -> None:
        fake.patch_status(
            namespace="app-team-a", name="api", patch={"observedWeight": 48.1}
        )  # same
        fake.patch_status(
            namespace="app-team-a",
            name="api",
            patch={"phase": "Succeeded", "stepLabel": "3/3", "canaryWeight": 100, "message": None},
        )

    threading.Timer(0.1, operator).start()
    result = run(fake, "api", "-w", "--timeout", "600ms")
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert len(lines) == 2  # the unchanged summary is not repeated
    stamp = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ"
    assert re.match(rf"^{stamp} app-team-a/api Progressing step 2/3 weight 50 ", lines[0])
    assert re.match(rf"^{stamp} app-team-a/api Succeeded step 3/3 weight 100", lines[1])


def test_watch_json_lines_and_deletion() -> None:
    fake = FakeRollouts([API])
    threading.Timer(0.1, lambda: fake.delete(namespace="app-team-a", name="api")).start()
    result = run(fake, "-w", "-o", "json", "--timeout", "500ms")
    types = [json.loads(ln)["type"] for ln in result.stdout.splitlines()]
    assert types == ["ADDED", "DELETED"]


def test_watch_reopens_after_410() -> None:
    class Gone(FakeRollouts):
        calls = 0

        def watch(self, **kw: Any) -> Any:
            Gone.calls += 1
            if Gone.calls == 1:
                yield "ADDED", self.get(namespace="app-team-a", name="api")
                raise errors.KubeError("watch: too old resource version", status=410)
            yield from super().watch(**kw)

    result = run(Gone([API]), "api", "-w", "--timeout", "1500ms")
    assert result.exit_code == 0
    assert Gone.calls >= 2
    assert len(result.stdout.splitlines()) == 1  # the re-list repeats no unchanged line


def test_detail_renderable_shows_everything() -> None:
    events = FakeEvents()
    events.emit(obj=API, type_="Normal", reason="AwaitingPromotion", message="step 2/3 gate")
    console = Console(width=120, record=True, color_system=None)
    console.print(render.detail_renderable(API, events.list_for(obj=API), now=NOW))
    text = console.export_text()
    for needle in (
        "Rollout app-team-a/api",
        "Progressing",
        "step 2/3",
        "✓ 5% 1m",
        "⏸ 50% gate",
        "○ 100% gate",
        "desired 50%",
        "effective 47.6%",
        "observed 48.1%",
        "error-rate",
        "max 0.01",
        "pass",
        "AwaitingPromotion=True",
        "AwaitingPromotion: step 2/3 gate",
    ):
        assert needle in text, needle


def test_table_renderable() -> None:
    console = Console(width=160, record=True, color_system=None)
    console.print(render.table_renderable([API, OTHER], now=NOW, all_namespaces=True))
    text = console.export_text()
    assert "NAMESPACE" in text and "RolledBack" in text and "47.6%" in text


def test_rolled_back_marks_the_failed_step() -> None:
    obj = copy.deepcopy(API)
    obj["status"].update(phase="RolledBack", conditions=[])
    assert [state for _, state in render.step_marks(obj)] == ["done", "failed", "pending"]


def test_status_shows_a_data_plane_divergence_and_its_message() -> None:
    """``canary status`` (plain lines) and the live view show DataPlaneDivergence; its
    message is printed when True (the finding), not when False (routes as the spec)."""
    found = (
        "HTTPRoute/api-route: Traefik 3.7.15 routes a request of an addressed rule differently "
        "from the Gateway API spec: GET http://api.example.com/users/list: spec → …; "
        "traefik → … [method-vs-prefix: …]"
    )
    obj = copy.deepcopy(API)
    obj["status"]["conditions"].append(
        {"type": "DataPlaneDivergence", "status": "True", "reason": "DataPlaneDiverges",
         "message": found}
    )  # fmt: skip
    lines = render.detail_lines(obj, [], now=NOW)
    assert any("DataPlaneDivergence=True" in x for x in lines)
    assert f"    DataPlaneDivergence: DataPlaneDiverges — {found}" in lines
    console = Console(width=400, record=True, color_system=None)
    console.print(render.detail_renderable(obj, [], now=NOW))
    text = console.export_text()
    assert "DataPlaneDivergence=True" in text and f"DataPlaneDivergence: {found}" in text
    obj["status"]["conditions"][-1].update(
        status="False",
        reason="AsSpec",
        message="the data plane routes the addressed rules as the spec",
    )
    lines = render.detail_lines(obj, [], now=NOW)
    assert any("DataPlaneDivergence=False" in x for x in lines)
    assert not any("AsSpec" in x for x in lines)
