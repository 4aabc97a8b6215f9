"""Operator e2e, issue 5: failures, holds, gates, invalid specs, deletion and /metrics.

Every scenario runs on the real local control plane (kube-apiserver, Traefik as the
Gateway, Prometheus scraping Traefik every 1 s) with its own backends, its own operator
process (1 s resync) and ≥ 50 rps of generated traffic where traffic matters:

 2. a canary failing 20 % of requests at 5 % is rolled back by the error-rate check;
 3. a canary 300 ms slower is rolled back by the latency check;
 4. no traffic holds a verified step past its pause (inconclusive, no failure, no
    promotion), and the rollout continues once traffic flows;
 5. a step without pause is a manual gate (AwaitingPromotion=True) until a `promote`
    command annotation, acknowledged in status.lastCommand and an Event;
10. an invalid Rollout (canary not in the route; ambiguous rules) is Failed with
    Invalid=True naming the field, and the route is untouched;
11. deleting a Rollout mid-flight restores stable 100 / canary 0;
12. the operator's /metrics reports the rollout's phase, step and weights.

No test races a timer: whatever is observed "during a step" is observed at a manual gate
(a step without pause) or after a counter or condition was awaited.
"""

from __future__ import annotations

import json
import secrets
import time
from datetime import UTC, datetime
from typing import Any

import pytest
from kubernetes import client
from operator_support import Traffic, after_reconciles, rollout_manifest, wait_until
from prometheus_client.parser import text_string_to_metric_families

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(180)]

RATE = 60  # requests per second of generated traffic (≥ 50)
INTERVAL = "3s"  # analysis interval of every Rollout here
SCRAPE = "1s"  # Prometheus scrape interval of the local stack
GW = "gateway.networking.k8s.io"


# -- reading the cluster ---------------------------------------------------------------------


def _rollout(kube: client.ApiClient, namespace: str, name: str = "rollout") -> dict[str, Any]:
    obj: Any = client.CustomObjectsApi(kube).get_namespaced_custom_object(
        "canary.dev", "v1alpha1", namespace, "rollouts", name
    )
    return dict(obj)


def _status(obj: dict[str, Any]) -> dict[str, Any]:
    return dict(obj.get("status") or {})


def _cond(obj: dict[str, Any], ctype: str) -> dict[str, Any]:
    for c in _status(obj).get("conditions", []):
        if c["type"] == ctype:
            return dict(c)
    return {}


def _route(kube: client.ApiClient, namespace: str, name: str = "api-route") -> dict[str, Any]:
    obj: Any = client.CustomObjectsApi(kube).get_namespaced_custom_object(
        GW, "v1", namespace, "httproutes", name
    )
    return dict(obj)


def _weights(route: dict[str, Any], rule: int = 0) -> list[int | None]:
    return [b.get("weight") for b in route["spec"]["rules"][rule]["backendRefs"]]


def _events(kube: client.ApiClient, namespace: str, name: str = "rollout") -> list[Any]:
    found = client.CoreV1Api(kube).list_namespaced_event(
        namespace, field_selector=f"involvedObject.name={name}"
    )
    return list(found.items)


def _measurements(obj: dict[str, Any], metric: str) -> list[dict[str, Any]]:
    for m in _status(obj).get("analysis", []):
        if m["name"] == metric:
            return list(m.get("measurements", []))
    return []


def _phase_is(kube: client.ApiClient, namespace: str, *phases: str) -> Any:
    def check() -> dict[str, Any] | None:
        obj = _rollout(kube, namespace)
        return obj if _status(obj).get("phase") in phases else None

    return check


def _at_step_verified(kube: client.ApiClient, namespace: str, label: str) -> Any:
    def check() -> dict[str, Any] | None:
        obj = _rollout(kube, namespace)
        st = _status(obj)
        ok = (
            st.get("phase") == "Progressing"
            and st.get("stepLabel") == label
            and _cond(obj, "SplitVerified").get("status") == "True"
        )
        return obj if ok else None

    return check


