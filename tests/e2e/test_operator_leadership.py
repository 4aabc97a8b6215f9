"""Issue 10 item 6: one writer for sure — proven by the kube-apiserver's audit log.

Given two `canary run` processes for the same namespace, each with its own ServiceAccount
token (two renderings of the chart's RBAC, so the audit log tells them apart), op-a holding
the Lease and armed with the failpoint `before-route-write=1*off->1*sigstop->off`: it
writes step 1's weights, then records step 2 in the status and stops itself (SIGSTOP) after
that decision and before its final leadership check and route write.

Then op-b (standby) sees the Lease unchanged for a whole lease duration on its own clock,
takes over, writes step 2's weights (finishes the step) and walks the rollout to the end;
after SIGCONT op-a refuses its pending route write at the leadership check, sees op-b in
the Lease and stands by: the audit log shows no create/update/patch/delete from op-a's
identity received after SIGCONT — while it did keep talking (reads) — and the route's
canary weight walked 10 → 5 → 50 → 100 without a step back.

Needs the audit log (AUDIT_LOG in cluster.env): `make e2e` starts the stack with
CANARY_AUDIT=1; a stack started without it is refused with that hint. Every wait is on a
condition, bounded; nothing is timed.
"""

from __future__ import annotations

import json
import os
import secrets
import signal
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from audit import AuditLog, counts, select
from kubernetes import client
from operator_support import RouteHistory, Traffic, lease_holder, rollout_manifest, wait_until
from test_chart_e2e import install_chart_rbac, mint_identity, render_chart

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(240)]

STEPS = [
    {"weight": 5, "pause": "4s"},
    {"weight": 50, "pause": "4s"},
    {"weight": 100, "pause": "2s"},
]
FAILPOINT = "before-route-write=1*off->1*sigstop->off"  # step 1 passes, step 2 stops


def _state(pid: int) -> str:
    """The process state letter from /proc (T: stopped)."""
    return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]


def _status(kube: Any, namespace: str) -> dict[str, Any]:
    obj = client.CustomObjectsApi(kube).get_namespaced_custom_object(
        "canary.dev", "v1alpha1", namespace, "rollouts", "rollout"
    )
    return dict(obj.get("status") or {})


def _identity(kubectl: Any, cluster: dict[str, str], namespace: str, tag: str, tmp: Path) -> Any:
    """The chart's RBAC rendered as its own release: its own ServiceAccount, same rights."""
    docs = render_chart(release=f"lead-{tag}-{secrets.token_hex(2)}", namespace=namespace)
    cleanup = install_chart_rbac(kubectl, docs)
    (sa,) = [d["metadata"]["name"] for d in docs if d["kind"] == "ServiceAccount"]
    ident = mint_identity(
        kubectl, cluster, namespace=namespace, service_account=sa, directory=tmp / tag
    )
    return ident, cleanup


def _weight_lines(op: Any) -> list[int]:
    return [
        int(line.rsplit(" ", 1)[1])
        for line in op.log().splitlines()
        if "HTTPRoute/api-route canary weight" in line
    ]


