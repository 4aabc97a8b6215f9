"""The differential harness's pure parts: the seeded route sets (``stack.difftypes``), the
verdict on one case (``agrees``, ``traefik_verdict``, ``compare_case``) and the report
(counts per verdict, per case and per request, the total over seeds, the raw records).
The real Traefik is in ``tests/e2e/test_traefik_differential.py`` and ``make differential``.
"""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

import pytest

from canary.core.routing import (
    SPEC_PROFILE,
    TRAEFIK_PROFILE,
    Table,
    build_table,
    evaluate,
    profiles,
)
from canary.core.routing.divergence import classify, signature
from stack.differential import (
    AGREE,
    DISAGREE,
    GATEWAY,
    TIE,
    Observed,
    Report,
    Result,
    _compact_json,
    _request,
    agrees,
    compare_case,
    summary_table,
    tag_of,
    total,
    traefik_verdict,
)
from stack.difftypes import (
    FAMILIES,
    GRPC_BACKENDS,
    HTTP_BACKENDS,
    MISSING,
    NOT_READY,
    RULE_HEADER,
    Case,
    Scenario,
    scenarios,
)

PORT = 8000
NS = "diff-0-test"


def _platform() -> list[dict[str, Any]]:
    """The stack's GatewayClass and prod-gateway (stack/fixtures/00-platform.yaml)."""
    return [
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "infra"}},
        {"apiVersion": "gateway.networking.k8s.io/v1", "kind": "GatewayClass",
         "metadata": {"name": "traefik"},
         "spec": {"controllerName": profiles.TRAEFIK_CONTROLLER}},
        {"apiVersion": "gateway.networking.k8s.io/v1", "kind": "Gateway",
         "metadata": {"name": "prod-gateway", "namespace": "infra"},
         "spec": {"gatewayClassName": "traefik", "listeners": [
             {"name": "web", "protocol": "HTTP", "port": PORT, "allowedRoutes": {"namespaces": {
                 "from": "Selector", "selector": {"matchLabels": {"gateway-access": "true"}}}}}]}},
    ]  # fmt: skip


def _backends() -> list[dict[str, Any]]:
    """What ``stack.differential.deploy`` creates: a Service + EndpointSlice per echo backend
    and one whose only endpoint is not ready (``b-missing`` has neither)."""
    out: list[dict[str, Any]] = [
        {"apiVersion": "v1", "kind": "Namespace",
         "metadata": {"name": NS, "labels": {"gateway-access": "true"}}},
    ]  # fmt: skip
    for name in (*HTTP_BACKENDS, *GRPC_BACKENDS, NOT_READY):
        out.append(
            {
                "apiVersion": "v1",
                "kind": "Service",
                "metadata": {"name": name, "namespace": NS},
                "spec": {"ports": [{"name": "http", "port": 8080, "protocol": "TCP"}]},
            }
        )
        out.append({"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
                    "metadata": {"name": f"{name}-local", "namespace": NS,
                                 "labels": {"kubernetes.io/service-name": name}},
                    "addressType": "FQDN",
                    "ports": [{"name": "http", "port": 9000, "protocol": "TCP"}],
                    "endpoints": [{"addresses": ["backends.canary.test"],
                                   "conditions": {"ready": name != NOT_READY}}]})  # fmt: skip
    return out


def _table(scens: list[Scenario]) -> Table:
    docs = [*_platform(), *_backends()]
    n = 0
    for s in scens:
        for route in s.routes:
            doc = json.loads(json.dumps(route))
            doc["metadata"]["namespace"] = NS
            doc["metadata"]["creationTimestamp"] = f"2026-11-30T10:{n // 60:02d}:{n % 60:02d}Z"
            n += 1
            docs.append(doc)
    return build_table(docs)


# --- the generator ------------------------------------------------------------------------


