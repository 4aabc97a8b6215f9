"""One owner per rule: who may write a rule's weights (canary.core.routes.ownership)."""

from __future__ import annotations

from typing import Any

import pytest

from canary.core.phases import Reason
from canary.core.routes.ownership import Claim, claim_of, owner_conflict, taken_over

NS = "app"
RULE = ("HTTPRoute/api-route", 0)


def route() -> dict[str, Any]:
    return {
        "kind": "HTTPRoute",
        "metadata": {"name": "api-route", "namespace": NS},
        "spec": {
            "rules": [
                {"backendRefs": [{"name": "v2", "port": 80}, {"name": "v3", "port": 80}]},
                {"backendRefs": [{"name": "v2", "port": 80}, {"name": "v4", "port": 80}]},
            ]
        },
    }


ROUTES = {"HTTPRoute/api-route": route()}


def body(
    name: str,
    created: str,
    phase: str | None = None,
    canary: str = "v3",
    applied: bool = False,
    **meta: Any,
) -> dict[str, Any]:
    status: dict[str, Any] = {}
    if phase:
        status["phase"] = phase
    if applied:
        rule = 0 if canary == "v3" else 1
        status["lastAppliedWeights"] = [
            {"route": "HTTPRoute/api-route", "rule": rule, "stable": 95, "canary": 5}
        ]
    return {
        "metadata": {"name": name, "creationTimestamp": created, **meta},
        "spec": {
            "routes": [{"name": "api-route"}],
            "stable": {"name": "v2", "port": 80},
            "canary": {"name": canary, "port": 80},
            "steps": [{"weight": 5}],
        },
        "status": status,
    }


def claim(b: dict[str, Any]) -> Claim:
    c = claim_of(b, ROUTES, NS)
    assert c is not None
    return c


T1, T2 = "2026-01-01T00:00:01Z", "2026-01-01T00:00:02Z"


def test_claim_resolves_the_addressed_rule_on_the_live_route() -> None:
    assert claim(body("a", T1)).rules == {RULE}
    assert claim(body("b", T1, canary="v4")).rules == {("HTTPRoute/api-route", 1)}


@pytest.mark.parametrize(
    ("other", "blocked"),
    [
        (body("a", T2, "Progressing", applied=True), True),  # holder beats an older newcomer
        (body("a", T2, "RolledBack", applied=True), True),  # stable 100 stays asserted
        (body("a", T2, "Aborted", applied=True), True),
        (body("a", T2, "Paused", applied=True), True),
        (body("a", T2, "Succeeded", applied=True), False),  # hands off: never writes
        (body("a", T2, "Failed", applied=True), False),
        (body("a", T2, "Pending"), False),  # younger, not holding: we go first
        (body("a", T2, "Progressing", canary="v4", applied=True), False),  # another rule
        # being deleted: blocks only while its onDelete restore may still write
        (body("a", T2, "Progressing", applied=True, deletionTimestamp=T2), True),
        (body("a", T2, "RolledBack", applied=True, deletionTimestamp=T2), False),
    ],
)
def test_older_newcomer_against_another_rollout(other: dict[str, Any], blocked: bool) -> None:
    me = claim(body("me", T1))
    message = owner_conflict(me, [claim(other)])
    assert (message is not None) is blocked
    if blocked:
        assert message is not None and "Rollout a" in message and "rule 0" in message


def test_newcomers_are_ordered_by_age_then_name_whoever_looks_first() -> None:
    a, b = claim(body("a", T1)), claim(body("b", T2))
    assert owner_conflict(a, [b]) is None and owner_conflict(b, [a]) is not None
    x, y = claim(body("x", T1)), claim(body("y", T1))
    assert owner_conflict(x, [y]) is None and owner_conflict(y, [x]) is not None


def test_a_rollout_failed_for_ownership_keeps_its_place_in_line() -> None:
    owned = {
        "type": "Invalid",
        "status": "True",
        "reason": Reason.RULE_OWNED,
        "lastTransitionTime": T1,
    }
    waiting = body("b", T1, "Failed")
    waiting["status"]["conditions"] = [owned]
    newcomer = claim(body("c", T2))
    assert owner_conflict(newcomer, [claim(waiting)]) is not None
    # a plain invalid Failed Rollout is no contender
    invalid = body("b", T1, "Failed")
    invalid["status"]["conditions"] = [{**owned, "reason": "InvalidSpec"}]
    assert owner_conflict(newcomer, [claim(invalid)]) is None


def test_unparseable_peer_claims_nothing() -> None:
    broken = body("a", T1, "Progressing")
    broken["spec"]["steps"] = []
    assert claim_of(broken, ROUTES, NS) is None


@pytest.mark.parametrize("phase", ["RolledBack", "Aborted"])
def test_an_unparseable_rolled_back_peer_still_claims_what_it_holds(phase: str) -> None:
    """RolledBack/Aborted keep asserting stable 100 / canary 0 after an invalid edit, so
    they keep their rule: a newcomer may not take it (two owners would fight)."""
    broken = body("a", T2, phase, applied=True)
    broken["spec"]["steps"] = []
    held = claim_of(broken, ROUTES, NS)
    assert held is not None and held.rules == {RULE} and held.contender
    newcomer = claim(body("b", T1))
    conflict = owner_conflict(newcomer, [held])
    assert conflict is not None and "Rollout a" in conflict


def test_taken_over_names_the_rollout_that_sets_a_released_rule() -> None:
    live = {RULE: (95, 5)}
    active = body("next", T2, "Progressing")  # owns the rule now (no weights recorded yet)
    assert taken_over("a", [RULE], live, [active], ROUTES, NS) == {RULE: "next"}
    finished = body("next", T2, "Succeeded", applied=True)  # its last applied: 95/5
    assert taken_over("a", [RULE], live, [finished], ROUTES, NS) == {RULE: "next"}
    # a finished Rollout whose weights are not the live ones did not write them
    assert taken_over("a", [RULE], {RULE: (70, 30)}, [finished], ROUTES, NS) == {}
    # a Rollout that does not own the rule (Failed, not for ownership) takes nothing
    assert taken_over("a", [RULE], {RULE: (70, 30)}, [body("x", T2, "Failed")], ROUTES, NS) == {}
    # itself, or a rule it did not release, never count
    assert taken_over("next", [RULE], live, [active], ROUTES, NS) == {}
    assert taken_over("a", [], live, [active], ROUTES, NS) == {}
