"""Operator e2e, scenarios 6–9: crashes, two writers, foreign edits, unverifiable splits.

All on the real local control plane (kube-apiserver, Traefik, Prometheus) with ≥ 50 rps
of real traffic through Traefik while the operator walks the steps.

6. SIGKILL the operator mid-step and right at a step boundary, restart it: no step is
   skipped or repeated, the canary weight never moves backwards.
7. Two operator processes: only the Lease holder writes; SIGKILL it and the standby
   takes over within the lease; no step is taken twice.
8. Foreign edits to the route (a filter, a third backend's weight, an annotation)
   survive every later patch; a foreign change to *our* weights is re-asserted with a
   Drift Event (each edit lands while a manual gate holds the step).
9. The split cannot be verified → the rollout holds with SplitVerified=False and a
   reason naming the culprit, runs no analysis and does not promote: (a) a shadowing
   HTTPRoute, (b) a cross-namespace canary without a ReferenceGrant, (c) a canary whose
   EndpointSlice is not ready (Traefik answers 503 while ResolvedRefs says True).
"""

from __future__ import annotations

import itertools
import json
import re
import signal
import time
from collections.abc import Iterator
from datetime import datetime
from typing import Any

import pytest
from kubernetes import client, watch
from operator_support import (
    GATEWAY_GROUP,
    RouteHistory,
    Traffic,
    lease_holder,
    rollout_events,
    rollout_manifest,
    wait_until,
)

from stack.loadgen import LoadReport, load

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(150)]

RATE = 60.0  # requests per second through Traefik while a rollout runs

STEPS = [
    {"weight": 5, "pause": "6s"},
    {"weight": 50, "pause": "6s"},
    {"weight": 100, "pause": "3s"},
]
STEP_WEIGHTS = [s["weight"] for s in STEPS]


# --- helpers ----------------------------------------------------------------------------


def _rollout(kube: Any, namespace: str, name: str = "rollout") -> dict[str, Any]:
    obj = client.CustomObjectsApi(kube).get_namespaced_custom_object(
        "canary.dev", "v1alpha1", namespace, "rollouts", name
    )
    return dict(obj)


def _status(kube: Any, namespace: str) -> dict[str, Any]:
    return dict(_rollout(kube, namespace).get("status") or {})


def _cond(status: dict[str, Any], ctype: str) -> dict[str, Any]:
    for c in status.get("conditions", []):
        if c["type"] == ctype:
            return dict(c)
    return {}


def _at_step(kube: Any, namespace: str, step: int, *, verified: bool = True) -> Any:
    def check() -> dict[str, Any] | None:
        st = _status(kube, namespace)
        if st.get("phase") != "Progressing" or st.get("stepLabel") != f"{step}/{len(STEPS)}":
            return None
        if verified and _cond(st, "SplitVerified").get("status") != "True":
            return None
        return st

    return check


def _succeeded(kube: Any, namespace: str) -> Any:
    def check() -> dict[str, Any] | None:
        st = _status(kube, namespace)
        return st if st.get("phase") == "Succeeded" else None

    return check


def _route(kube: Any, namespace: str, name: str = "api-route") -> dict[str, Any]:
    obj = client.CustomObjectsApi(kube).get_namespaced_custom_object(
        GATEWAY_GROUP, "v1", namespace, "httproutes", name
    )
    return dict(obj)


def _assert_walked_in_order(canary_weights: list[int], initial: int) -> None:
    """The canary weight's history: the user's initial weight, then each step once."""
    assert canary_weights == [initial, *STEP_WEIGHTS], (
        f"route canary weights over time {canary_weights}; want {[initial, *STEP_WEIGHTS]} "
        "(no step skipped, repeated or undone)"
    )
    assert all(a <= b for a, b in itertools.pairwise(canary_weights[1:]))


def _step_events(kube: Any, namespace: str) -> list[str]:
    """The steps entered, by Event (oldest first, repeated `count` times): a StepAdvanced
    Event's "step N/M", or the step a `promote` command moved to ("now … at step N/M")."""
    out: list[str] = []
    for e in rollout_events(kube, namespace=namespace, name="rollout"):
        found = None
        if e["reason"] == "StepAdvanced":
            found = re.match(r"step (\d+/\d+): canary", e["message"])
        elif e["reason"] == "Promoted":
            found = re.search(r"applied: .* at step (\d+/\d+)", e["message"])
        if found:
            out += [found.group(1)] * int(e["count"])
    return out