def _command(kubectl: Any, namespace: str, verb: str) -> str:
    """Annotate the Rollout with a command and a fresh id (what `canary promote` does)."""
    cid = f"{verb}-{secrets.token_hex(4)}"
    kubectl(
        "-n", namespace, "annotate", "--overwrite", "rollouts.canary.dev", "rollout",
        f"canary.dev/command={verb}", f"canary.dev/command-id={cid}",
    )  # fmt: skip
    return cid


def _sample(text: str, name: str, **labels: str) -> float | None:
    """The value of the /metrics sample `name` whose labels include `labels`."""
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            if s.name == name and all(s.labels.get(k) == v for k, v in labels.items()):
                return float(s.value)
    return None


def _seconds(later: str, earlier: datetime) -> float:
    return (datetime.fromisoformat(later.replace("Z", "+00:00")) - earlier).total_seconds()


# -- 2. error rate ---------------------------------------------------------------------------


def test_failing_canary_is_rolled_back_with_the_failing_measurement(
    deploy: Any, operator: Any, kube: client.ApiClient, kubectl: Any, namespace: str, figure: Any
) -> None:
    """Given step 1 (canary 5 %) verified and passing its checks (metrics without flavor:
    Traefik's names derived from prod-gateway's GatewayClass), when the canary starts
    failing 20 % of its requests, then the error-rate check rolls it back: RolledBack,
    stable 100 / canary 0 on the route and on the wire, the failing measurement in
    status, a Warning Event naming it, and Completed stays False."""
    app = deploy(weights=(90, 10))
    op = operator()
    # step 1 is a manual gate: it holds (checks running) however long the fault takes
    steps = [{"weight": 5}, {"weight": 50, "pause": "8s"}, {"weight": 100}]
    # no flavor: the metric names come from prod-gateway's GatewayClass (Traefik's)
    metrics = [
        {"name": "error-rate", "template": "error-rate", "max": 0.05},
        {"name": "p99-latency", "template": "latency", "quantile": 0.99, "max": 0.25},
    ]
    manifest = rollout_manifest(namespace=namespace, steps=steps, metrics=metrics)
    kubectl("apply", "-f", "-", input=manifest)
    with Traffic(url=app.url, headers=app.headers, rate=RATE) as traffic:
        wait_until("step 1 verified", _at_step_verified(kube, namespace, "1/3"), timeout=60)
        wait_until(
            "a passing check at step 1",
            lambda: _cond(_rollout(kube, namespace), "Healthy").get("status") == "True",
            timeout=30,
        )
        fault_wall = datetime.now(UTC)
        fault = time.monotonic()
        app.set_faults(app.canary, error_rate=0.2)
        rolling_back_at: float | None = None

        def rolled_back() -> dict[str, Any] | None:
            nonlocal rolling_back_at
            obj = _rollout(kube, namespace)
            phase = _status(obj).get("phase")
            if phase == "RollingBack" and rolling_back_at is None:
                rolling_back_at = time.monotonic()
            return obj if phase == "RolledBack" else None

        final = wait_until("RolledBack", rolled_back, timeout=45, interval=0.1)
        seen_rolled_back = time.monotonic()
        after = traffic.next_report(after=seen_rolled_back)

    st = _status(final)
    # the route and the wire: stable 100 / canary 0
    assert _weights(_route(kube, namespace)) == [100, 0]
    assert st["canaryWeight"] == 0
    assert after.completed >= 100, after.to_dict()
    assert after.share(app.canary) == 0.0, after.to_dict()
    # Completed never becomes True on a rollback; Healthy says why
    assert _cond(final, "Completed")["status"] == "False"
    assert _cond(final, "Healthy")["status"] == "False"
    assert st["failures"] == 1
    assert "error-rate fail" in st["message"], st["message"]  # RolledBack says why
    # the failing measurement is in status, with its value, the stable value and the bound
    failing = [m for m in _measurements(final, "error-rate") if m["verdict"] == "fail"]
    assert failing, st.get("analysis")
    m = failing[-1]
    assert 0.05 < m["value"] <= 0.4, m  # violates max 0.05; 1–2 of ~9 requests failed
    assert m["stableValue"] == 0.0, m
    assert "0.05" in m["bound"], m
    assert m["samples"] >= 5, m
    assert "traefik_service_requests_total" in m["query"], m  # derived from the GatewayClass
    assert all(x["verdict"] != "fail" for x in _measurements(final, "p99-latency"))
    # a Warning Event names the failing metric, and the rollback says why
    events = _events(kube, namespace)
    warnings = [(e.reason, e.message) for e in events if e.type == "Warning"]
    assert any(r == "AnalysisFailed" and "error-rate" in msg for r, msg in warnings), warnings
    assert any(r == "FailureLimitReached" and "error-rate fail" in msg for r, msg in warnings)
    # /metrics agrees
    text = op.metrics()
    assert _sample(text, "canary_rollout_phase", namespace=namespace, phase="RolledBack") == 1.0
    assert (
        _sample(text, "canary_rollout_weight_percent", namespace=namespace, kind="desired") == 0.0
    )

    check = _seconds(m["time"], fault_wall)
    done = _seconds(st["phaseStartedAt"], fault_wall)
    decided = (rolling_back_at or seen_rolled_back) - fault
    figure(
        f"fault (canary error rate 0.2 at 5 %) → failing check {check:.1f} s, → RollingBack "
        f"{decided:.1f} s, → RolledBack (stable 100 / canary 0 live, route ready, served by "
        f"Traefik) {done:.1f} s; "
        f"scrape {SCRAPE}, analysis interval {INTERVAL}, resync 1 s, "
        f"{RATE} rps ({m['samples']} canary requests in the failing window)"
    )


