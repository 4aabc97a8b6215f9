#!/usr/bin/env python3
"""Analysis quality on the real stack (issue 14, item 3), beside the simulation.

20 healthy and 20 faulty (+5 pp errors) low-traffic Rollouts run at once on the local
stack — real kube-apiserver + etcd, Traefik as the Gateway, Prometheus scraping Traefik
every 1 s, one real operator (``canary run``, default ``--resync-interval`` 300 s: each
pass's requeue drives the checks) watching the 40 namespaces. Each Rollout has its own
namespace, HTTPRoute (95/5 from the start, the first step's split) and stable/canary
backends (``stack.backend``, 10 per process); a faulty canary fails 5 % of its requests
(the backend's deterministic schedule: 1 in 20). A loopback load generator sends each
route Poisson arrivals at ``--rps`` (10 rps: the canary gets 0.5 rps at 5 %).

Settings: the recommended ones scaled down 6× in time (interval 10 s for 1m, pauses 50 s
for 5m, progressDeadline 100 s for 10m; minRequests 20, failureLimit 1, noData hold,
steps 5 → 25 → 50 → 100), the recommended significance policy (error rate and p99 judged,
flavor traefik). The simulation (benchmarks/analysis_quality.py) is rerun with exactly
these settings and this traffic (1,000 runs per cell), so both columns describe the same
experiment: false rollbacks among the healthy, detections and time to rollback among the
faulty, with the range in which 20 real runs should fall if they behave like the
simulation (95 %: binomial for counts, the median of 20 resampled simulated runs for times).

Usage: ``python benchmarks/analysis_real.py [--healthy 20] [--faulty 20] [--rps 10]
[--budget 600] [--sim-runs 1000] [--out benchmarks/results]`` (a running stack: ``make
cluster-up``; ``make bench-analysis-real`` does both).
"""

from __future__ import annotations

import argparse
import asyncio
import concurrent.futures
import json
import math
import platform
import random
import secrets
import signal
import statistics
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
for extra in (REPO, REPO / "benchmarks", REPO / "tests" / "e2e"):
    if str(extra) not in sys.path:
        sys.path.insert(0, str(extra))

import analysis_quality as aq  # noqa: E402

from canary.core.models import Metric  # noqa: E402

TIMING = aq.Timing(scrape=1.0, interval=10.0, pause=50.0, deadline=100.0)
POLICY = "significance"
FAULT = next(f for f in aq.FAULTS if f.name == "+5pp errors")
HEALTHY = next(f for f in aq.FAULTS if f.healthy)
SHARE = 0.05  # the first step's canary share: "canary R rps at 5 %"
METRICS: list[dict[str, Any]] = [  # the simulation's significance policy, as a Rollout says it
    {
        "name": "error-rate",
        "template": "error-rate",
        "flavor": "traefik",
        "maxIncrease": 0.01,
        "significance": 0.001,
    },
    {
        "name": "latency",
        "template": "latency",
        "flavor": "traefik",
        "maxIncrease": 0.1,
        "significance": 0.001,
    },
]
ROLLBACK_PHASES = ("RollingBack", "RolledBack")
END_PHASES = ("RolledBack", "Succeeded", "Failed")


# -- pure helpers (tests/unit/analysis/test_analysis_real.py) -----------------------------


def classify(phase: str | None, message: str) -> str:
    """The simulation's outcome names for a Rollout's final phase and message."""
    if phase in ROLLBACK_PHASES:
        if "exceeds failureLimit" in message:
            return "rollback-failure"
        if "progressDeadline" in message:
            return "rollback-deadline"
        return "rollback-other"
    if phase == "Succeeded":
        return "succeeded"
    return "unfinished" if phase in (None, "Progressing", "Pending") else f"other:{phase}"


def count_range(p: float, n: int, level: float = 0.95) -> tuple[int, int]:
    """Central ``level`` range of Binomial(n, p): the counts n runs should show."""
    tail = (1 - level) / 2
    pmf = [math.comb(n, k) * p**k * (1 - p) ** (n - k) for k in range(n + 1)]
    lo, acc = 0, 0.0
    for k in range(n + 1):
        acc += pmf[k]
        if acc > tail:
            lo = k
            break
    hi, acc = n, 0.0
    for k in range(n, -1, -1):
        acc += pmf[k]
        if acc > tail:
            hi = k
            break
    return lo, hi