def test_scenarios_are_seeded_and_cover_every_family() -> None:
    a = scenarios(3, NS, rounds=2, port=PORT)
    assert [s.routes for s in a] == [s.routes for s in scenarios(3, NS, rounds=2, port=PORT)]
    assert [s.routes for s in a] != [s.routes for s in scenarios(4, NS, rounds=2, port=PORT)]
    assert Counter(s.family for s in a) == {f: 2 for f in FAMILIES}
    # each scenario on its own hostnames, so scenarios cannot route each other's requests
    suffixes = [{c.host.split(":")[0].split(".")[-3] for c in s.cases} for s in a]
    assert suffixes == [{f"s{i}"} for i in range(len(a))]  # <x>.s<i>.<ns>.test


def test_every_rule_tags_the_request_it_serves() -> None:
    for s in scenarios(1, NS, rounds=1, port=PORT):
        for route in s.routes:
            name = route["metadata"]["name"]
            for i, rule in enumerate(route["spec"]["rules"]):
                if any(f["type"] == "RequestRedirect" for f in rule["filters"]):
                    continue  # a redirect is told by its Location
                mods = [f for f in rule["filters"] if f["type"] == "RequestHeaderModifier"]
                sets = mods[0]["requestHeaderModifier"]["set"]
                assert {"name": RULE_HEADER, "value": f"{name}.{i}"} in sets


def test_the_generated_cases_exercise_every_listed_divergence() -> None:
    """Every divergence of the traefik profile but listener isolation (one Gateway, one
    listener here; the e2e ``test_no_listener_isolation_on_traefik`` has two) is a
    difference between the profiles for some generated case of ``make differential``'s
    seeds, so the real Traefik is asked about each of them."""
    classes: Counter[str] = Counter()
    for seed in (1, 2, 3):
        scens = scenarios(seed, NS, rounds=6, port=PORT)
        table = _table(scens)
        for s in scens:
            for case in s.cases:
                req = _request(case, PORT)
                spec = evaluate(table, req, profile=SPEC_PROFILE)
                t = evaluate(table, req, profile=TRAEFIK_PROFILE)
                f = _finding_code(table, req, spec, t)
                if f:
                    classes[f] += 1
    listed = {d.code for d in TRAEFIK_PROFILE.divergences}
    assert listed - set(classes) == {profiles.LISTENER_ISOLATION}
    assert profiles.OTHER not in classes


def _finding_code(table: Table, req: Any, spec: Any, t: Any) -> str | None:
    if signature(spec) == signature(t) and not t.tied_with:
        return None
    return classify(table, req, spec, t)[0]


# --- one case -----------------------------------------------------------------------------


def _served(tag: str, n: int = 1, *, path: str, host: str, backend: str) -> Observed:
    return Observed(200, Counter({tag: n}), Counter({backend: n}), path, host, {})


@pytest.fixture
def hosts() -> tuple[Table, Scenario]:
    """The ``hosts`` family (scenario 1): ``hosts1-exact`` rule 0 and ``hosts1-wild`` rule 1
    have the same prefix and equal priorities on ``a.<dom>`` (len("a.x") == len("*.x"))."""
    s = scenarios(1, NS, rounds=1, port=PORT)[1]
    assert s.family == "hosts"
    return _table([s]), s


def test_a_tie_is_its_own_verdict(hosts: tuple[Table, Scenario]) -> None:
    table, s = hosts
    case = s.cases[0]  # GET a.<dom><short>
    d = evaluate(table, _request(case, PORT), profile=TRAEFIK_PROFILE)
    assert d.tied_with, "the hosts family is expected to tie here"
    tied = {f"{d.route.split('/')[1]}.{d.rule}"} | {tag_of(x) for x in d.tied_with}
    assert tied == {"hosts1-exact.0", "hosts1-wild.1"}
    for tag, backend in (("hosts1-exact.0", "b0"), ("hosts1-wild.1", "b2")):
        obs = _served(tag, path=case.path, host=case.host, backend=backend)
        assert traefik_verdict(d, obs, case) == (TIE, "")
    other = _served("hosts1-wild.0", path=case.path, host=case.host, backend="b1")
    verdict, why = traefik_verdict(d, other, case)
    assert verdict == DISAGREE and "hosts1-wild.0" in why
    assert traefik_verdict(d, Observed(404), case)[0] == DISAGREE


