"""Route and spec builders shared by the patching and rule-addressing tests."""

from __future__ import annotations

from typing import Any

from canary.core.models import RolloutSpec
from canary.core.routes.rules import resolve_rules

NS = "app-team-a"


def ref(name: str, weight: int | None = None, **extra: Any) -> dict[str, Any]:
    out: dict[str, Any] = {"name": name, "port": 8080, **extra}
    if weight is not None:
        out["weight"] = weight
    return out


def route(*rules: list[dict[str, Any]], names: list[str | None] | None = None) -> dict[str, Any]:
    out_rules: list[dict[str, Any]] = []
    for k, backends in enumerate(rules):
        rule: dict[str, Any] = {"matches": [{"path": {"type": "PathPrefix", "value": f"/r{k}"}}]}
        if names and names[k]:
            rule["name"] = names[k]
        rule["backendRefs"] = backends
        out_rules.append(rule)
    return {
        "apiVersion": "gateway.networking.k8s.io/v1",
        "kind": "HTTPRoute",
        "metadata": {"name": "api-route", "namespace": NS, "generation": 7},
        "spec": {"rules": out_rules},
    }


def seed_route() -> dict[str, Any]:
    return route(
        [ref("user-service-v2", 90), ref("user-service-v3", 10)],
        [ref("user-service-v2")],
    )


def spec(rules: list[int | str] | None = None, manage: bool = False, **over: Any) -> RolloutSpec:
    data: dict[str, Any] = {
        "routes": [{"kind": "HTTPRoute", "name": "api-route"}],
        "stable": {"name": "user-service-v2", "port": 8080},
        "canary": {"name": "user-service-v3", "port": 8080},
        "steps": [{"weight": 5, "pause": "1m"}, {"weight": 50}],
        "manageBackends": manage,
    }
    if rules is not None:
        data["routes"][0]["rules"] = rules
    data.update(over)
    return RolloutSpec.model_validate(data)


def resolve(r: dict[str, Any], s: RolloutSpec) -> Any:
    return resolve_rules(r, s, s.routes[0], namespace=NS)
