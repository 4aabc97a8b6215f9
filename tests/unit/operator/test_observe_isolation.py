"""The operator's evaluator step skips objects it cannot parse (issue 10.3), with fakes.

Before: any unparsable object in the snapshot made every Rollout's ``SplitVerified``
False ("cannot evaluate the routes"). Now only a Rollout whose route needs the object
holds, and its condition names the object and why.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

import pytest

from canary.adapters.fakes import FakeClusterReader
from tests.unit.operator.test_reconcile import NS, T0, World, _gateway_docs

RE2_ONLY = r"/\pL+"  # valid RE2, not Python re


def _re2_route(namespace: str, hostnames: list[str]) -> dict[str, Any]:
    return {
        "apiVersion": "gateway.networking.k8s.io/v1",
        "kind": "HTTPRoute",
        "metadata": {"name": "re2", "namespace": namespace},
        "spec": {
            "parentRefs": [{"name": "gw", "namespace": NS}],
            "hostnames": hostnames,
            "rules": [
                {
                    "matches": [{"path": {"type": "RegularExpression", "value": RE2_ONLY}}],
                    "backendRefs": [{"name": "x", "port": 80}],
                }
            ],
        },
    }


UNLABELLED_SLICE = {
    "apiVersion": "discovery.k8s.io/v1",
    "kind": "EndpointSlice",
    "metadata": {"name": "orphan", "namespace": "elsewhere"},
    "addressType": "FQDN",
    "endpoints": [{"addresses": ["x.local"]}],
}


def _split_verified(w: World, *bad: dict[str, Any]) -> dict[str, Any]:
    w.run(T0)
    w.accept()
    w.traefik.set(namespace=NS, route="api-route", rule=0, weights=[{0: 95, 1: 5, 2: 5}])
    w.observer.cluster = FakeClusterReader([*_gateway_docs(), w.route(), *bad])
    w.run(T0 + timedelta(seconds=1))
    status = w.rollouts.get(namespace=NS, name="r")["status"]
    return next(c for c in status["conditions"] if c["type"] == "SplitVerified")


def test_bad_objects_elsewhere_do_not_hold_the_split(caplog: pytest.LogCaptureFixture) -> None:
    w = World()
    with caplog.at_level(logging.WARNING, logger="canary.operator"):
        cond = _split_verified(w, _re2_route("elsewhere", ["api.example.com"]), UNLABELLED_SLICE)
        w.run(T0 + timedelta(seconds=2))
    assert cond["status"] == "True", cond
    skips = [r.getMessage() for r in caplog.records if "skips" in r.getMessage()]
    assert skips == [  # logged once, not every reconcile; the orphan slice is no problem
        "route evaluator skips HTTPRoute elsewhere/re2: spec.rules[0].matches[0].path.value: "
        "invalid regular expression for the evaluator's dialect (Python re): "
        "bad escape \\p at position 1"
    ]


def test_a_bad_route_sharing_the_listener_holds_and_is_named() -> None:
    cond = _split_verified(World(), _re2_route(NS, ["api.example.com"]), UNLABELLED_SLICE)
    assert cond["status"] == "False"
    assert "HTTPRoute app/re2 cannot be parsed" in cond["message"]
    assert "bad escape" in cond["message"]