# -- 3. latency ------------------------------------------------------------------------------


def test_slow_canary_is_rolled_back_by_the_latency_check(
    deploy: Any, operator: Any, kube: client.ApiClient, kubectl: Any, namespace: str, figure: Any
) -> None:
    """Given a canary answering 300 ms slower than stable, when the Rollout runs with
    a p99 bound of 250 ms, then the latency check (not the error rate) rolls it back."""
    app = deploy(weights=(90, 10))
    app.set_faults(app.canary, latency_ms=300)
    operator()
    steps = [{"weight": 5}, {"weight": 50, "pause": "8s"}, {"weight": 100}]  # step 1: a gate
    kubectl("apply", "-f", "-", input=rollout_manifest(namespace=namespace, steps=steps))
    with Traffic(url=app.url, headers=app.headers, rate=RATE) as traffic:
        final = wait_until(
            "RolledBack", _phase_is(kube, namespace, "RolledBack", "Succeeded"), timeout=60
        )
        after = traffic.next_report(after=time.monotonic())
    st = _status(final)
    assert st["phase"] == "RolledBack", st.get("message")
    assert st["stepLabel"] == "1/3", st  # never left step 1
    assert _weights(_route(kube, namespace)) == [100, 0]
    assert after.share(app.canary) == 0.0, after.to_dict()
    assert _cond(final, "Completed")["status"] == "False"
    slow = [m for m in _measurements(final, "p99-latency") if m["verdict"] == "fail"]
    assert slow, st.get("analysis")
    assert slow[-1]["value"] >= 0.3, slow[-1]  # seconds
    assert slow[-1]["stableValue"] < 0.25, slow[-1]
    assert all(m["verdict"] != "fail" for m in _measurements(final, "error-rate"))
    assert "p99-latency fail" in st["message"], st["message"]
    warnings = [(e.reason, e.message) for e in _events(kube, namespace) if e.type == "Warning"]
    assert any(r == "AnalysisFailed" and "p99-latency" in msg for r, msg in warnings), warnings
    figure(f"slow canary: p99 {slow[-1]['value']:.3f} s vs stable {slow[-1]['stableValue']:.3f} s")


