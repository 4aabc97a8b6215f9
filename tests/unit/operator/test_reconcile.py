"""The operator's reconcile wiring with fakes: observe → decide → execute.

The decisions themselves are tested in tests/unit/core; here we check that the glue
reads the right things, writes only weights through the guarded patch, writes status
diffs, posts Events, and fills the operator's analysis defaults.
"""

from __future__ import annotations

import copy
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from canary.adapters.fakes import (
    FakeClusterReader,
    FakeEvents,
    FakeMetrics,
    FakeRollouts,
    FakeRoutes,
    FakeTraefikApi,
)
from canary.core.models import Rollout, RolloutStatus
from canary.core.results import Sample
from canary.operator.observe import Observer
from canary.operator.reconcile import Reconciler, StaleCopy, TrackingRollouts

NS = "app"
T0 = datetime(2026, 11, 26, 12, 0, 0, tzinfo=UTC)


def _route(stable: int = 90, canary: int = 10) -> dict[str, Any]:
    return {
        "apiVersion": "gateway.networking.k8s.io/v1",
        "kind": "HTTPRoute",
        "metadata": {"name": "api-route", "namespace": NS, "generation": 1,
                     "annotations": {"team": "a"}},
        "spec": {
            "parentRefs": [{"name": "gw", "namespace": NS}],
            "hostnames": ["api.example.com"],
            "rules": [
                {
                    "matches": [{"path": {"type": "PathPrefix", "value": "/users"}}],
                    "filters": [{"type": "RequestHeaderModifier", "requestHeaderModifier":
                                 {"set": [{"name": "X-A", "value": "1"}]}}],
                    "backendRefs": [
                        {"name": "v2", "port": 8080, "weight": stable},
                        {"name": "v3", "port": 8080, "weight": canary},
                        {"name": "legacy", "port": 8080, "weight": 5},
                    ],
                }
            ],
        },
    }  # fmt: skip


def _accepted(route: dict[str, Any]) -> None:
    gen = route["metadata"]["generation"]
    route["status"] = {
        "parents": [
            {
                "parentRef": {"name": "gw", "namespace": NS},
                "controllerName": "traefik.io/gateway-controller",
                "conditions": [
                    {"type": "Accepted", "status": "True", "observedGeneration": gen},
                    {"type": "ResolvedRefs", "status": "True", "observedGeneration": gen},
                ],
            }
        ]
    }


def _rollout(**analysis: Any) -> dict[str, Any]:
    return {
        "apiVersion": "canary.dev/v1alpha1",
        "kind": "Rollout",
        "metadata": {"name": "r", "namespace": NS, "generation": 1, "uid": "u1"},
        "spec": {
            "routes": [{"name": "api-route"}],
            "stable": {"name": "v2", "port": 8080},
            "canary": {"name": "v3", "port": 8080},
            "steps": [{"weight": 5, "pause": "10s"}, {"weight": 100}],
            "analysis": analysis,
        },
    }


def _gateway_docs() -> list[dict[str, Any]]:
    return [
        {"apiVersion": "gateway.networking.k8s.io/v1", "kind": "GatewayClass",
         "metadata": {"name": "traefik"},
         "spec": {"controllerName": "traefik.io/gateway-controller"}},
        {"apiVersion": "gateway.networking.k8s.io/v1", "kind": "Gateway",
         "metadata": {"name": "gw", "namespace": NS},
         "spec": {"gatewayClassName": "traefik",
                  "listeners": [{"name": "web", "protocol": "HTTP", "port": 80}]}},
    ]  # fmt: skip


class World:
    def __init__(self, **analysis: Any) -> None:
        self.rollouts = FakeRollouts([_rollout(**analysis)])
        route = _route()
        _accepted(route)
        self.routes = FakeRoutes([route])
        self.events = FakeEvents()
        self.traefik = FakeTraefikApi()
        self.metrics = FakeMetrics({"": Sample(value=0.0)})
        self.observer = Observer(
            routes=self.routes,
            cluster=FakeClusterReader(_gateway_docs()),  # a Traefik Gateway: its API is asked
            metrics_for=lambda _r: self.metrics,
            traefik=self.traefik,
        )
        self.reconciler = Reconciler(
            rollouts=self.rollouts,
            routes=self.routes,
            events=self.events,
            observer=self.observer,
            defaults={"interval": "7s", "minRequests": 3},
        )

    def route(self) -> dict[str, Any]:
        return self.routes.get(kind="HTTPRoute", namespace=NS, name="api-route")

    def snapshot_with_route(self) -> None:
        self.observer.cluster = FakeClusterReader([*_gateway_docs(), self.route()])

    def accept(self) -> None:
        """The gateway caught up with the route's current generation."""
        self.routes.edit(kind="HTTPRoute", namespace=NS, name="api-route", fn=_accepted)

    def run(self, now: datetime) -> Any:
        body = copy.deepcopy(self.rollouts.get(namespace=NS, name="r"))
        return self.reconciler.reconcile(body, now=now)


