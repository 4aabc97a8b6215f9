"""Differential harness: the real Traefik of the local stack against the evaluator's profiles.

    python -m stack.differential [--seed 1 [2 ...]] [--rounds 6] [--json out.json]

Applies seeded route sets (``stack.difftypes``) in a fresh namespace of the running stack
(`.local/cluster.env`), with echo backends (``stack.echo``: HTTP and gRPC) behind
selector-less Services and FQDN EndpointSlices, waits until Traefik serves every router,
sends every request (HTTP with ``http.client``; gRPC with a real ``grpcio`` client), and
compares what came back — status, serving rule (the echo shows the ``X-Canary-Rule``
header each rule sets), split over whole WRR cycles, forwarded path, Host and modified
headers, redirect Location — with the evaluator's ``traefik`` and ``spec`` profiles.
Per seed and in total it prints requests, cases, the traefik profile's verdicts — agree,
tie (the profile finds routers of equal priority, which Traefik does not order, and
Traefik served one of them: not counted as agreement), disagree — in cases and in
requests, the agreement of each profile per case and per request, and the spec's
divergences by class (``divergence.classify``). ``--json`` writes that and every case's
raw record (request, the answer each profile expects, what Traefik did, the verdicts);
``make differential`` writes it to ``benchmarks/results/differential-<date>.json``.
Exit 0 when no case disagrees and every router's rule text and priority are as modelled.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import secrets
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import grpc
from kubernetes import client, config

from canary.core.routing import (
    SPEC_PROFILE,
    TRAEFIK_PROFILE,
    Decision,
    Table,
    build_table,
    evaluate,
    make_request,
)
from canary.core.routing.divergence import classify
from canary.core.routing.traefik import routers
from stack.difftypes import (
    GROUP,
    GRPC_BACKENDS,
    HTTP_BACKENDS,
    NOT_READY,
    RULE_HEADER,
    Case,
    Scenario,
    scenarios,
)
from stack.ready import poll
from stack.scenario import REPO, create_backend_service, ensure_namespace, read_cluster_env

GATEWAY = "infra/prod-gateway"


@dataclass
class Observed:
    status: int
    tags: Counter[str] = field(default_factory=Counter)  # serving rule per request
    backends: Counter[str] = field(default_factory=Counter)
    target: str | None = None
    host: str | None = None
    headers: dict[str, str] = field(default_factory=dict)  # lower name -> joined values
    location: str | None = None


AGREE, TIE, DISAGREE = "agree", "tie", "disagree"


@dataclass
class Result:
    case: Case
    observed: Observed
    traefik: str  # AGREE; TIE (the profile predicts equal priorities and Traefik served
    # one of the tied routers: not verified); DISAGREE
    spec_ok: bool
    why_traefik: str
    divergence: str | None  # class of the spec's difference (None when it agrees)
    requests: int
    expected: dict[str, str] = field(default_factory=dict)  # profile -> one-line answer

    @property
    def traefik_ok(self) -> bool:
        """Not a disagreement (a tie is not one, but is counted apart)."""
        return self.traefik != DISAGREE

    def to_dict(self) -> dict[str, Any]:
        """The raw record of one case (benchmarks/results/differential-*.json)."""
        o = self.observed
        observed: dict[str, Any] = {"status": o.status}
        if o.tags:
            observed["rules"] = dict(o.tags)
        if len(o.backends) > 1 or self.requests > 1:
            observed["backends"] = dict(o.backends)
        if o.target is not None and self.case.grpc is None:
            observed["path"] = o.target
        if o.location is not None:
            observed["location"] = o.location
        out: dict[str, Any] = {
            "scenario": self.case.scenario,
            "request": describe(self.case),
            "n": self.requests,
            "expected": (
                {"both": self.expected["traefik"]}
                if len(set(self.expected.values())) == 1
                else self.expected
            ),
            "observed": observed,
            "traefik": self.traefik,
            "spec": "agree" if self.spec_ok else self.divergence,
        }
        if self.why_traefik:
            out["why"] = self.why_traefik
        return out


# --- the stack --------------------------------------------------------------------------------


class Echo:
    """A ``python -m stack.echo`` child process; its pid file lets cluster-down stop it."""

    def __init__(self, names_http: Sequence[str], names_grpc: Sequence[str], local: Path, tag: str):
        args = [sys.executable, "-u", "-m", "stack.echo"]
        args += [a for n in names_http for a in ("--http", f"{n}=127.0.0.1:0")]
        args += [a for n in names_grpc for a in ("--grpc", f"{n}=127.0.0.1:0")]
        log = open(local / "logs" / f"echo-{tag}.log", "a")  # noqa: SIM115 - child's stderr
        self.proc = subprocess.Popen(
            args,
            stdout=subprocess.PIPE,
            stderr=log,
            text=True,
            env={**os.environ, "PYTHONPATH": str(REPO)},
            start_new_session=True,
        )
        log.close()
        self.pid_file = local / "pids" / f"extra-echo-{tag}.pid"
        self.pid_file.write_text(f"{self.proc.pid}\n")
        self.ports: dict[str, int] = {}
        assert self.proc.stdout is not None
        for _ in range(len(names_http) + len(names_grpc)):
            line = self.proc.stdout.readline()
            if not line:
                self.stop()
                raise RuntimeError("echo backends did not start")
            info = json.loads(line)
            self.ports[info["name"]] = int(info["port"])

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        self.pid_file.unlink(missing_ok=True)


def deploy(
    api: client.ApiClient, env: dict[str, str], namespace: str, scens: Sequence[Scenario],
    echo: Echo,
) -> list[dict[str, Any]]:  # fmt: skip
    """Services, EndpointSlices and routes; returns the created objects (with timestamps)."""
    ensure_namespace(api, name=namespace)
    host = env.get("BACKEND_HOST", "backends.canary.test")
    for name, port in echo.ports.items():
        create_backend_service(api, namespace=namespace, name=name, backend_port=port, host=host)
    create_backend_service(
        api, namespace=namespace, name=NOT_READY, backend_port=echo.ports["b0"], host=host,
        ready=False,
    )  # fmt: skip
    custom = client.CustomObjectsApi(api)
    created: list[dict[str, Any]] = []
    for s in scens:
        for doc in s.routes:
            body = json.loads(json.dumps(doc))
            body["metadata"]["namespace"] = namespace
            plural = doc["kind"].lower() + "s"
            created.append(
                dict(custom.create_namespaced_custom_object(GROUP, "v1", namespace, plural, body))
            )
    return created


def model_routers(table: Table, namespace: str, port: int) -> dict[str, int]:
    """The traefik profile's routers of ``namespace``: rule text → priority."""
    gw = table.gateway(GATEWAY)
    return {
        r.text: r.priority
        for r in routers(table, gw, port, "HTTP")
        if r.entry.route.namespace == namespace
    }


