"""Seeded route sets and requests for the differential harness (pure; no I/O).

``scenarios(seed, namespace, count)`` returns :class:`Scenario` values, each a small
route set on its own hostnames (``*.s<i>.<namespace>.test``) and the requests that probe
it: precedence ladders within a route, hostname precedence across routes (exact and
wildcard), methods against prefixes, header and query-parameter counts (repeated values,
a repeated name), rewrites and redirects, weights (with an all-zero rule, a Service
without ready endpoints and a missing one), ties across routes, and GRPCRoutes (exact
and regex services and methods, headers, method names that extend a matched one); and
three families aimed at one divergence each: a PathPrefix with a trailing ``/`` against
the same prefix plus a header or query match (``slash``), more header matches than a
longer prefix's extra characters (``counts``) and RegularExpression paths (``regex``).
Every rule sets ``X-Canary-Rule: <route>.<rule>`` (a RequestHeaderModifier) so the echo
backend tells which rule served.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Any

GROUP = "gateway.networking.k8s.io"
RULE_HEADER = "X-Canary-Rule"
HTTP_BACKENDS = ("b0", "b1", "b2", "b3", "b4", "b5")
GRPC_BACKENDS = ("g0", "g1", "g2")
NOT_READY = "b-notready"  # a Service whose only endpoint is not ready
MISSING = "b-missing"  # no such Service
PORT = 8080


@dataclass
class Case:
    """One request (sent ``repeat`` times) and where it comes from."""

    scenario: str
    method: str
    host: str  # Host header as sent (may carry a port)
    path: str
    query: str = ""
    headers: list[tuple[str, str]] = field(default_factory=list)
    grpc: tuple[str, str] | None = None
    repeat: int = 1


@dataclass
class Scenario:
    name: str
    family: str  # one of FAMILIES
    routes: list[dict[str, Any]]
    cases: list[Case]


def _route(
    kind: str, name: str, hostnames: list[str], rules: list[dict[str, Any]]
) -> dict[str, Any]:
    version = "v1"
    return {
        "apiVersion": f"{GROUP}/{version}",
        "kind": kind,
        "metadata": {"name": name},
        "spec": {
            "parentRefs": [{"name": "prod-gateway", "namespace": "infra"}],
            "hostnames": hostnames,
            "rules": rules,
        },
    }


def _rule(
    tag: str,
    matches: list[dict[str, Any]] | None,
    backends: list[tuple[str, int]] | None,
    *,
    filters: list[dict[str, Any]] | None = None,
    header_mod: dict[str, Any] | None = None,
) -> dict[str, Any]:
    mod: dict[str, Any] = {"set": [{"name": RULE_HEADER, "value": tag}]}
    for key, value in (header_mod or {}).items():
        mod[key] = mod.get(key, []) + value
    out: dict[str, Any] = {}
    if matches is not None:
        out["matches"] = matches
    redirect = any(f["type"] == "RequestRedirect" for f in filters or [])
    tagging = [{"type": "RequestHeaderModifier", "requestHeaderModifier": mod}]
    out["filters"] = ([] if redirect else tagging) + (filters or [])
    if backends is not None:
        out["backendRefs"] = [{"name": n, "port": PORT, "weight": w} for n, w in backends]
    return out


def _path(type_: str, value: str) -> dict[str, Any]:
    return {"path": {"type": type_, "value": value}}


_SEGS = ("api", "v1", "users", "shop", "cart", "items", "orders", "x")


def _prefix(rng: random.Random, depth: int) -> str:
    return "/" + "/".join(rng.choice(_SEGS) for _ in range(depth))


def ladder(rng: random.Random, i: int, dom: str) -> Scenario:
    """One route, rules of Exact / PathPrefix paths along one branch, methods, headers, query."""
    name = f"ladder{i}"
    host = f"a.{dom}"
    base = _prefix(rng, 3)
    parts = base.split("/")[1:]
    rules: list[dict[str, Any]] = []
    cases: list[Case] = []
    for r in range(rng.randint(3, 5)):
        depth = rng.randint(1, 3)
        value = "/" + "/".join(parts[:depth])
        m: dict[str, Any] = _path("Exact" if rng.random() < 0.2 else "PathPrefix", value)
        if rng.random() < 0.15 and m["path"]["type"] == "PathPrefix":
            m["path"]["value"] = value + "/"
        if rng.random() < 0.35:
            m["method"] = rng.choice(("GET", "POST"))
        if rng.random() < 0.35:
            m["headers"] = [{"name": "X-A", "value": "1"}]
        if rng.random() < 0.3:
            m["queryParams"] = [{"name": "q", "value": "1"}]
        rules.append(_rule(f"{name}.{r}", [m], [(HTTP_BACKENDS[r % 6], 1)]))
    for depth in (1, 2, 3):
        path = "/" + "/".join(parts[:depth])
        for method in ("GET", "POST"):
            headers = [("X-A", "1")] if rng.random() < 0.6 else []
            query = "q=1" if rng.random() < 0.5 else ""
            cases.append(Case(name, method, host, path + rng.choice(("", "/", "/z")), query,
                              headers))  # fmt: skip
    return Scenario(name, "ladder", [_route("HTTPRoute", name, [host], rules)], cases)


def hosts(rng: random.Random, i: int, dom: str) -> Scenario:
    """Routes on an exact host, a wildcard and two hosts; paths of different lengths."""
    name = f"hosts{i}"
    short, long_ = "/" + rng.choice(_SEGS), ""
    long_ = short + "/" + "/".join(rng.choice(_SEGS) for _ in range(rng.randint(1, 2)))
    exact, other = f"a.{dom}", f"b.{dom}"
    routes = [
        _route("HTTPRoute", f"{name}-exact", [exact],
               [_rule(f"{name}-exact.0", [_path("PathPrefix", short)], [("b0", 1)])]),
        _route("HTTPRoute", f"{name}-wild", [f"*.{dom}"],
               [_rule(f"{name}-wild.0", [_path("PathPrefix", long_)], [("b1", 1)]),
                _rule(f"{name}-wild.1", [_path("PathPrefix", short)], [("b2", 1)])]),
        _route("HTTPRoute", f"{name}-two", [other, f"c.{dom}"],
               [_rule(f"{name}-two.0", [_path("PathPrefix", short)], [("b3", 1)])]),
    ]  # fmt: skip
    cases = [
        Case(name, "GET", h, p)
        for h in (exact, other, f"c.{dom}", f"zz.{dom}", f"y.a.{dom}")
        for p in (short, long_, long_ + "/q")
    ]
    return Scenario(name, "hosts", routes, cases)


def method_prefix(rng: random.Random, i: int, dom: str) -> Scenario:
    """A longer prefix against a shorter prefix with a method (the 9-character boundary)."""
    name = f"method{i}"
    host = f"a.{dom}"
    short = "/" + rng.choice(_SEGS)
    extra = rng.randint(1, 14)
    long_ = short + "/" + ("abcdefghijklmnop"[: extra - 1] if extra > 1 else "")
    long_ = long_.rstrip("/") or short + "/k"
    rules = [
        _rule(f"{name}.0", [_path("PathPrefix", long_)], [("b0", 1)]),
        _rule(f"{name}.1", [{**_path("PathPrefix", short), "method": "GET"}], [("b1", 1)]),
    ]
    cases = [Case(name, m, host, p) for m in ("GET", "POST") for p in (long_, long_ + "/x", short)]
    return Scenario(name, "method", [_route("HTTPRoute", name, [host], rules)], cases)


def matches(rng: random.Random, i: int, dom: str) -> Scenario:
    """Header and query counts against a longer prefix; repeated values; a repeated name."""
    name = f"matches{i}"
    host = f"a.{dom}"
    short = "/" + rng.choice(_SEGS)
    long_ = short + "/" + "ab"[: rng.randint(1, 2)]
    n_headers = rng.randint(1, 3)
    rules = [
        _rule(f"{name}.0", [_path("PathPrefix", long_)], [("b0", 1)]),
        _rule(f"{name}.1", [{**_path("PathPrefix", short), "headers": [
            {"name": f"X-H{k}", "value": "v"} for k in range(n_headers)]}], [("b1", 1)]),
        _rule(f"{name}.2", [{**_path("PathPrefix", short), "queryParams": [
            {"name": f"p{k}", "value": "1"} for k in range(rng.randint(1, 3))]}], [("b2", 1)]),
        _rule(f"{name}.3", [{**_path("PathPrefix", short + "/dup"), "headers": [
            {"name": "X-Dup", "value": "1"}, {"name": "x-dup", "value": "2"}]}], [("b3", 1)]),
    ]  # fmt: skip
    all_h = [(f"X-H{k}", "v") for k in range(n_headers)]
    cases = [
        Case(name, "GET", host, long_, "", all_h),
        Case(name, "GET", host, long_, "p0=1&p1=1&p2=1"),
        Case(name, "GET", host, short, "", all_h),
        Case(name, "GET", host, short, "p0=0&p0=1&p1=1&p2=1"),
        Case(name, "GET", host, short, "", [("X-H0", "w"), *all_h]),
        Case(name, "GET", host, short + "/dup", "", [("X-Dup", "1")]),
        Case(name, "GET", host, short + "/dup", "", [("X-Dup", "1"), ("X-Dup", "2")]),
    ]
    return Scenario(name, "matches", [_route("HTTPRoute", name, [host], rules)], cases)


def filters(rng: random.Random, i: int, dom: str, port: int) -> Scenario:
    """URLRewrite (prefix, full path, hostname) and RequestRedirect variants."""
    name = f"filters{i}"
    host = f"a.{dom}"
    prefix = rng.choice(("/strip", "/strip/"))
    replacement = rng.choice(("", "/", "/new", "/new/"))
    redirect: dict[str, Any] = {"statusCode": rng.choice((301, 302))}
    if rng.random() < 0.5:
        redirect["scheme"] = rng.choice(("http", "https"))
    if rng.random() < 0.5:
        redirect["port"] = rng.choice((80, 443, 8443))
    if rng.random() < 0.5:
        redirect["hostname"] = f"moved.{dom}"
    if rng.random() < 0.5:
        redirect["path"] = {"type": "ReplacePrefixMatch", "replacePrefixMatch": replacement}
    rules = [
        _rule(f"{name}.0", [_path("PathPrefix", prefix)], [("b0", 1)], filters=[
            {"type": "URLRewrite", "urlRewrite": {"path": {
                "type": "ReplacePrefixMatch", "replacePrefixMatch": replacement}}}]),
        _rule(f"{name}.1", [_path("PathPrefix", "/full")], [("b1", 1)], filters=[
            {"type": "URLRewrite", "urlRewrite": {"hostname": f"internal.{dom}", "path": {
                "type": "ReplaceFullPath", "replaceFullPath": "/replaced"}}}],
            header_mod={"add": [{"name": "X-Added", "value": "1"}], "remove": ["X-Drop"]}),
        _rule(f"{name}.2", [_path("PathPrefix", "/go")], None, filters=[
            {"type": "RequestRedirect", "requestRedirect": redirect}]),
    ]  # fmt: skip
    base = prefix.rstrip("/")
    cases = [Case(name, "GET", host, p) for p in (base, base + "/", base + "/bar", base + "/bar/")]
    cases += [
        Case(name, "GET", host, "/full/x", "a=1", [("X-Added", "0"), ("X-Drop", "1")]),
        Case(name, "GET", host, "/go/deep", "k=v"),
        Case(name, "GET", f"{host}:{port}", "/go"),
        Case(name, "GET", host, "/go/"),
    ]
    return Scenario(name, "filters", [_route("HTTPRoute", name, [host], rules)], cases)


def weights(rng: random.Random, i: int, dom: str) -> Scenario:
    """Weighted splits (counted over whole WRR cycles), all-zero, not-ready, missing."""
    name = f"weights{i}"
    host = f"a.{dom}"
    a, b = rng.randint(1, 4), rng.randint(0, 3)
    c = rng.randint(1, 3)
    rules = [
        _rule(f"{name}.0", [_path("PathPrefix", "/two")], [("b0", a), ("b1", b)]),
        _rule(f"{name}.1", [_path("PathPrefix", "/three")], [("b2", c), ("b3", 1), ("b4", 2)]),
        _rule(f"{name}.2", [_path("PathPrefix", "/zero")], [("b0", 0), ("b1", 0)]),
        _rule(f"{name}.3", [_path("PathPrefix", "/notready")], [(NOT_READY, 1)]),
        _rule(f"{name}.4", [_path("PathPrefix", "/missing")], [(MISSING, 1)]),
    ]
    cases = [
        Case(name, "GET", host, "/two", repeat=2 * (a + b)),
        Case(name, "GET", host, "/three", repeat=2 * (c + 3)),
        Case(name, "GET", host, "/zero"),
        Case(name, "GET", host, "/notready"),
        Case(name, "GET", host, "/missing"),
    ]
    return Scenario(name, "weights", [_route("HTTPRoute", name, [host], rules)], cases)


def ties(rng: random.Random, i: int, dom: str) -> Scenario:
    """Equal matches in two routes (the same path and one header each, different names):
    the spec takes the older route, Traefik the newer one, whose rule 0 has the larger
    rule-order term (it has more rules). And an identical rule in both, of which Traefik
    keeps one router, the older route's (as the spec). The routes are created within a
    second as a rule, so the spec's tie-break falls to ``namespace/name``: ``-a-old`` sorts
    before ``-b-new``, as its creation does."""
    name = f"ties{i}"
    host = f"a.{dom}"
    path = "/" + rng.choice(_SEGS)
    more = rng.randint(1, 3)
    old, new = f"{name}-a-old", f"{name}-b-new"
    routes = [
        _route("HTTPRoute", old, [host], [
            _rule(f"{old}.0", [{**_path("PathPrefix", path),
                                "headers": [{"name": "X-T", "value": "1"}]}], [("b0", 1)]),
            _rule(f"{old}.1", [_path("PathPrefix", path + "/dup")], [("b0", 1)])]),
        _route("HTTPRoute", new, [host], [
            _rule(f"{new}.0", [{**_path("PathPrefix", path),
                                "headers": [{"name": "X-U", "value": "1"}]}], [("b1", 1)]),
            _rule(f"{new}.1", [_path("PathPrefix", path + "/dup")], [("b1", 1)])]
            + [_rule(f"{new}.{k}", [_path("Exact", f"/other{k}")], [("b2", 1)])
               for k in range(2, more + 2)]),
    ]  # fmt: skip
    both = [("X-T", "1"), ("X-U", "1")]
    cases = [
        Case(name, "GET", host, path, "", both),
        Case(name, "GET", host, path + "/x", "", both),
        Case(name, "GET", host, path, "", [("X-T", "1")]),
        Case(name, "GET", host, path + "/dup"),
    ]
    return Scenario(name, "ties", routes, cases)


def slash(rng: random.Random, i: int, dom: str) -> Scenario:
    """A PathPrefix written with a trailing ``/`` against the same prefix without it plus a
    header or query match (the spec: equal prefixes, the extra match wins; Traefik: the
    ``/`` counts a character, 100, more than a header or a query match)."""
    name = f"slash{i}"
    host = f"a.{dom}"
    seg = "/" + rng.choice(_SEGS)
    extra: dict[str, Any] = (
        {"headers": [{"name": "X-A", "value": "1"}]}
        if rng.random() < 0.5
        else {"queryParams": [{"name": "q", "value": "1"}]}
    )
    rules = [
        _rule(f"{name}.0", [_path("PathPrefix", seg + "/")], [("b0", 1)]),
        _rule(f"{name}.1", [{**_path("PathPrefix", seg), **extra}], [("b1", 1)]),
    ]
    hdr = [("X-A", "1")] if "headers" in extra else []
    query = "q=1" if "queryParams" in extra else ""
    cases = [
        Case(name, "GET", host, seg + "/x", query, hdr),
        Case(name, "GET", host, seg, query, hdr),
        Case(name, "GET", host, seg + "/", query, hdr),
        Case(name, "GET", host, seg + "/x"),
    ]
    return Scenario(name, "slash", [_route("HTTPRoute", name, [host], rules)], cases)


def counts(rng: random.Random, i: int, dom: str) -> Scenario:
    """A longer prefix against a shorter one with more header matches than the extra
    characters (each header 100, each character 100 in Traefik; the spec: length first)."""
    name = f"counts{i}"
    host = f"a.{dom}"
    short = "/" + rng.choice(_SEGS)
    extra = rng.randint(1, 2)  # characters added after "/": the prefix is extra + 1 longer
    long_ = short + "/" + "ab"[:extra]
    n_headers = extra + 2  # > extra + 1 (and the rule-order term: rule 0 gets 1 more)
    all_h = [(f"X-C{k}", "v") for k in range(n_headers)]
    rules = [
        _rule(f"{name}.0", [_path("PathPrefix", long_)], [("b0", 1)]),
        _rule(f"{name}.1", [{**_path("PathPrefix", short), "headers": [
            {"name": n, "value": v} for n, v in all_h]}], [("b1", 1)]),
    ]  # fmt: skip
    cases = [
        Case(name, "GET", host, long_, "", all_h),
        Case(name, "GET", host, long_ + "/z", "", all_h),
        Case(name, "GET", host, long_, "", all_h[:-1]),
        Case(name, "GET", host, short, "", all_h),
    ]
    return Scenario(name, "counts", [_route("HTTPRoute", name, [host], rules)], cases)


def regex(rng: random.Random, i: int, dom: str) -> Scenario:
    """RegularExpression paths: Traefik searches unanchored and scores a pattern like a
    prefix of its length; the evaluator's spec profile full-matches and ranks a regex
    between Exact and PathPrefix."""
    name = f"regex{i}"
    host = f"a.{dom}"
    seg = rng.choice(("r", "v", "id"))
    digits = f"/{seg}[0-9]+"
    long_prefix = "/api/" + rng.choice(("verylongprefix", "longerthanthepattern"))
    rules = [
        _rule(f"{name}.0", [_path("RegularExpression", digits)], [("b0", 1)]),
        _rule(f"{name}.1", [_path("PathPrefix", "/api")], [("b1", 1)]),
        _rule(f"{name}.2", [_path("RegularExpression", "/api/v.*")], [("b2", 1)]),
        _rule(f"{name}.3", [_path("PathPrefix", long_prefix)], [("b3", 1)]),
    ]
    n = rng.randint(1, 999)
    cases = [
        Case(name, "GET", host, f"/{seg}{n}"),  # both: the regex
        Case(name, "GET", host, f"/api/{seg}{n}/x"),  # unanchored: Traefik the regex
        Case(name, "GET", host, f"{long_prefix}/x"),  # the longer prefix vs a regex
        Case(name, "GET", host, "/api/other"),  # both: /api
        Case(name, "GET", host, f"/x/{seg}{n}"),  # the spec 404, Traefik the regex
    ]
    return Scenario(name, "regex", [_route("HTTPRoute", name, [host], rules)], cases)


def grpc_routes(rng: random.Random, i: int, dom: str) -> Scenario:
    """GRPCRoute matches: exact service+method, service only, regex, headers."""
    name = f"grpc{i}"
    host = f"g.{dom}"
    svc = rng.choice(("demo.Echo", "shop.Cart", "api.v1.Users"))
    method = rng.choice(("Get", "List", "Put"))
    rules = [
        _rule(f"{name}.0", [{"method": {"service": svc, "method": method}}], [("g0", 1)]),
        _rule(f"{name}.1", [{"method": {"service": svc}}], [("g1", 1)]),
        _rule(f"{name}.2", [{"method": {"type": "RegularExpression", "service": "other\\..*"},
                              "headers": [{"name": "x-tenant", "value": "blue"}]}], [("g2", 1)]),
        _rule(f"{name}.3", [{"method": {"method": method}}], [("g2", 1)]),
    ]  # fmt: skip
    cases = [
        Case(name, "POST", host, "", grpc=(svc, method)),
        Case(name, "POST", host, "", grpc=(svc, method + "All")),
        Case(name, "POST", host, "", grpc=(svc, "Delete")),
        Case(name, "POST", host, "", [("x-tenant", "blue")], grpc=("other.Thing", "Do")),
        Case(name, "POST", host, "", [("x-tenant", "red")], grpc=("other.Thing", "Do")),
        Case(name, "POST", host, "", grpc=("unknown.Svc", method)),
        Case(name, "POST", host, "", grpc=("unknown.Svc", method + "Later")),
        Case(name, "GET", host, "/web/page"),
    ]
    # an HTTPRoute on the GRPCRoute's hostname: the spec accepts only one of the two kinds
    web = _route("HTTPRoute", f"{name}-web", [host],
                 [_rule(f"{name}-web.0", [_path("PathPrefix", "/web")], [("b0", 1)])])  # fmt: skip
    return Scenario(name, "grpc", [_route("GRPCRoute", name, [host], rules), web], cases)


FAMILIES = (
    "ladder", "hosts", "method", "matches", "filters", "weights", "ties", "grpc",
    "slash", "counts", "regex",
)  # fmt: skip


def scenarios(seed: int, namespace: str, *, rounds: int, port: int) -> list[Scenario]:
    """``rounds`` scenarios of every family, seeded; hostnames under ``<namespace>.test``."""
    rng = random.Random(seed)
    out: list[Scenario] = []
    i = 0
    for _ in range(rounds):
        for family in FAMILIES:
            dom = f"s{i}.{namespace}.test"
            if family == "ladder":
                out.append(ladder(rng, i, dom))
            elif family == "hosts":
                out.append(hosts(rng, i, dom))
            elif family == "method":
                out.append(method_prefix(rng, i, dom))
            elif family == "matches":
                out.append(matches(rng, i, dom))
            elif family == "filters":
                out.append(filters(rng, i, dom, port))
            elif family == "weights":
                out.append(weights(rng, i, dom))
            elif family == "ties":
                out.append(ties(rng, i, dom))
            elif family == "grpc":
                out.append(grpc_routes(rng, i, dom))
            elif family == "slash":
                out.append(slash(rng, i, dom))
            elif family == "counts":
                out.append(counts(rng, i, dom))
            else:
                out.append(regex(rng, i, dom))
            i += 1
    return out