def median_range(
    values: Sequence[float], n: int, *, draws: int = 2000, seed: int = 14, level: float = 0.95
) -> tuple[float, float]:
    """Central ``level`` range of the median of ``n`` values drawn (with replacement) from
    ``values``: where the median of n real runs falls if they behave like ``values``."""
    if not values or n < 1:
        return math.nan, math.nan
    rng = random.Random(seed)
    meds = sorted(statistics.median(rng.choices(values, k=n)) for _ in range(draws))
    tail = (1 - level) / 2
    return meds[int(tail * draws)], meds[min(draws - 1, int((1 - tail) * draws))]


@dataclass
class RealRun:
    namespace: str
    canary: str  # fault name
    end: str = "unfinished"
    checks: int = 0  # distinct error-rate checks the operator recorded
    seconds: float | None = None  # Rollout created → RolledBack (rollbacks only)
    analysis_seconds: float | None = None  # first window's start → RolledBack (rollbacks)
    failures: int = 0
    message: str = ""
    canary_requests: int = 0
    canary_errors: int = 0
    requests: int = 0


@dataclass(frozen=True)
class Side:
    """One column's figures for one kind of canary."""

    runs: int
    rollbacks: int
    deadline: int
    within3: int
    checks: list[int]  # checks to the rollback, per rolled-back run
    seconds: list[float]  # time to the rollback, per rolled-back run


def side_of_sim(cell: aq.Cell, interval: float) -> Side:
    hits = [o for o in cell.outcomes if o.end.startswith("rollback")]
    return Side(
        runs=len(cell.outcomes),
        rollbacks=len(hits),
        deadline=cell.deadline,
        within3=cell.within(3),
        checks=[o.checks for o in hits],
        seconds=[o.checks * interval for o in hits],
    )


def side_of_real(runs: Sequence[RealRun]) -> Side:
    hits = [r for r in runs if r.end.startswith("rollback")]
    return Side(
        runs=len(runs),
        rollbacks=len(hits),
        deadline=sum(r.end == "rollback-deadline" for r in runs),
        within3=sum(r.checks <= 3 for r in hits),
        checks=[r.checks for r in hits],
        seconds=[r.analysis_seconds for r in hits if r.analysis_seconds is not None],
    )


def _med(xs: Sequence[float]) -> str:
    return "–" if not xs else f"{statistics.median(xs):g}"


def comparison(rows: Sequence[tuple[str, Side, Side]]) -> str:
    """Markdown: per kind of canary, simulation vs real, and the real runs' expected range."""
    out = [
        "| canary | figure | simulation | expected in the real runs (95 %) | real stack |",
        "|---|---|---|---|---|",
    ]
    for name, sim, real in rows:
        n = real.runs
        p = sim.rollbacks / sim.runs if sim.runs else math.nan
        lo, hi = count_range(p, n) if sim.runs else (0, n)
        what = "false rollbacks" if name == "healthy" else "rolled back"
        out.append(
            f"| {name} | {what} | {sim.rollbacks}/{sim.runs} = {100 * p:.1f} % "
            f"(≤ {100 * aq.upper95(sim.rollbacks, sim.runs):.1f}) | {lo}–{hi} of {n} | "
            f"**{real.rollbacks}/{n}** (≤ {100 * aq.upper95(real.rollbacks, n):.0f} %) |"
        )
        if sim.rollbacks or real.rollbacks:
            dp = sim.deadline / sim.runs if sim.runs else math.nan
            dlo, dhi = count_range(dp, n)
            out.append(
                f"| {name} | of them by progressDeadline | {sim.deadline}/{sim.runs} | "
                f"{dlo}–{dhi} of {n} | {real.deadline}/{n} |"
            )
            clo, chi = median_range(sim.checks, max(1, real.rollbacks))
            out.append(
                f"| {name} | median checks to the rollback | {_med(sim.checks)} | "
                f"{clo:g}–{chi:g} | {_med(real.checks)} |"
            )
            slo, shi = median_range(sim.seconds, max(1, real.rollbacks))
            out.append(
                f"| {name} | median time to the rollback (s) | {_med(sim.seconds)} "
                f"(checks × interval) | {slo:g}–{shi:g} | {_med(real.seconds)} "
                f"(first window's start → RolledBack) |"
            )
    return "\n".join(out)