def test_a_leader_paused_before_its_route_write_writes_nothing_after_it_resumes(
    cluster: dict[str, str],
    deploy: Any,
    operator: Any,
    kubectl: Any,
    kube: Any,
    namespace: str,
    tmp_path: Path,
    figure: Any,
) -> None:
    if not cluster.get("AUDIT_LOG"):
        pytest.fail(
            "this test counts requests in the apiserver audit log: restart the stack with "
            "CANARY_AUDIT=1 (make cluster-down; CANARY_AUDIT=1 make cluster-up)"
        )
    audit = AuditLog(cluster["AUDIT_LOG"])
    cleanups = []
    ident_a, c = _identity(kubectl, cluster, namespace, "a", tmp_path)
    cleanups.append(c)
    ident_b, c = _identity(kubectl, cluster, namespace, "b", tmp_path)
    cleanups.append(c)
    assert ident_a.username != ident_b.username
    a: Any = None
    try:
        app = deploy(weights=(90, 10))
        # Given op-a (armed) holding the Lease and op-b standing by
        a = operator(
            identity="op-a", env={**ident_a.operator_env(), "CANARY_FAILPOINTS": FAILPOINT}
        )
        wait_until(
            "op-a holds the Lease", lambda: lease_holder(kube, namespace=namespace) == "op-a"
        )
        b = operator(identity="op-b", env=ident_b.operator_env())
        wait_until(
            "op-a leads, op-b stands by",
            lambda: a.is_leader() and "canary_leader 0.0" in b.metrics(),
        )
        assert a.proc is not None
        with (
            Traffic(url=app.url, headers=app.headers, rate=60),
            RouteHistory(kube, namespace=namespace, name="api-route") as history,
        ):
            kubectl("apply", "-f", "-", input=rollout_manifest(namespace=namespace, steps=STEPS))

            # When op-a stops itself after deciding step 2, before its route write
            wait_until("op-a stopped at the failpoint", lambda: _state(a.proc.pid) == "T",
                       timeout=90, interval=0.1)  # fmt: skip
            stopped = time.monotonic()
            stopped_at = datetime.now(UTC)
            at_stop = _status(kube, namespace)
            assert at_stop.get("stepLabel") == "2/3", at_stop  # the decision is recorded
            assert history.weights(1)[-1] == 5  # ... its weights are not written
            assert "failpoint before-route-write: sigstop" in a.log()

            # Then op-b takes over (a whole lease after it last saw op-a renew) ...
            wait_until("op-b leads", b.is_leader, timeout=30, interval=0.1)
            took = time.monotonic() - stopped
            assert lease_holder(kube, namespace=namespace) == "op-b"
            # ... and finishes the step op-a left half done
            wait_until("op-b wrote step 2", lambda: 50 in history.weights(1), timeout=30,
                       interval=0.1)  # fmt: skip
            assert _state(a.proc.pid) == "T"  # op-a was stopped all along

            # When op-a continues
            resumed_at = datetime.now(UTC)
            os.kill(a.proc.pid, signal.SIGCONT)
            resumed = time.monotonic()
            # Then it refuses the pending route write at the leadership check and stands by
            wait_until("op-a refused its pending write",
                       lambda: "stopped before a write" in a.log(), timeout=30)  # fmt: skip
            wait_until("op-a saw it lost the Lease", lambda: "lost lease" in a.log(), timeout=30)
            assert "canary_leader 0.0" in a.metrics()
            done = wait_until(
                "Succeeded",
                lambda: (s := _status(kube, namespace)).get("phase") == "Succeeded" and s,
                timeout=90,
            )
            done_after = time.monotonic() - resumed
            walked = history.weights(1)
            lines_a, lines_b = _weight_lines(a), _weight_lines(b)
            rollout = json.loads(
                kubectl(
                    "-n", namespace, "get", "rollouts.canary.dev", "rollout", "-o", "json"
                ).stdout
            )
            # When the Rollout is deleted while op-a stands by, op-b alone lets it go
            kubectl("-n", namespace, "delete", "rollouts.canary.dev", "rollout", "--wait=false")
            wait_until(
                "the Rollout is gone",
                lambda: (
                    "NotFound"
                    in kubectl(
                        "-n", namespace, "get", "rollouts.canary.dev", "rollout", check=False
                    ).stderr
                ),
                timeout=60,
            )
            # a marker request, then wait until the audit log has caught up with it
            marker = f"audit-marker-{secrets.token_hex(3)}"
            kubectl("-n", namespace, "get", "configmap", marker, check=False)
            wait_until(
                "the audit log caught up",
                lambda: any(e.name == marker for e in audit.entries()),
                timeout=30,
            )

        entries = audit.entries()
        a_after = select(entries, user=ident_a.username, since=resumed_at)
        a_writes_after = [e for e in a_after if e.writes]
        a_all = select(entries, user=ident_a.username)
        b_all = select(entries, user=ident_b.username)
        b_standby_writes = [e for e in b_all if e.writes and e.received < stopped_at]
        figure(
            f"takeover {took:.1f} s after op-a stopped (lease 6 s, renew deadline 4 s, retry "
            f"0.8 s); op-a after SIGCONT: {len(a_after)} requests, {len(a_writes_after)} writes "
            f"({dict(counts(a_after))}); op-a in all: writes "
            f"{dict(counts(e for e in a_all if e.writes))}; op-b writes "
            f"{dict(counts(e for e in b_all if e.writes))} (as standby: {len(b_standby_writes)});"
            f" route canary weights {walked}; Succeeded {done_after:.1f} s after SIGCONT"
        )
        # a standby writes nothing at all: op-b while op-a led (the Rollout's creation, its
        # first steps), op-a after SIGCONT (the rest, the deletion included)
        assert b_standby_writes == [], b_standby_writes
        # no request that changes anything from op-a's identity after it resumed ...
        assert a_writes_after == [], a_writes_after
        # ... though it was alive and talking to the API server (reads: the Lease, the watch)
        assert any(e.resource == "leases" and e.verb == "get" for e in a_after), dict(
            counts(a_after)
        )
        # op-a did write before it stopped (step 1), under its own identity: the count is real
        assert any(e.resource == "httproutes" and e.verb == "patch" for e in a_all)
        assert any(e.resource == "httproutes" and e.verb == "patch" for e in b_all)
        # the route walked forward only; op-a wrote step 1, op-b steps 2 and 3
        assert walked == [10, 5, 50, 100], walked
        assert lines_a == [5] and lines_b == [50, 100], (lines_a, lines_b)
        assert done["canaryWeight"] == 100
        assert lease_holder(kube, namespace=namespace) == "op-b"
        assert a.proc.poll() is None and not a.is_leader()  # op-a runs on, standing by
        annotations = rollout["metadata"].get("annotations") or {}
        assert not [k for k in annotations if k.startswith("kopf")], annotations
        assert rollout["metadata"].get("finalizers") == ["canary.dev/restore-route"]
    finally:
        if a is not None and a.proc is not None and a.proc.poll() is None:
            os.kill(a.proc.pid, signal.SIGCONT)  # never leave a stopped process behind
        for cleanup in cleanups:
            cleanup()