def _weights(route: dict[str, Any]) -> list[int]:
    return [b["weight"] for b in route["spec"]["rules"][0]["backendRefs"]]


def test_first_step_writes_only_our_two_weights_and_status() -> None:
    w = World()
    before = w.route()
    plan = w.run(T0)  # the route is ready: Pending -> Progressing, step 1 written
    after = w.route()
    assert plan is not None and plan.write_routes
    assert _weights(after) == [95, 5, 5]  # the foreign backend keeps its weight
    assert after["spec"]["rules"][0]["filters"] == before["spec"]["rules"][0]["filters"]
    assert after["metadata"]["annotations"] == {"team": "a"}
    status = w.rollouts.get(namespace=NS, name="r")["status"]
    assert status["phase"] == "Progressing"
    assert status["stepLabel"] == "1/2"
    assert status["canaryWeight"] == 5
    assert "Started" in w.events.reasons()


def test_split_is_verified_once_route_data_plane_and_evaluator_agree() -> None:
    w = World()
    w.run(T0)
    w.accept()
    w.traefik.set(namespace=NS, route="api-route", rule=0, weights=[{0: 95, 1: 5, 2: 5}])
    w.snapshot_with_route()
    w.run(T0 + timedelta(seconds=1))
    status = w.rollouts.get(namespace=NS, name="r")["status"]
    verified = next(c for c in status["conditions"] if c["type"] == "SplitVerified")
    assert verified["status"] == "True", verified
    assert abs(status["effectiveWeight"] - 5 / 105 * 100) < 0.01


def test_traefik_not_serving_holds_the_split() -> None:
    w = World()
    w.run(T0)
    w.accept()
    w.traefik.set(namespace=NS, route="api-route", rule=0, weights=[{0: 90, 1: 10, 2: 5}])
    w.snapshot_with_route()
    w.run(T0 + timedelta(seconds=1))
    status = w.rollouts.get(namespace=NS, name="r")["status"]
    verified = next(c for c in status["conditions"] if c["type"] == "SplitVerified")
    assert verified["status"] == "False"
    assert "does not serve" in verified["message"]


def test_unchanged_world_writes_no_status() -> None:
    w = World()
    w.run(T0)
    w.run(T0 + timedelta(milliseconds=500))  # sees the weights live, records them
    rv = w.rollouts.get(namespace=NS, name="r")["metadata"].get("resourceVersion")
    plan = w.run(T0 + timedelta(milliseconds=600))
    assert plan is not None and plan.status_patch == {}
    assert w.rollouts.get(namespace=NS, name="r")["metadata"].get("resourceVersion") == rv


def test_operator_defaults_fill_unset_analysis_fields() -> None:
    w = World()
    body = w.reconciler._with_defaults(_rollout())
    assert body["spec"]["analysis"] == {"interval": "7s", "minRequests": 3}
    explicit = w.reconciler._with_defaults(_rollout(interval="30s"))
    assert explicit["spec"]["analysis"]["interval"] == "30s"


def test_invalid_spec_marks_failed_and_leaves_the_route() -> None:
    w = World()
    w.rollouts.put({**_rollout(), "spec": {**_rollout()["spec"], "canary": {"name": "nope"}}})
    w.run(T0)
    status = w.rollouts.get(namespace=NS, name="r")["status"]
    assert status["phase"] == "Failed"
    invalid = next(c for c in status["conditions"] if c["type"] == "Invalid")
    assert invalid["status"] == "True" and "spec." in invalid["message"]
    assert _weights(w.route()) == [90, 10, 5]


def test_missing_route_is_invalid_naming_the_field() -> None:
    w = World()
    w.routes = FakeRoutes([])
    w.observer.routes = w.routes
    w.reconciler.routes = w.routes
    w.run(T0)
    status = w.rollouts.get(namespace=NS, name="r")["status"]
    assert status["phase"] == "Failed"
    assert "spec.routes[0]" in status["message"]