def traefik_routers(traefik_api: str, namespace: str) -> dict[str, int]:
    """Traefik's routers of ``namespace`` (from its API, every page): rule → priority."""
    out: dict[str, int] = {}
    page = "1"
    while page:
        conn = http.client.HTTPConnection(traefik_api.split("://", 1)[1], timeout=5)
        conn.request("GET", f"/api/http/routers?per_page=1000&page={page}")
        resp = conn.getresponse()
        body = json.loads(resp.read())
        conn.close()
        out.update(
            {x["rule"]: x["priority"] for x in body if f"-{namespace}-" in x.get("name", "")}
        )
        following = resp.getheader("X-Next-Page") or "1"
        page = "" if int(following) <= int(page) else following  # the last page points to 1
    return out


def wait_served(
    api: client.ApiClient, traefik_api: str, namespace: str, routes: Sequence[dict[str, Any]],
    want: int, timeout: float = 90.0,
) -> None:  # fmt: skip
    """Until every route is Accepted and Traefik serves ``want`` routers of the namespace."""
    custom = client.CustomObjectsApi(api)

    def check() -> tuple[bool, str]:
        for r in routes:
            plural = r["kind"].lower() + "s"
            live: Any = custom.get_namespaced_custom_object(
                GROUP, "v1", namespace, plural, r["metadata"]["name"]
            )
            parents = (live.get("status") or {}).get("parents") or []
            conds = {c["type"]: c for p in parents for c in p.get("conditions", [])}
            acc = conds.get("Accepted")  # False too: a HostnameConflict is an answer
            if acc is None:
                return False, f"{r['kind']} {r['metadata']['name']} has no Accepted yet"
        mine = traefik_routers(traefik_api, namespace)
        return len(mine) >= want, f"{len(mine)} of {want} routers served"

    poll(check, timeout=timeout, what=f"Traefik serving the routes of {namespace}", interval=0.3)


