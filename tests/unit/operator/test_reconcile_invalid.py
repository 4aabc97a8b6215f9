"""An invalid spec edit after the release ended (docs/state-machine.md, "Lifecycle and
ownership"): RolledBack and Aborted keep their phase and keep stable 100 / canary 0
asserted on the rule they applied it to — from their status, only when that is safe —
Succeeded stays hands off; Invalid=True names the field and what is (not) asserted."""

from __future__ import annotations

import copy
from datetime import timedelta
from typing import Any

import pytest

from canary.adapters.fakes import FakeClusterReader
from canary.core.models import Rollout
from canary.core.rollout.hashing import spec_hash
from tests.unit.operator.test_reconcile import NS, T0, World, _unknown_controller_docs, _weights

RULE = {"route": "HTTPRoute/api-route", "rule": 0, "stable": 100, "canary": 0}


def _ended(w: World, phase: str, applied: dict[str, Any] = RULE) -> None:
    """The Rollout ended in ``phase`` with ``applied`` live; then someone set 70/30."""
    body = w.rollouts.get(namespace=NS, name="r")
    digest = spec_hash(Rollout.model_validate(body).spec)
    w.rollouts.patch_status(
        namespace=NS,
        name="r",
        patch={
            "phase": phase,
            "specHash": digest,
            "stepIndex": 1 if phase == "Succeeded" else 0,
            "message": f"{phase}: ended",
            "lastAppliedWeights": [applied],
            "conditions": [
                {"type": "Healthy", "status": "False", "reason": "AnalysisFailed"},
            ],
        },
    )
    _push(w)


def _push(w: World) -> None:
    """Someone sends traffic back to the canary: 70/30."""

    def push(route: dict[str, Any]) -> None:
        refs = route["spec"]["rules"][0]["backendRefs"]
        refs[0]["weight"], refs[1]["weight"] = 70, 30

    w.routes.edit(kind="HTTPRoute", namespace=NS, name="api-route", fn=push)


def _edit_spec(w: World, **changes: Any) -> None:
    body = copy.deepcopy(w.rollouts.get(namespace=NS, name="r"))
    body["spec"].update(changes)
    body["metadata"]["generation"] = 2
    w.rollouts.put(body)


def _status(w: World) -> dict[str, Any]:
    status: dict[str, Any] = w.rollouts.get(namespace=NS, name="r")["status"]
    return status


def _invalid(w: World) -> dict[str, Any]:
    return next(c for c in _status(w)["conditions"] if c["type"] == "Invalid")


@pytest.mark.parametrize("phase", ["RolledBack", "Aborted"])
def test_an_invalid_edit_keeps_the_phase_and_stable_100_asserted(phase: str) -> None:
    w = World()
    _ended(w, phase)
    _edit_spec(w, progressDeadline="ten minutes")  # the models reject it
    w.run(T0)
    assert _status(w)["phase"] == phase  # not Failed
    assert _weights(w.route()) == [100, 0, 5]  # the known-bad canary gets nothing again
    invalid = _invalid(w)
    assert (invalid["status"], invalid["reason"]) == ("True", "InvalidSpec")
    assert invalid["message"].startswith("spec.progressDeadline: ")
    assert (
        f"{phase} kept: stable 100 / canary 0 stays asserted on HTTPRoute/api-route rule 0"
        in (invalid["message"])
    )
    assert invalid["observedGeneration"] == 2
    assert "InvalidSpec" in w.events.reasons() and "Drift" in w.events.reasons()
    healthy = next(c for c in _status(w)["conditions"] if c["type"] == "Healthy")
    assert healthy["status"] == "False"  # the other conditions are kept
    # still asserted on the next drift; the same Invalid is not announced again
    _push(w)
    before = w.events.reasons().count("InvalidSpec")
    w.run(T0 + timedelta(seconds=5))
    assert _weights(w.route()) == [100, 0, 5]
    assert w.events.reasons().count("InvalidSpec") == before
    # the spec is fixed: Invalid turns False, the phase stays
    _edit_spec(w, progressDeadline="10m")
    w.run(T0 + timedelta(seconds=10))
    assert _status(w)["phase"] == phase and _invalid(w)["status"] == "False"