def test_a_leader_whose_renewal_hangs_steps_down_before_the_standby_takes_over(
    cluster: dict[str, str],
    operator: Any,
    kubectl: Any,
    kube: Any,
    namespace: str,
    tmp_path: Path,
    figure: Any,
) -> None:
    """Given op-a leading with `before-lease-write=pause-file:GATE` (its renewals hang while
    GATE exists), when GATE appears, then op-a reports itself no leader while its renewal
    still hangs — before op-b takes over — and after GATE goes it writes nothing to the
    Lease (the decision it read before the hang is stale) and stands by."""
    if not cluster.get("AUDIT_LOG"):
        pytest.fail("needs the apiserver audit log: restart the stack with CANARY_AUDIT=1")
    audit = AuditLog(cluster["AUDIT_LOG"])
    gate = tmp_path / "renewal-hangs"
    ident_a, cleanup_a = _identity(kubectl, cluster, namespace, "a", tmp_path)
    ident_b, cleanup_b = _identity(kubectl, cluster, namespace, "b", tmp_path)
    try:
        a = operator(
            identity="op-a",
            env={
                **ident_a.operator_env(),
                "CANARY_FAILPOINTS": f"before-lease-write=pause-file:{gate}",
            },
        )
        wait_until("op-a leads", lambda: lease_holder(kube, namespace=namespace) == "op-a")
        b = operator(identity="op-b", env=ident_b.operator_env())
        wait_until(
            "op-a leads, op-b stands by",
            lambda: a.is_leader() and "canary_leader 0.0" in b.metrics(),
        )

        # When op-a's next renewal hangs
        gate.touch()
        hung_at = datetime.now(UTC)
        hung = time.monotonic()
        wait_until("op-a's renewal hangs",
                   lambda: "failpoint before-lease-write: pause-file" in a.log())  # fmt: skip
        # Then op-a steps down while the renewal still hangs, and before op-b takes over
        wait_until("op-a steps down", lambda: "canary_leader 0.0" in a.metrics(), timeout=30,
                   interval=0.1)  # fmt: skip
        stepped_down = time.monotonic() - hung
        assert lease_holder(kube, namespace=namespace) == "op-a", "op-b took over first"
        assert gate.exists() and a.proc is not None and a.proc.poll() is None
        wait_until("op-b leads", b.is_leader, timeout=30, interval=0.1)
        took = time.monotonic() - hung
        assert lease_holder(kube, namespace=namespace) == "op-b"

        # When the renewal returns
        gate.unlink()
        released_at = datetime.now(UTC)
        wait_until("op-a released", lambda: "failpoint before-lease-write: released" in a.log())
        wait_until("op-a saw op-b in the Lease", lambda: "lost lease" in a.log())
        wait_until(
            "op-a read the Lease again after the hang",
            lambda: select(audit.entries(), user=ident_a.username, since=released_at),
            timeout=30,
        )
        entries = audit.entries()
        a_writes = [e for e in select(entries, user=ident_a.username, since=hung_at) if e.writes]
        figure(
            f"renewal hung: op-a stepped down {stepped_down:.1f} s later (renew deadline 4 s), "
            f"op-b took over {took:.1f} s later (lease 6 s); op-a writes after the hang: "
            f"{len(a_writes)}"
        )
        assert a_writes == [], a_writes
        assert not a.is_leader() and b.is_leader()
        assert lease_holder(kube, namespace=namespace) == "op-b"
    finally:
        if gate.exists():
            gate.unlink()
        cleanup_a()
        cleanup_b()
