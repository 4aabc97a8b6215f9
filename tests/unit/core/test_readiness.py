from __future__ import annotations

from typing import Any

import pytest

from canary.core.routes.readiness import route_readiness


def _route(parents: list[dict[str, Any]] | None, generation: int = 3) -> dict[str, Any]:
    route: dict[str, Any] = {
        "kind": "HTTPRoute",
        "metadata": {"name": "api-route", "namespace": "app", "generation": generation},
        "spec": {"parentRefs": [{"name": "gw", "namespace": "infra"}]},
    }
    if parents is not None:
        route["status"] = {"parents": parents}
    return route


def _parent(
    accepted: str = "True", resolved: str = "True", gen: int = 3, **ref: Any
) -> dict[str, Any]:
    return {
        "parentRef": {"name": "gw", "namespace": "infra", **ref},
        "controllerName": "traefik.io/gateway-controller",
        "conditions": [
            {"type": "Accepted", "status": accepted, "observedGeneration": gen, "reason": "X"},
            {
                "type": "ResolvedRefs",
                "status": resolved,
                "observedGeneration": gen,
                "reason": "BackendNotFound",
                "message": "svc missing",
            },
        ],
    }


def test_ready() -> None:
    r = route_readiness(_route([_parent()]))
    assert r.ready and r.reason == "" and r.has_status


@pytest.mark.parametrize(
    "route, fragment",
    [
        (_route(None), "no parent status written yet"),
        (_route([_parent(gen=2)]), "generation 2 < 3"),
        (_route([_parent(accepted="False")]), "Accepted=False"),
        (_route([_parent(resolved="False")]), "ResolvedRefs=False (BackendNotFound: svc missing)"),
        (_route([_parent(sectionName="https")]), "no status for parent infra/gw"),
        (
            _route([{"parentRef": {"name": "gw", "namespace": "infra"}, "conditions": []}]),
            "has no Accepted",
        ),
    ],
)
def test_not_ready(route: dict[str, Any], fragment: str) -> None:
    r = route_readiness(route)
    assert not r.ready
    assert fragment in r.reason


def test_no_parent_refs() -> None:
    route = _route([_parent()])
    route["spec"]["parentRefs"] = []
    assert "has no parentRefs" in route_readiness(route).reason


def test_every_parent_must_be_ready() -> None:
    route = _route([_parent(), _parent(sectionName="http", accepted="False")])
    route["spec"]["parentRefs"].append({"name": "gw", "namespace": "infra", "sectionName": "http"})
    r = route_readiness(route)
    assert not r.ready and "infra/gw/http" in r.reason


def test_default_namespace_is_the_routes() -> None:
    route = _route([{**_parent(), "parentRef": {"name": "gw"}}])
    route["spec"]["parentRefs"] = [{"name": "gw"}]
    route["metadata"]["namespace"] = "infra"
    assert route_readiness(route).ready