def test_deletion_restores_stable_100() -> None:
    w = World()
    w.run(T0)
    assert _weights(w.route()) == [95, 5, 5]
    body = copy.deepcopy(w.rollouts.get(namespace=NS, name="r"))
    assert not w.reconciler.finalize(body, now=T0 + timedelta(seconds=2))  # it wrote
    assert _weights(w.route()) == [100, 0, 5]
    body = copy.deepcopy(w.rollouts.get(namespace=NS, name="r"))
    body["metadata"]["deletionTimestamp"] = "2026-11-26T12:00:02Z"
    # live, but the gateway still serves the old split: the finalizer stays
    w.traefik.set(namespace=NS, route="api-route", rule=0, weights=[{0: 95, 1: 5, 2: 5}])
    assert not w.reconciler.finalize(body, now=T0 + timedelta(seconds=3))
    w.traefik.set(namespace=NS, route="api-route", rule=0, weights=[{0: 100, 2: 5}])
    assert w.reconciler.finalize(body, now=T0 + timedelta(seconds=4))
    assert _weights(w.route()) == [100, 0, 5]


def test_deletion_does_not_wait_for_the_gateway_past_the_deadline() -> None:
    w = World()
    w.run(T0)
    body = copy.deepcopy(w.rollouts.get(namespace=NS, name="r"))
    body["metadata"]["deletionTimestamp"] = "2026-11-26T12:00:02Z"
    assert not w.reconciler.finalize(body, now=T0 + timedelta(seconds=2))
    w.traefik.unavailable = True  # the gateway cannot be read: not confirmed
    assert not w.reconciler.finalize(body, now=T0 + timedelta(minutes=5))
    assert w.reconciler.finalize(body, now=T0 + timedelta(minutes=11))  # progressDeadline
    assert _weights(w.route()) == [100, 0, 5]


def test_the_step_is_recorded_before_its_weights_are_written() -> None:
    """A crash between the writes must never leave the route ahead of the status (a
    restarted operator would write the previous step's weights back) nor lose the step's
    Events (the next decide does not repeat them)."""
    w = World()
    w.run(T0)
    w.accept()
    w.traefik.set(namespace=NS, route="api-route", rule=0, weights=[{0: 95, 1: 5, 2: 5}])
    w.snapshot_with_route()
    w.run(T0 + timedelta(seconds=1))  # step 1 verified; its 10 s pause starts
    seen: list[tuple[str, int]] = []

    def crash_inside_the_route_write(routes: FakeRoutes, *_: str) -> None:
        status = w.rollouts.get(namespace=NS, name="r")["status"]
        seen.append((status["stepLabel"], status["canaryWeight"]))
        messages = [e["message"] for e in w.events.events]
        assert "step 2/2: canary 100%" in messages
        raise KeyboardInterrupt("SIGKILL")  # the process dies mid-write

    w.routes.before_patch = crash_inside_the_route_write
    with pytest.raises(KeyboardInterrupt):
        w.run(T0 + timedelta(seconds=12))  # the pause has elapsed: step 2 (canary 100)
    assert seen == [("2/2", 100)]  # the status said step 2 before the route was touched
    assert _weights(w.route()) == [95, 5, 5]
    w.routes.before_patch = None
    w.run(T0 + timedelta(seconds=13))  # the restarted operator goes on forward
    assert _weights(w.route()) == [0, 100, 5]
    assert "Drift" not in w.events.reasons()
    assert w.rollouts.get(namespace=NS, name="r")["status"]["stepLabel"] == "2/2"


def test_observed_share_counts_only_traffic_since_the_split_is_served_and_verified() -> None:
    """Traffic from before the culprit was fixed (e.g. a not-ready canary answering 503)
    must not keep the step from verifying once it is."""
    w = World()
    w.run(T0)  # step 1 written at T0
    w.accept()
    w.traefik.set(namespace=NS, route="api-route", rule=0, weights=[{0: 95, 1: 5, 2: 5}])
    w.run(T0 + timedelta(seconds=10))  # the evaluator cannot verify (route not in its input)
    assert w.metrics.queries == []  # nothing to compare while the split is not configured
    w.snapshot_with_route()
    w.run(T0 + timedelta(seconds=20))  # verified from now on
    assert w.metrics.queries == []  # less than the minimum window since then
    w.run(T0 + timedelta(seconds=26))
    queries = [q for q, _ in w.metrics.queries]
    assert queries and all("offset 5s)" in q for q in queries), queries  # since T0+20
    assert not any("offset 25s)" in q for q in queries)  # not since the step started


