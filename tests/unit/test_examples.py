"""examples/: the seed scenario is valid, matches the seed, and `canary plan` walks it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml
from click.testing import CliRunner

from canary.cli.verbs import cli
from canary.core.models import Rollout

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def docs(name: str) -> list[dict[str, Any]]:
    return [d for d in yaml.safe_load_all((EXAMPLES / name).read_text()) if d]


def one(name: str, kind: str) -> dict[str, Any]:
    (found,) = [d for d in docs(name) if d["kind"] == kind]
    return found


def test_rollout_passes_the_models() -> None:
    rollout = Rollout.model_validate(one("rollout.yaml", "Rollout"))
    assert (rollout.metadata.namespace, rollout.metadata.name) == ("app-team-a", "canary-api")
    spec = rollout.spec
    assert [(s.weight, s.pause) for s in spec.steps] == [(5, "1m"), (50, "2m"), (100, "1m")]
    assert (spec.stable.name, spec.stable.port) == ("user-service-v2", 8080)
    assert (spec.canary.name, spec.canary.port) == ("user-service-v3", 8080)
    assert spec.analysis.interval == "30s"
    by_name = {m.name: m for m in spec.analysis.metrics}
    err, lat = by_name["error-rate"], by_name["p99-latency"]
    assert (err.template, err.max, err.max_increase) == ("error-rate", 0.01, 0.005)
    assert (lat.template, lat.quantile, lat.max, lat.max_ratio) == ("latency", 0.99, 0.5, 1.5)


def test_gateway_is_the_seeds() -> None:
    gateway = one("gateway.yaml", "Gateway")
    assert (gateway["metadata"]["namespace"], gateway["metadata"]["name"]) == (
        "infra",
        "prod-gateway",
    )
    assert sorted(listener["port"] for listener in gateway["spec"]["listeners"]) == [80, 443]
    gateway_class = one("gateway.yaml", "GatewayClass")
    assert gateway["spec"]["gatewayClassName"] == gateway_class["metadata"]["name"]
    # routes in app-team-a may attach to the https listener (selector gateway-access=true)
    namespaces = {
        d["metadata"]["name"]: d for d in docs("gateway.yaml") if d["kind"] == "Namespace"
    }
    assert namespaces["app-team-a"]["metadata"]["labels"]["gateway-access"] == "true"


def test_metric_flavor_matches_the_gateway_class() -> None:
    controller = one("gateway.yaml", "GatewayClass")["spec"]["controllerName"]
    flavors = {
        m.flavor
        for m in Rollout.model_validate(one("rollout.yaml", "Rollout")).spec.analysis.metrics
    }
    assert flavors == {"envoy-gateway"} and controller.startswith("gateway.envoyproxy.io/")


def test_httproute_is_the_seeds() -> None:
    route = one("httproute.yaml", "HTTPRoute")
    assert (route["metadata"]["namespace"], route["metadata"]["name"]) == (
        "app-team-a",
        "api-route",
    )
    assert route["spec"]["parentRefs"] == [{"name": "prod-gateway", "namespace": "infra"}]
    split, fallback = route["spec"]["rules"]
    assert split["matches"][0]["headers"] == [{"name": "X-Api-Version", "value": "v2"}]
    assert [(b["name"], b["weight"]) for b in split["backendRefs"]] == [
        ("user-service-v2", 90),
        ("user-service-v3", 10),
    ]
    assert [b["name"] for b in fallback["backendRefs"]] == ["user-service-v2"]


def test_plan_on_examples_prints_three_steps() -> None:
    runner = CliRunner()
    result = runner.invoke(cli, ["plan", "-f", str(EXAMPLES)])
    assert result.exit_code == 0, result.output
    assert [line for line in result.stdout.splitlines() if line.startswith("step ")] == [
        "step 1/3: weight 5, pause 1m",
        "step 2/3: weight 50, pause 2m",
        "step 3/3: weight 100, pause 1m",
    ]
    result = runner.invoke(
        cli,
        [
            "plan",
            "-f",
            str(EXAMPLES / "rollout.yaml"),
            "-f",
            str(EXAMPLES / "httproute.yaml"),
            "-o",
            "json",
        ],
    )
    steps = json.loads(result.stdout)
    assert [(r["stable"], r["canary"]) for s in steps for r in s["rules"]] == [
        (95, 5),
        (50, 50),
        (0, 100),
    ]