def _promote(kubectl: Any, namespace: str) -> None:
    """What `canary promote` does: a command annotation with a fresh id."""
    kubectl(
        "-n", namespace, "annotate", "--overwrite", "rollouts.canary.dev", "rollout",
        "canary.dev/command=promote", f"canary.dev/command-id=p-{time.monotonic_ns()}",
    )  # fmt: skip


def _more_polls(history: RouteHistory, count: int = 2) -> None:
    """Wait until the route history polled `count` more times (it saw the end state)."""
    start = history.polls
    wait_until("more route polls", lambda: history.polls >= start + count, timeout=10)


def _kill_when_canary_weight(
    kube: Any,
    namespace: str,
    weight: int,
    kill: Any,
    *,
    timeout: float = 60.0,
    on_watching: Any = None,
) -> float:
    """Watch the route and call `kill()` the moment its canary weight becomes `weight`.
    `on_watching()` runs once the watch delivers its first event (it is established)."""
    custom = client.CustomObjectsApi(kube)
    start = time.monotonic()
    w = watch.Watch()
    try:
        for ev in w.stream(
            custom.list_namespaced_custom_object,
            GATEWAY_GROUP,
            "v1",
            namespace,
            "httproutes",
            field_selector="metadata.name=api-route",
            timeout_seconds=int(timeout),
        ):
            if on_watching is not None:
                on_watching()
                on_watching = None
            refs = ev["object"]["spec"]["rules"][0]["backendRefs"]
            if int(refs[1].get("weight", 1)) == weight:
                kill()
                return time.monotonic() - start
    finally:
        w.stop()
    raise AssertionError(f"canary weight {weight} never appeared within {timeout:.0f}s")


def _wire_since(traffic: Traffic, start: float, until: float | None = None) -> LoadReport:
    """Every whole traffic chunk that started at or after `start` (and ended by `until`),
    merged."""
    merged = LoadReport(planned=0)
    for end, r in list(traffic.reports):
        if end - r.elapsed >= start and (until is None or end <= until):
            merged.planned += r.planned
            merged.completed += r.completed
            merged.errors += r.errors
            merged.elapsed += r.elapsed
            merged.by_backend.update(r.by_backend)
            merged.by_code.update(r.by_code)
    return merged


@pytest.fixture
def traffic_for() -> Iterator[Any]:
    started: list[Traffic] = []

    def start(app: Any) -> Traffic:
        t = Traffic(url=app.url, headers=app.headers, rate=RATE).start()
        started.append(t)
        return t

    yield start
    for t in started:
        t.stop()


# --- 6. SIGKILL mid-step and at a step boundary -------------------------------------------