def test_traefik_api_is_asked_only_for_routes_on_traefik_gateways() -> None:
    """A route whose parent Gateway belongs to another controller is never checked
    against Traefik's API (it would never count as served); the evaluator, route status
    and traffic decide instead."""
    w = World()
    other = [
        {**d, "spec": {**d["spec"], "controllerName": "example.com/other"}}
        if d["kind"] == "GatewayClass"
        else d
        for d in _gateway_docs()
    ]
    w.observer.cluster = FakeClusterReader([*other, w.route()])
    w.traefik.unavailable = True  # would make every Traefik answer "not served"
    rollout = Rollout.model_validate(w.rollouts.get(namespace=NS, name="r"))
    seen = w.observer.observe(rollout, RolloutStatus(), now=T0)
    assert seen.invalid is None and seen.data_plane_applied is None
    w.observer.cluster = FakeClusterReader([*_gateway_docs(), w.route()])
    seen = w.observer.observe(rollout, RolloutStatus(), now=T0)
    assert seen.data_plane_applied is False  # a Traefik Gateway: its API is asked


def _unknown_controller_docs() -> list[dict[str, Any]]:
    """The Gateway objects with the GatewayClass moved to a controller canary has no
    flavor for (its metrics' flavor can no longer be derived)."""
    return [
        {**d, "spec": {**d["spec"], "controllerName": "example.com/other"}}
        if d["kind"] == "GatewayClass"
        else d
        for d in _gateway_docs()
    ]


def test_metrics_without_flavor_on_an_unknown_controller_make_the_rollout_invalid() -> None:
    w = World(metrics=[{"name": "err", "template": "error-rate", "max": 0.1}])
    w.observer.cluster = FakeClusterReader(_unknown_controller_docs())
    w.run(T0)
    status = w.rollouts.get(namespace=NS, name="r")["status"]
    assert status["phase"] == "Failed"
    assert "spec.analysis.metrics[0].flavor" in status["message"]
    assert _weights(w.route()) == [90, 10, 5]  # never written


def test_a_rule_owned_by_another_rollout_is_left_alone() -> None:
    w = World()
    owner = {
        "metadata": {"name": "owner", "creationTimestamp": "2026-01-01T00:00:00Z"},
        "spec": _rollout()["spec"],
        "status": {
            "phase": "Progressing",
            "lastAppliedWeights": [
                {"route": "HTTPRoute/api-route", "rule": 0, "stable": 50, "canary": 50}
            ],
        },
    }
    w.observer.peers = lambda ns: [owner] if ns == NS else []
    w.run(T0)
    status = w.rollouts.get(namespace=NS, name="r")["status"]
    assert status["phase"] == "Failed" and "Rollout owner" in status["message"]
    invalid = next(c for c in status["conditions"] if c["type"] == "Invalid")
    assert invalid["reason"] == "RuleOwned"
    assert _weights(w.route()) == [90, 10, 5]
    owner["status"]["phase"] = "Succeeded"  # the owner is done: this one starts
    w.run(T0 + timedelta(seconds=5))
    assert w.rollouts.get(namespace=NS, name="r")["status"]["phase"] == "Progressing"
    assert _weights(w.route()) == [95, 5, 5]


def _method_route() -> dict[str, Any]:
    """GET on PathPrefix /users for the same host: the spec ranks api-route's longer prefix
    /users/list first; Traefik ranks the method match (+1000) above 5 more characters
    (× 100)."""
    return {
        "apiVersion": "gateway.networking.k8s.io/v1",
        "kind": "HTTPRoute",
        "metadata": {"name": "by-method", "namespace": NS, "generation": 1},
        "spec": {
            "parentRefs": [{"name": "gw", "namespace": NS}],
            "hostnames": ["api.example.com"],
            "rules": [
                {
                    "matches": [
                        {"path": {"type": "PathPrefix", "value": "/users"}, "method": "GET"}
                    ],
                    "backendRefs": [{"name": "v2", "port": 8080}],
                }
            ],
        },
    }


