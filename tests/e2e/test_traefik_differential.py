"""The evaluator's traefik profile against the real Traefik of the local stack (a sample).

Given seeded route sets of every family (precedence ladders, hostnames, methods against
prefixes, header and query matches, rewrites and redirects, weights, ties, GRPCRoutes
called with a real gRPC client), when they are applied and every request is sent through
Traefik, then the traefik profile predicts every answer and every router's rule text and
priority (equal priorities, which Traefik does not determine, are counted as ties, not
agreement), and the spec profile's differences all have a known cause, every listed one
but listener isolation (the second test) among them. The full run is ``make
differential`` (three seeds, ≥ 500 requests each; raw results in benchmarks/results/).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client

from canary.core.routing import (
    TRAEFIK_PROFILE,
    build_table,
    compare,
    evaluate,
    make_request,
    profiles,
)
from stack.differential import AGREE, DISAGREE, TIE, Echo, run, send_http, traefik_routers
from stack.difftypes import GROUP, Case, _path, _route, _rule
from stack.ready import poll
from stack.scenario import REPO, create_backend_service

pytestmark = pytest.mark.e2e


def test_traefik_profile_predicts_traefik(
    cluster: dict[str, str], figure: Callable[[str], None]
) -> None:
    report = run(cluster, seed=13, rounds=1)  # a seed whose one round has every divergence

    assert report.router_mismatches == []
    disagreements = [
        f"{r.case.scenario}: {r.case.method} {r.case.host}{r.case.path}: {r.why_traefik}"
        for r in report.results
        if r.traefik == DISAGREE
    ]
    assert disagreements == []
    # a tie (equal Traefik priorities: not determined) is counted apart, never as agreement;
    # the only ties generated are the hosts family's exact/wildcard pairs
    ties = {r.case.scenario for r in report.results if r.traefik == TIE}
    assert all(s.startswith("hosts") for s in ties), ties
    known = {d.code for d in profiles.TRAEFIK_PROFILE.divergences}
    classes = report.by_class()
    assert set(classes) <= known, f"divergences without a known cause: {classes}"
    # every listed divergence but listener isolation (the test below) is sent to Traefik
    assert known - set(classes) == {profiles.LISTENER_ISOLATION}, classes
    d = report.summary()
    figure(
        f"{report.requests} requests, {len(report.results)} cases; traefik agree/tie/disagree "
        f"{d['traefik'][AGREE]['cases']}/{d['traefik'][TIE]['cases']}/"
        f"{d['traefik'][DISAGREE]['cases']} cases "
        f"({d['traefik_agreement']['cases'] * 100:.1f} % of cases, "
        f"{d['traefik_agreement']['requests'] * 100:.1f} % of requests agree), "
        f"spec {d['spec_agreement']['cases'] * 100:.1f} % of cases, "
        f"spec divergences {dict(sorted(classes.items()))}"
    )


def test_no_listener_isolation_on_traefik(
    cluster: dict[str, str], kube: Any, namespace: str
) -> None:
    """Given a Gateway with listeners `a.<ns>.test` and `*.<ns>.test` on one port and a
    route on each, when `a.<ns>.test/y` (only the wildcard listener's route has `/y`) is
    sent, then Traefik serves it (no listener isolation) as the traefik profile says,
    while the spec profile answers 404 (only the most specific listener counts)."""
    port = int(cluster["GATEWAY_URL"].rsplit(":", 1)[1])
    local = Path(cluster.get("CANARY_LOCAL", REPO / ".local"))
    custom = client.CustomObjectsApi(kube)
    echo = Echo(("b0",), (), local, namespace)
    try:
        create_backend_service(
            kube, namespace=namespace, name="b0", backend_port=echo.ports["b0"],
            host=cluster.get("BACKEND_HOST", "backends.canary.test"),
        )  # fmt: skip
        dom = f"{namespace}.test"
        gw = {
            "apiVersion": f"{GROUP}/v1",
            "kind": "Gateway",
            "metadata": {"name": "iso", "namespace": namespace},
            "spec": {
                "gatewayClassName": "traefik",
                "listeners": [
                    {"name": "l-a", "hostname": f"a.{dom}", "port": port, "protocol": "HTTP"},
                    {"name": "l-w", "hostname": f"*.{dom}", "port": port, "protocol": "HTTP"},
                ],
            },
        }
        docs: list[Any] = [
            dict(custom.create_namespaced_custom_object(GROUP, "v1", namespace, "gateways", gw))
        ]
        for name, section, path in (("on-a", "l-a", "/x"), ("on-w", "l-w", "/y")):
            r = _route("HTTPRoute", name, [], [_rule(f"{name}.0", [_path("PathPrefix", path)],
                                                     [("b0", 1)])])  # fmt: skip
            r["metadata"]["namespace"] = namespace
            r["spec"]["parentRefs"] = [{"name": "iso", "sectionName": section}]
            docs.append(
                dict(
                    custom.create_namespaced_custom_object(GROUP, "v1", namespace, "httproutes", r)
                )
            )
        poll(
            lambda: (len(traefik_routers(cluster["TRAEFIK_API_URL"], namespace)) == 2, "routers"),
            timeout=60,
            what="Traefik serving both routes",
        )
        case = Case("iso", "GET", f"a.{dom}", "/y")
        observed = send_http(port, case)[0]
        table = build_table(docs)
        req = make_request("GET", f"http://a.{dom}:{port}/y", gateway=f"{namespace}/iso")
        spec = evaluate(table, req)
        traefik = evaluate(table, req, profile=TRAEFIK_PROFILE)
    finally:
        echo.stop()
        # a second Gateway on the shared port would ask other tests' tables "which Gateway?"
        try:
            custom.delete_namespaced_custom_object(GROUP, "v1", namespace, "gateways", "iso")
        except client.ApiException as exc:
            if exc.status != 404:  # not created: the failure above says why
                raise
    assert (observed.status, dict(observed.tags)) == (200, {"on-w.0": 1})
    assert (traefik.status, traefik.route) == (200, f"{namespace}/on-w")
    assert spec.status == 404
    finding = compare(table, req, TRAEFIK_PROFILE)
    assert finding is not None and finding.code == profiles.LISTENER_ISOLATION