# -- 4. traffic stops ------------------------------------------------------------------------


def test_step_holds_without_traffic_and_continues_when_it_flows(
    deploy: Any, operator: Any, kube: client.ApiClient, kubectl: Any, namespace: str, figure: Any
) -> None:
    """Given step 1 verified with no traffic at all, then the step holds past its pause
    (checks inconclusive / no data: no failure, no promotion); when traffic flows, the
    rollout continues to Succeeded. (Traffic is absent from the start: stopping it after
    a passing check would race the pause's end.)"""
    app = deploy(weights=(90, 10))
    op = operator()
    pause = 4.0
    steps = [{"weight": 5, "pause": f"{pause:.0f}s"}, {"weight": 50, "pause": "4s"}]
    steps.append({"weight": 100, "pause": "2s"})
    kubectl("apply", "-f", "-", input=rollout_manifest(namespace=namespace, steps=steps))
    obj = wait_until("step 1 verified", _at_step_verified(kube, namespace, "1/3"), timeout=60)
    verified_at = _status(obj)["verifiedAt"]
    pause_end = datetime.fromisoformat(verified_at.replace("Z", "+00:00")).timestamp() + pause

    def quiet_checks() -> list[dict[str, Any]]:
        """Checks whose whole window lies after the pause ended (none had traffic)."""
        return [
            m
            for m in _measurements(_rollout(kube, namespace), "error-rate")
            if datetime.fromisoformat(m["time"].replace("Z", "+00:00")).timestamp()
            > pause_end + 3.0
        ]

    # hold past the pause: two checks after it ended, none with traffic
    wait_until("two checks after the pause", lambda: len(quiet_checks()) >= 2, timeout=60)
    after_reconciles(op, namespace, 2)
    held = _rollout(kube, namespace)
    st = _status(held)
    quiet = quiet_checks()
    assert st["phase"] == "Progressing", st.get("message")
    assert st["stepLabel"] == "1/3", st
    assert _weights(_route(kube, namespace)) == [95, 5]
    assert st.get("failures", 0) == 0
    assert st["stepVerdict"] in ("inconclusive", "nodata"), st
    assert _cond(held, "Healthy")["status"] == "Unknown", _cond(held, "Healthy")
    assert _cond(held, "Completed")["status"] == "False"
    assert all(m["verdict"] in ("inconclusive", "nodata") for m in quiet), quiet
    warnings = [e.reason for e in _events(kube, namespace) if e.type == "Warning"]
    assert "AnalysisFailed" not in warnings and "FailureLimitReached" not in warnings, warnings
    held_for = time.time() - pause_end

    resumed = time.monotonic()
    with Traffic(url=app.url, headers=app.headers, rate=RATE):
        wait_until("step 2 verified", _at_step_verified(kube, namespace, "2/3"), timeout=45)
        step2 = time.monotonic() - resumed
        final = wait_until("Succeeded", _phase_is(kube, namespace, "Succeeded"), timeout=60)
    assert _cond(final, "Completed")["status"] == "True"
    assert _status(final).get("failures", 0) == 0
    figure(
        f"held at step 1 for {held_for:.0f} s past its pause without traffic ({len(quiet)} "
        f"quiet checks, pause {pause:.0f} s); traffic flows → step 2 verified {step2:.1f} s"
    )


# -- 5. manual gate --------------------------------------------------------------------------


