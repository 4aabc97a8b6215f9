#!/usr/bin/env python3
"""Step latency on the local stack: gate opens → Traefik serves the new split.

Runs ``canary run`` (1 s resync, as in the e2e tests) against the running local control
plane (``make cluster-up``) and a fresh namespace with the seed's api-route at 100/0.
A Rollout with two manual gates (canary 50, then 100; no metrics) is driven through N
steps by commands, the way CI does: ``retry`` starts step 1 (50/50), ``promote`` moves
to step 2 (0/100), ``abort`` restores 100/0 between cycles (not counted as a step).

For every step it records, on a monotonic clock:

- ``command``: the command annotations were written (the gate opened),
- ``status``: the Rollout's status says the step advanced (polled every 10 ms),
- ``traefik``: Traefik's API serves the new weights (polled every 10 ms),
- ``wire``: traffic on the wire shows the new split. A keep-alive prober sends requests
  back to back (≈ 1 ms each); 0 → 50 shows as the first canary answer, 50 → 100 as the
  first request after the last stable answer (checked over the next 1.5 s).

and prints median / p95 / max per interval as a markdown table. Resolution: the polls
(10 ms) and the prober (one request ≈ 1–2 ms; a 50/50 split shows within ~2 requests).

Usage: ``python benchmarks/step_latency.py [--steps N] [--resync S]``
"""

from __future__ import annotations

import argparse
import http.client
import json
import platform
import secrets
import statistics
import sys
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "tests" / "e2e"))

from kubernetes import client, config  # noqa: E402
from operator_support import OperatorProcess, rollout_manifest, wait_until  # noqa: E402

from canary.adapters.errors import TraefikApiError  # noqa: E402
from canary.adapters.traefik import HttpTraefikApi  # noqa: E402
from stack.scenario import ClusterEnv, deploy_app, read_cluster_env  # noqa: E402

GROUP, VERSION, PLURAL = "canary.dev", "v1alpha1", "rollouts"
POLL = 0.01


class Prober:
    """Back-to-back keep-alive requests; keeps (send time, backend) of every answer."""

    def __init__(self, url: str, headers: dict[str, str]) -> None:
        parts = urlsplit(url)
        self.host, self.port, self.path = parts.hostname or "", parts.port or 80, parts.path
        self.headers = headers
        self.answers: list[tuple[float, str]] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        conn = http.client.HTTPConnection(self.host, self.port, timeout=5)
        while not self._stop.is_set():
            sent = time.monotonic()
            try:
                conn.request("GET", self.path, headers=self.headers)
                resp = conn.getresponse()
                resp.read()
                backend = resp.getheader("X-Backend") or f"-{resp.status}"
            except (OSError, http.client.HTTPException):
                conn.close()
                conn = http.client.HTTPConnection(self.host, self.port, timeout=5)
                continue
            with self._lock:
                self.answers.append((sent, backend))
        conn.close()

    def since(self, t: float) -> list[tuple[float, str]]:
        with self._lock:
            return [a for a in self.answers if a[0] >= t]

    def start(self) -> Prober:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=10)


