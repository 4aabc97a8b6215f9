"""Operator e2e, scenario 1: a healthy canary walks 5 → 50 → 100 on real traffic.

Given the seed's api-route at 90/10 with real backends behind real Traefik and real
Prometheus, when a Rollout is applied and traffic flows, then every step's split is
verified by the evaluator, observed on the wire within ±2 points, shown by
`kubectl get rollouts`, and the rollout ends Succeeded with Completed=True.

Steps 1 and 2 are manual gates (no pause): each is observed while it holds — verified, a
passing check, a whole traffic chunk sent after the verification — and then promoted,
so a slow machine cannot miss a step or measure the next one's share.
"""

from __future__ import annotations

import json
import secrets
import time
from typing import Any

import pytest
from operator_support import Traffic, rollout_manifest, wait_until

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(240)]


def _rollout(kubectl: Any, namespace: str, name: str = "rollout") -> dict[str, Any]:
    out = kubectl("-n", namespace, "get", "rollouts.canary.dev", name, "-o", "json")
    return dict(json.loads(out.stdout))


def _cond(obj: dict[str, Any], ctype: str) -> str | None:
    for c in obj.get("status", {}).get("conditions", []):
        if c["type"] == ctype:
            return str(c["status"])
    return None


STEPS = [{"weight": 5}, {"weight": 50}, {"weight": 100, "pause": "4s"}]  # gates at 1, 2


def _promote(kubectl: Any, namespace: str) -> None:
    """What `canary promote` does: a command annotation with a fresh id."""
    kubectl(
        "-n", namespace, "annotate", "--overwrite", "rollouts.canary.dev", "rollout",
        "canary.dev/command=promote", f"canary.dev/command-id=p-{secrets.token_hex(4)}",
    )  # fmt: skip


def test_healthy_canary_walks_every_step_to_succeeded(
    deploy: Any, operator: Any, kubectl: Any, namespace: str, figure: Any
) -> None:
    app = deploy(weights=(90, 10))
    operator()
    kubectl("apply", "-f", "-", input=rollout_manifest(namespace=namespace, steps=STEPS))
    seen_rows: list[str] = []
    with Traffic(url=app.url, headers=app.headers, rate=60) as traffic:
        for step, weight in enumerate((5, 50, 100), start=1):

            def at_step(step: int = step) -> dict[str, Any] | None:
                obj = _rollout(kubectl, namespace)
                st = obj.get("status", {})
                if st.get("phase") == "Succeeded" and step == 3:
                    return obj
                ok = (
                    st.get("stepLabel") == f"{step}/3"
                    and _cond(obj, "SplitVerified") == "True"
                    and (step == 3 or _cond(obj, "AwaitingPromotion") == "True")
                )
                return obj if ok else None

            wait_until(f"step {step} verified", at_step, timeout=60)
            verified = time.monotonic()
            row = kubectl("-n", namespace, "get", "rollouts.canary.dev").stdout
            seen_rows.append(row)
            # all traffic of one whole chunk sent after the split was verified
            report = traffic.next_report(after=verified)
            share = report.share(app.canary)
            figure(
                f"step {step}: canary share on the wire {share:.3f} of {report.completed} "
                f"requests (want {weight / 100})"
            )
            assert abs(share - weight / 100) <= 0.02, report.to_dict()
            if step < 3:  # the gate holds: the checks pass at this step, then promote
                wait_until(
                    f"a passing check at step {step}",
                    lambda step=step: (
                        (st := _rollout(kubectl, namespace)["status"]).get("stepLabel")
                        == f"{step}/3"
                        and st.get("stepVerdict") == "pass"  # reset when a step starts
                    ),
                    timeout=60,
                )
                _promote(kubectl, namespace)

        final = wait_until(
            "Succeeded",
            lambda: (o := _rollout(kubectl, namespace))["status"].get("phase") == "Succeeded" and o,
            timeout=60,
        )
    assert _cond(final, "Completed") == "True"
    assert final["status"]["canaryWeight"] == 100
    route = json.loads(
        kubectl("-n", namespace, "get", "httproute", "api-route", "-o", "json").stdout
    )
    weights = [b.get("weight") for b in route["spec"]["rules"][0]["backendRefs"]]
    assert weights == [0, 100]
    # the printer columns showed the step and weights while it ran
    header = seen_rows[0].splitlines()[0].split()
    assert header[:6] == ["NAME", "PHASE", "STEP", "WEIGHT", "EFFECTIVE", "AGE"]
    assert any("1/3" in r and " 5 " in r for r in seen_rows)
    assert any("2/3" in r and " 50 " in r for r in seen_rows)