def test_manual_gate_holds_until_promote_command(
    deploy: Any, operator: Any, kube: client.ApiClient, kubectl: Any, namespace: str, figure: Any
) -> None:
    """Given a step without pause, when it is reached, then it holds with
    AwaitingPromotion=True (checks keep passing) until a `promote` command annotation,
    which is acknowledged in status.lastCommand and an Event; then the rollout goes on."""
    app = deploy(weights=(90, 10))
    operator()
    steps = [{"weight": 5, "pause": "4s"}, {"weight": 50}, {"weight": 100, "pause": "2s"}]
    kubectl("apply", "-f", "-", input=rollout_manifest(namespace=namespace, steps=steps))
    with Traffic(url=app.url, headers=app.headers, rate=RATE) as traffic:

        def at_gate() -> dict[str, Any] | None:
            obj = _rollout(kube, namespace)
            ok = (
                _status(obj).get("stepLabel") == "2/3"
                and _cond(obj, "AwaitingPromotion").get("status") == "True"
            )
            return obj if ok else None

        wait_until("the gate at step 2", at_gate, timeout=60)
        gated = time.monotonic()
        gated_wall = datetime.now(UTC)
        # hold for several analysis intervals: checks pass, nothing advances
        wait_until(
            "three checks at the gate",
            lambda: (
                len(
                    [
                        m
                        for m in _measurements(_rollout(kube, namespace), "error-rate")
                        if _seconds(m["time"], gated_wall) > 0
                    ]
                )
                >= 3
            ),
            timeout=60,
        )
        held = _rollout(kube, namespace)
        st = _status(held)
        assert st["phase"] == "Progressing" and st["stepLabel"] == "2/3", st.get("message")
        assert _cond(held, "AwaitingPromotion")["status"] == "True"
        assert "awaiting promotion" in st["message"], st["message"]
        assert _weights(_route(kube, namespace)) == [50, 50]
        assert st["stepVerdict"] == "pass", st
        report = traffic.next_report(after=gated)
        assert abs(report.share(app.canary) - 0.5) <= 0.02, report.to_dict()
        reasons = [e.reason for e in _events(kube, namespace)]
        assert "AwaitingPromotion" in reasons, reasons

        cid = _command(kubectl, namespace, "promote")
        promoted = time.monotonic()
        acked = wait_until(
            "the promote acknowledged",
            lambda: (
                (o := _rollout(kube, namespace))
                and (_status(o).get("lastCommand") or {}).get("id") == cid
                and o
            ),
            timeout=20,
        )
        ack_s = time.monotonic() - promoted
        last = _status(acked)["lastCommand"]
        assert last["verb"] == "promote"
        assert last["result"].startswith("applied:"), last
        assert _status(acked)["stepLabel"] == "3/3", _status(acked)
        final = wait_until("Succeeded", _phase_is(kube, namespace, "Succeeded"), timeout=45)

    assert _cond(final, "AwaitingPromotion")["status"] == "False"
    assert _cond(final, "Completed")["status"] == "True"
    assert _status(final)["lastCommand"]["id"] == cid  # acted on once
    acks = [e for e in _events(kube, namespace) if cid in (e.message or "")]
    assert len(acks) == 1 and acks[0].reason == "Promoted", [(e.reason, e.message) for e in acks]
    assert acks[0].type == "Normal"
    figure(f"promote annotation → lastCommand acknowledged {ack_s:.1f} s")


# -- 10. invalid Rollouts --------------------------------------------------------------------


def test_canary_not_in_the_route_is_invalid_and_the_route_untouched(
    deploy: Any, operator: Any, kube: client.ApiClient, kubectl: Any, namespace: str
) -> None:
    """Given a Rollout whose canary backend is not in the route, then it is Failed with
    Invalid=True naming the field and the backend, and the route is never written."""
    app = deploy(weights=(90, 10))
    before = _route(kube, namespace)
    op = operator()
    manifest = rollout_manifest(namespace=namespace, canary="user-service-v9")
    with Traffic(url=app.url, headers=app.headers, rate=RATE) as traffic:
        kubectl("apply", "-f", "-", input=manifest)
        failed = wait_until("Failed", _phase_is(kube, namespace, "Failed"), timeout=30)
        seen = time.monotonic()
        after_reconciles(op, namespace, 3)  # several reconciles: still nothing written
        report = traffic.next_report(after=seen)
    invalid = _cond(failed, "Invalid")
    assert invalid["status"] == "True", invalid
    assert invalid["reason"] == "InvalidSpec"
    assert "spec.routes[0].rules" in invalid["message"], invalid
    assert "user-service-v9" in invalid["message"], invalid
    assert _cond(failed, "Completed")["status"] == "False"
    after = _route(kube, namespace)
    assert after["metadata"]["generation"] == before["metadata"]["generation"]
    assert after["spec"] == before["spec"]
    assert abs(report.share(app.canary) - 0.10) <= 0.02, report.to_dict()
    warnings = [(e.reason, e.message) for e in _events(kube, namespace) if e.type == "Warning"]
    assert any(r == "InvalidSpec" and "user-service-v9" in msg for r, msg in warnings), warnings