# -- the real stack -----------------------------------------------------------------------


def _ts(text: str | None) -> float | None:
    if not text:
        return None
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


def steps(timing: aq.Timing) -> list[dict[str, Any]]:
    pause = f"{timing.pause:g}s"
    return [{"weight": w, "pause": pause} for w in aq.STEPS]  # the last one too, as simulated


class Load:
    """Poisson arrivals at ``rate`` per route, one keep-alive connection each, until stopped."""

    def __init__(self, targets: Mapping[str, tuple[str, dict[str, str]]], rate: float, seed: int):
        self.targets, self.rate, self.seed = dict(targets), rate, seed
        self.counts: dict[str, Counter[tuple[str, int]]] = {k: Counter() for k in targets}
        self.errors: Counter[str] = Counter()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=lambda: asyncio.run(self._main()), daemon=True)

    async def _drive(self, key: str, url: str, headers: dict[str, str]) -> None:
        from urllib.parse import urlsplit

        from stack.loadgen import _Conn, build_request

        parts = urlsplit(url)
        conn = _Conn(parts.hostname or "127.0.0.1", parts.port or 80)
        raw = build_request(url=url, headers=headers)
        rng = random.Random(f"{self.seed}/{key}")
        due = time.perf_counter()
        try:
            while not self._stop.is_set():
                due += rng.expovariate(self.rate)
                delay = due - time.perf_counter()
                if delay > 0:
                    await asyncio.sleep(delay)
                try:
                    code, backend = await asyncio.wait_for(conn.request(raw, b"x-backend"), 10)
                except (TimeoutError, OSError, asyncio.IncompleteReadError, ValueError):
                    self.errors[key] += 1
                    await conn.close()
                else:
                    self.counts[key][(backend, code)] += 1
        finally:
            await conn.close()

    async def _main(self) -> None:
        await asyncio.gather(*(self._drive(k, u, h) for k, (u, h) in self.targets.items()))

    def start(self) -> Load:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=15)


