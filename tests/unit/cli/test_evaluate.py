"""`canary evaluate` and `canary lint-routes` from the command line (the contract in
docs/evaluator-spec.md)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from canary.cli.verbs import cli

SEED = str(Path(__file__).resolve().parents[3] / "examples" / "routes" / "seed.yaml")


def run(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args))


def test_evaluate_json_contract_keys() -> None:
    r = run(
        "evaluate",
        "-f",
        SEED,
        "--request",
        "GET https://api.example.com/users",
        "-H",
        "X-Api-Version: v2",
        "--samples",
        "1000",
        "--seed",
        "3",
        "-o",
        "json",
    )
    assert r.exit_code == 0, r.output
    body = json.loads(r.output)
    for key in (
        "status",
        "route",
        "route_kind",
        "rule",
        "backends",
        "error_share",
        "request",
        "response_headers",
        "location",
        "notes",
        "samples",
    ):
        assert key in body
    assert (body["status"], body["route"], body["route_kind"], body["rule"]) == (
        200,
        "app-team-a/api-route",
        "HTTPRoute",
        0,
    )
    assert [(b["name"], b["share"]) for b in body["backends"]] == [
        ("user-service-v2", 0.9),
        ("user-service-v3", 0.1),
    ]
    assert set(body["samples"]) == {
        "app-team-a/user-service-v2",
        "app-team-a/user-service-v3",
        "error",
    }
    assert sum(body["samples"].values()) == 1000
    assert body["request"] == {
        "method": "GET",
        "host": "api.example.com",
        "path": "/users",
        "query": "",
        "headers": {"X-Api-Version": "v2"},
    }


def test_evaluate_text_redirect_and_explain() -> None:
    r = run("evaluate", "-f", SEED, "--request", "GET https://app.example.com/legacy", "--explain")
    assert r.exit_code == 0
    assert "->  301" in r.output and "location  https://new.example.com/legacy" in r.output
    assert "explain" in r.output and "selected" in r.output


def test_evaluate_text_rewrite_and_grpc() -> None:
    r = run(
        "evaluate",
        "-f",
        SEED,
        "--request",
        "GET https://app.example.com/old-api/x",
        "-H",
        "X-Internal-Debug: 1",
    )
    assert r.exit_code == 0 and "forwards  GET app.example.com/v2/api/x" in r.output
    assert "X-Internal-Debug" not in r.output.split("forwards")[1]
    r = run(
        "evaluate",
        "-f",
        SEED,
        "--request",
        "https://grpc.example.com",
        "--grpc",
        "order.OrderService/List",
        "-o",
        "json",
    )
    body = json.loads(r.output)
    assert (body["status"], body["route_kind"], body["rule"]) == (200, "GRPCRoute", 1)


def test_evaluate_404_and_500_exit_0(tmp_path: Path) -> None:
    r = run("evaluate", "-f", SEED, "--request", "GET https://nowhere.example.com/")
    assert r.exit_code == 0 and "->  404" in r.output
    extra = tmp_path / "svc.yaml"
    extra.write_text("apiVersion: v1\nkind: Service\nmetadata: {name: other, namespace: x}\n")
    r = run(
        "evaluate",
        "-f",
        SEED,
        "-f",
        str(extra),
        "--request",
        "GET https://api.example.com/users",
        "-o",
        "json",
    )
    body = json.loads(r.output)
    assert r.exit_code == 0 and body["status"] == 500 and body["error_share"] == 1.0


def _bad(tmp_path: Path, text: str) -> str:
    p = tmp_path / "bad.yaml"
    p.write_text(text)
    return str(p)


ROUTE = """apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: r, namespace: app}
spec:
  rules:
  - backendRefs:
    - name: svc
