"""Which Gateway implementations serve a route: parent Gateways → GatewayClass controller.

The operator chooses per parent Gateway how to confirm the data plane (Traefik's API only
for Traefik's Gateways) and which metrics to read (``canary.core.analysis.flavors``) from
the ``spec.controllerName`` of the Gateway's GatewayClass. Pure: reads plain objects.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from canary.core.routing import gateway_controllers

GATEWAY_GROUP = "gateway.networking.k8s.io"


def parent_gateways(route: Mapping[str, Any]) -> list[tuple[str, str]]:
    """(namespace, name) of every Gateway in the route's ``spec.parentRefs``."""
    meta = route.get("metadata") or {}
    ns = str(meta.get("namespace") or "")
    out: list[tuple[str, str]] = []
    for ref in (route.get("spec") or {}).get("parentRefs") or []:
        if not isinstance(ref, Mapping):
            continue
        if ref.get("group", GATEWAY_GROUP) != GATEWAY_GROUP:
            continue
        if ref.get("kind", "Gateway") != "Gateway" or not ref.get("name"):
            continue
        key = (str(ref.get("namespace") or ns), str(ref["name"]))
        if key not in out:
            out.append(key)
    return out


def controllers_by_gateway(docs: Iterable[Mapping[str, Any]]) -> dict[tuple[str, str], str]:
    """(namespace, name) of each Gateway → its class's controllerName ("" when unknown)."""
    docs = list(docs)
    classes = gateway_controllers(docs)
    gateways: dict[tuple[str, str], str] = {}
    for doc in docs:
        meta, spec = doc.get("metadata") or {}, doc.get("spec") or {}
        if doc.get("kind") != "Gateway" or not isinstance(meta, Mapping):
            continue
        key = (str(meta.get("namespace") or ""), str(meta.get("name", "")))
        gateways[key] = str(spec.get("gatewayClassName") or "") if isinstance(spec, Mapping) else ""
    return {key: classes.get(cls, "") for key, cls in gateways.items()}


def route_controllers(
    route: Mapping[str, Any], controllers: Mapping[tuple[str, str], str]
) -> dict[str, str]:
    """ "ns/name" of each parent Gateway → its controllerName ("" when not found)."""
    return {f"{ns}/{name}": controllers.get((ns, name), "") for ns, name in parent_gateways(route)}
