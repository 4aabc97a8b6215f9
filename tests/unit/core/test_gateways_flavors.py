"""Per-class choices: parent Gateway → controllerName → metrics flavor (no second
Gateway implementation runs on the local stack; these choices are tested here only)."""

from __future__ import annotations

from typing import Any

import pytest

from canary.core.analysis.flavors import flavor_for, with_flavors
from canary.core.models import RolloutSpec
from canary.core.routes.gateways import controllers_by_gateway, parent_gateways, route_controllers
from canary.core.routes.rules import InvalidRollout

TRAEFIK = "traefik.io/gateway-controller"
ENVOY = "gateway.envoyproxy.io/gatewayclass-controller"
ISTIO = "istio.io/gateway-controller"


def docs(*classes: tuple[str, str, str]) -> list[dict[str, Any]]:
    """(gateway ns/name, class, controller) → GatewayClass + Gateway objects."""
    out: list[dict[str, Any]] = []
    for gw, cls, controller in classes:
        ns, name = gw.split("/")
        out.append(
            {
                "kind": "GatewayClass",
                "metadata": {"name": cls},
                "spec": {"controllerName": controller},
            }
        )
        out.append(
            {
                "kind": "Gateway",
                "metadata": {"name": name, "namespace": ns},
                "spec": {"gatewayClassName": cls},
            }
        )
    return out  # fmt: skip


def route(*parents: dict[str, Any]) -> dict[str, Any]:
    return {"metadata": {"name": "r", "namespace": "app"}, "spec": {"parentRefs": list(parents)}}


def test_parent_gateways_apply_the_api_defaults() -> None:
    r = route(
        {"name": "gw"},  # the route's namespace
        {"name": "gw", "namespace": "infra", "sectionName": "https"},
        {"name": "gw", "namespace": "infra", "sectionName": "http"},  # same Gateway once
        {"name": "svc", "kind": "Service", "group": ""},  # a mesh parent: not a Gateway
    )
    assert parent_gateways(r) == [("app", "gw"), ("infra", "gw")]


def test_route_controllers_follow_the_gateway_class() -> None:
    by_gw = controllers_by_gateway(docs(("infra/prod", "traefik", TRAEFIK)))
    r = route({"name": "prod", "namespace": "infra"}, {"name": "missing"})
    assert route_controllers(r, by_gw) == {"infra/prod": TRAEFIK, "app/missing": ""}


@pytest.mark.parametrize(
    ("controllers", "flavor"),
    [
        ([TRAEFIK], "traefik"),
        ([ENVOY], "envoy-gateway"),
        ([ISTIO], "istio"),
        ([TRAEFIK, TRAEFIK], "traefik"),
        ([TRAEFIK, ENVOY], None),  # parents of two implementations: no single answer
        (["example.com/other"], None),
        ([""], None),  # class not found
        ([], None),
    ],
)
def test_flavor_for(controllers: list[str], flavor: str | None) -> None:
    assert flavor_for(controllers) == flavor


def spec(*metrics: dict[str, Any], **analysis: Any) -> RolloutSpec:
    return RolloutSpec.model_validate(
        {
            "routes": [{"name": "r"}],
            "stable": {"name": "v2"},
            "canary": {"name": "v3"},
            "steps": [{"weight": 5}],
            "analysis": {"metrics": list(metrics), **analysis},
        }
    )


ERR = {"name": "err", "template": "error-rate", "max": 0.1}
CUSTOM = {"name": "custom", "query": "sum(x{b='{{backend}}'})", "max": 1}


def test_template_without_flavor_takes_the_gateways() -> None:
    out = with_flavors(spec(ERR), [TRAEFIK])
    assert out.analysis.metrics[0].flavor == "traefik"
    assert with_flavors(spec(ERR), [ISTIO]).analysis.metrics[0].flavor == "istio"


def test_explicit_flavor_wins() -> None:
    out = with_flavors(spec({**ERR, "flavor": "app"}), [TRAEFIK])
    assert out.analysis.metrics[0].flavor == "app"
    # stored Rollouts that say traefik keep working, whatever the Gateway
    assert with_flavors(spec({**ERR, "flavor": "traefik"}), ["x/y"]).analysis.metrics[0].flavor


def test_unknown_controller_without_flavor_is_invalid_naming_the_field() -> None:
    with pytest.raises(InvalidRollout) as exc:
        with_flavors(spec(ERR), ["example.com/other"])
    assert exc.value.field == "spec.analysis.metrics[0].flavor"
    assert "set flavor or query" in str(exc.value) and "example.com/other" in str(exc.value)
    # the fix names the fields: the flavor (with its values), or a query + requestCount
    assert "spec.analysis.metrics[0].flavor (app | envoy-gateway | istio | traefik)" in str(
        exc.value
    )
    assert "spec.analysis.requestCount" in str(exc.value)


def test_custom_query_needs_a_request_count_source() -> None:
    with pytest.raises(InvalidRollout, match="set flavor or requestCount") as exc:
        with_flavors(spec(CUSTOM), ["example.com/other"])
    assert exc.value.field == "spec.analysis.metrics[0].flavor"
    message = str(exc.value)
    assert "spec.analysis.metrics[0].flavor (app | envoy-gateway | istio | traefik)" in message
    assert "or spec.analysis.requestCount" in message
    assert "needs a request count for minRequests and the observed share" in message
    counted = spec(CUSTOM, requestCount="sum(increase(req{b='{{backend}}'}[{{interval}}]))")
    assert with_flavors(counted, ["example.com/other"]).analysis.metrics[0].flavor is None
    assert with_flavors(spec(CUSTOM), [ENVOY]).analysis.metrics[0].flavor == "envoy-gateway"
