"""A seeded synthetic routing table and request stream (benchmark, differential test).

``synthetic_docs(seed, routes=1000, rules=8, hostnames=200)``: one Gateway (HTTP :80,
all namespaces), Services, and HTTPRoutes spread over the hostnames (exact and
wildcard), each rule with a mix of Exact / PathPrefix / RegularExpression paths,
header and query matches, methods, weighted backends and filters (header modifiers,
URL rewrites, redirects). ``synthetic_requests(seed, n, hostnames=200)`` draws requests
that hit, nearly hit and miss those rules. Both use ``random.Random(seed)`` only.
"""

from __future__ import annotations

import random
from typing import Any

from canary.core.routing.request import Request, make_request

_SEGMENTS = ("api", "users", "orders", "v1", "v2", "items", "cart", "search", "admin", "static")
_METHODS = ("GET", "POST", "PUT", "DELETE")


def _host(i: int) -> str:
    return f"svc{i}.zone{i % 7}.example.com"


def _path(rng: random.Random) -> str:
    return "/" + "/".join(rng.choice(_SEGMENTS) for _ in range(rng.randint(1, 3)))


def _match(rng: random.Random) -> dict[str, Any]:
    kind = rng.random()
    m: dict[str, Any]
    if kind < 0.2:
        m = {"path": {"type": "Exact", "value": _path(rng)}}
    elif kind < 0.28:
        m = {"path": {"type": "RegularExpression", "value": _path(rng) + "/[0-9]+"}}
    else:
        m = {"path": {"type": "PathPrefix", "value": _path(rng)}}
    if rng.random() < 0.4:
        m["headers"] = [
            {"name": f"X-H{j}", "value": f"v{rng.randint(1, 3)}"} for j in range(rng.randint(1, 2))
        ]
    if rng.random() < 0.25:
        m["queryParams"] = [{"name": "env", "value": rng.choice(("prod", "dev"))}]
    if rng.random() < 0.2:
        m["method"] = rng.choice(_METHODS)
    return m


def _filters(rng: random.Random, redirect: bool) -> list[dict[str, Any]]:
    if redirect:
        return [
            {"type": "RequestRedirect", "requestRedirect": {"scheme": "https", "statusCode": 301}}
        ]
    out: list[dict[str, Any]] = []
    if rng.random() < 0.5:
        out.append(
            {
                "type": "RequestHeaderModifier",
                "requestHeaderModifier": {
                    "set": [{"name": "X-Route", "value": "synthetic"}],
                    "add": [{"name": "X-Trace", "value": "1"}],
                    "remove": ["X-Debug"],
                },
            }
        )
    if rng.random() < 0.3:
        out.append(
            {
                "type": "URLRewrite",
                "urlRewrite": {
                    "hostname": "backend.internal",
                    "path": {"type": "ReplaceFullPath", "replaceFullPath": "/rewritten"},
                },
            }
        )
    if rng.random() < 0.2:
        out.append(
            {
                "type": "ResponseHeaderModifier",
                "responseHeaderModifier": {"set": [{"name": "Cache-Control", "value": "no-store"}]},
            }
        )
    return out


def synthetic_docs(
    seed: int = 0, *, routes: int = 1000, rules: int = 8, hostnames: int = 200
) -> list[dict[str, Any]]:
    """Gateway API documents for a large seeded table (see module doc)."""
    rng = random.Random(seed)
    docs: list[dict[str, Any]] = [
        {
            "apiVersion": "gateway.networking.k8s.io/v1",
            "kind": "Gateway",
            "metadata": {"name": "bench", "namespace": "infra"},
            "spec": {
                "gatewayClassName": "bench",
                "listeners": [
                    {
                        "name": "http",
                        "port": 80,
                        "protocol": "HTTP",
                        "allowedRoutes": {"namespaces": {"from": "All"}},
                    }
                ],
            },
        }
    ]
    for s in range(24 * 5):  # svc-24 is missing everywhere: some backends are invalid
        docs.append(
            {
                "apiVersion": "v1",
                "kind": "Service",
                "metadata": {"name": f"svc-{s // 5}", "namespace": f"ns{s % 5}"},
                "spec": {"ports": [{"port": 8080}]},
            }
        )
    for r in range(routes):
        ns = f"ns{r % 5}"
        h = rng.randrange(hostnames)
        host_list = [_host(h)] if rng.random() < 0.85 else [f"*.zone{h % 7}.example.com"]
        rule_docs = []
        for _ in range(rules):
            is_redirect = rng.random() < 0.05
            rule_doc: dict[str, Any] = {
                "matches": [_match(rng) for _ in range(rng.randint(1, 2))],
                "filters": _filters(rng, is_redirect),
            }
            if not is_redirect:
                rule_doc["backendRefs"] = [
                    {
                        "name": f"svc-{rng.randrange(25)}",
                        "port": 8080,
                        "weight": rng.choice((0, 1, 10, 50, 90)),
                    }
                    for _ in range(rng.randint(1, 3))
                ]
            rule_docs.append(rule_doc)
        docs.append(
            {
                "apiVersion": "gateway.networking.k8s.io/v1",
                "kind": "HTTPRoute",
                "metadata": {
                    "name": f"route-{r}",
                    "namespace": ns,
                    "creationTimestamp": f"2024-01-{1 + rng.randrange(28):02d}T00:00:00Z",
                },
                "spec": {
                    "parentRefs": [{"name": "bench", "namespace": "infra"}],
                    "hostnames": host_list,
                    "rules": rule_docs,
                },
            }
        )
    return docs


def synthetic_requests(seed: int = 0, n: int = 10_000, *, hostnames: int = 200) -> list[Request]:
    """Seeded requests over the synthetic hostnames (hits, near misses and misses)."""
    rng = random.Random(seed)
    out: list[Request] = []
    for _ in range(n):
        h = rng.randrange(hostnames + 10)  # a few hosts no route names
        host = _host(h) if h < hostnames else f"nohost{h}.example.org"
        path = _path(rng)
        if rng.random() < 0.2:
            path += f"/{rng.randint(0, 99)}"
        query = f"?env={rng.choice(('prod', 'dev'))}" if rng.random() < 0.3 else ""
        headers = [(f"x-h{j}", f"v{rng.randint(1, 3)}") for j in range(rng.randint(0, 2))]
        if rng.random() < 0.2:
            headers.append(("X-Debug", "1"))
        out.append(make_request(rng.choice(_METHODS), f"http://{host}{path}{query}", headers))
    return out