# --- sending ------------------------------------------------------------------------------------


def send_http(port: int, case: Case) -> list[Observed]:
    out: list[Observed] = []
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    target = case.path + (f"?{case.query}" if case.query else "")
    for _ in range(case.repeat):
        conn.putrequest(case.method, target, skip_host=True, skip_accept_encoding=True)
        conn.putheader("Host", case.host)
        for name, value in case.headers:
            conn.putheader(name, value)
        if case.method in ("POST", "PUT"):
            conn.putheader("Content-Length", "0")
        conn.endheaders()
        resp = conn.getresponse()
        raw = resp.read()
        obs = Observed(resp.status, location=resp.getheader("Location"))
        if resp.status == 200 and resp.getheader("Content-Type") == "application/json":
            body = json.loads(raw)
            obs.backends[body["backend"]] += 1
            obs.target = body["target"]
            obs.host = body["host"]
            headers: dict[str, list[str]] = {}
            for k, v in body["headers"]:
                headers.setdefault(k.lower(), []).append(v)
            obs.headers = {k: ", ".join(v) for k, v in headers.items()}
            tag = obs.headers.get(RULE_HEADER.lower())
            if tag:
                obs.tags[tag] += 1
        out.append(obs)
    conn.close()
    return out


_GRPC_STATUS = {
    grpc.StatusCode.UNIMPLEMENTED: 404,
    grpc.StatusCode.UNAVAILABLE: 503,
    grpc.StatusCode.INTERNAL: 500,
    grpc.StatusCode.UNKNOWN: 500,
}


def send_grpc(port: int, case: Case) -> list[Observed]:
    assert case.grpc is not None
    out: list[Observed] = []
    options = [("grpc.default_authority", case.host)]
    with grpc.insecure_channel(f"127.0.0.1:{port}", options=options) as channel:
        call = channel.unary_unary(f"/{case.grpc[0]}/{case.grpc[1]}")
        for _ in range(case.repeat):
            try:
                raw = call(b"", metadata=case.headers or None, timeout=10)
            except grpc.RpcError as exc:
                out.append(Observed(_GRPC_STATUS.get(exc.code(), 500)))
                continue
            body = json.loads(raw)
            obs = Observed(200)
            obs.backends[body["backend"]] += 1
            obs.target = body["method"]
            md = {k.lower(): v for k, v in body["metadata"]}
            obs.headers = md
            if RULE_HEADER.lower() in md:
                obs.tags[md[RULE_HEADER.lower()]] += 1
            out.append(obs)
    return out


def _merge(observed: list[Observed]) -> Observed:
    first = observed[0]
    for o in observed[1:]:
        first.tags.update(o.tags)
        first.backends.update(o.backends)
        if o.status != first.status:
            first.status = -1  # mixed statuses: not one answer
    return first


# --- comparing ----------------------------------------------------------------------------------


def _request(case: Case, port: int) -> Any:
    headers = [("Host", case.host), *case.headers]
    if case.grpc is not None:
        return make_request("POST", f"http://{case.host.split(':')[0]}:{port}", headers,
                            grpc=case.grpc, gateway=GATEWAY)  # fmt: skip
    query = f"?{case.query}" if case.query else ""
    url = f"http://{case.host.split(':')[0]}:{port}{case.path}{query}"
    return make_request(case.method, url, headers, gateway=GATEWAY)


