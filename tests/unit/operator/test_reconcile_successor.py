"""A finished release whose rule the next Rollout took over (docs/state-machine.md,
"Lifecycle and ownership"): the successor's writes are not drift, and a Failed Rollout is
not drawn into one owner per rule (it never writes)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from canary.core.models import Rollout
from canary.core.rollout.hashing import spec_hash
from tests.unit.operator.test_reconcile import NS, T0, World, _rollout, _weights

ROUTE = "HTTPRoute/api-route"


def _set(w: World, stable: int, canary: int) -> None:
    def edit(route: dict[str, Any]) -> None:
        refs = route["spec"]["rules"][0]["backendRefs"]
        refs[0]["weight"], refs[1]["weight"] = stable, canary

    w.routes.edit(kind="HTTPRoute", namespace=NS, name="api-route", fn=edit)


def _released(w: World, phase: str, stable: int, canary: int) -> None:
    digest = spec_hash(Rollout.model_validate(_rollout()).spec)
    w.rollouts.patch_status(
        namespace=NS,
        name="r",
        patch={
            "phase": phase,
            "specHash": digest,
            "stepIndex": 1,
            "message": "ended",
            "lastAppliedWeights": [{"route": ROUTE, "rule": 0, "stable": stable, "canary": canary}],
        },
    )
    _set(w, stable, canary)
    w.run(T0)  # Drifted=False: the released weights are live


def _successor(phase: str, stable: int, canary: int) -> dict[str, Any]:
    body = _rollout()
    body["metadata"] = {
        "name": "next",
        "namespace": NS,
        "creationTimestamp": "2026-11-26T13:00:00Z",
    }
    body["spec"]["canary"] = {"name": "v3", "port": 8080}
    body["status"] = {
        "phase": phase,
        "lastAppliedWeights": [{"route": ROUTE, "rule": 0, "stable": stable, "canary": canary}],
    }
    return body


def _drifted(w: World) -> dict[str, Any]:
    status = w.rollouts.get(namespace=NS, name="r")["status"]
    return next(c for c in status["conditions"] if c["type"] == "Drifted")


@pytest.mark.parametrize("phase", ["Succeeded", "Failed"])
def test_a_successors_writes_are_not_drift(phase: str) -> None:
    w = World()
    _released(w, phase, 0, 100)
    successor = _successor("Progressing", 95, 5)
    w.observer.peers = lambda ns: [successor] if ns == NS else []
    _set(w, 95, 5)  # the next Rollout's step 1
    w.run(T0 + timedelta(seconds=5))
    status = w.rollouts.get(namespace=NS, name="r")["status"]
    assert status["phase"] == phase
    # not Invalid/RuleOwned: it never writes (RuleOwned would restart it later)
    assert all(c["status"] != "True" for c in status["conditions"] if c["type"] == "Invalid")
    assert "Drift" not in w.events.reasons()
    drifted = _drifted(w)
    assert (drifted["status"], drifted["reason"]) == ("False", "TakenOver")
    assert drifted["message"] == f"taken over (not drift): {ROUTE} rule 0 by Rollout next"
    # the successor finishes at a different split: still its weights, still not drift
    successor["status"] = {**successor["status"], "phase": "Succeeded"}
    successor["status"]["lastAppliedWeights"][0].update(stable=50, canary=50)
    _set(w, 50, 50)
    w.run(T0 + timedelta(seconds=10))
    assert "Drift" not in w.events.reasons()
    assert w.rollouts.get(namespace=NS, name="r")["status"]["phase"] == phase  # no restart
    assert _weights(w.route())[:2] == [50, 50]  # never written by r
    # someone else then changes the weights: that is drift, reported
    _set(w, 20, 80)
    w.run(T0 + timedelta(seconds=15))
    assert "Drift" in w.events.reasons()
    assert _drifted(w)["status"] == "True"
