#!/usr/bin/env python3
"""Benchmark the route evaluator: table build time and decisions/s, index vs naive scan.

Builds a seeded table of 1,000 HTTPRoutes x 8 rules over 200 hostnames (headers, query
matches, regex paths, filters: ``canary.core.routing.synthetic``), then times
``evaluate(table, request)`` — filters and shares included, sampling excluded — over a
seeded request stream, once with the per-host index and once with a naive scan over
every rule attached to the listener. One core, one process. Prints a markdown table.

Usage: ``python benchmarks/evaluator.py [--routes N] [--requests N] [--seed S]``
"""

from __future__ import annotations

import argparse
import platform
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from canary.core.routing import build_table, evaluate
from canary.core.routing.synthetic import synthetic_docs, synthetic_requests


def _rate(table, requests, *, naive: bool, min_seconds: float) -> tuple[float, int]:  # type: ignore[no-untyped-def]
    done = 0
    start = time.process_time()  # CPU time of this process: robust on a shared machine
    while True:
        for req in requests:
            evaluate(table, req, naive=naive)
        done += len(requests)
        elapsed = time.process_time() - start
        if elapsed >= min_seconds:
            return done / elapsed, done


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--routes", type=int, default=1000)
    ap.add_argument("--rules", type=int, default=8)
    ap.add_argument("--hostnames", type=int, default=200)
    ap.add_argument("--requests", type=int, default=20_000)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--seconds", type=float, default=2.0, help="minimum timing per variant")
    args = ap.parse_args()

    docs = synthetic_docs(args.seed, routes=args.routes, rules=args.rules, hostnames=args.hostnames)
    requests = synthetic_requests(args.seed, args.requests, hostnames=args.hostnames)
    start = time.process_time()
    table = build_table(docs)
    build_s = time.process_time() - start
    # Warm the per-host candidate cache once (its cost is part of the first request per host).
    start = time.process_time()
    for req in requests:
        evaluate(table, req)
    first_pass = args.requests / (time.process_time() - start)
    indexed, _ = _rate(table, requests, naive=False, min_seconds=args.seconds)
    naive_requests = requests[: max(500, args.requests // 20)]
    naive, _ = _rate(table, naive_requests, naive=True, min_seconds=args.seconds)
    statuses: dict[int, int] = {}
    for req in requests:
        s = evaluate(table, req).status
        statuses[s] = statuses.get(s, 0) + 1

    rules = sum(len(r.rules) for r in table.objects.routes)
    print(f"# canary route evaluator benchmark (seed {args.seed})")
    print()
    print(
        f"{args.routes} HTTPRoutes x {args.rules} rules ({rules} rules) over {args.hostnames} "
        f"hostnames; {args.requests} requests; Python {platform.python_version()} "
        f"on {platform.machine()}, one core, CPU time"
    )
    print(f"statuses of the request stream: {dict(sorted(statuses.items()))}")
    print()
    print("| measure | value |")
    print("|---|---|")
    print(f"| table build (parse + attach + resolve + index) | {build_s * 1000:.0f} ms |")
    print(f"| evaluate, index, first pass (per-host cache cold) | {first_pass:,.0f} decisions/s |")
    print(f"| evaluate, index (warm) | {indexed:,.0f} decisions/s |")
    print(f"| evaluate, naive scan over all rules | {naive:,.0f} decisions/s |")
    print(f"| index speed-up | {indexed / naive:,.0f}x |")
    target = 50_000
    print()
    print(f"target >= {target:,} decisions/s: {'met' if indexed >= target else 'NOT met'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