def agrees(d: Decision, obs: Observed, case: Case) -> str:
    """ "" when the decision predicts the observation; else what differs."""
    if d.status != obs.status:
        return f"status {obs.status}, predicted {d.status}"
    if d.location is not None or obs.location is not None:
        return (
            ""
            if d.location == obs.location
            else f"Location {obs.location!r}, predicted {d.location!r}"
        )
    if d.status != 200:
        return ""
    tag = f"{(d.route or '/').split('/', 1)[1]}.{d.rule}"
    if set(obs.tags) != {tag}:
        return f"served by rule {dict(obs.tags)}, predicted {tag}"
    n = case.repeat
    for b in d.backends:
        if b.share > 0 or b.name in obs.backends:
            want = b.share * n
            if abs(obs.backends.get(b.name, 0) - want) > 1.0:
                return f"{b.name} got {obs.backends.get(b.name, 0)} of {n}, predicted {want:.3g}"
    if case.grpc is None:
        r = d.request.to_dict()
        target = r["path"] + (f"?{r['query']}" if r["query"] else "")
        if obs.target != target:
            return f"forwarded {obs.target!r}, predicted {target!r}"
        if obs.host != r["host"]:
            return f"Host {obs.host!r}, predicted {r['host']!r}"
        for name in _modified(d, case):
            want_v = next((v for k, v in r["headers"].items() if k.lower() == name), None)
            if obs.headers.get(name) != want_v:
                return f"header {name}: {obs.headers.get(name)!r}, predicted {want_v!r}"
    return ""


def _modified(d: Decision, case: Case) -> list[str]:
    """Header names to compare: the ``X-`` ones sent or predicted (filters set, add, remove)."""
    names = {k.lower() for k in d.request.headers} | {k.lower() for k, _ in case.headers}
    return sorted(n for n in names if n.startswith("x-") and n != RULE_HEADER.lower())


def tag_of(label: str) -> str:
    """The ``X-Canary-Rule`` tag of a router label ("HTTPRoute ns/name rule 1 match 0")."""
    words = label.split()
    return f"{words[1].split('/', 1)[1]}.{words[3]}"


def traefik_verdict(d: Decision, obs: Observed, case: Case) -> tuple[str, str]:
    """(AGREE | TIE | DISAGREE, what differs). With equal-priority routers (``tied_with``)
    Traefik's choice is not determined: TIE when it served only rules among the tied ones
    (whatever the profile named first), DISAGREE when it served another."""
    why = agrees(d, obs, case)
    if not d.tied_with:
        return (DISAGREE, why) if why else (AGREE, "")
    first = f"{(d.route or '/').split('/', 1)[1]}.{d.rule}"
    allowed = {first} | {tag_of(x) for x in d.tied_with}
    if obs.status == d.status and obs.tags and set(obs.tags) <= allowed:
        return TIE, ""
    return DISAGREE, why or f"served by {dict(obs.tags)}, tied routers {sorted(allowed)}"


def brief(d: Decision, case: Case) -> str:
    """A decision in a few words: status, the rule's tag, a split, a changed path, Location."""
    if d.route is None:
        return str(d.status)
    out = f"{d.status} {d.route.split('/', 1)[1]}.{d.rule}"
    shares = {b.name.split("/")[-1]: b.share for b in d.backends if b.share > 0}
    if len(shares) > 1:
        out += " " + ",".join(f"{k}={v:.3g}" for k, v in shares.items())
    if d.location is not None:
        return f"{out} -> {d.location}"
    path = d.request.path
    if case.grpc is None and path != case.path:
        out += f" path {path}"
    return out


def compare_case(table: Table, case: Case, obs: Observed, port: int) -> Result:
    req = _request(case, port)
    t = evaluate(table, req, profile=TRAEFIK_PROFILE)
    s = evaluate(table, req, profile=SPEC_PROFILE)
    verdict, why_t = traefik_verdict(t, obs, case)
    why_s = agrees(s, obs, case)
    divergence = None
    if why_s:
        divergence = classify(table, req, s, t)[0] if verdict != DISAGREE else "unexplained"
    expected = {"traefik": brief(t, case), "spec": brief(s, case)}
    if t.tied_with:
        expected["traefik"] += f" (tied: {', '.join(tag_of(x) for x in t.tied_with)})"
    return Result(case, obs, verdict, not why_s, why_t, divergence, case.repeat, expected)