"""


@pytest.mark.parametrize(
    "text,expected",
    [
        ("kind: [unclosed\n", "malformed YAML at line"),
        (
            "apiVersion: v1\nkind: Gizmo\nmetadata: {name: g}\n",
            "Gizmo default/g: kind: unknown kind",
        ),
        (ROUTE, "HTTPRoute app/r: spec.rules[0].backendRefs[0].port: required for a Service"),
        ("- just\n- a list\n", "not a mapping"),
    ],
)
def test_bad_input_is_one_line_and_exit_3(tmp_path: Path, text: str, expected: str) -> None:
    r = run("evaluate", "-f", _bad(tmp_path, text), "--request", "GET http://h/")
    assert r.exit_code == 3
    assert expected in r.output
    assert len(r.output.strip().splitlines()) == 1
    assert "Traceback" not in r.output


@pytest.mark.parametrize(
    "args,expected",
    [
        (["--request", "GET ftp://h/"], "scheme must be http or https"),
        (["--request", "GET http://h/ extra"], 'expected "METHOD URL"'),
        (["--request", "GET http://h/", "-H", "no-colon"], 'expected "Name: value"'),
        (["--request", "GET http://h/", "-H", "bad name: v"], "invalid header name 'bad name'"),
        (["--request", "GET http://h/", "-H", "bäd: v"], "invalid header name"),
        (["--request", "GET http://h/", "--grpc", "nomethod"], "expected SERVICE/METHOD"),
        (["--request", "GET http://h/", "--gateway", "x/y"], "Gateway x/y not found"),
    ],
)
def test_bad_request_flags_exit_3(args: list[str], expected: str) -> None:
    r = run("evaluate", "-f", SEED, *args)
    assert r.exit_code == 3 and expected in r.output
    assert len(r.output.strip().splitlines()) == 1


def test_several_gateways_need_gateway_flag(tmp_path: Path) -> None:
    other = tmp_path / "gw.yaml"
    other.write_text("""apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: second, namespace: infra}
spec:
  gatewayClassName: c
  listeners: [{name: http, port: 80, protocol: HTTP}]
""")
    r = run("evaluate", "-f", SEED, "-f", str(other), "--request", "GET https://api.example.com/")
    assert r.exit_code == 3 and "--gateway" in r.output
    r = run(
        "evaluate",
        "-f",
        SEED,
        "-f",
        str(other),
        "--gateway",
        "infra/prod-gateway",
        "--request",
        "GET https://api.example.com/users",
    )
    assert r.exit_code == 0 and "->  200" in r.output
    r = run("evaluate", "-f", str(tmp_path), "--gateway", "second", "--request", "GET http://a/")
    assert r.exit_code == 0 and "->  404" in r.output


def test_missing_file_exit_3() -> None:
    r = run("evaluate", "-f", "/nonexistent.yaml", "--request", "GET http://h/")
    assert r.exit_code == 3 and "no such file" in r.output


def test_lint_routes_exit_codes(tmp_path: Path) -> None:
    r = run("lint-routes", "-f", SEED)
    assert r.exit_code == 0 and "no problems" in r.output
    bad = tmp_path / "zero.yaml"
    bad.write_text(
        Path(SEED).read_text().replace("weight: 90", "weight: 0").replace("weight: 10", "weight: 0")
    )
    r = run("lint-routes", "-f", str(bad))
    assert r.exit_code == 1 and "all-zero-weights" in r.output
    r = run("lint-routes", "-f", str(bad), "-o", "json")
    assert r.exit_code == 1 and json.loads(r.output)["errors"] == 1
    r = run("lint-routes", "-f", _bad(tmp_path, "kind: [\n"))
    assert r.exit_code == 3


RE2_ROUTE = """\
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: re2, namespace: default}
spec:
  parentRefs: [{name: prod-gateway, namespace: infra}]
  hostnames: [other.example.com]
  rules:
  - matches: [{path: {type: RegularExpression, value: '/\\pL+'}}]
    backendRefs: [{name: x, port: 80}]
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {name: orphan, namespace: default}
addressType: FQDN
endpoints: [{addresses: [x.local]}]
"""


def test_lint_routes_lists_unparsable_objects_and_checks_the_rest(tmp_path: Path) -> None:
    bad = tmp_path / "re2.yaml"
    bad.write_text(RE2_ROUTE)
    r = run("lint-routes", "-f", SEED, "-f", str(bad))
    assert r.exit_code == 1, r.output
    lines = r.output.splitlines()
    assert any(
        line.startswith("error HTTPRoute default/re2: unparsable: ")
        and f"{bad}: spec.rules[0].matches[0].path.value" in line
        and "bad escape \\p" in line
        for line in lines
    ), r.output
    assert any(
        line.startswith("info  EndpointSlice default/orphan: ignored-object") for line in lines
    ), r.output
    assert "1 problem(s) in 3 route(s)" in r.output  # the seed's routes were checked
    doc = json.loads(run("lint-routes", "-f", SEED, "-f", str(bad), "-o", "json").output)
    assert [p["code"] for p in doc["problems"]] == ["unparsable", "ignored-object"]
    # evaluate stays strict: bad input, naming the file and the field (exit 3)
    r = run("evaluate", "-f", str(bad), "--request", "GET http://other.example.com/a")
    assert r.exit_code == 3 and "path.value" in r.output and str(bad) in r.output