def test_sigkill_mid_step_and_at_a_boundary_skips_and_repeats_no_step(
    deploy: Any,
    operator: Any,
    kubectl: Any,
    kube: Any,
    namespace: str,
    traffic_for: Any,
    figure: Any,
) -> None:
    # Given a rollout walking 5 → 50 → 100 under traffic, the route's weights recorded
    app = deploy(weights=(90, 10))
    traffic = traffic_for(app)
    # (step 2 is a manual gate: the restart lands inside it however long it takes)
    steps = [STEPS[0], {"weight": 50}, STEPS[2]]
    with RouteHistory(kube, namespace=namespace, name="api-route") as history:
        first = operator(identity="op-a")
        kubectl("apply", "-f", "-", input=rollout_manifest(namespace=namespace, steps=steps))
        before = wait_until("step 2 verified", _at_step(kube, namespace, 2), timeout=60)

        # When the operator is SIGKILLed in the middle of step 2
        first.kill(signal.SIGKILL)
        killed = time.monotonic()
        # and the container restarts (same pod name, so it renews its own Lease at once)
        second = operator(identity="op-a")
        wait_until("a reconcile by the restarted operator", lambda: _reconciles(second, namespace))
        after = wait_until("step 2 resumed", _at_step(kube, namespace, 2), timeout=5)
        # the step's clock survived the crash: the pause is not restarted
        assert after["verifiedAt"] == before["verifiedAt"]
        assert after["stepStartedAt"] == before["stepStartedAt"]

        # When it is SIGKILLed again the moment step 3's weight shows on the route (a
        # watch sees the write and kills at once: between the operator's writes)
        raced = _kill_when_canary_weight(
            kube, namespace, 100, second.kill, on_watching=lambda: _promote(kubectl, namespace)
        )
        at_kill = _status(kube, namespace)
        # the step was recorded before its weights went live
        assert at_kill["stepLabel"] == "3/3", at_kill
        third = operator(identity="op-a")
        done = wait_until("Succeeded", _succeeded(kube, namespace), timeout=60)
        restarted = time.monotonic()
        _more_polls(history)  # the route history saw the end state

    # Then every step weight appeared once, in order, and never went back
    canary = history.weights(1)
    figure(
        f"route canary weights {canary}; boundary kill {raced:.1f}s into the watch, status "
        f"then at step {at_kill.get('stepLabel')}; {len(history.changes)} changes in "
        f"{history.polls} polls; {restarted - killed:.0f}s from first kill to Succeeded"
    )
    assert not history.errors, history.errors[:3]
    _assert_walked_in_order(canary, initial=10)
    # each weight pair on the route was the user's or one a step writes (e.g. no step's
    # canary weight next to a stale stable weight)
    pairs = {w for _, _, w in history.changes}
    assert pairs <= {(90, 10), *((100 - w, w) for w in STEP_WEIGHTS)}, history.changes
    # each step was advanced exactly once across three operator processes
    assert _step_events(kube, namespace) == ["1/3", "2/3", "3/3"]
    assert done["canaryWeight"] == 100 and _cond(done, "Completed")["status"] == "True"
    # real traffic flowed at >= 50 rps throughout, and ends all on the canary
    report = traffic.next_report(after=restarted)
    assert report.rps >= 50 and report.share(app.canary) == 1.0, report.to_dict()
    assert third.is_leader()


# --- 7. two operators, one Lease -----------------------------------------------------------


def _reconciles(op: Any, namespace: str) -> float:
    """canary_reconciles_total for this namespace's rollout on one operator's /metrics."""
    prefix = f'canary_reconciles_total{{namespace="{namespace}",rollout="rollout"}} '
    for line in op.metrics().splitlines():
        if line.startswith(prefix):
            return float(line[len(prefix) :])
    return 0.0


def _weight_lines(op: Any) -> list[int]:
    """The canary weights this process wrote to the route (its "canary weight N" lines)."""
    return [
        int(line.rsplit(" ", 1)[1])
        for line in op.log().splitlines()
        if "HTTPRoute/api-route canary weight" in line
    ]


