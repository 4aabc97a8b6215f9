"""Small builders for Gateway API documents (dicts, as loaded from YAML) used by the tests."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from canary.core.routing import Decision, Table, build_table, evaluate, make_request

GW = "gateway.networking.k8s.io/v1"
SEED = Path(__file__).resolve().parents[3] / "examples" / "routes" / "seed.yaml"


def listener(
    name: str = "http",
    port: int = 80,
    protocol: str = "HTTP",
    hostname: str | None = None,
    allowed: dict[str, Any] | None = None,
) -> dict[str, Any]:
    out: dict[str, Any] = {"name": name, "port": port, "protocol": protocol}
    if hostname is not None:
        out["hostname"] = hostname
    out["allowedRoutes"] = allowed if allowed is not None else {"namespaces": {"from": "All"}}
    return out


def gateway(
    *listeners: dict[str, Any], name: str = "gw", namespace: str = "infra"
) -> dict[str, Any]:
    return {
        "apiVersion": GW,
        "kind": "Gateway",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {"gatewayClassName": "test", "listeners": list(listeners) or [listener()]},
    }


def backend(name: str, port: int = 8080, weight: int | None = None, **extra: Any) -> dict[str, Any]:
    out: dict[str, Any] = {"name": name, "port": port, **extra}
    if weight is not None:
        out["weight"] = weight
    return out


def prefix(value: str, **extra: Any) -> dict[str, Any]:
    return {"path": {"type": "PathPrefix", "value": value}, **extra}


def exact(value: str, **extra: Any) -> dict[str, Any]:
    return {"path": {"type": "Exact", "value": value}, **extra}


def rule(
    *backends: dict[str, Any], matches: list[Any] | None = None, **extra: Any
) -> dict[str, Any]:
    out: dict[str, Any] = {"backendRefs": list(backends), **extra}
    if matches is not None:
        out["matches"] = matches
    return out


def route(
    name: str,
    *rules: dict[str, Any],
    namespace: str = "app",
    hostnames: list[str] | None = None,
    parents: list[dict[str, Any]] | None = None,
    kind: str = "HTTPRoute",
    created: str | None = None,
) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name, "namespace": namespace}
    if created:
        meta["creationTimestamp"] = created
    spec: dict[str, Any] = {
        "parentRefs": parents if parents is not None else [{"name": "gw", "namespace": "infra"}],
    }
    if hostnames is not None:
        spec["hostnames"] = hostnames
    if rules:
        spec["rules"] = list(rules)
    return {"apiVersion": GW, "kind": kind, "metadata": meta, "spec": spec}


def service(name: str, namespace: str = "app", ports: tuple[int, ...] = (8080,)) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {"ports": [{"port": p} for p in ports]},
    }


def namespace(name: str, **labels: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name, "labels": labels}}


def grant(
    namespace: str, from_ns: str, kind: str = "HTTPRoute", to_name: str | None = None
) -> dict[str, Any]:
    to: dict[str, Any] = {"group": "", "kind": "Service"}
    if to_name:
        to["name"] = to_name
    return {
        "apiVersion": "gateway.networking.k8s.io/v1beta1",
        "kind": "ReferenceGrant",
        "metadata": {"name": "g", "namespace": namespace},
        "spec": {
            "from": [{"group": "gateway.networking.k8s.io", "kind": kind, "namespace": from_ns}],
            "to": [to],
        },
    }


def endpoint_slice(service_name: str, namespace: str = "app", ready: bool = True) -> dict[str, Any]:
    return {
        "apiVersion": "discovery.k8s.io/v1",
        "kind": "EndpointSlice",
        "metadata": {
            "name": f"{service_name}-abc",
            "namespace": namespace,
            "labels": {"kubernetes.io/service-name": service_name},
        },
        "addressType": "FQDN",
        "endpoints": [{"addresses": ["x.local"], "conditions": {"ready": ready}}],
    }


def seed_docs() -> list[Any]:
    return [d for d in yaml.safe_load_all(SEED.read_text()) if d]


def ask(
    docs: list[Any] | Table,
    line: str,
    headers: dict[str, str] | list[tuple[str, str]] | None = None,
    **kw: Any,
) -> Decision:
    """Evaluate "METHOD URL" against docs (or a built table)."""
    table = docs if isinstance(docs, Table) else build_table(docs)
    method, url = line.split(" ", 1)
    hdrs = list(headers.items()) if isinstance(headers, dict) else list(headers or [])
    explain = kw.pop("explain", False)
    naive = kw.pop("naive", False)
    return evaluate(table, make_request(method, url, hdrs, **kw), explain=explain, naive=naive)


def split(d: Decision) -> dict[str, float]:
    """{"name": share} of the decision's backends (valid ones), for compact asserts."""
    return {b.name: b.share for b in d.backends}