def test_ambiguous_rules_are_invalid_until_named(
    deploy: Any, operator: Any, kube: client.ApiClient, kubectl: Any, namespace: str
) -> None:
    """Given a route where two rules list both backends and a Rollout that names no rule,
    then it is Failed with Invalid=True naming spec.routes[0].rules and the route is
    untouched; once the rule is named, it starts and re-weights only that rule."""
    app = deploy(weights=(90, 10))
    # the fallback rule (1) also lists the canary, at weight 0: now two rules qualify
    kubectl(
        "-n", namespace, "patch", "httproute", "api-route", "--type=json", "-p",
        json.dumps([{"op": "add", "path": "/spec/rules/1/backendRefs/-",
                     "value": {"name": app.canary, "port": 8080, "weight": 0}}]),
    )  # fmt: skip
    before = _route(kube, namespace)
    op = operator()
    kubectl("apply", "-f", "-", input=rollout_manifest(namespace=namespace))
    failed = wait_until("Failed", _phase_is(kube, namespace, "Failed"), timeout=30)
    after_reconciles(op, namespace, 3)  # several reconciles: still nothing written
    invalid = _cond(failed, "Invalid")
    assert invalid["status"] == "True", invalid
    assert "spec.routes[0].rules" in invalid["message"], invalid
    assert "rules 0 and 1" in invalid["message"] and "name the rules" in invalid["message"]
    assert _status(failed)["message"] == invalid["message"]
    after = _route(kube, namespace)
    assert after["metadata"]["generation"] == before["metadata"]["generation"]
    assert after["spec"] == before["spec"]

    # naming the rule makes it valid again: it starts over and only rule 0 changes
    kubectl(
        "-n", namespace, "patch", "rollouts.canary.dev", "rollout", "--type=json", "-p",
        json.dumps([{"op": "add", "path": "/spec/routes/0/rules", "value": [0]}]),
    )  # fmt: skip
    with Traffic(url=app.url, headers=app.headers, rate=RATE):
        obj = wait_until("step 1 verified", _at_step_verified(kube, namespace, "1/3"), timeout=60)
    assert _cond(obj, "Invalid")["status"] == "False"
    route = _route(kube, namespace)
    assert _weights(route, 0) == [95, 5]
    assert _weights(route, 1) == _weights(before, 1)  # [1, 0]: not addressed, not written


# -- 11. deletion ----------------------------------------------------------------------------