# --- the run ------------------------------------------------------------------------------------


@dataclass
class Report:
    results: list[Result]
    seconds: float
    model: dict[str, int] = field(default_factory=dict)  # traefik profile: rule -> priority
    served: dict[str, int] = field(default_factory=dict)  # Traefik's API: rule -> priority
    seed: int | None = None
    namespace: str = ""

    @property
    def router_mismatches(self) -> list[str]:
        out = [f"not served: {t} ({p})" for t, p in self.model.items() if t not in self.served]
        out += [f"not modelled: {t} ({p})" for t, p in self.served.items() if t not in self.model]
        out += [
            f"priority of {t}: Traefik {p}, model {self.model[t]}"
            for t, p in self.served.items()
            if t in self.model and self.model[t] != p
        ]
        return out

    @property
    def requests(self) -> int:
        return sum(r.requests for r in self.results)

    @property
    def ok(self) -> bool:
        """No traefik disagreement and every router as modelled (ties are allowed)."""
        return all(r.traefik_ok for r in self.results) and not self.router_mismatches

    def agreement(self, which: Callable[[Result], bool]) -> float:
        """Share of *cases* for which ``which`` holds."""
        return sum(1 for r in self.results if which(r)) / max(1, len(self.results))

    def request_agreement(self, which: Callable[[Result], bool]) -> float:
        """Share of *requests* (a case sent n times counts n) for which ``which`` holds."""
        return sum(r.requests for r in self.results if which(r)) / max(1, self.requests)

    def traefik_counts(self) -> dict[str, dict[str, int]]:
        """Cases and requests per traefik verdict (agree, tie, disagree)."""
        out = {v: {"cases": 0, "requests": 0} for v in (AGREE, TIE, DISAGREE)}
        for r in self.results:
            out[r.traefik]["cases"] += 1
            out[r.traefik]["requests"] += r.requests
        return out

    def by_class(self) -> Counter[str]:
        return Counter(r.divergence for r in self.results if r.divergence)

    def summary(self) -> dict[str, Any]:
        spec_ok: Callable[[Result], bool] = lambda r: r.spec_ok  # noqa: E731
        return {
            "seed": self.seed,
            "namespace": self.namespace,
            "requests": self.requests,
            "cases": len(self.results),
            "routers": len(self.served),
            "router_mismatches": self.router_mismatches,
            "traefik": self.traefik_counts(),
            "traefik_agreement": {
                "cases": self.agreement(lambda r: r.traefik == AGREE),
                "requests": self.request_agreement(lambda r: r.traefik == AGREE),
            },
            "spec_agreement": {
                "cases": self.agreement(spec_ok),
                "requests": self.request_agreement(spec_ok),
            },
            "spec_divergences": dict(sorted(self.by_class().items())),
            "traefik_disagreements": [
                {"scenario": r.case.scenario, "request": describe(r.case), "why": r.why_traefik}
                for r in self.results
                if not r.traefik_ok
            ],
            "seconds": round(self.seconds, 1),
        }

    def to_dict(self) -> dict[str, Any]:
        """The summary and every case's raw record (the namespace written as ``$ns``)."""
        records = json.dumps([r.to_dict() for r in self.results])
        if self.namespace:
            records = records.replace(self.namespace, "$ns")
        return {**self.summary(), "results": json.loads(records)}

    def table(self) -> str:
        return summary_table(self.summary())


