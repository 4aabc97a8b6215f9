"""Tiny Prometheus HTTP API helpers for tests (the operator has its own adapter)."""

from __future__ import annotations

import json
import time
import urllib.parse
import urllib.request
from typing import Any


def query(prometheus_url: str, promql: str) -> list[dict[str, Any]]:
    """Instant query → result vector."""
    url = f"{prometheus_url}/api/v1/query?{urllib.parse.urlencode({'query': promql})}"
    with urllib.request.urlopen(url, timeout=5) as resp:
        result: list[dict[str, Any]] = json.load(resp)["data"]["result"]
    return result


def scalar(prometheus_url: str, promql: str) -> float | None:
    """The first sample's value, or None for an empty vector."""
    result = query(prometheus_url, promql)
    return float(result[0]["value"][1]) if result else None


def by_label(prometheus_url: str, promql: str, label: str) -> dict[str, float]:
    """Result vector as {label value: sample value}."""
    return {r["metric"].get(label, ""): float(r["value"][1]) for r in query(prometheus_url, promql)}


def wait_for_values(
    prometheus_url: str,
    promql: str,
    label: str,
    expected: dict[str, float],
    *,
    timeout: float = 15.0,
) -> dict[str, float]:
    """Poll until `by_label(...)` reaches at least `expected` for every key; return the last."""
    deadline = time.monotonic() + timeout
    while True:
        seen = by_label(prometheus_url, promql, label)
        if all(seen.get(k, 0.0) >= v for k, v in expected.items()) or time.monotonic() > deadline:
            return seen
        time.sleep(0.25)