def test_two_operators_only_the_lease_holder_writes_and_the_standby_takes_over(
    deploy: Any,
    operator: Any,
    kubectl: Any,
    kube: Any,
    namespace: str,
    traffic_for: Any,
    figure: Any,
) -> None:
    # Given two operator processes for the same namespace, op-a holding the Lease
    app = deploy(weights=(90, 10))
    traffic_for(app)
    a = operator(identity="op-a")
    wait_until("op-a holds the Lease", lambda: lease_holder(kube, namespace=namespace) == "op-a")
    b = operator(identity="op-b")
    wait_until(
        "both report leadership", lambda: a.is_leader() and "canary_leader 0.0" in b.metrics()
    )
    gated = [STEPS[0], {"weight": 50}, STEPS[2]]  # step 2: a gate, the kill lands inside it
    with RouteHistory(kube, namespace=namespace, name="api-route") as history:
        kubectl("apply", "-f", "-", input=rollout_manifest(namespace=namespace, steps=gated))
        wait_until("step 2 verified", _at_step(kube, namespace, 2), timeout=60)

        # Then only the Lease holder reconciled and wrote so far
        assert _reconciles(a, namespace) > 0
        assert _reconciles(b, namespace) == 0, "the standby reconciled"
        assert _weight_lines(a) == [5, 50] and _weight_lines(b) == []
        assert not b.is_leader() and lease_holder(kube, namespace=namespace) == "op-a"

        # When the holder is SIGKILLed mid-step (no release: the Lease must expire)
        a.kill(signal.SIGKILL)
        killed = time.monotonic()
        standby_reconciles = _reconciles(b, namespace)
        wait_until("op-b takes the Lease", b.is_leader, timeout=20, interval=0.2)
        took = time.monotonic() - killed

        # Then the standby finishes the rollout without repeating a step
        _promote(kubectl, namespace)
        done = wait_until("Succeeded", _succeeded(kube, namespace), timeout=60)
        _more_polls(history)

    figure(
        f"standby took over {took:.1f}s after SIGKILL (lease 6s); route canary weights "
        f"{history.weights(1)}"
    )
    assert standby_reconciles == 0
    assert lease_holder(kube, namespace=namespace) == "op-b"
    assert _weight_lines(b) == [100], b.log()[-3000:]
    assert _weight_lines(a) == [5, 50]
    _assert_walked_in_order(history.weights(1), initial=10)
    assert _step_events(kube, namespace) == ["1/3", "2/3", "3/3"]
    assert done["canaryWeight"] == 100
    assert "acquired lease" in b.log()


# --- 8. foreign edits survive; foreign weights on our backends are re-asserted ------------


FILTER = {
    "type": "RequestHeaderModifier",
    "requestHeaderModifier": {"add": [{"name": "X-Foreign", "value": "kept"}]},
}
ANNOTATION = ("team.example.com/owner", "app-team-a")


def _foreign_intact(route: dict[str, Any], third: str) -> None:
    rule = route["spec"]["rules"][0]
    assert rule.get("filters") == [FILTER], rule
    refs = rule["backendRefs"]
    assert [r["name"] for r in refs][2] == third and refs[2]["weight"] == 5, refs
    assert route["metadata"].get("annotations", {}).get(ANNOTATION[0]) == ANNOTATION[1]
    assert rule["matches"][0]["headers"] == [
        {"name": "X-Api-Version", "type": "Exact", "value": "v2"}
    ] or rule["matches"][0]["headers"] == [{"name": "X-Api-Version", "value": "v2"}]