def test_traefik_gateways_are_predicted_with_the_traefik_profile_and_divergence_shown() -> None:
    w = World()

    def deeper(route: dict[str, Any]) -> None:
        route["spec"]["rules"][0]["matches"][0]["path"]["value"] = "/users/list"

    w.routes.edit(kind="HTTPRoute", namespace=NS, name="api-route", fn=deeper)
    services = [
        {"apiVersion": "v1", "kind": "Service", "metadata": {"name": n, "namespace": NS},
         "spec": {"ports": [{"port": 8080}]}}
        for n in ("v2", "v3", "legacy")
    ]  # fmt: skip
    docs = [*_gateway_docs(), *services, w.route(), _method_route()]
    rollout = Rollout.model_validate(w.rollouts.get(namespace=NS, name="r"))
    w.observer.cluster = FakeClusterReader(docs)
    seen = w.observer.observe(rollout, RolloutStatus(), now=T0)
    assert seen.divergence and "method-vs-prefix" in seen.divergence
    assert seen.split_verified is False  # Traefik sends GET /users to by-method
    assert seen.split_culprit and "by-method" in seen.split_culprit
    # the same routes on another implementation: predicted with the spec, verified
    other = [
        {**d, "spec": {**d["spec"], "controllerName": "example.com/other"}}
        if d["kind"] == "GatewayClass"
        else d
        for d in docs
    ]
    w.observer.cluster = FakeClusterReader(other)
    seen = w.observer.observe(rollout, RolloutStatus(), now=T0)
    assert seen.divergence is None and seen.split_verified is True


def test_reconcile_writes_the_data_plane_divergence_condition_and_clears_it() -> None:
    """Given a Rollout on a Traefik Gateway whose addressed rule (PathPrefix /users/list)
    loses GET requests to another route's method match in Traefik, when the operator
    reconciles, then the Rollout's status gets DataPlaneDivergence=True (DataPlaneDiverges)
    naming the request, both answers and the cause; once that route is gone the next pass
    writes False (AsSpec)."""
    w = World()

    def deeper(route: dict[str, Any]) -> None:
        route["spec"]["rules"][0]["matches"][0]["path"]["value"] = "/users/list"

    w.routes.edit(kind="HTTPRoute", namespace=NS, name="api-route", fn=deeper)
    w.accept()
    services = [
        {"apiVersion": "v1", "kind": "Service", "metadata": {"name": n, "namespace": NS},
         "spec": {"ports": [{"port": 8080}]}}
        for n in ("v2", "v3", "legacy")
    ]  # fmt: skip
    w.observer.cluster = FakeClusterReader(
        [*_gateway_docs(), *services, w.route(), _method_route()]
    )
    w.run(T0)

    def cond() -> dict[str, Any]:
        status = w.rollouts.get(namespace=NS, name="r")["status"]
        return next(c for c in status["conditions"] if c["type"] == "DataPlaneDivergence")

    found = cond()
    assert (found["status"], found["reason"]) == ("True", "DataPlaneDiverges")
    assert "Traefik 3.7.15 routes a request of an addressed rule differently" in found["message"]
    assert "method-vs-prefix" in found["message"] and "by-method" in found["message"]
    w.observer.cluster = FakeClusterReader([*_gateway_docs(), *services, w.route()])
    w.run(T0 + timedelta(seconds=1))
    cleared = cond()
    assert (cleared["status"], cleared["reason"]) == ("False", "AsSpec")


# --- a lagging watch copy (the stale-copy guard) -------------------------------------------


def _tracked(w: World) -> TrackingRollouts:
    tracking = TrackingRollouts(w.rollouts)
    w.reconciler.rollouts = tracking
    w.reconciler.written = tracking
    return tracking


def _state(w: World) -> tuple[Any, ...]:
    obj = w.rollouts.get(namespace=NS, name="r")
    return (obj["metadata"]["resourceVersion"], _weights(w.route()), len(w.events.reasons()))


def test_a_copy_older_than_our_last_write_is_never_acted_on() -> None:
    """The watch's copy lags behind our own status write: deciding from it would replay the
    step (or skip one). The pass is refused until a copy at least as new arrives."""
    w = World()
    _tracked(w)
    before_start = copy.deepcopy(w.rollouts.get(namespace=NS, name="r"))  # no status yet
    w.run(T0)  # Pending -> Progressing, step 1 (5 %) written
    assert _weights(w.route()) == [95, 5, 5]
    state = _state(w)
    with pytest.raises(StaleCopy):
        w.reconciler.reconcile(before_start, now=T0 + timedelta(seconds=1))
    assert _state(w) == state  # nothing written: no status, no route, no Event
    w.run(T0 + timedelta(seconds=1))  # the current copy: decided as usual
    assert w.rollouts.get(namespace=NS, name="r")["status"]["stepLabel"] == "1/2"