def run_real(
    *, healthy: int, faulty: int, rps: float, budget: float, seed: int, log: Any = print
) -> tuple[list[RealRun], dict[str, Any]]:
    from kubernetes import client, config
    from operator_support import OperatorProcess, rollout_manifest

    from canary.adapters.traefik import HttpTraefikApi
    from stack.ready import wait_route_applied
    from stack.scenario import (
        Backends,
        ClusterEnv,
        create_backend_service,
        create_httproute,
        ensure_namespace,
        read_cluster_env,
        set_faults,
        split_rule,
    )

    local = REPO / ".local"
    raw = read_cluster_env(local / "cluster.env")
    env = ClusterEnv.from_mapping(raw)
    api = config.new_client_from_config(config_file=env.kubeconfig)  # type: ignore[no-untyped-call]
    custom = client.CustomObjectsApi(api)
    tag = secrets.token_hex(2)
    kinds = [HEALTHY.name] * healthy + [FAULT.name] * faulty
    names = [f"ba-{tag}-{'h' if k == HEALTHY.name else 'f'}{i:02d}" for i, k in enumerate(kinds)]
    runs = {ns: RealRun(ns, k) for ns, k in zip(names, kinds, strict=True)}
    t0 = time.monotonic()
    groups = [names[i : i + 10] for i in range(0, len(names), 10)]
    procs: list[Backends] = []
    port_of: dict[str, tuple[Backends, int, int]] = {}
    op: Any = None
    load: Load | None = None
    try:
        for g, group in enumerate(groups):
            b = Backends.start(
                names=[f"{ns}-{side}" for ns in group for side in ("stable", "canary")],
                log_dir=local / "logs",
                pid_dir=local / "pids",
                tag=f"bench-analysis-{tag}-{g}",
            )
            procs.append(b)
            for ns in group:
                port_of[ns] = (b, b.ports[f"{ns}-stable"], b.ports[f"{ns}-canary"])
        traefik = HttpTraefikApi(base_url=env.traefik_api_url)

        def deploy(ns: str) -> None:
            ensure_namespace(api, name=ns)
            _, sport, cport = port_of[ns]
            for svc, port in (("stable", sport), ("canary", cport)):
                create_backend_service(
                    api, namespace=ns, name=svc, backend_port=port, host=env.backend_host
                )
            rule = split_rule(stable="stable", canary="canary", weights=(95, 5), path="/")
            create_httproute(
                api, namespace=ns, name="api-route", rules=[rule], hostnames=[f"{ns}.example.com"]
            )
            wait_route_applied(
                api, traefik, namespace=ns, name="api-route", rules={0: {0: 95, 1: 5}}, timeout=90
            )

        with concurrent.futures.ThreadPoolExecutor(8) as pool:
            list(pool.map(deploy, names))
        for ns in names:
            if runs[ns].canary == FAULT.name:
                b, _, _ = port_of[ns]
                set_faults(b.control_url(f"{ns}-canary"), error_rate=FAULT.add_errors)
        log(f"# {len(names)} routes and backends ready ({time.monotonic() - t0:.0f} s)")
        others = [a for ns in names[1:] for a in ("--namespace", ns)]
        op = OperatorProcess(
            namespace=names[0],
            cluster=raw,
            identity=f"bench-analysis-{tag}",
            log_path=local / "logs" / f"bench-analysis-real-{tag}-operator.log",
            extra_args=(*others, "--resync-interval", "300"),  # the default, said explicitly
        ).start()
        targets = {ns: (f"{env.gateway_url}/", {"Host": f"{ns}.example.com"}) for ns in names}
        load = Load(targets, rps, seed).start()
        created: dict[str, float] = {}
        for ns in names:
            body = json.loads(
                rollout_manifest(
                    namespace=ns,
                    stable="stable",
                    canary="canary",
                    steps=steps(TIMING),
                    metrics=METRICS,
                    interval=f"{TIMING.interval:g}s",
                    min_requests=aq.MIN_REQUESTS,
                    failure_limit=aq.FAILURE_LIMIT,
                    deadline=f"{TIMING.deadline:g}s",
                )
            )
            made = custom.create_namespaced_custom_object(
                "canary.dev", "v1alpha1", ns, "rollouts", body
            )
            created[ns] = _ts(made["metadata"]["creationTimestamp"]) or time.time()
        log(f"# {len(names)} Rollouts created; polling (budget {budget:.0f} s)")
        seen: dict[str, set[str]] = {ns: set() for ns in names}
        done: set[str] = set()
        start = time.monotonic()
        last_log = start
        while len(done) < len(names) and time.monotonic() - start < budget:
            items = custom.list_cluster_custom_object("canary.dev", "v1alpha1", "rollouts")
            for obj in items["items"]:
                ns = obj["metadata"]["namespace"]
                if ns not in runs or ns in done:
                    continue
                st = obj.get("status") or {}
                for m in st.get("analysis", []):
                    if m["name"] == "error-rate":
                        seen[ns].update(x["time"] for x in m.get("measurements", []))
                r = runs[ns]
                r.failures = int(st.get("failures", 0))
                r.message = str(st.get("message", ""))
                phase = st.get("phase")
                r.end = classify(phase, r.message)
                r.checks = len(seen[ns])
                if phase in END_PHASES:
                    done.add(ns)
                    at = _ts(st.get("phaseStartedAt"))
                    if phase == "RolledBack" and at is not None:
                        r.seconds = round(at - created[ns], 1)
                        first = min((_ts(t) or at for t in seen[ns]), default=None)
                        if first is not None:  # the first check's window began 1 interval before
                            r.analysis_seconds = round(at - (first - TIMING.interval), 1)
            if time.monotonic() - last_log >= 30:
                last_log = time.monotonic()
                ends = Counter(r.end for r in runs.values())
                log(f"#   {time.monotonic() - start:.0f} s: {dict(ends)}")
            time.sleep(1.0)
        wall = time.monotonic() - start
    finally:
        if load is not None:
            load.stop()
        if op is not None:
            op.stop()
        for b in procs:
            b.stop()
    if load is not None:
        for ns, r in runs.items():
            c = load.counts[ns]
            r.requests = sum(c.values())
            r.canary_requests = sum(n for (b, _), n in c.items() if b.endswith("-canary"))
            r.canary_errors = sum(
                n for (b, code), n in c.items() if b.endswith("-canary") and code >= 500
            )
    info = {
        "tag": tag,
        "rollouts_wall_s": round(wall, 1),
        "total_wall_s": round(time.monotonic() - t0, 1),
        "load_errors": sum(load.errors.values()) if load else 0,
    }
    return list(runs.values()), info


