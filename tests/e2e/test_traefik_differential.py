"""The evaluator's traefik profile against the real Traefik of the local stack (a sample).

Given seeded route sets of every family (precedence ladders, hostnames, methods against
prefixes, header and query matches, rewrites and redirects, weights, ties, GRPCRoutes
called with a real gRPC client), when they are applied and every request is sent through
Traefik, then the traefik profile predicts every answer and every router's rule text and
priority, and the spec profile's differences all have a known cause. The full run is
``make differential`` (several seeds, ≥ 300 requests each).
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from canary.core.routing import profiles
from stack.differential import run

pytestmark = pytest.mark.e2e


def test_traefik_profile_predicts_traefik(
    cluster: dict[str, str], figure: Callable[[str], None]
) -> None:
    report = run(cluster, seed=7, rounds=1)

    assert report.router_mismatches == []
    disagreements = [
        f"{r.case.scenario}: {r.case.method} {r.case.host}{r.case.path}: {r.why_traefik}"
        for r in report.results
        if not r.traefik_ok
    ]
    assert disagreements == []
    known = {d.code for d in profiles.TRAEFIK_PROFILE.divergences}
    classes = report.by_class()
    assert set(classes) <= known, f"divergences without a known cause: {classes}"
    assert classes, "the sample exercises divergences; none found means nothing was compared"
    figure(
        f"{report.requests} requests, {len(report.results)} cases, "
        f"traefik {report.agreement(lambda r: r.traefik_ok) * 100:.1f} %, "
        f"spec {report.agreement(lambda r: r.spec_ok) * 100:.1f} %, "
        f"spec divergences {dict(classes)}"
    )