def test_foreign_edits_survive_every_patch_and_drift_is_reasserted(
    deploy: Any,
    operator: Any,
    kubectl: Any,
    kube: Any,
    cluster_env: Any,
    namespace: str,
    traffic_for: Any,
    figure: Any,
) -> None:
    from stack.scenario import Backends, create_backend_service

    # Given api-route with a third, foreign backend (weight 0) in the addressed rule
    app = deploy(weights=(90, 10))
    third = "user-service-legacy"
    legacy = Backends.start(
        names=[third],
        log_dir=f"{cluster_env.local_dir}/logs",
        pid_dir=f"{cluster_env.local_dir}/pids",
        tag=f"{namespace}-legacy",
    )
    try:
        create_backend_service(
            kube,
            namespace=namespace,
            name=third,
            backend_port=legacy.ports[third],
            host=cluster_env.backend_host,
        )
        ref = json.dumps({"name": third, "port": 8080, "weight": 0})
        add_ref = f'[{{"op": "add", "path": "/spec/rules/0/backendRefs/-", "value": {ref}}}]'
        kubectl("-n", namespace, "patch", "httproute", "api-route", "--type=json", "-p", add_ref)
        traffic_for(app)  # >= 50 rps through Traefik all along
        operator()
        # steps 1 and 2 are manual gates: the foreign edits land while step 1 holds, the
        # edit of our weights while step 2 holds, however long each takes
        steps = [{"weight": 5}, {"weight": 50}, {"weight": 100, "pause": "3s"}]
        kubectl("apply", "-f", "-", input=rollout_manifest(namespace=namespace, steps=steps))
        wait_until("step 1 verified", _at_step(kube, namespace, 1), timeout=60)

        # When someone else adds a filter, raises the third backend's weight and annotates
        ops = [
            {"op": "add", "path": "/spec/rules/0/filters", "value": [FILTER]},
            {"op": "replace", "path": "/spec/rules/0/backendRefs/2/weight", "value": 5},
        ]
        kubectl(
            "-n", namespace, "patch", "httproute", "api-route", "--type=json", "-p", json.dumps(ops)
        )
        kubectl("-n", namespace, "annotate", "httproute", "api-route", "=".join(ANNOTATION))
        route = _route(kube, namespace)
        _foreign_intact(route, third)  # live before step 2's patch
        assert [r["weight"] for r in route["spec"]["rules"][0]["backendRefs"]] == [95, 5, 5]
        assert _status(kube, namespace)["stepLabel"] == "1/3"
        _promote(kubectl, namespace)

        # Then step 2's patch keeps them, and the evaluator counts the foreign weight
        st = wait_until("step 2 verified", _at_step(kube, namespace, 2), timeout=60)
        route = _route(kube, namespace)
        _foreign_intact(route, third)
        assert [r["weight"] for r in route["spec"]["rules"][0]["backendRefs"]] == [50, 50, 5]
        assert st["effectiveWeight"] == pytest.approx(100 * 50 / 105, abs=0.01)

        # When someone else changes *our* weights mid-step
        patched = time.monotonic()
        ours = [
            {"op": "replace", "path": "/spec/rules/0/backendRefs/0/weight", "value": 80},
            {"op": "replace", "path": "/spec/rules/0/backendRefs/1/weight", "value": 20},
        ]
        kubectl(
            "-n",
            namespace,
            "patch",
            "httproute",
            "api-route",
            "--type=json",
            "-p",
            json.dumps(ours),
        )

        # Then they are re-asserted with a Warning Drift Event, foreign edits untouched
        def reasserted() -> bool:
            refs = _route(kube, namespace)["spec"]["rules"][0]["backendRefs"]
            return [r["weight"] for r in refs] == [50, 50, 5]

        wait_until("50/50 re-asserted", reasserted, timeout=15, interval=0.2)
        took = time.monotonic() - patched
        drift = [
            e
            for e in rollout_events(kube, namespace=namespace, name="rollout")
            if e["reason"] == "Drift"
        ]
        assert drift and drift[0]["type"] == "Warning", drift
        assert "80/20" in drift[0]["message"], drift[0]["message"]
        _foreign_intact(_route(kube, namespace), third)
        assert _status(kube, namespace)["stepLabel"] == "2/3"  # re-asserted by step 2

        # and step 3's patch keeps them too
        _promote(kubectl, namespace)
        done = wait_until("Succeeded", _succeeded(kube, namespace), timeout=60)
        route = _route(kube, namespace)
        _foreign_intact(route, third)
        assert [r["weight"] for r in route["spec"]["rules"][0]["backendRefs"]] == [0, 100, 5]
        assert done["effectiveWeight"] == pytest.approx(100 * 100 / 105, abs=0.01)

        # and the data plane still applies the foreign filter and the third backend's share
        report = load(url=app.url, headers=app.headers, rate=200, count=600, concurrency=8)
        legacy_share = report.share(third)
        figure(
            f"drift re-asserted {took:.1f}s after the foreign patch; at 100 the wire shows "
            f"canary {report.share(app.canary):.3f}, {third} {legacy_share:.3f} (want "
            f"{100 / 105:.3f} / {5 / 105:.3f}) over {report.completed} requests"
        )
        assert report.completed == 600, report.to_dict()
        assert abs(report.share(app.canary) - 100 / 105) <= 0.03, report.to_dict()
        assert abs(legacy_share - 5 / 105) <= 0.03, report.to_dict()
        import urllib.request

        req = urllib.request.Request(app.url, headers=app.headers)
        with urllib.request.urlopen(req, timeout=5) as resp:
            echoed = json.load(resp)
        assert echoed["headers"].get("x-foreign") == "kept", echoed
    finally:
        legacy.stop()


# --- 9. split not verified: hold, name the culprit, no analysis, no promotion -------------