def test_agreement_needs_rule_split_path_and_host(hosts: tuple[Table, Scenario]) -> None:
    table, s = hosts
    case = s.cases[1]  # GET a.<dom><long>: hosts1-wild rule 0 in Traefik, no tie
    d = evaluate(table, _request(case, PORT), profile=TRAEFIK_PROFILE)
    assert not d.tied_with and d.rule == 0
    good = _served("hosts1-wild.0", path=case.path, host=case.host, backend="b1")
    assert agrees(d, good, case) == ""
    assert traefik_verdict(d, good, case) == (AGREE, "")
    assert "served by rule" in agrees(d, _served("hosts1-exact.0", path=case.path,
                                                  host=case.host, backend="b0"), case)  # fmt: skip
    assert "forwarded" in agrees(
        d, _served("hosts1-wild.0", path="/elsewhere", host=case.host, backend="b1"), case
    )
    assert "Host" in agrees(
        d, _served("hosts1-wild.0", path=case.path, host="other.test", backend="b1"), case
    )
    assert "status 503" in agrees(d, Observed(503), case)


def test_agreement_of_a_split_is_counted_over_whole_cycles() -> None:
    s = next(x for x in scenarios(2, NS, rounds=1, port=PORT) if x.family == "weights")
    table = _table([s])
    case = s.cases[1]  # /three: b2 c, b3 1, b4 2, sent 2 * (c + 3) times (two WRR cycles)
    d = evaluate(table, _request(case, PORT), profile=TRAEFIK_PROFILE)
    want = Counter({b.name: round(b.share * case.repeat) for b in d.backends})
    assert len(want) == 3 and sum(want.values()) == case.repeat
    tags = Counter({f"{s.name}.1": case.repeat})
    exact = Observed(200, tags, want, case.path, case.host, {})
    assert agrees(d, exact, case) == ""
    one_off = Observed(200, tags, want + Counter({want.most_common(1)[0][0]: 1}), case.path,
                       case.host, {})  # fmt: skip
    assert agrees(d, one_off, case) == ""  # within one request of the share
    skewed = Observed(200, tags, Counter({"b2": case.repeat}), case.path, case.host, {})
    assert "got" in agrees(d, skewed, case)


def test_compare_case_classifies_the_spec_difference(hosts: tuple[Table, Scenario]) -> None:
    table, s = hosts
    case = s.cases[1]
    obs = _served("hosts1-wild.0", path=case.path, host=case.host, backend="b1")
    r = compare_case(table, case, obs, PORT)
    assert (r.traefik, r.spec_ok, r.divergence) == (AGREE, False, profiles.HOSTNAME_PRECEDENCE)
    assert r.expected == {"traefik": "200 hosts1-wild.0", "spec": "200 hosts1-exact.0"}
    # a traefik disagreement leaves the spec's difference unexplained
    wrong = compare_case(table, case, Observed(404), PORT)
    assert (wrong.traefik, wrong.divergence) == (DISAGREE, "unexplained")
    tie = compare_case(
        table, s.cases[0],
        _served("hosts1-wild.1", path=s.cases[0].path, host=s.cases[0].host, backend="b2"), PORT,
    )  # fmt: skip
    assert (tie.traefik, tie.traefik_ok, tie.divergence) == (TIE, True, profiles.TIE_ORDER)
    assert tie.expected["traefik"].endswith("(tied: hosts1-wild.1)")


# --- the report ---------------------------------------------------------------------------


def _result(verdict: str, spec_ok: bool, n: int = 1, cls: str | None = None) -> Result:
    case = Case("s0", "GET", f"a.s0.{NS}.test", "/p", repeat=n)
    return Result(case, Observed(200, Counter({"s0.0": n})), verdict, spec_ok,
                  "" if verdict != DISAGREE else "status", cls, n,
                  {"traefik": "200 s0.0", "spec": "200 s0.0" if spec_ok else "404"})  # fmt: skip


