"""``canary plan``: exit 0 valid, 3 invalid with one line naming the field, never a traceback."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner, Result

from canary.cli.verbs import cli

ROLLOUT: dict[str, Any] = {
    "apiVersion": "canary.dev/v1alpha1",
    "kind": "Rollout",
    "metadata": {"name": "canary-api", "namespace": "app-team-a"},
    "spec": {
        "routes": [{"kind": "HTTPRoute", "name": "api-route"}],
        "stable": {"name": "user-service-v2", "port": 8080},
        "canary": {"name": "user-service-v3", "port": 8080},
        "steps": [{"weight": 5, "pause": "1m"}, {"weight": 50, "pause": "2m"}, {"weight": 100}],
    },
}
ROUTE: dict[str, Any] = {
    "apiVersion": "gateway.networking.k8s.io/v1",
    "kind": "HTTPRoute",
    "metadata": {"name": "api-route", "namespace": "app-team-a"},
    "spec": {
        "rules": [
            {
                "backendRefs": [
                    {"name": "user-service-v2", "port": 8080, "weight": 90},
                    {"name": "user-service-v3", "port": 8080, "weight": 10},
                ]
            },
            {"backendRefs": [{"name": "user-service-v2", "port": 8080}]},
        ]
    },
}


def write(tmp: Path, name: str, *docs: Any) -> str:
    path = tmp / name
    path.write_text(yaml.safe_dump_all(docs, sort_keys=False))
    return str(path)


def run(*args: str, stdin: str | None = None) -> Result:
    return CliRunner().invoke(cli, ["plan", *args], input=stdin)


def rollout(**spec: Any) -> dict[str, Any]:
    out = copy.deepcopy(ROLLOUT)
    out["spec"].update(spec)
    return out


def route_with(rules: list[Any]) -> dict[str, Any]:
    out = copy.deepcopy(ROUTE)
    out["spec"]["rules"] = rules
    return out


def assert_usage(result: Result, *needles: str) -> str:
    assert result.exit_code == 3, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    err = result.stderr.strip()
    assert "\n" not in err and "Traceback" not in err
    assert err.startswith("error: ")
    for needle in needles:
        assert needle in err
    return err


def test_text_plan(tmp_path: Path) -> None:
    result = run("-f", write(tmp_path, "r.yaml", ROLLOUT), "-f", write(tmp_path, "h.yaml", ROUTE))
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert "Rollout app-team-a/canary-api" in out and "valid" in out
    assert "step 1/3: weight 5, pause 1m" in out
    assert "step 2/3: weight 50, pause 2m" in out
    assert "step 3/3: weight 100, manual gate (canary promote)" in out
    assert "replace  /spec/rules/0/backendRefs/0/weight  95" in out
    assert "HTTPRoute/api-route  0     95      5       0        5.0%" in out
    assert "HTTPRoute/api-route  0     90      10      0        10.0%" in out  # live


def test_json_plan_steps_build_on_each_other(tmp_path: Path) -> None:
    path = write(tmp_path, "all.yaml", ROUTE, ROLLOUT)
    result = run("-f", path, "--output", "json")
    assert result.exit_code == 0, result.output
    steps = json.loads(result.stdout)
    assert [s["weight"] for s in steps] == [5, 50, 100]
    assert [s["pause"] for s in steps] == ["1m", "2m", None]
    assert [(r["stable"], r["canary"]) for s in steps for r in s["rules"]] == [
        (95, 5),
        (50, 50),
        (0, 100),
    ]
    assert steps[0]["rules"][0] == {
        "route": "HTTPRoute/api-route",
        "rule": 0,
        "stable": 95,
        "canary": 5,
        "foreign": 0,
        "share": 0.05,
    }
    ops = steps[0]["ops"]["HTTPRoute/api-route"]
    assert {"op": "replace", "path": "/spec/rules/0/backendRefs/1/weight", "value": 5} in ops


def test_generation_is_tested_and_bumped_per_step(tmp_path: Path) -> None:
    r = copy.deepcopy(ROUTE)
    r["metadata"]["generation"] = 4
    result = run("-f", write(tmp_path, "all.yaml", r, ROLLOUT), "-o", "json")
    steps = json.loads(result.stdout)
    gens = [s["ops"]["HTTPRoute/api-route"][0] for s in steps]
    assert [g["value"] for g in gens] == [4, 5, 6]
    assert all(g["path"] == "/metadata/generation" for g in gens)


def test_step_already_in_place_sends_nothing(tmp_path: Path) -> None:
    ro = rollout(steps=[{"weight": 10}, {"weight": 20}])
    result = run("-f", write(tmp_path, "all.yaml", ROUTE, ro))
    assert result.exit_code == 0
    assert "HTTPRoute/api-route: no change (weights already in place)" in result.stdout
    steps = json.loads(run("-f", str(tmp_path / "all.yaml"), "-o", "json").stdout)
    assert steps[0]["ops"] == {"HTTPRoute/api-route": []}


def test_foreign_backends_in_share(tmp_path: Path) -> None:
    rules = copy.deepcopy(ROUTE["spec"]["rules"])
    rules[0]["backendRefs"].append({"name": "mirror", "port": 80, "weight": 25})
    ro = rollout(steps=[{"weight": 50}])
    result = run("-f", write(tmp_path, "all.yaml", route_with(rules), ro), "-o", "json")
    (row,) = json.loads(result.stdout)[0]["rules"]
    assert (row["foreign"], row["share"]) == (25, 0.4)


def test_named_rules_and_several_routes(tmp_path: Path) -> None:
    grpc = copy.deepcopy(ROUTE)
    grpc["kind"] = "GRPCRoute"
    grpc["metadata"]["name"] = "grpc-route"
    grpc["spec"]["rules"][0]["name"] = "split"
    ro = rollout(
        routes=[
            {"kind": "HTTPRoute", "name": "api-route", "rules": [0]},
            {"kind": "GRPCRoute", "name": "grpc-route", "rules": ["split"]},
        ],
        steps=[{"weight": 20, "pause": "1m"}],
    )
    result = run("-f", write(tmp_path, "all.yaml", ROUTE, grpc, ro))
    assert result.exit_code == 0, result.output
    assert "GRPCRoute/grpc-route" in result.stdout and "rule 0 (split)" in result.stdout
    steps = json.loads(run("-f", str(tmp_path / "all.yaml"), "-o", "json").stdout)
    assert set(steps[0]["ops"]) == {"HTTPRoute/api-route", "GRPCRoute/grpc-route"}
    assert [r["route"] for r in steps[0]["rules"]] == [
        "HTTPRoute/api-route",
        "GRPCRoute/grpc-route",
    ]


def test_manage_backends_adds_canary_and_removes_stable(tmp_path: Path) -> None:
    rules = [{"backendRefs": [{"name": "user-service-v2", "port": 8080}]}]
    ro = rollout(
        routes=[{"kind": "HTTPRoute", "name": "api-route", "rules": [0]}],
        steps=[{"weight": 10}, {"weight": 100}],
        manageBackends=True,
    )
    path = write(tmp_path, "all.yaml", route_with(rules), ro)
    steps = json.loads(run("-f", path, "-o", "json").stdout)
    first = steps[0]["ops"]["HTTPRoute/api-route"]
    assert first[2] == {
        "op": "add",
        "path": "/spec/rules/0/backendRefs/-",
        "value": {"name": "user-service-v3", "port": 8080, "weight": 0},
    }
    assert first[-1] == {"op": "replace", "path": "/spec/rules/0/backendRefs/1/weight", "value": 10}
    assert [op["path"] for op in first].count("/spec/rules/0/backendRefs/0/name") == 1
    assert (steps[0]["rules"][0]["stable"], steps[0]["rules"][0]["canary"]) == (90, 10)
    after = steps[-1]["after_success"]["HTTPRoute/api-route"]
    assert after[-1] == {"op": "remove", "path": "/spec/rules/0/backendRefs/0"}
    text = run("-f", path).stdout
    assert "after success (manageBackends):" in text
    assert "remove   /spec/rules/0/backendRefs/0" in text


def test_directory_and_stdin(tmp_path: Path) -> None:
    write(tmp_path, "a.yaml", ROLLOUT)
    write(tmp_path, "b.yml", ROUTE)
    (tmp_path / "notes.txt").write_text("ignored")
    assert run("-f", str(tmp_path)).exit_code == 0
    stdin = yaml.safe_dump_all([ROUTE, ROLLOUT])
    assert run("-f", "-", stdin=stdin).exit_code == 0
    # positional paths work too, and a kind: List is flattened
    listed = {"apiVersion": "v1", "kind": "List", "items": [ROUTE, ROLLOUT]}
    assert run(write(tmp_path / "..", "list.yaml", listed)).exit_code == 0


@pytest.mark.parametrize(
    ("spec", "needles"),
    [
        ({"steps": [{"weight": 5}, {"weight": 500}]}, ["spec.steps[1].weight:", "100"]),
        ({"steps": [{"weight": 5, "pause": "soon"}]}, ["spec.steps[0].pause: not a Go duration"]),
        ({"steps": [{"weight": 50}, {"weight": 5}]}, ["spec.steps: step weights must be strictly"]),
        ({"steps": []}, ["spec.steps:"]),
        ({"routes": [{"kind": "TCPRoute", "name": "x"}]}, ["spec.routes[0].kind:", "'TCPRoute'"]),
        ({"routes": [{"name": "api-route", "rules": [1.5]}]}, ["spec.routes[0].rules[0]:"]),
        ({"canary": {"name": "user-service-v2"}}, ["spec.canary: stable and canary must"]),
        ({"bogus": 1}, ["spec.bogus: Extra inputs are not permitted"]),
        (
            {"steps": [{"weight": 500}, {"weight": -1}]},
            ["spec.steps[0].weight:", "(and 1 more error)"],
        ),
        (
            {"routes": [{"name": "api-route"}, {"kind": "HTTPRoute", "name": "api-route"}]},
            ["spec.routes[1]: HTTPRoute/api-route is already spec.routes[0]"],
        ),
        (
            {"routes": [{"name": "api-route", "rules": [1]}]},
            ["spec.routes[0].rules[0]: rule 1 of HTTPRoute/api-route does not list canary"],
        ),
        (
            {"routes": [{"name": "api-route", "rules": ["primary"]}]},
            ["spec.routes[0].rules[0]: HTTPRoute/api-route has no rule named 'primary'"],
        ),
    ],
)
def test_invalid_rollout_names_the_field(
    tmp_path: Path, spec: dict[str, Any], needles: list[str]
) -> None:
    path = write(tmp_path, "all.yaml", ROUTE, rollout(**spec))
    assert_usage(run("-f", path), *needles)


def test_missing_field(tmp_path: Path) -> None:
    ro = rollout()
    del ro["spec"]["stable"]
    assert_usage(run("-f", write(tmp_path, "all.yaml", ROUTE, ro)), "spec.stable: Field required")
    ro = rollout()
    del ro["metadata"]["name"]
    assert_usage(run("-f", write(tmp_path, "b.yaml", ROUTE, ro)), "metadata.name: Field required")


def test_ambiguous_rules(tmp_path: Path) -> None:
    rules = copy.deepcopy(ROUTE["spec"]["rules"])
    rules[1] = rules[0]
    err = assert_usage(run("-f", write(tmp_path, "all.yaml", route_with(rules), ROLLOUT)))
    assert err == (
        "error: spec.routes[0].rules: rules 0 and 1 of HTTPRoute/api-route list both backends; "
        "name the rules in spec.routes[0].rules"
    )


def test_no_rule_lists_both(tmp_path: Path) -> None:
    rules = [{"backendRefs": [{"name": "user-service-v2", "port": 8080}]}]
    assert_usage(
        run("-f", write(tmp_path, "all.yaml", route_with(rules), ROLLOUT)),
        "spec.routes[0].rules: no rule of HTTPRoute/api-route lists both",
    )


def test_malformed_route(tmp_path: Path) -> None:
    bad = route_with("nope")  # type: ignore[arg-type]
    assert_usage(
        run("-f", write(tmp_path, "all.yaml", bad, ROLLOUT)), "spec.routes[0]:", "not a list"
    )


def test_route_not_found(tmp_path: Path) -> None:
    err = assert_usage(run("-f", write(tmp_path, "r.yaml", ROLLOUT)))
    assert err == "error: HTTPRoute app-team-a/api-route not found in the given files"
    other_ns = copy.deepcopy(ROUTE)
    other_ns["metadata"]["namespace"] = "elsewhere"
    assert_usage(run("-f", write(tmp_path, "a.yaml", other_ns, ROLLOUT)), "not found")
    no_ns = copy.deepcopy(ROUTE)
    del no_ns["metadata"]["namespace"]
    assert run("-f", write(tmp_path, "b.yaml", no_ns, ROLLOUT)).exit_code == 0


def test_route_given_twice(tmp_path: Path) -> None:
    assert_usage(
        run("-f", write(tmp_path, "all.yaml", ROUTE, ROUTE, ROLLOUT)),
        "HTTPRoute app-team-a/api-route is given twice",
    )


def test_rollout_missing_or_several(tmp_path: Path) -> None:
    assert_usage(
        run("-f", write(tmp_path, "a.yaml", ROUTE)),
        "no Rollout (canary.dev/v1alpha1) in the given files",
    )
    argo = {"apiVersion": "argoproj.io/v1alpha1", "kind": "Rollout", "metadata": {"name": "x"}}
    assert_usage(
        run("-f", write(tmp_path, "b.yaml", ROUTE, argo)),
        "(found kind Rollout of apiVersion argoproj.io/v1alpha1)",
    )
    assert_usage(
        run("-f", write(tmp_path, "c.yaml", ROUTE, ROLLOUT, ROLLOUT)),
        "several Rollouts in the given files",
    )


@pytest.mark.parametrize(
    ("content", "needles"),
    [
        ("kind: Rollout\nspec: [unclosed\n", ["invalid YAML", ":3:1"]),
        ("a: b\n  c: d\n", ["invalid YAML", "mapping values are not allowed"]),
        ("- 1\n- 2\n", ["expected a Kubernetes object, got a list"]),
        ("just a string\n", ["expected a Kubernetes object, got a string"]),
        ("apiVersion: v1\nmetadata: {}\n", ["not a Kubernetes object (no kind)"]),
        ("kind: List\nitems: 3\n", ["kind List without an items list"]),
        ("kind: List\nitems: [3]\n", ["items[0]: expected a Kubernetes object, got a number"]),
    ],
)
def test_bad_yaml(tmp_path: Path, content: str, needles: list[str]) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(content)
    assert_usage(run("-f", str(path)), str(path), *needles)


def test_multi_doc_source_names_the_document(tmp_path: Path) -> None:
    path = tmp_path / "multi.yaml"
    path.write_text("---\nkind: A\n---\n---\n- x\n")
    assert_usage(run("-f", str(path)), f"{path}#2: expected a Kubernetes object")


def test_files_that_cannot_be_read(tmp_path: Path) -> None:
    assert_usage(run("-f", str(tmp_path / "missing.yaml")), "missing.yaml: no such file")
    binary = tmp_path / "bin.yaml"
    binary.write_bytes(b"\xff\xfe\x00bad")
    assert_usage(run("-f", str(binary)), "not a UTF-8 text file")
    empty = tmp_path / "empty"
    empty.mkdir()
    assert_usage(run("-f", str(empty)), "no .yaml, .yml or .json files")
    unreadable = tmp_path / "dir.yaml"
    unreadable.mkdir()
    assert_usage(run("-f", str(unreadable) + "/"), "no .yaml")


def test_unreadable_path_is_one_line(tmp_path: Path) -> None:
    # a path through a regular file: neither a file nor a directory
    (tmp_path / "f").write_text("x")
    assert_usage(run("-f", str(tmp_path / "f" / "x.yaml")), "cannot read")


def test_no_files() -> None:
    assert_usage(run(), "give the Rollout and its route(s)")