def first_time(fn: Callable[[], bool], *, timeout: float = 30.0) -> float:
    """The monotonic time at which `fn()` first returned True (polled every POLL s)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if fn():
            return time.monotonic()
        time.sleep(POLL)
    raise TimeoutError("condition not reached")


class Bench:
    def __init__(self, api: client.ApiClient, env: ClusterEnv, namespace: str) -> None:
        self.custom = client.CustomObjectsApi(api)
        self.traefik = HttpTraefikApi(base_url=env.traefik_api_url)
        self.namespace = namespace

    def status(self) -> dict[str, Any]:
        obj = self.custom.get_namespaced_custom_object(
            GROUP, VERSION, self.namespace, PLURAL, "rollout"
        )
        return dict(obj.get("status") or {})

    def command(self, verb: str) -> float:
        body = {
            "metadata": {
                "annotations": {
                    "canary.dev/command": verb,
                    "canary.dev/command-id": f"bench-{uuid.uuid4().hex[:12]}",
                }
            }
        }
        self.custom.patch_namespaced_custom_object(
            GROUP, VERSION, self.namespace, PLURAL, "rollout", body
        )
        return time.monotonic()

    def serves(self, stable: int, canary: int) -> bool:
        try:
            rule = self.traefik.served_rule(namespace=self.namespace, route="api-route", rule=0)
        except TraefikApiError:
            return False
        return rule.serves({0: stable, 1: canary})


def wire_time(prober: Prober, since: float, canary: int, name: str) -> float:
    """When the wire first shows the new split (see the module doc)."""
    if canary == 50:
        return first_time(lambda: any(b == name for _, b in prober.since(since)))

    # 100: the first request after the last non-canary answer, stable for 1.5 s after it
    def settled() -> bool:
        answers = prober.since(since)
        last_other = max((t for t, b in answers if b != name), default=since)
        return bool(answers) and answers[-1][0] - last_other >= 1.5

    first_time(settled)
    answers = prober.since(since)
    last_other = max((t for t, b in answers if b != name), default=since)
    return min(t for t, b in answers if t > last_other)


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=20, help="steps to measure (two per cycle)")
    ap.add_argument("--resync", type=float, default=1.0, help="operator resync interval (s)")
    ap.add_argument("--env", default=str(REPO / ".local" / "cluster.env"))
    args = ap.parse_args()

    raw = read_cluster_env(args.env)
    env = ClusterEnv.from_mapping(raw)
    api = config.new_client_from_config(config_file=env.kubeconfig)  # type: ignore[no-untyped-call]
    namespace = f"bench-step-latency-{secrets.token_hex(3)}"
    app = deploy_app(api, env, namespace=namespace, weights=(100, 0))
    op = OperatorProcess(
        namespace=namespace,
        cluster=raw,
        identity="bench",
        log_path=Path(env.local_dir) / "logs" / f"operator-{namespace}-bench.log",
        extra_args=("--resync-interval", str(args.resync)),
    )
    bench = Bench(api, env, namespace)
    prober = Prober(app.url, app.headers).start()
    rows: dict[str, list[float]] = {
        k: []
        for k in (
            "command → status",
            "status → Traefik API",
            "status → wire",
            "command → Traefik API",
            "command → wire",
        )
    }
    try:
        op.start()
        steps = [{"weight": 50}, {"weight": 100}]
        manifest = rollout_manifest(namespace=namespace, steps=steps, metrics=[])
        bench.custom.create_namespaced_custom_object(
            GROUP, VERSION, namespace, PLURAL, json.loads(manifest)
        )
        wait_until("step 1", lambda: bench.status().get("stepLabel") == "1/2", timeout=30)
        wait_until("50/50 served", lambda: bench.serves(50, 50), timeout=30)
        bench.command("abort")
        wait_until("aborted", lambda: bench.status().get("phase") == "Aborted", timeout=30)
        done = 0
        while done < args.steps:
            for verb, label, (stable, canary) in (
                ("retry", "1/2", (50, 50)),
                ("promote", "2/2", (0, 100)),
            ):
                if done >= args.steps:
                    break
                t_cmd = bench.command(verb)

                def advanced(label: str = label) -> bool:
                    st = bench.status()
                    return st.get("stepLabel") == label and st.get("phase") == "Progressing"

                box: dict[str, float] = {}
                poll_status = threading.Thread(
                    target=lambda box=box, advanced=advanced: box.__setitem__(
                        "status", first_time(advanced)
                    )
                )
                poll_status.start()
                t_traefik = first_time(lambda s=stable, c=canary: bench.serves(s, c))
                poll_status.join()
                t_status = box["status"]
                t_wire = wire_time(prober, t_cmd, canary, app.canary)
                rows["command → status"].append(t_status - t_cmd)
                rows["status → Traefik API"].append(t_traefik - t_status)
                rows["status → wire"].append(t_wire - t_status)
                rows["command → Traefik API"].append(t_traefik - t_cmd)
                rows["command → wire"].append(t_wire - t_cmd)
                done += 1
                print(
                    f"step {done:>2} ({verb:>7} → canary {canary:>3}): status "
                    f"{(t_status - t_cmd) * 1000:6.0f} ms, Traefik "
                    f"{(t_traefik - t_cmd) * 1000:6.0f} ms, wire {(t_wire - t_cmd) * 1000:6.0f} "
                    "ms after the command",
                    file=sys.stderr,
                )
            bench.command("abort")
            wait_until("aborted", lambda: bench.status().get("phase") == "Aborted", timeout=30)
            wait_until("100/0 served", lambda: bench.serves(100, 0), timeout=30)
    finally:
        prober.stop()
        op.stop()
        app.close()

    n = len(rows["command → status"])
    print(
        f"\nStep latency, {n} steps (operator resync {args.resync:g} s, Traefik throttle as "
        f"configured by the stack; {platform.python_implementation()} "
        f"{platform.python_version()}, {platform.machine()}), "
        f"{len(prober.answers)} probe requests\n"
    )
    print("| interval | N | median ms | p95 ms | max ms |")
    print("|---|---:|---:|---:|---:|")
    for name, values in rows.items():
        ms = [v * 1000 for v in values]
        print(
            f"| {name} | {len(ms)} | {statistics.median(ms):.0f} | {percentile(ms, 0.95):.0f} "
            f"| {max(ms):.0f} |"
        )
    print(f"\nnamespace {namespace}; operator log {op.log_path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