def test_an_unknown_flavor_on_an_aborted_rollout_keeps_it_asserting() -> None:
    """A derived cause (the flavor cannot be taken from the GatewayClass any more)."""
    w = World(metrics=[{"name": "err", "template": "error-rate", "max": 0.1}])
    w.observer.cluster = FakeClusterReader(_unknown_controller_docs())
    _ended(w, "Aborted")
    w.run(T0)
    assert _status(w)["phase"] == "Aborted"
    assert _weights(w.route()) == [100, 0, 5]
    message = _invalid(w)["message"]
    assert "spec.analysis.metrics[0].flavor" in message and "stays asserted" in message


def test_when_the_backends_changed_nothing_is_asserted_and_the_condition_says_so() -> None:
    w = World()
    _ended(w, "RolledBack")
    # stable/canary/routes/steps changed (not what it applied) and the rest is invalid
    _edit_spec(w, canary={"name": "v4", "port": 8080}, progressDeadline="ten minutes")
    w.run(T0)
    assert _status(w)["phase"] == "RolledBack"
    assert _weights(w.route()) == [70, 30, 5]  # nothing written
    message = _invalid(w)["message"]
    assert message.startswith("spec.progressDeadline: ")
    assert "RolledBack kept: nothing can be asserted safely" in message
    assert "which backendRefs it set is not known" in message


def test_a_route_whose_rules_moved_is_not_written() -> None:
    """Same backends, but the rule it applied stable 100 to is not the one they resolve to
    now: writing would touch a rule it never owned."""
    w = World()
    _ended(w, "RolledBack", {**RULE, "rule": 3})
    _edit_spec(w, progressDeadline="ten minutes")
    w.run(T0)
    assert _weights(w.route()) == [70, 30, 5]
    message = _invalid(w)["message"]
    assert "nothing can be asserted safely" in message
    assert "resolve to rules [0], it applied rules [3]" in message


def test_backends_that_cannot_be_read_keep_the_phase_and_write_nothing() -> None:
    w = World()
    _ended(w, "Aborted")
    _edit_spec(w, steps=[{"weight": 50}, {"weight": 10}])  # not increasing: no backends read
    w.run(T0)
    status = _status(w)
    assert status["phase"] == "Aborted" and status["message"] == "Aborted: ended"
    assert _weights(w.route()) == [70, 30, 5]
    invalid = _invalid(w)
    assert (invalid["status"], invalid["reason"]) == ("True", "InvalidSpec")
    assert "spec.steps: step weights must be strictly increasing" in invalid["message"]
    assert "Aborted kept: nothing can be asserted safely" in invalid["message"]
    assert any(c["type"] == "Healthy" for c in status["conditions"])  # others kept
    patches = len(w.rollouts.status_patches)
    w.run(T0 + timedelta(seconds=5))  # said once
    assert len(w.rollouts.status_patches) == patches


@pytest.mark.parametrize("edit", [{"progressDeadline": "ten minutes"}, {"steps": []}])
def test_an_invalid_edit_on_a_succeeded_rollout_stays_hands_off(edit: dict[str, Any]) -> None:
    w = World()
    _ended(w, "Succeeded", {**RULE, "stable": 0, "canary": 100})
    _edit_spec(w, **edit)
    w.run(T0)
    assert _status(w)["phase"] == "Succeeded"
    assert _weights(w.route()) == [70, 30, 5]  # never written
    message = _invalid(w)["message"]
    assert message.startswith("spec.") and "Succeeded kept: hands off" in message


def test_a_pending_rollout_still_fails_on_an_invalid_edit() -> None:
    w = World()
    _edit_spec(w, progressDeadline="ten minutes")
    w.run(T0)
    assert _status(w)["phase"] == "Failed"
    assert _weights(w.route()) == [90, 10, 5]