def summary_table(d: dict[str, Any]) -> str:
    """A run's (or a total's) summary as printed lines."""
    t = d["traefik"]
    ta, sa = d["traefik_agreement"], d["spec_agreement"]
    lines = [
        f"requests sent through Traefik   {d['requests']}",
        f"cases compared                  {d['cases']}",
        f"Traefik routers (rule+priority) {d['routers']}, "
        f"{len(d['router_mismatches'])} differ from the traefik profile",
        f"traefik profile, cases          agree {t[AGREE]['cases']}, tie {t[TIE]['cases']}, "
        f"disagree {t[DISAGREE]['cases']}",
        f"traefik profile, requests       agree {t[AGREE]['requests']}, "
        f"tie {t[TIE]['requests']}, disagree {t[DISAGREE]['requests']}",
        f"agreement, traefik profile      {ta['cases'] * 100:.1f} % of cases, "
        f"{ta['requests'] * 100:.1f} % of requests (ties not counted as agreement)",
        f"agreement, spec profile         {sa['cases'] * 100:.1f} % of cases, "
        f"{sa['requests'] * 100:.1f} % of requests",
        "spec divergences by class (cases):",
    ]
    for code, n in sorted(d["spec_divergences"].items(), key=lambda kv: (-kv[1], kv[0])):
        lines.append(f"  {code:<24} {n}")
    for x in d["router_mismatches"]:
        lines.append(f"ROUTER: {x}")
    for x in d["traefik_disagreements"]:
        lines.append(f"DISAGREES (traefik): {x['scenario']}: {x['request']}: {x['why']}")
    lines.append(f"took {d['seconds']} s")
    return "\n".join(lines)