def test_a_lagging_copy_of_an_earlier_step_never_rewrites_its_weights() -> None:
    w = World()
    _tracked(w)
    w.run(T0)
    w.accept()
    w.traefik.set(namespace=NS, route="api-route", rule=0, weights=[{0: 95, 1: 5, 2: 5}])
    w.snapshot_with_route()
    w.run(T0 + timedelta(seconds=1))
    at_step_1 = copy.deepcopy(w.rollouts.get(namespace=NS, name="r"))
    # the pause (10 s) is over: step 2 (100 %) is decided and written
    w.traefik.set(namespace=NS, route="api-route", rule=0, weights=[{0: 95, 1: 5, 2: 5}])
    t = T0 + timedelta(seconds=12)
    w.run(t)
    status = w.rollouts.get(namespace=NS, name="r")["status"]
    assert status["stepLabel"] == "2/2", status.get("message")
    assert _weights(w.route()) == [0, 100, 5]
    state = _state(w)
    for dt in (1, 2, 3):  # replayed again and again: never acted on
        with pytest.raises(StaleCopy):
            w.reconciler.reconcile(copy.deepcopy(at_step_1), now=t + timedelta(seconds=dt))
    assert _state(w) == state
    assert _weights(w.route()) == [0, 100, 5]  # step 1's 5 % never comes back


@pytest.mark.parametrize(("limit", "written"), [(1, False), (2, True)])
def test_the_reconciler_passes_its_contest_limit_to_decide(limit: int, written: bool) -> None:
    """--contest-limit reaches the machine: with 1 the first revert by a GitOps tool
    contests (nothing written); with 2 it is re-asserted once."""
    from canary.core.rollout.settings import ContestPolicy

    w = World()
    w.reconciler.contest = ContestPolicy(limit=limit, window=600.0)
    w.run(T0)  # step 1 written: 95/5
    when = T0 + timedelta(seconds=2)

    def flux(route: dict[str, Any]) -> None:
        for ref, weight in zip(route["spec"]["rules"][0]["backendRefs"], (90, 10), strict=False):
            ref["weight"] = weight
        route["metadata"]["managedFields"] = [
            {"manager": "kustomize-controller", "operation": "Apply",
             "time": when.strftime("%Y-%m-%dT%H:%M:%SZ"), "fieldsType": "FieldsV1",
             "fieldsV1": {"f:spec": {"f:rules": {}}}},
        ]  # fmt: skip

    w.routes.edit(kind="HTTPRoute", namespace=NS, name="api-route", fn=flux)
    plan = w.run(when + timedelta(seconds=1))
    assert plan is not None and plan.write_routes == written
    status = w.rollouts.get(namespace=NS, name="r")["status"]
    contested = next((c for c in status["conditions"] if c["type"] == "Contested"), {})
    assert (contested.get("status") == "True") == (not written), contested
    assert _weights(w.route()) == ([95, 5, 5] if written else [90, 10, 5])


def test_a_rollout_failed_by_an_invalid_spec_still_reports_drift() -> None:
    """Failed is hands off; the e2e found that a Rollout failed because its metrics' flavor
    could no longer be derived (its Gateway moved to an unknown controller) reported
    'NoDrift' after a manual edit: the invalid pass read no live weights."""
    w = World(metrics=[{"name": "err", "template": "error-rate", "max": 0.1}])
    w.run(T0)
    w.run(T0 + timedelta(seconds=1))  # step 1 seen live: recorded as applied
    assert _weights(w.route()) == [95, 5, 5]
    assert w.rollouts.get(namespace=NS, name="r")["status"]["lastAppliedWeights"]
    w.observer.cluster = FakeClusterReader(_unknown_controller_docs())
    w.run(T0 + timedelta(seconds=5))
    assert w.rollouts.get(namespace=NS, name="r")["status"]["phase"] == "Failed"

    def edit(route: dict[str, Any]) -> None:  # a person moves the split
        refs = route["spec"]["rules"][0]["backendRefs"]
        refs[0]["weight"], refs[1]["weight"] = 80, 20

    w.routes.edit(kind="HTTPRoute", namespace=NS, name="api-route", fn=edit)
    w.run(T0 + timedelta(seconds=10))
    status = w.rollouts.get(namespace=NS, name="r")["status"]
    assert status["phase"] == "Failed"
    drifted = next(c for c in status["conditions"] if c["type"] == "Drifted")
    assert drifted["status"] == "True" and "80/20" in drifted["message"]
    invalid = next(c for c in status["conditions"] if c["type"] == "Invalid")
    assert invalid["status"] == "True" and "flavor" in invalid["message"]
    assert _weights(w.route()) == [80, 20, 5]  # never reverted
    assert "Drift" in w.events.reasons()
