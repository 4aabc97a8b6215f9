"""The operator's own Prometheus metrics (``/metrics``)."""

from __future__ import annotations

import contextlib

from prometheus_client import Counter, Gauge

from canary.core.phases import Phase

PHASE = Gauge(
    "canary_rollout_phase",
    "1 for the Rollout's current phase, 0 for the others.",
    ["namespace", "rollout", "phase"],
)
STEP = Gauge(
    "canary_rollout_step", "Current step (1-based; 0 before start).", ["namespace", "rollout"]
)
WEIGHT = Gauge(
    "canary_rollout_weight_percent",
    "Canary weight in percent: desired (raw), effective (evaluator), observed (traffic).",
    ["namespace", "rollout", "kind"],
)
VERDICTS = Counter(
    "canary_analysis_verdicts_total",
    "Metric verdicts by metric and verdict.",
    ["namespace", "rollout", "metric", "verdict"],
)
RECONCILE_ERRORS = Counter(
    "canary_reconcile_errors_total", "Reconciles that raised.", ["namespace", "rollout"]
)
RECONCILES = Counter("canary_reconciles_total", "Reconciles run.", ["namespace", "rollout"])
COMMANDS = Counter(
    "canary_commands_total",
    "Command annotations acknowledged, by verb and result.",
    ["namespace", "rollout", "verb", "result"],
)
LEADER = Gauge("canary_leader", "1 while this process holds the Lease (the single writer).")


def record_status(namespace: str, name: str, status: dict[str, object]) -> None:
    phase = status.get("phase")
    for p in Phase:
        PHASE.labels(namespace, name, p.value).set(1 if p.value == phase else 0)
    idx = status.get("stepIndex")
    STEP.labels(namespace, name).set(int(idx) + 1 if isinstance(idx, int) else 0)
    for kind, key in (
        ("desired", "canaryWeight"),
        ("effective", "effectiveWeight"),
        ("observed", "observedWeight"),
    ):
        value = status.get(key)
        if isinstance(value, int | float):
            WEIGHT.labels(namespace, name, kind).set(float(value))


def forget(namespace: str, name: str) -> None:
    for p in Phase:
        with contextlib.suppress(KeyError):
            PHASE.remove(namespace, name, p.value)


VIEW_BUILDS = Counter(
    "canary_view_builds_total",
    "Rebuilds of the shared routing table (only when a cached object changed).",
)
WAKES = Counter(
    "canary_wakes_total",
    "Passes prompted by a change of a cached object a Rollout reads (the wake index).",
)
STALE_COPIES = Counter(
    "canary_stale_copies_total",
    "Passes skipped because the watch's copy was older than our own last write.",
)