def total(summaries: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """The seeds' summaries added up (agreements recomputed from the counts)."""
    out: dict[str, Any] = {"seed": [s["seed"] for s in summaries], "namespace": ""}
    for key in ("requests", "cases", "routers", "seconds"):
        out[key] = sum(s[key] for s in summaries)
    out["seconds"] = round(out["seconds"], 1)
    out["router_mismatches"] = [x for s in summaries for x in s["router_mismatches"]]
    out["traefik"] = {
        v: {k: sum(s["traefik"][v][k] for s in summaries) for k in ("cases", "requests")}
        for v in (AGREE, TIE, DISAGREE)
    }
    agree = out["traefik"][AGREE]
    out["traefik_agreement"] = {
        "cases": agree["cases"] / max(1, out["cases"]),
        "requests": agree["requests"] / max(1, out["requests"]),
    }
    out["spec_agreement"] = {
        k: sum(s["spec_agreement"][k] * s[k] for s in summaries) / max(1, out[k])
        for k in ("cases", "requests")
    }
    classes: Counter[str] = Counter()
    for s in summaries:
        classes.update(s["spec_divergences"])
    out["spec_divergences"] = dict(sorted(classes.items()))
    out["traefik_disagreements"] = [x for s in summaries for x in s["traefik_disagreements"]]
    return out


def describe(case: Case) -> str:
    if case.grpc is not None:
        return f"gRPC {case.host} /{case.grpc[0]}/{case.grpc[1]} {case.headers or ''}".strip()
    q = f"?{case.query}" if case.query else ""
    return f"{case.method} {case.host}{case.path}{q} {case.headers or ''}".strip()


def run(
    env: dict[str, str], *, seed: int, rounds: int, families: Sequence[str] | None = None
) -> Report:
    """Deploy, wait, send, compare; backends stopped at the end (namespaces are kept)."""
    start = time.monotonic()
    local = Path(env.get("CANARY_LOCAL", REPO / ".local"))
    port = int(env["GATEWAY_URL"].rsplit(":", 1)[1])
    api = config.new_client_from_config(config_file=env["KUBECONFIG"])  # type: ignore[no-untyped-call]
    namespace = f"diff-{seed}-{secrets.token_hex(3)}"
    scens = scenarios(seed, namespace, rounds=rounds, port=port)
    if families:
        scens = [s for s in scens if s.family in families]
    echo = Echo(HTTP_BACKENDS, GRPC_BACKENDS, local, namespace)
    try:
        created = deploy(api, env, namespace, scens, echo)
        docs = [*_gateway_docs(api), *created, *_backend_docs(api, namespace)]
        table = build_table(docs)
        model = model_routers(table, namespace, port)
        wait_served(api, env["TRAEFIK_API_URL"], namespace, created, len(model))
        served = traefik_routers(env["TRAEFIK_API_URL"], namespace)
        results: list[Result] = []
        for s in scens:
            for case in s.cases:
                sent = send_grpc(port, case) if case.grpc else send_http(port, case)
                results.append(compare_case(table, case, _merge(sent), port))
    finally:
        echo.stop()
    return Report(results, time.monotonic() - start, model, served, seed, namespace)


def _gateway_docs(api: client.ApiClient) -> list[dict[str, Any]]:
    custom = client.CustomObjectsApi(api)
    gw: Any = custom.get_namespaced_custom_object(GROUP, "v1", "infra", "gateways", "prod-gateway")
    cls: Any = custom.get_cluster_custom_object(GROUP, "v1", "gatewayclasses", "traefik")
    return [dict(gw), dict(cls)]


def _backend_docs(api: client.ApiClient, namespace: str) -> list[dict[str, Any]]:
    """The namespace (labels), Services and EndpointSlices, as plain documents."""
    core, disc = client.CoreV1Api(api), client.DiscoveryV1Api(api)
    ns = core.read_namespace(namespace)
    out: list[dict[str, Any]] = [
        {"apiVersion": "v1", "kind": "Namespace",
         "metadata": {"name": namespace, "labels": dict(ns.metadata.labels or {})}},
    ]  # fmt: skip
    for svc in core.list_namespaced_service(namespace).items:
        ports = [{"name": p.name, "port": p.port, "protocol": p.protocol} for p in svc.spec.ports]
        out.append({"apiVersion": "v1", "kind": "Service",
                    "metadata": {"name": svc.metadata.name, "namespace": namespace},
                    "spec": {"ports": ports}})  # fmt: skip
    for sl in disc.list_namespaced_endpoint_slice(namespace).items:
        doc = api.sanitize_for_serialization(sl)
        out.append({**doc, "apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice"})
    return out


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m stack.differential", description=__doc__)
    parser.add_argument("--seed", type=int, nargs="+", default=[1], help="one run per seed")
    parser.add_argument("--rounds", type=int, default=6, help="scenarios of each family")
    parser.add_argument("--env", default=str(REPO / ".local" / "cluster.env"))
    parser.add_argument(
        "--json", help="write every seed's summary, the total and each case's raw record here"
    )
    args = parser.parse_args(argv)
    env = read_cluster_env(args.env)
    reports = []
    for seed in args.seed:
        print(f"== seed {seed}", flush=True)
        report = run(env, seed=seed, rounds=args.rounds)
        print(report.table(), flush=True)
        reports.append(report)
    summed = total([r.summary() for r in reports])
    if len(reports) > 1:
        print(f"== total, seeds {' '.join(map(str, args.seed))}")
        print(summary_table(summed))
    if args.json:
        doc = {
            "what": "python -m stack.differential: real Traefik vs the traefik and spec profiles",
            "traefik": _traefik_version(env),
            "date": time.strftime("%Y-%m-%d", time.gmtime()),
            "rounds": args.rounds,
            "total": summed,
            "runs": [r.to_dict() for r in reports],
        }
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(_compact_json(doc))
    return 0 if all(r.ok for r in reports) else 1


def _traefik_version(env: dict[str, str]) -> str:
    """Traefik's version from its API (``/api/version``), or "unknown"."""
    try:
        conn = http.client.HTTPConnection(env["TRAEFIK_API_URL"].split("://", 1)[1], timeout=5)
        conn.request("GET", "/api/version")
        version = str(json.loads(conn.getresponse().read()).get("Version", "unknown"))
        conn.close()
        return version
    except (OSError, ValueError, KeyError):
        return "unknown"


def _compact_json(doc: dict[str, Any]) -> str:
    """Indented JSON with one line per case record (small, and diffs line by line)."""
    runs = doc["runs"]
    shell = {**doc, "runs": [{**r, "results": "@@RESULTS@@"} for r in runs]}
    text = json.dumps(shell, indent=1)
    for r in runs:
        lines = ",\n    ".join(json.dumps(x, separators=(",", ":")) for x in r["results"])
        text = text.replace('"@@RESULTS@@"', "[\n    " + lines + "\n   ]", 1)
    return text + "\n"


if __name__ == "__main__":
    sys.exit(main())