def _build_split(
    kube: Any,
    env: Any,
    namespace: str,
    *,
    canary_namespace: str | None = None,
    canary_ready: bool = True,
) -> Any:
    """api-route (90/10 on rule 0, fallback rule 1) with the canary where the case needs it."""
    from stack.scenario import (
        App,
        Backends,
        create_backend_service,
        create_httproute,
        ensure_namespace,
        register_scrape_targets,
        split_rule,
    )

    stable, canary = "user-service-v2", "user-service-v3"
    if canary_namespace:
        ensure_namespace(kube, name=canary_namespace)
    backends = Backends.start(
        names=[stable, canary],
        log_dir=f"{env.local_dir}/logs",
        pid_dir=f"{env.local_dir}/pids",
        tag=namespace,
    )
    create_backend_service(
        kube,
        namespace=namespace,
        name=stable,
        backend_port=backends.ports[stable],
        host=env.backend_host,
    )
    create_backend_service(
        kube,
        namespace=canary_namespace or namespace,
        name=canary,
        backend_port=backends.ports[canary],
        host=env.backend_host,
        ready=canary_ready,
    )
    headers = {"X-Api-Version": "v2"}
    rule = split_rule(
        stable=stable, canary=canary, weights=(90, 10), path="/users", headers=headers
    )
    if canary_namespace:
        rule["backendRefs"][1]["namespace"] = canary_namespace
    fallback = {
        "matches": [{"path": {"type": "PathPrefix", "value": "/users"}}],
        "backendRefs": [{"name": stable, "port": 8080}],
    }
    hostname = f"{namespace}.example.com"
    create_httproute(
        kube, namespace=namespace, name="api-route", rules=[rule, fallback], hostnames=[hostname]
    )
    targets = register_scrape_targets(env.targets_dir, namespace=namespace, backends=backends.ports)

    def status_written() -> bool:
        route = _route(kube, namespace)
        parents = (route.get("status") or {}).get("parents") or []
        gen = route["metadata"]["generation"]
        return bool(parents) and all(
            c.get("observedGeneration") == gen for p in parents for c in p["conditions"]
        )

    wait_until("api-route status", status_written, timeout=30, interval=0.2)
    return App(
        namespace=namespace,
        route="api-route",
        stable=stable,
        canary=canary,
        hostname=hostname,
        url=f"{env.gateway_url}/users",
        headers={"Host": hostname, **headers},
        backends=backends,
        targets_file=targets,
    )


def _route_condition(kube: Any, namespace: str, ctype: str) -> dict[str, Any]:
    parents = (_route(kube, namespace).get("status") or {}).get("parents") or []
    for c in parents[0]["conditions"] if parents else []:
        if c["type"] == ctype:
            return dict(c)
    return {}


def _when(stamp: str) -> float:
    return datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp()


def _holds(
    kube: Any,
    op: Any,
    traffic: Traffic,
    namespace: str,
    *,
    phase: str,
    label: str,
    canary_weight: int,
    culprit: list[str],
) -> tuple[dict[str, Any], LoadReport]:
    """SplitVerified=False naming the culprit, no analysis, no step change, the canary
    weight unchanged — checked on every poll until (1) the step (Pending: the phase) is
    HOLD s old, when an unheld step would have moved on, (2) the operator reconciled the
    Rollout 3 more times after that and (3) at least WIRE requests were answered since the
    hold was seen. Counters and status times, never a fixed window: a slow machine only
    makes it last longer. Returns the last status and the traffic of the hold."""
    held = time.monotonic()

    def still() -> dict[str, Any]:
        st = _status(kube, namespace)
        split = _cond(st, "SplitVerified")
        assert st.get("phase") == phase and st.get("stepLabel") == label, st
        assert split.get("status") == "False", split
        assert split.get("reason") == "SplitNotVerified", split
        for word in culprit:
            assert word in split.get("message", ""), (word, split)
        assert not st.get("analysis") and not st.get("lastAnalysisAt"), st.get("analysis")
        refs = _route(kube, namespace)["spec"]["rules"][0]["backendRefs"]
        assert refs[1]["weight"] == canary_weight, refs
        return st

    first = still()
    since = _when(first.get("stepStartedAt") or first["phaseStartedAt"])
    wait_until(
        f"the hold {HOLD:.0f} s old",
        lambda: still() and time.time() >= since + HOLD,
        timeout=HOLD + 60,
    )
    start = _reconciles(op, namespace)
    wait_until("3 more reconciles", lambda: still() and _reconciles(op, namespace) >= start + 3)
    wait_until(
        f"{WIRE} requests during the hold",
        lambda: still() and _wire_since(traffic, held, time.monotonic()).completed >= WIRE,
    )
    report = _wire_since(traffic, held, time.monotonic())
    return still(), report