def test_deleting_a_rollout_mid_flight_restores_stable(
    deploy: Any, operator: Any, kube: client.ApiClient, kubectl: Any, namespace: str, figure: Any
) -> None:
    """Given a rollout holding at 50 %, when the Rollout is deleted, then the route is
    restored to stable 100 / canary 0 before the object goes (finalizer)."""
    app = deploy(weights=(90, 10))
    operator()
    steps = [{"weight": 5, "pause": "4s"}, {"weight": 50}, {"weight": 100}]  # step 2: a gate
    kubectl("apply", "-f", "-", input=rollout_manifest(namespace=namespace, steps=steps))
    with Traffic(url=app.url, headers=app.headers, rate=RATE) as traffic:
        wait_until("step 2 verified", _at_step_verified(kube, namespace, "2/3"), timeout=60)
        assert _weights(_route(kube, namespace)) == [50, 50]
        deleted = time.monotonic()
        kubectl("-n", namespace, "delete", "rollouts.canary.dev", "rollout", "--timeout=30s")
        gone = time.monotonic() - deleted
        restored = _route(kube, namespace)
        report = traffic.next_report(after=time.monotonic())
    assert _weights(restored) == [100, 0]
    assert _weights(restored, 1) == [1]  # the fallback rule is not ours (API default 1)
    assert report.completed >= 100 and report.share(app.canary) == 0.0, report.to_dict()
    with pytest.raises(client.ApiException) as missing:
        _rollout(kube, namespace)
    assert missing.value.status == 404
    messages = [e.message for e in _events(kube, namespace)]
    assert any("restoring stable 100 / canary 0" in (m or "") for m in messages), messages
    figure(f"delete at 50 % → Rollout gone, stable 100 / canary 0 served by Traefik {gone:.1f} s")


# -- 12. /metrics ----------------------------------------------------------------------------


def test_metrics_endpoint_reports_phase_step_and_weights(
    deploy: Any, operator: Any, kube: client.ApiClient, kubectl: Any, namespace: str
) -> None:
    """Given a running rollout, then the operator's /metrics shows its phase, step and
    weights (desired and effective) while it holds and after it succeeds. Step 1 is a
    manual gate: /metrics is read while it holds, however long that takes."""
    app = deploy(weights=(90, 10))
    op = operator()
    steps = [{"weight": 5}, {"weight": 100, "pause": "2s"}]
    kubectl("apply", "-f", "-", input=rollout_manifest(namespace=namespace, steps=steps))
    labels = {"namespace": namespace, "rollout": "rollout"}
    with Traffic(url=app.url, headers=app.headers, rate=RATE):
        wait_until(
            "step 1 at its gate",
            lambda: _cond(_rollout(kube, namespace), "AwaitingPromotion").get("status") == "True",
            timeout=60,
        )
        text = wait_until(
            "step 1 and a passing check in /metrics",
            lambda: (
                (t := op.metrics())
                and _sample(t, "canary_rollout_weight_percent", kind="effective", **labels) == 5.0
                and (
                    _sample(t, "canary_analysis_verdicts_total", metric="error-rate",
                            verdict="pass", **labels) or 0
                ) >= 1
                and t
            ),
            timeout=60,
        )  # fmt: skip
        assert _sample(text, "canary_rollout_phase", phase="Progressing", **labels) == 1.0
        for other in ("Pending", "Succeeded", "RolledBack", "Failed"):
            assert _sample(text, "canary_rollout_phase", phase=other, **labels) == 0.0
        assert _sample(text, "canary_rollout_step", **labels) == 1.0
        assert _sample(text, "canary_rollout_weight_percent", kind="desired", **labels) == 5.0
        assert _sample(text, "canary_leader") == 1.0
        _command(kubectl, namespace, "promote")
        wait_until("Succeeded", _phase_is(kube, namespace, "Succeeded"), timeout=60)
        text = wait_until(
            "Succeeded in /metrics",
            lambda: (
                (t := op.metrics())
                and _sample(t, "canary_rollout_phase", phase="Succeeded", **labels) == 1.0
                and t
            ),
            timeout=10,
        )
    assert _sample(text, "canary_rollout_phase", phase="Progressing", **labels) == 0.0
    assert _sample(text, "canary_rollout_step", **labels) == 2.0
    assert _sample(text, "canary_rollout_weight_percent", kind="desired", **labels) == 100.0
    assert _sample(text, "canary_rollout_weight_percent", kind="effective", **labels) == 100.0
    passes = _sample(
        text, "canary_analysis_verdicts_total", metric="error-rate", verdict="pass", **labels
    )
    assert passes is not None and passes >= 1
