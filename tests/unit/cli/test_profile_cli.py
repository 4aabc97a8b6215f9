"""``--profile`` on evaluate, lint-routes and plan (the traefik data-plane profile)."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner, Result

from canary.cli.verbs import cli

EXAMPLES = Path(__file__).resolve().parents[3] / "examples"
ROUTES = """
apiVersion: gateway.networking.k8s.io/v1
kind: GatewayClass
metadata: {name: traefik}
spec: {controllerName: traefik.io/gateway-controller}
---
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: gw, namespace: infra}
spec:
  gatewayClassName: traefik
  listeners: [{name: web, port: 80, protocol: HTTP, allowedRoutes: {namespaces: {from: All}}}]
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: r, namespace: a}
spec:
  parentRefs: [{name: gw, namespace: infra}]
  hostnames: [a.example.com]
  rules:
  - matches: [{path: {type: PathPrefix, value: /api/v1/users}}]
    backendRefs: [{name: long, port: 80}]
  - matches: [{path: {type: PathPrefix, value: /api}, method: GET}]
    backendRefs: [{name: method, port: 80}]
"""


def run(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args))


def _file(tmp_path: Path) -> str:
    path = tmp_path / "routes.yaml"
    path.write_text(ROUTES)
    return str(path)


def test_evaluate_profiles_answer_differently(tmp_path: Path) -> None:
    f = _file(tmp_path)
    line = "GET http://a.example.com/api/v1/users"
    spec = json.loads(run("evaluate", "-f", f, "--request", line, "-o", "json").output)
    traefik = json.loads(
        run("evaluate", "-f", f, "--request", line, "--profile", "traefik", "-o", "json").output
    )
    auto = json.loads(
        run("evaluate", "-f", f, "--request", line, "--profile", "auto", "-o", "json").output
    )
    assert (spec["rule"], traefik["rule"], auto["rule"]) == (0, 1, 1)
    assert "profile" not in spec
    assert traefik["profile"] == "traefik" and traefik["priority"] == 11414
    text = run("evaluate", "-f", f, "--request", line, "--profile", "traefik", "--explain")
    assert "router priority 11414" in text.output and "(priority 11315)" in text.output


def test_lint_routes_warns_about_divergences(tmp_path: Path) -> None:
    f = _file(tmp_path)
    plain = run("lint-routes", "-f", f)
    assert plain.exit_code == 0 and "divergence" not in plain.output
    warned = run("lint-routes", "-f", f, "--profile", "traefik")
    assert warned.exit_code == 0
    assert "warning HTTPRoute a/r rule 0: divergence:" in warned.output
    assert "method-vs-prefix" in warned.output
    assert "1 traefik divergence warning(s)" in warned.output
    data = json.loads(run("lint-routes", "-f", f, "--profile", "auto", "-o", "json").output)
    assert data["profile"] == "traefik"
    assert [p["code"] for p in data["problems"]] == ["divergence"]


def test_plan_profile_predicts_each_step(tmp_path: Path) -> None:
    files = [str(EXAMPLES / n) for n in ("rollout.yaml", "httproute.yaml", "gateway.yaml")]
    args = [a for f in files for a in ("-f", f)]
    out = run("plan", *args, "--profile", "traefik", "-o", "json")
    assert out.exit_code == 0, out.output
    steps = json.loads(out.output)
    assert [s["effective"][0]["share"] for s in steps] == [s["weight"] / 100 for s in steps]
    assert all(s["effective"][0]["verified"] for s in steps)
    auto = json.loads(run("plan", *args, "--profile", "auto", "-o", "json").output)
    assert auto[0]["effective"][0]["profile"] == "spec"  # the example's class is Envoy's
    text = run("plan", *args, "--profile", "traefik")
    assert "effective (traefik) HTTPRoute/api-route: 5.0% of 5.0%, verified" in text.output
    missing = run("plan", "-f", files[0], "-f", files[1], "--profile", "traefik")
    assert missing.exit_code == 3 and "no Gateway in the given files" in missing.output


def test_plan_without_profile_predicts_nothing_and_help_says_the_defaults() -> None:
    """``plan`` has no profile default (no prediction without it); evaluate and lint-routes
    default to spec; every --help says auto falls back to spec."""
    files = [str(EXAMPLES / n) for n in ("rollout.yaml", "httproute.yaml", "gateway.yaml")]
    steps = json.loads(run("plan", *[a for f in files for a in ("-f", f)], "-o", "json").output)
    assert steps and all("effective" not in s for s in steps)
    plan_help = " ".join(run("plan", "--help").output.split())
    assert "No default: without it, no prediction." in plan_help
    assert "else spec" in plan_help
    for verb in ("evaluate", "lint-routes"):
        text = " ".join(run(verb, "--help").output.split())
        assert "[default: spec]" in text, verb
        assert "spec when it has another, is not in the input, or Gateways disagree" in text