def _no_promotion_events(kube: Any, namespace: str, *, steps_started: int) -> None:
    reasons = [e["reason"] for e in rollout_events(kube, namespace=namespace, name="rollout")]
    assert reasons.count("StepAdvanced") == steps_started, reasons
    assert "AnalysisPassed" not in reasons and "Succeeded" not in reasons, reasons


HOLD = 12.0  # s: longer than step 1's pause (6 s) plus two analysis intervals (3 s)
WIRE = 200  # requests answered during a hold (whole traffic chunks)


def test_shadowing_route_holds_the_step_naming_the_shadow(
    kube: Any,
    cluster_env: Any,
    operator: Any,
    kubectl: Any,
    namespace: str,
    traffic_for: Any,
    figure: Any,
) -> None:
    from stack.scenario import create_httproute

    # Given api-route and another route whose Exact /users match outranks rule 0's prefix
    app = _build_split(kube, cluster_env, namespace)
    try:
        shadow_rule = {
            "matches": [
                {
                    "path": {"type": "Exact", "value": "/users"},
                    "headers": [{"name": "X-Api-Version", "value": "v2"}],
                }
            ],
            "backendRefs": [{"name": app.stable, "port": 8080}],
        }
        create_httproute(
            kube,
            namespace=namespace,
            name="shadow-route",
            rules=[shadow_rule],
            hostnames=[app.hostname],
        )
        traffic = traffic_for(app)
        op = operator()
        kubectl("apply", "-f", "-", input=rollout_manifest(namespace=namespace, steps=STEPS))

        # Then step 1's weights are written but the split is not verified: a hold
        culprit = [f"HTTPRoute {namespace}/shadow-route rule 0", "shadows rule 0"]
        wait_until("SplitVerified=False", _unverified(kube, namespace, culprit), timeout=45)
        st, report = _holds(
            kube, op, traffic, namespace,
            phase="Progressing", label="1/3", canary_weight=5, culprit=culprit,
        )  # fmt: skip
        _no_promotion_events(kube, namespace, steps_started=1)
        # and on the wire the shadow really takes the traffic: no canary answers
        assert report.share(app.canary) == 0.0, report.to_dict()
        figure(f"held: {_cond(st, 'SplitVerified')['message'].replace(namespace, '<ns>')}")

        # When the shadow goes, the same step verifies
        client.CustomObjectsApi(kube).delete_namespaced_custom_object(
            GATEWAY_GROUP, "v1", namespace, "httproutes", "shadow-route"
        )
        fixed = time.monotonic()
        wait_until("step 1 verified", _at_step(kube, namespace, 1), timeout=15, interval=0.2)
        figure(f"culprit fixed → step 1 verified in {time.monotonic() - fixed:.1f}s")
    finally:
        app.close()


def _unverified(kube: Any, namespace: str, culprit: list[str]) -> Any:
    def check() -> dict[str, Any] | None:
        split = _cond(_status(kube, namespace), "SplitVerified")
        ok = split.get("status") == "False" and all(w in split.get("message", "") for w in culprit)
        return split if ok else None

    return check


