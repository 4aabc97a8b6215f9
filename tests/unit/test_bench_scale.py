"""The pure helpers of the scale benchmark (benchmarks/scale.py): percentiles, the audit-log
line parser and per-user aggregation, Traefik service grouping, the gate predicate."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path
from types import ModuleType


def _load() -> ModuleType:
    path = Path(__file__).resolve().parents[2] / "benchmarks" / "scale.py"
    spec = importlib.util.spec_from_file_location("bench_scale", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["bench_scale"] = module
    spec.loader.exec_module(module)
    return module


scale = _load()


def test_pct_is_nearest_rank() -> None:
    values = [float(v) for v in range(1, 101)]  # 1..100
    assert scale.pct(values, 0.5) == 50.0
    assert scale.pct(values, 0.99) == 99.0
    assert scale.pct(values, 1.0) == 100.0
    assert scale.pct([3.0, 1.0, 2.0], 0.5) == 2.0
    assert scale.pct([7.0], 0.99) == 7.0
    assert scale.pct([], 0.5) is None


def _line(stage: str, user: str, verb: str, resource: str, sub: str = "") -> str:
    ref = {"resource": resource, "namespace": "ns", "name": "r1"}
    if sub:
        ref["subresource"] = sub
    return json.dumps(
        {
            "stage": stage,
            "verb": verb,
            "user": {"username": user},
            "objectRef": ref,
            "requestReceivedTimestamp": "2026-11-30T19:50:46.667492Z",
        }
    )


def test_audit_lines_are_counted_once_per_request_and_by_user() -> None:
    lines = [
        _line("ResponseComplete", "op", "list", "services"),
        _line("ResponseStarted", "op", "watch", "httproutes"),  # a watch logs two stages
        _line("ResponseComplete", "op", "watch", "httproutes"),
        _line("ResponseComplete", "op", "patch", "rollouts", sub="status"),
        _line("ResponseComplete", "admin", "patch", "rollouts"),
        '{"stage": "ResponseComp',  # a line being written
    ]
    entries = [e for e in map(scale.parse_audit, lines) if e is not None]
    assert len(entries) == 4
    assert entries[2][2] == "rollouts/status"
    assert entries[0][5].tzinfo is not None
    assert scale.by_verb_resource(entries, "op") == {
        "list services": 1,
        "watch httproutes": 1,
        "patch rollouts/status": 1,
    }
    assert scale.writes(entries, "op") == {"patch rollouts/status": 1}


def _wrr(ns: str, route: str, weights: list[int]) -> dict[str, object]:
    base = f"httproute-{ns}-{route}-gw-infra-prod-gateway-ep-web-0-1c0cf64bde37d9d0"
    children = [
        {"name": f"{ns}-{route}-v{i + 1}-http-8080-svc-x-{i}", "weight": w}
        for i, w in enumerate(weights)
    ]
    return {"name": f"{base}-wrr@kubernetesgateway", "weighted": {"services": children}}


def test_served_weights_groups_services_by_route() -> None:
    services = [
        _wrr("scale-100-d-1-0", "r1", [100, 0]),
        _wrr("scale-100-d-1-0", "r12", [0, 100]),
        _wrr("scale-bg-3", "bg301", [90, 10]),
        {"name": "httproute-other-api-route-gw-x-wrr@kubernetesgateway"},  # not the bench's
    ]
    assert scale.served_weights(services) == {
        ("scale-100-d-1-0", "r1"): {0: 100},
        ("scale-100-d-1-0", "r12"): {1: 100},
        ("scale-bg-3", "bg301"): {0: 90, 1: 10},
    }


def test_at_gate_needs_progressing_step_one_and_a_verified_split() -> None:
    verified = {"type": "SplitVerified", "status": "True"}
    gate = {"status": {"phase": "Progressing", "stepLabel": "1/2", "conditions": [verified]}}
    assert scale.at_gate(gate)
    assert not scale.at_gate({"status": {**gate["status"], "stepLabel": "2/2"}})
    assert not scale.at_gate({"status": {**gate["status"], "phase": "Pending"}})
    unverified = {**gate["status"], "conditions": [{**verified, "status": "False"}]}
    assert not scale.at_gate({"status": unverified})
    assert not scale.at_gate({})