def simulate(runs: int, canary_rps: float) -> dict[str, aq.Cell]:
    cells = aq.simulate(
        runs=runs,
        seed=14,
        form="delta",
        policies=[POLICY],
        traffic=[canary_rps],
        baselines=[0.0],
        faults=[HEALTHY, FAULT],
        timing=TIMING,
    )
    return {c.fault.name: c for c in cells}


def check_policy() -> None:
    """The Rollouts' metrics are exactly the simulated policy's."""
    mine = tuple(Metric.model_validate(m) for m in METRICS)
    if mine != aq.POLICIES[POLICY]:
        raise SystemExit(f"METRICS differ from analysis_quality.POLICIES[{POLICY!r}]")


def report(
    sim: Mapping[str, aq.Cell], real: Iterable[RealRun], info: Mapping[str, Any], rps: float
) -> str:
    real = list(real)
    rows = [
        (name, side_of_sim(sim[name], TIMING.interval), side_of_real(
            [r for r in real if r.canary == name]
        ))
        for name in (HEALTHY.name, FAULT.name)
    ]  # fmt: skip
    served = [r.canary_requests for r in real]
    head = (
        f"# analysis quality, real stack vs simulation: policy {POLICY}, route traffic "
        f"{rps:g} rps (canary {rps * SHARE:g} rps at 5 %), stable errors 0 %, "
        f"interval {TIMING.interval:g}s, pauses {TIMING.pause:g}s, progressDeadline "
        f"{TIMING.deadline:g}s, scrape {TIMING.scrape:g}s, minRequests {aq.MIN_REQUESTS}, "
        f"failureLimit {aq.FAILURE_LIMIT}; simulation {sim[HEALTHY.name].outcomes.__len__()} "
        f"runs/cell (seed 14); real: {len(real)} Rollouts at once, "
        f"{info.get('rollouts_wall_s')} s of rollouts, {info.get('total_wall_s')} s in all, "
        f"load errors {info.get('load_errors')}, canary requests per run median "
        f"{_med(served)}; python {platform.python_version()}"
    )
    return head + "\n\n" + comparison(rows)


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--healthy", type=int, default=20)
    ap.add_argument("--faulty", type=int, default=20)
    ap.add_argument("--rps", type=float, default=10.0, help="route traffic per Rollout")
    ap.add_argument("--budget", type=float, default=600.0, help="seconds for the rollouts")
    ap.add_argument("--sim-runs", type=int, default=1000)
    ap.add_argument("--seed", type=int, default=14)
    ap.add_argument("--out", default=str(REPO / "benchmarks" / "results"))
    args = ap.parse_args(argv)
    check_policy()
    # stopped by signal: clean up (load, operator, backends) in run_real's finally
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    signal.signal(signal.SIGINT, signal.default_int_handler)
    started = time.monotonic()
    real, info = run_real(
        healthy=args.healthy, faulty=args.faulty, rps=args.rps, budget=args.budget, seed=args.seed
    )
    sim = simulate(args.sim_runs, args.rps * SHARE)
    text = report(sim, real, info, args.rps)
    runs_table = [
        "| Rollout | canary | outcome | checks | s to RolledBack (from created) | failures | "
        "canary requests (5xx) | message |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in real:
        runs_table.append(
            f"| {r.namespace} | {r.canary} | {r.end} | {r.checks} | "
            f"{'–' if r.seconds is None else f'{r.analysis_seconds} ({r.seconds})'} | "
            f"{r.failures} | "
            f"{r.canary_requests} ({r.canary_errors}) | {r.message[:120]} |"
        )
    full = text + "\n\n" + "\n".join(runs_table) + "\n"
    print(full)
    print(f"# {time.monotonic() - started:.0f} s wall in all")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "analysis_real.md").write_text(full)
    (out / "analysis_real.json").write_text(
        json.dumps({"info": info, "runs": [asdict(r) for r in real]}, indent=1) + "\n"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