def test_cross_namespace_canary_without_reference_grant_holds_naming_the_grant(
    kube: Any,
    cluster_env: Any,
    operator: Any,
    kubectl: Any,
    namespace: str,
    traffic_for: Any,
    figure: Any,
) -> None:
    # Given the canary Service in another namespace, referenced without a ReferenceGrant
    other = f"{namespace}-canary"[:63]
    app = _build_split(kube, cluster_env, namespace, canary_namespace=other)
    try:
        traffic = traffic_for(app)
        # a backend in another namespace is read only when the operator reads that namespace
        op = operator(extra_args=("--read-namespace", other, "--read-namespace", "infra"))
        spec = {"canary": {"name": app.canary, "port": 8080, "namespace": other}}
        kubectl(
            "apply",
            "-f",
            "-",
            input=rollout_manifest(namespace=namespace, steps=STEPS, extra_spec=spec),
        )

        # Then the rollout holds before step 1, the evaluator naming the missing grant
        culprit = ["ReferenceGrant", f"namespace {other}", f"Service {app.canary}"]
        wait_until("SplitVerified=False", _unverified(kube, namespace, culprit), timeout=45)
        st, report = _holds(
            kube, op, traffic, namespace,
            phase="Pending", label="-", canary_weight=10, culprit=culprit,
        )  # fmt: skip
        _no_promotion_events(kube, namespace, steps_started=0)
        # Traefik agrees: ResolvedRefs=False (RefNotPermitted), the canary's share gets 500
        assert _route_condition(kube, namespace, "ResolvedRefs")["reason"] == "RefNotPermitted"
        assert report.share(app.canary) == 0.0, report.to_dict()
        assert abs(report.by_code[500] / report.completed - 0.10) <= 0.03, report.to_dict()
        figure(f"held: {_cond(st, 'SplitVerified')['message'].replace(namespace, '<ns>')}")

        # When the grant is created, step 1 starts and verifies
        grant = {
            "apiVersion": f"{GATEWAY_GROUP}/v1beta1",
            "kind": "ReferenceGrant",
            "metadata": {"name": "allow-api-route", "namespace": other},
            "spec": {
                "from": [{"group": GATEWAY_GROUP, "kind": "HTTPRoute", "namespace": namespace}],
                "to": [{"group": "", "kind": "Service", "name": app.canary}],
            },
        }
        kubectl("apply", "-f", "-", input=json.dumps(grant))
        fixed = time.monotonic()
        wait_until("step 1 verified", _at_step(kube, namespace, 1), timeout=15, interval=0.2)
        figure(f"culprit fixed → step 1 verified in {time.monotonic() - fixed:.1f}s")
    finally:
        app.close()


def test_not_ready_canary_endpoints_hold_while_resolved_refs_says_true(
    kube: Any,
    cluster_env: Any,
    operator: Any,
    kubectl: Any,
    namespace: str,
    traffic_for: Any,
    figure: Any,
) -> None:
    # Given the canary's only endpoint is not ready
    app = _build_split(kube, cluster_env, namespace, canary_ready=False)
    try:
        traffic = traffic_for(app)
        op = operator()
        kubectl("apply", "-f", "-", input=rollout_manifest(namespace=namespace, steps=STEPS))

        # Then step 1 is written and held: the evaluator sees no ready canary endpoint
        culprit = [f"{namespace}/{app.canary}", "no ready endpoint"]
        wait_until("SplitVerified=False", _unverified(kube, namespace, culprit), timeout=45)
        st, report = _holds(
            kube, op, traffic, namespace,
            phase="Progressing", label="1/3", canary_weight=5, culprit=culprit,
        )  # fmt: skip
        _no_promotion_events(kube, namespace, steps_started=1)
        # while the route status says all is well and Traefik answers 503 for the share
        resolved = _route_condition(kube, namespace, "ResolvedRefs")
        assert resolved["status"] == "True", resolved
        assert report.share(app.canary) == 0.0, report.to_dict()
        assert abs(report.by_code[503] / report.completed - 0.05) <= 0.03, report.to_dict()
        figure(f"held: {_cond(st, 'SplitVerified')['message'].replace(namespace, '<ns>')}")

        # When the endpoint becomes ready, the same step verifies
        body = {
            "endpoints": [{"addresses": [cluster_env.backend_host], "conditions": {"ready": True}}]
        }
        client.DiscoveryV1Api(kube).patch_namespaced_endpoint_slice(
            f"{app.canary}-local", namespace, body
        )
        fixed = time.monotonic()
        wait_until("step 1 verified", _at_step(kube, namespace, 1), timeout=15, interval=0.2)
        figure(f"culprit fixed → step 1 verified in {time.monotonic() - fixed:.1f}s")
    finally:
        app.close()
