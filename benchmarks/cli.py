#!/usr/bin/env python3
"""CLI latency on the local stack: ``canary`` as a user runs it, beside ``kubectl``.

Each command is a fresh process started from Python with ``subprocess`` (as a shell
would start it), timed from spawn to exit on a monotonic clock, ``--runs`` times, runs of
the different commands and binaries interleaved so that a busy machine slows all of them
alike. It needs the running local control plane (``make cluster-up``; ``make bench-cli``
starts it) and uses a fresh namespace with the seed's api-route, one Rollout with two
manual gates (50, then 100; no metrics) and a ``canary run`` operator (1 s resync, as in
the e2e tests).

Measured per ``canary`` binary (``--canary LABEL=PATH``, repeatable; default: this
checkout's ``.venv/bin/canary``):

- ``--help``; ``get -n NS`` (the table); ``status rollout -n NS`` (the detail view, with
  its Events);
- ``promote → wire``: at the first gate (50/50, served), ``canary promote rollout -n NS``
  is spawned; the interval ends when traffic on the wire shows the new split (0/100: the
  first request after the last stable answer, stable for 1.5 s after it; a keep-alive
  prober sends requests back to back, see benchmarks/step_latency.py). Between runs the
  rollout is aborted and retried through the API (not timed) until 50/50 is served again.
  ``promote (exit)`` is the same command's own run time.

and ``kubectl get rollouts.canary.dev -n NS`` on the same objects. Prints a markdown table
of medians (and min / max) in seconds.

Usage: ``python benchmarks/cli.py [--runs N] [--canary LABEL=PATH ...]``
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import secrets
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "tests" / "e2e"))
sys.path.insert(0, str(REPO / "benchmarks"))

from kubernetes import config  # noqa: E402
from operator_support import OperatorProcess, rollout_manifest, wait_until  # noqa: E402
from step_latency import GROUP, PLURAL, VERSION, Bench, Prober, wire_time  # noqa: E402

from stack.scenario import ClusterEnv, deploy_app, read_cluster_env  # noqa: E402

GOALS = {"--help": 0.3, "get": 1.0, "status": 1.0, "promote → wire": 1.5}


def timed(argv: list[str], env: dict[str, str]) -> float:
    """Seconds from spawn to exit; a failing command stops the benchmark."""
    t0 = time.monotonic()
    proc = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=120)
    took = time.monotonic() - t0
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(argv)} exited {proc.returncode}: {proc.stderr.strip()}")
    return took


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=15, help="runs per command (default 15)")
    ap.add_argument(
        "--canary",
        action="append",
        default=[],
        metavar="LABEL=PATH",
        help="a canary executable to measure (repeatable; default: this checkout's)",
    )
    ap.add_argument("--env", default=str(REPO / ".local" / "cluster.env"))
    args = ap.parse_args()
    binaries = dict(b.split("=", 1) for b in args.canary) or {
        "canary": str(REPO / ".venv" / "bin" / "canary")
    }

    raw = read_cluster_env(args.env)
    env = ClusterEnv.from_mapping(raw)
    kubectl = str(Path(raw["CANARY_CACHE"]) / "venv" / "bin" / "kubectl")
    shell_env = {**os.environ, "KUBECONFIG": env.kubeconfig}
    for key in ("KUBERNETES_SERVICE_HOST", "KUBERNETES_SERVICE_PORT", "CANARY_KUBE_SERVER"):
        shell_env.pop(key, None)

    api = config.new_client_from_config(config_file=env.kubeconfig)  # type: ignore[no-untyped-call]
    namespace = f"bench-cli-{secrets.token_hex(3)}"
    app = deploy_app(api, env, namespace=namespace, weights=(100, 0))
    op = OperatorProcess(
        namespace=namespace,
        cluster=raw,
        identity="bench-cli",
        log_path=Path(env.local_dir) / "logs" / f"operator-{namespace}-bench.log",
    )
    bench = Bench(api, env, namespace)
    prober = Prober(app.url, app.headers).start()
    ns = ["-n", namespace]
    reads = {
        "--help": ["--help"],
        "get": ["get", *ns],
        "status": ["status", "rollout", *ns],
    }
    results: dict[tuple[str, str], list[float]] = {}

    def add(label: str, what: str, seconds: float) -> None:
        results.setdefault((label, what), []).append(seconds)

    def at_first_gate() -> None:
        """Aborted → retry (through the API) → step 1 at 50/50, served."""
        if bench.status().get("phase") != "Aborted":
            bench.command("abort")
            wait_until("aborted", lambda: bench.status().get("phase") == "Aborted", timeout=30)
            wait_until("100/0 served", lambda: bench.serves(100, 0), timeout=30)
        bench.command("retry")
        wait_until(
            "step 1",
            lambda: (
                bench.status().get("stepLabel") == "1/2"
                and bench.status().get("phase") == "Progressing"
            ),
            timeout=30,
        )
        wait_until("50/50 served", lambda: bench.serves(50, 50), timeout=30)

    try:
        op.start()
        steps = [{"weight": 50}, {"weight": 100}]
        manifest = rollout_manifest(namespace=namespace, steps=steps, metrics=[])
        bench.custom.create_namespaced_custom_object(
            GROUP, VERSION, namespace, PLURAL, json.loads(manifest)
        )
        wait_until("step 1", lambda: bench.status().get("stepLabel") == "1/2", timeout=30)
        wait_until("50/50 served", lambda: bench.serves(50, 50), timeout=30)
        for run in range(args.runs):
            for what, argv in reads.items():
                for label, path in binaries.items():
                    add(label, what, timed([path, *argv], shell_env))
            add("kubectl", "get", timed([kubectl, "get", "rollouts.canary.dev", *ns], shell_env))
            for label, path in binaries.items():
                at_first_gate()
                t0 = time.monotonic()
                took = timed([path, "promote", "rollout", *ns], shell_env)
                t_wire = wire_time(prober, t0, 100, app.canary)
                add(label, "promote (exit)", took)
                add(label, "promote → wire", t_wire - t0)
            print(f"run {run + 1}/{args.runs} done", file=sys.stderr)
    finally:
        prober.stop()
        op.stop()
        app.close()

    labels = [*binaries, "kubectl"]
    whats = ["--help", "get", "status", "promote (exit)", "promote → wire"]
    print(
        f"\nCLI latency, {args.runs} runs each, seconds from spawn to exit (promote → wire: "
        f"to the new split on the wire); {platform.python_implementation()} "
        f"{platform.python_version()}, {os.cpu_count()} CPUs, load average "
        f"{' '.join(f'{x:.1f}' for x in os.getloadavg())} at the end\n"
    )
    print("| command | goal | " + " | ".join(f"{x} median (min–max)" for x in labels) + " |")
    print("|---|---:|" + "---:|" * len(labels))
    for what in whats:
        cells = []
        for label in labels:
            values = results.get((label, what))
            cells.append(
                f"{statistics.median(values):.2f} ({min(values):.2f}–{max(values):.2f})"
                if values
                else "—"
            )
        goal = f"≤ {GOALS[what]:g}" if what in GOALS else ""
        print(f"| {what} | {goal} | " + " | ".join(cells) + " |")
    print(f"\nnamespace {namespace}; operator log {op.log_path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