def _report(seed: int) -> Report:
    results = [
        _result(AGREE, True, 4),
        _result(AGREE, False, 1, profiles.METHOD_VS_PREFIX),
        _result(TIE, False, 1, profiles.TIE_ORDER),
        _result(DISAGREE, False, 2, "unexplained"),
    ]
    return Report(results, 1.5, {"r": 1}, {"r": 1}, seed, NS)


def test_report_counts_ties_apart_per_case_and_per_request() -> None:
    r = _report(1)
    d = r.summary()
    assert d["traefik"] == {
        AGREE: {"cases": 2, "requests": 5},
        TIE: {"cases": 1, "requests": 1},
        DISAGREE: {"cases": 1, "requests": 2},
    }
    assert d["traefik_agreement"] == {"cases": 2 / 4, "requests": 5 / 8}
    assert d["spec_agreement"] == {"cases": 1 / 4, "requests": 4 / 8}
    assert d["spec_divergences"] == {"method-vs-prefix": 1, "tie-order": 1, "unexplained": 1}
    assert [x["why"] for x in d["traefik_disagreements"]] == ["status"]
    assert not r.ok  # a disagreement fails the run ...
    assert Report(r.results[:3], 1.0).ok  # ... a tie does not
    assert not Report(r.results[:1], 1.0, {"r": 1}, {"r": 2}).ok  # nor a router's priority
    text = summary_table(d)
    assert "agree 2, tie 1, disagree 1" in text and "agree 5, tie 1, disagree 2" in text
    assert "50.0 % of cases, 62.5 % of requests" in text


def test_total_adds_seeds_and_recomputes_the_shares() -> None:
    a, b = _report(1).summary(), Report([_result(AGREE, True, 2)], 0.5, seed=2).summary()
    t = total([a, b])
    assert (t["seed"], t["requests"], t["cases"], t["seconds"]) == ([1, 2], 10, 5, 2.0)
    assert t["traefik"][AGREE] == {"cases": 3, "requests": 7}
    assert t["traefik_agreement"] == {"cases": 3 / 5, "requests": 7 / 10}
    assert t["spec_agreement"] == pytest.approx({"cases": 2 / 5, "requests": 6 / 10})
    assert t["spec_divergences"]["tie-order"] == 1


def test_raw_records_are_one_line_each_without_the_namespace() -> None:
    r = _report(1)
    doc = {"runs": [r.to_dict()], "total": total([r.summary()])}
    text = _compact_json(doc)
    assert json.loads(text)["runs"][0]["results"] == r.to_dict()["results"]
    records = [line for line in text.splitlines() if line.lstrip().startswith('{"scenario"')]
    assert len(records) == 4 and NS not in "".join(records)
    first = json.loads(records[0].rstrip(","))
    assert first == {"scenario": "s0", "request": "GET a.s0.$ns.test/p", "n": 4,
                     "expected": {"both": "200 s0.0"},
                     "observed": {"status": 200, "rules": {"s0.0": 4}, "backends": {}},
                     "traefik": AGREE, "spec": "agree"}  # fmt: skip
    second = json.loads(records[1].rstrip(","))
    assert second["expected"] == {"traefik": "200 s0.0", "spec": "404"}
    assert second["spec"] == profiles.METHOD_VS_PREFIX


def test_missing_backend_is_not_deployed() -> None:
    """``b-missing`` stays absent (a 500 in both), ``b-notready`` gets a not-ready slice."""
    s = next(x for x in scenarios(1, NS, rounds=1, port=PORT) if x.family == "weights")
    table = _table([s])
    by_path = {c.path: c for c in s.cases}
    missing = evaluate(table, _request(by_path["/missing"], PORT), profile=TRAEFIK_PROFILE)
    notready = evaluate(table, _request(by_path["/notready"], PORT), profile=TRAEFIK_PROFILE)
    assert (missing.status, notready.status) == (500, 503)
    assert MISSING not in HTTP_BACKENDS
    assert GATEWAY == "infra/prod-gateway"
