#!/usr/bin/env python3
"""Analysis quality: false rollbacks, detection rate and checks-to-detect, by simulation.

A seeded simulation that drives the real verdict code —
``canary.core.analysis.judge_metric`` / ``summarize`` and
``canary.core.rollout.checks.verdict_of`` / ``baseline`` — with what Prometheus
would return, and the state machine's step/failure/deadline rules (``StepMachine``
below, checked against ``canary.core.rollout.machine.decide`` by
tests/unit/analysis/test_analysis_bench.py).

What Prometheus would return (per backend, per window):

- requests arrive as a Poisson process (Poisson counts per scrape interval, split into
  code 200 / code 500 by the error rate, and into latency buckets — Poisson thinning);
- counters are scraped every ``SCRAPE`` seconds at a random phase; a series exists from
  the first scrape after its first request (gateways create ``code="500"`` at the first 500);
- ``increase()`` is Prometheus's ``extrapolatedRate`` (extrapolation to the window edges,
  the zero-point limit for counters, < 2 samples → no value), the query form canary used
  before issue 14; ``delta`` is the one-window form ``(S - S offset w >= 0) or S`` that
  counts a series born inside the window from zero (the form canary uses now);
- p99 is ``histogram_quantile`` over the summed bucket increases (linear interpolation in
  the bucket, the highest finite bound for the +Inf bucket), buckets of stack/templates/
  traefik.yml; latency is log-normal (median 20 ms, p99 100 ms), a slower canary adds a
  constant delay to every request (so "+50 ms p99" is exactly +50 ms at p99).

Settings fixed before measuring (issue 14): interval 1m, minRequests 20, failureLimit 1,
progressDeadline 10m, steps 5 → 25 → 50 → 100 with 5m pauses, noData hold; scrape 15 s.
"Canary traffic R rps at 5 %" means the service gets R / 0.05 rps in total, and the canary
its step's share of it (R at 5 %, 5R at 25 %, …, 20R at 100 %).

Usage: ``python benchmarks/analysis_quality.py [--runs N] [--seed S] [--quick]
[--query delta|increase] [--policies a,b] [--markdown]``
"""

from __future__ import annotations

import argparse
import math
import platform
import random
import statistics
import sys
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from canary.core.analysis import judge_metric, summarize
from canary.core.analysis.stats import _log_comb
from canary.core.models import Analysis, Metric
from canary.core.phases import Verdict
from canary.core.results import MetricResult, Sample
from canary.core.rollout import checks

SCRAPE = 15.0  # s
INTERVAL = 60.0  # s, analysis.interval 1m
PAUSE = 300.0  # s, 5m per step
DEADLINE = 600.0  # s, progressDeadline 10m
STEPS = (5, 25, 50, 100)
MIN_REQUESTS = 20
FAILURE_LIMIT = 1
BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)
LAT_MEDIAN, LAT_SIGMA = 0.020, math.log(0.100 / 0.020) / 2.3263478740408408  # p99 = 100 ms

TRAFFIC = (0.2, 1.0, 5.0, 50.0)  # canary rps at 5 %


@dataclass(frozen=True)
class Timing:
    """Scrape, check interval, step pause and progressDeadline, in seconds."""

    scrape: float = SCRAPE
    interval: float = INTERVAL
    pause: float = PAUSE
    deadline: float = DEADLINE


RECOMMENDED = Timing()
BASELINES = (0.0, 0.001, 0.01)


@dataclass(frozen=True)
class Fault:
    """How the canary differs from stable."""

    name: str
    add_errors: float = 0.0  # percentage points
    times_errors: float = 1.0
    delay: float = 0.0  # seconds added to every request

    @property
    def healthy(self) -> bool:
        return self.add_errors == 0 and self.times_errors == 1 and self.delay == 0

    def error_rate(self, base: float) -> float:
        return min(1.0, base * self.times_errors + self.add_errors)


FAULTS = (
    Fault("healthy"),
    Fault("+1pp errors", add_errors=0.01),
    Fault("+5pp errors", add_errors=0.05),
    Fault("x3 errors", times_errors=3.0),
    Fault("+50ms p99", delay=0.050),
    Fault("+300ms p99", delay=0.300),
)


def _metric(name: str, template: str, **bounds: float) -> Metric:
    return Metric.model_validate(
        {"name": name, "template": template, "flavor": "traefik", **bounds}
    )


# Each policy: an error-rate metric and a p99 latency metric, both judged at every check.
POLICIES: dict[str, tuple[Metric, ...]] = {
    # Flagger's docs: request-success-rate thresholdRange min 99, request-duration max 500 ms
    "static": (
        _metric("error-rate", "error-rate", max=0.01),
        _metric("latency", "latency", max=0.5),
    ),
    "max+maxIncrease": (
        _metric("error-rate", "error-rate", max=0.05, maxIncrease=0.01),
        _metric("latency", "latency", max=0.5, maxIncrease=0.05),
    ),
    "maxRatio": (
        _metric("error-rate", "error-rate", maxRatio=2.0),
        _metric("latency", "latency", maxRatio=1.5),
    ),
    # recommended (docs/analysis.md): count-based tests, p99 judged only on a 10-request tail
    "significance": (
        _metric("error-rate", "error-rate", maxIncrease=0.01, significance=0.001),
        _metric("latency", "latency", maxIncrease=0.1, significance=0.001),
    ),
}


# Not in the default run: the significance policy as docs/analysis.md showed it before
# issue 14 (per-window test at 0.05, p99 maxRatio 1.5 on any number of requests); measure
# it with --policies significance-before --query increase --no-accumulate.
EXTRA_POLICIES: dict[str, tuple[Metric, ...]] = {
    "significance-before": (
        _metric("error-rate", "error-rate", maxIncrease=0.01, significance=0.05),
        _metric("latency", "latency", maxRatio=1.5),
    ),
}
DEFAULT_POLICIES = tuple(POLICIES)
POLICIES.update(EXTRA_POLICIES)


def analysis_policy(timing: Timing = RECOMMENDED) -> Analysis:
    return Analysis.model_validate(
        {
            "interval": f"{timing.interval:g}s",
            "minRequests": MIN_REQUESTS,
            "failureLimit": FAILURE_LIMIT,
            "noData": "hold",
        }
    )


# -- random draws ---------------------------------------------------------------------


def poisson(rng: random.Random, mean: float) -> int:
    """Poisson draw: exact (Knuth) below 30, normal approximation above (documented)."""
    if mean <= 0:
        return 0
    if mean < 30:
        limit, k, p = math.exp(-mean), 0, rng.random()
        while p > limit:
            k += 1
            p *= rng.random()
        return k
    return max(0, round(rng.gauss(mean, math.sqrt(mean))))


def _phi(z: float) -> float:
    return 0.5 * math.erfc(-z / math.sqrt(2))


def bucket_probs(delay: float) -> tuple[float, ...]:
    """P(latency in each bucket, +Inf last) for log-normal latency plus ``delay``."""
    cdf = [
        _phi((math.log(le - delay) - math.log(LAT_MEDIAN)) / LAT_SIGMA) if le > delay else 0.0
        for le in BUCKETS
    ]
    cdf.append(1.0)
    return tuple(b - a for a, b in zip([0.0, *cdf[:-1]], cdf, strict=True))


# -- Prometheus, emulated -----------------------------------------------------------------


@dataclass
class Series:
    """One counter series: (scrape time, value) samples from its birth on."""

    samples: list[tuple[float, float]] = field(default_factory=list)
    value: float = 0.0
    born: bool = False

    def scrape(self, t: float, add: int) -> None:
        self.value += add
        if not self.born and self.value > 0:
            self.born = True
        if self.born:
            self.samples.append((t, self.value))
            if len(self.samples) > 16:
                del self.samples[:8]


def increase(s: Series, start: float, end: float) -> float | None:
    """Prometheus ``increase(s[end-start])`` at ``end`` (extrapolatedRate, counters)."""
    pts = [(t, v) for t, v in s.samples if start < t <= end]
    if len(pts) < 2:
        return None
    (t0, v0), (t1, v1) = pts[0], pts[-1]
    result = v1 - v0  # no resets in the simulation
    sampled = t1 - t0
    avg = sampled / (len(pts) - 1)
    to_start, to_end = t0 - start, end - t1
    threshold = avg * 1.1
    if to_start >= threshold:
        to_start = avg / 2
    if result > 0 and v0 >= 0:
        to_zero = sampled * (v0 / result)
        if to_zero < to_start:
            to_start = to_zero
    if to_end >= threshold:
        to_end = avg / 2
    return result * (sampled + to_start + to_end) / sampled


def one_window(s: Series, start: float, end: float) -> float | None:
    """``(S - S offset w >= 0) or S`` at ``end``: a series born in the window counts from 0."""
    now = prev = None
    for t, v in s.samples:
        if t <= end:
            now = v
        if t <= start:
            prev = v
    if now is None:
        return None
    return now - (prev or 0.0)


def histogram_quantile(q: float, counts: Sequence[float]) -> float:
    """Prometheus ``histogram_quantile`` over per-bucket counts (not cumulative; +Inf last)."""
    total = sum(counts)
    if total <= 0:
        return math.nan
    rank = q * total
    cum = 0.0
    for i, c in enumerate(counts):
        if cum + c >= rank and c > 0:
            if i == len(BUCKETS):
                return BUCKETS[-1]
            lo = 0.0 if i == 0 else BUCKETS[i - 1]
            return lo + (BUCKETS[i] - lo) * (rank - cum) / c
        cum += c
    return BUCKETS[-1]


@dataclass
class Backend:
    """One backend's series: code 200, code 500, latency buckets (+Inf last)."""

    ok: Series = field(default_factory=Series)
    err: Series = field(default_factory=Series)
    buckets: list[Series] = field(default_factory=lambda: [Series() for _ in range(13)])

    def scrape(
        self,
        rng: random.Random,
        t: float,
        requests_mean: float,
        err_rate: float,
        probs: Sequence[float],
    ) -> None:
        self.ok.scrape(t, poisson(rng, requests_mean * (1 - err_rate)))
        self.err.scrape(t, poisson(rng, requests_mean * err_rate))
        n = [poisson(rng, requests_mean * p) if p > 0 else 0 for p in probs]
        if sum(n) and not self.buckets[0].born:  # histogram series appear together
            for b in self.buckets:
                b.born = True
        for b, k in zip(self.buckets, n, strict=True):
            b.scrape(t, k)

    def query(self, start: float, end: float, form: str) -> tuple[Sample, Sample]:
        """(error-rate sample, p99 sample), each with the request count behind it."""
        f = increase if form == "increase" else one_window
        ok, err = f(self.ok, start, end), f(self.err, start, end)
        if ok is None and err is None:
            empty = Sample(None, empty=True, requests=None)
            return empty, empty
        total = (ok or 0.0) + (err or 0.0)
        rate = (err or 0.0) / total if total > 0 else math.nan
        counts = [f(b, start, end) for b in self.buckets]
        if all(c is None for c in counts):
            p99 = Sample(None, empty=True, requests=total)
        else:
            p99 = Sample(histogram_quantile(0.99, [c or 0.0 for c in counts]), requests=total)
        return Sample(rate, requests=total), p99


@dataclass
class WindowCounts:
    """The ``counted`` query form, fast: it counts exactly the requests scraped in the
    window (a series born inside it from zero), so per-window counts are Poisson draws —
    no per-scrape series needed. Windows are whole check periods (the real window is
    aligned to scrapes: at a step change it holds up to one scrape interval of the
    previous weight's traffic; ignored here)."""

    periods: list[tuple[int, int, list[int]]] = field(default_factory=list)
    requests_seen: bool = False  # a request series exists (no data before the first)
    latency_seen: bool = False

    def draw(
        self, rng: random.Random, mean: float, err_rate: float, probs: Sequence[float]
    ) -> None:
        ok, err = poisson(rng, mean * (1 - err_rate)), poisson(rng, mean * err_rate)
        buckets = [poisson(rng, mean * p) if p > 0 else 0 for p in probs]
        self.requests_seen = self.requests_seen or ok + err > 0
        self.latency_seen = self.latency_seen or sum(buckets) > 0
        self.periods.append((ok, err, buckets))
        if len(self.periods) > 24:
            del self.periods[:12]

    def query(self, periods: int) -> tuple[Sample, Sample]:
        last = self.periods[-periods:]
        ok = sum(p[0] for p in last)
        err = sum(p[1] for p in last)
        if not self.requests_seen:
            empty = Sample(None, empty=True, requests=None)
            return empty, empty
        total = float(ok + err)
        rate = err / total if total > 0 else math.nan
        if not self.latency_seen:
            return Sample(rate, requests=total), Sample(None, empty=True, requests=total)
        counts = [float(sum(p[2][i] for p in last)) for i in range(13)]
        return Sample(rate, requests=total), Sample(
            histogram_quantile(0.99, counts), requests=total
        )


# -- the state machine's rules -----------------------------------------------------------


@dataclass
class StepMachine:
    """transitions.judge / progressing / step_done for one rollout, one check at a time:
    failures cumulative (> failureLimit acts), a step ends when its pause has elapsed and
    the last check passed, holding (inconclusive/no data/error) ≥ progressDeadline rolls
    back. ``feed`` returns "rollback-failure", "rollback-deadline", "succeeded" or None."""

    steps: Sequence[int] = STEPS
    pause: float = PAUSE
    deadline: float = DEADLINE
    failure_limit: int = FAILURE_LIMIT
    step: int = 0
    verified_at: float = 0.0
    failures: int = 0
    hold_since: float | None = None

    def feed(self, verdict: Verdict, now: float) -> str | None:
        if verdict == Verdict.FAIL:
            self.failures += 1
            if self.failures > self.failure_limit:
                return "rollback-failure"
        if now - self.verified_at >= self.pause and verdict == Verdict.PASS:
            if self.step + 1 >= len(self.steps):
                return "succeeded"
            self.step += 1
            self.verified_at = now
            self.hold_since = None
            return None
        if verdict not in checks.HOLDING_VERDICTS:
            self.hold_since = None
            return None
        if self.hold_since is None:
            self.hold_since = now
        if now - self.hold_since >= self.deadline:
            return "rollback-deadline"
        return None


# -- one rollout ------------------------------------------------------------------------


@dataclass
class Outcome:
    end: str
    checks: int
    holds: int
    samples: list[int]
    reasons: list[str] = field(default_factory=list)


def run_rollout(
    rng: random.Random,
    metrics: Sequence[Metric],
    policy: Analysis,
    *,
    canary_rps: float,
    base: float,
    fault: Fault,
    form: str,
    accumulate: bool = True,
    max_checks: int = 200,
    timing: Timing = RECOMMENDED,
) -> Outcome:
    scrape, interval = timing.scrape, timing.interval
    total_rps = canary_rps / 0.05
    phase = rng.uniform(0.001, scrape)
    canary, stable = Backend(), Backend()
    stable_probs, canary_probs = bucket_probs(0.0), bucket_probs(fault.delay)
    canary_err = fault.error_rate(base)
    # stable has served for a while: its series exist (code 500 only if it ever errs)
    t_hist = phase - 2 * scrape
    stable.ok.scrape(t_hist, 10**6)
    for b, p in zip(stable.buckets, stable_probs, strict=True):
        b.born = True
        b.scrape(t_hist, round(10**6 * p))
    if base > 0:
        stable.err.scrape(t_hist, round(10**6 * base))
    fast_canary = WindowCounts()
    fast_stable = WindowCounts(requests_seen=True, latency_seen=True)  # serving for a while
    sm = StepMachine(pause=timing.pause, deadline=timing.deadline)
    baseline: dict[str, float] = {}
    next_scrape = phase
    now = 0.0
    holds = 0
    samples: list[int] = []
    since: float | None = None  # schedule.sparse_since: evidence kept over quiet checks
    for n in range(1, max_checks + 1):
        end = now + interval
        start = end - interval if since is None or not accumulate else since
        weight = STEPS[sm.step] / 100
        if form == "delta":
            c_mean, s_mean = total_rps * weight * interval, total_rps * (1 - weight) * interval
            fast_canary.draw(rng, c_mean, canary_err, canary_probs)
            fast_stable.draw(rng, s_mean, base, stable_probs)
            k = round((end - start) / interval)
            (c_err, c_lat), (s_err, s_lat) = fast_canary.query(k), fast_stable.query(k)
        else:
            while next_scrape <= end:
                c_mean, s_mean = total_rps * weight * scrape, total_rps * (1 - weight) * scrape
                canary.scrape(rng, next_scrape, c_mean, canary_err, canary_probs)
                stable.scrape(rng, next_scrape, s_mean, base, stable_probs)
                next_scrape += scrape
            c_err, c_lat = canary.query(start, end, form)
            s_err, s_lat = stable.query(start, end, form)
        results: list[MetricResult] = []
        for m in metrics:
            c, s = (c_err, s_err) if m.template == "error-rate" else (c_lat, s_lat)
            results.append(
                judge_metric(
                    m,
                    c,
                    s,
                    canary_requests=c.requests,
                    stable_requests=s.requests,
                    min_requests=policy.min_requests,
                    no_data=policy.no_data,
                    baseline=baseline.get(m.name),
                    baseline_requests=baseline.get(m.name + checks.BASELINE_REQUESTS),
                    query="",
                )
            )
        result = summarize(results, time="")
        verdict = checks.verdict_of(result, policy)
        baseline = checks.baseline(baseline, result, STEPS[sm.step])
        samples.append(round(c_err.requests or 0))
        if verdict in checks.HOLDING_VERDICTS:
            holds += 1
        now = end
        sparse = all(
            r.verdict == Verdict.INCONCLUSIVE and r.samples < policy.min_requests for r in results
        )
        since = start if sparse else None
        step = sm.step
        outcome = sm.feed(verdict, now)
        if sm.step != step:
            since = None
        if outcome is not None:
            why = [f"{r.name}: {r.message}" for r in results if r.verdict == Verdict.FAIL]
            return Outcome(outcome, n, holds, samples, why)
    return Outcome("unfinished", max_checks, holds, samples)


# -- statistics of the table --------------------------------------------------------------


def upper95(k: int, n: int) -> float:
    """One-sided 95 % Clopper-Pearson upper bound of a rate seen k times in n."""
    if n == 0:
        return 1.0
    if k >= n:
        return 1.0

    def cdf(p: float) -> float:
        if p <= 0:
            return 1.0
        lp, lq = math.log(p), math.log1p(-p)
        return sum(math.exp(_log_comb(n, i) + i * lp + (n - i) * lq) for i in range(k + 1))

    lo, hi = k / n, 1.0
    for _ in range(60):
        mid = (lo + hi) / 2
        if cdf(mid) > 0.05:
            lo = mid
        else:
            hi = mid
    return hi


@dataclass
class Cell:
    policy: str
    rps: float
    base: float
    fault: Fault
    outcomes: list[Outcome]

    @property
    def rollbacks(self) -> int:
        return sum(o.end.startswith("rollback") for o in self.outcomes)

    @property
    def deadline(self) -> int:
        return sum(o.end == "rollback-deadline" for o in self.outcomes)

    def within(self, n: int) -> int:
        return sum(o.end.startswith("rollback") and o.checks <= n for o in self.outcomes)

    def median_checks(self) -> float | None:
        hits = [o.checks for o in self.outcomes if o.end.startswith("rollback")]
        return statistics.median(hits) if hits else None

    def holds(self) -> float:
        return statistics.fmean(o.holds for o in self.outcomes)

    def median_samples(self) -> float:
        return statistics.median(s for o in self.outcomes for s in o.samples)


def simulate(
    *,
    runs: int,
    seed: int,
    form: str,
    policies: Iterable[str],
    traffic: Sequence[float] = TRAFFIC,
    baselines: Sequence[float] = BASELINES,
    faults: Sequence[Fault] = FAULTS,
    accumulate: bool = True,
    timing: Timing = RECOMMENDED,
) -> list[Cell]:
    policy = analysis_policy(timing)
    cells: list[Cell] = []
    for name in policies:
        for rps in traffic:
            for base in baselines:
                for fault in faults:
                    outcomes = []
                    for i in range(runs):
                        # common random numbers: every policy sees the same traffic per run
                        rng = random.Random(f"{seed}/{rps}/{base}/{fault.name}/{i}")
                        outcomes.append(
                            run_rollout(
                                rng,
                                POLICIES[name],
                                policy,
                                canary_rps=rps,
                                base=base,
                                fault=fault,
                                form=form,
                                accumulate=accumulate,
                                timing=timing,
                            )
                        )
                    cells.append(Cell(name, rps, base, fault, outcomes))
    return cells


def _pct(k: int, n: int) -> str:
    return f"{100 * k / n:.1f} % (≤ {100 * upper95(k, n):.1f})"


def table(cells: Sequence[Cell]) -> str:
    out = [
        "| policy | canary rps @5 % | stable errors | canary | rollbacks (95 % upper) | "
        "of them deadline | within 3 checks | median checks | holds/run | median requests/check |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for c in cells:
        n = len(c.outcomes)
        med = c.median_checks()
        out.append(
            f"| {c.policy} | {c.rps:g} | {100 * c.base:g} % | {c.fault.name} | "
            f"{_pct(c.rollbacks, n)} | {c.deadline} | {_pct(c.within(3), n)} | "
            f"{'–' if med is None else f'{med:g}'} | {c.holds():.1f} | {c.median_samples():g} |"
        )
    return "\n".join(out)


def compact(cells: Sequence[Cell]) -> str:
    """One row per policy, traffic and baseline: healthy → false rollbacks (95 % upper
    bound); each fault → detected % (within 3 checks %), median checks to the rollback."""
    faults = [f for f in FAULTS if any(c.fault == f for c in cells)]
    head = ["policy", "canary rps @5 %", "stable errors", *[f.name for f in faults]]
    out = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    rows: dict[tuple[str, float, float], dict[str, Cell]] = {}
    for c in cells:
        rows.setdefault((c.policy, c.rps, c.base), {})[c.fault.name] = c
    for (policy, rps, base), by_fault in rows.items():
        parts = [policy, f"{rps:g}", f"{100 * base:g} %"]
        for f in faults:
            c = by_fault.get(f.name)
            if c is None:
                parts.append("")
                continue
            n = len(c.outcomes)
            if f.healthy:
                parts.append(f"**{_pct(c.rollbacks, n)}**")
            else:
                med = c.median_checks()
                parts.append(
                    f"{100 * c.rollbacks / n:.0f} % ({100 * c.within(3) / n:.0f} %), "
                    f"{'–' if med is None else f'{med:g}'}"
                )
        out.append("| " + " | ".join(parts) + " |")
    return "\n".join(out)


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=1000, help="rollouts per cell (default 1000)")
    ap.add_argument("--seed", type=int, default=14)
    ap.add_argument("--query", choices=("delta", "increase"), default="delta")
    ap.add_argument("--policies", default=",".join(DEFAULT_POLICIES))
    ap.add_argument("--faults", help="comma-separated fault names (default: all)")
    ap.add_argument(
        "--no-accumulate",
        action="store_true",
        help="judge every window alone (before issue 14: quiet windows were thrown away)",
    )
    ap.add_argument("--quick", action="store_true", help="smoke run: 20 runs, 2 traffic levels")
    ap.add_argument("--traffic", help="comma-separated canary rps at 5 %% (default 0.2,1,5,50)")
    ap.add_argument("--baselines", help="comma-separated stable error rates (default 0,0.001,0.01)")
    ap.add_argument("--scrape", type=float, default=SCRAPE, help="seconds (default 15)")
    ap.add_argument("--interval", type=float, default=INTERVAL, help="seconds (default 60)")
    ap.add_argument("--pause", type=float, default=PAUSE, help="seconds per step (default 300)")
    ap.add_argument("--deadline", type=float, default=DEADLINE, help="seconds (default 600)")
    args = ap.parse_args(argv)
    policies = [p for p in args.policies.split(",") if p]
    for p in policies:
        if p not in POLICIES:
            ap.error(f"--policies: unknown policy {p!r} (known: {', '.join(POLICIES)})")
    faults = FAULTS
    if args.faults:
        names = [f for f in args.faults.split(",") if f]
        faults = tuple(f for f in FAULTS if f.name in names)
        if len(faults) != len(names):
            ap.error(f"--faults: known faults are {', '.join(f.name for f in FAULTS)}")
    runs, traffic = args.runs, TRAFFIC
    if args.quick:
        runs, traffic = 20, (1.0, 5.0)
    if args.traffic:
        traffic = tuple(float(x) for x in args.traffic.split(",") if x)
    baselines = BASELINES
    if args.baselines:
        baselines = tuple(float(x) for x in args.baselines.split(",") if x)
    timing = Timing(args.scrape, args.interval, args.pause, args.deadline)
    started = time.process_time()
    cells = simulate(
        runs=runs,
        seed=args.seed,
        form=args.query,
        policies=policies,
        traffic=traffic,
        baselines=baselines,
        faults=faults,
        accumulate=not args.no_accumulate,
        timing=timing,
    )
    print(
        f"# analysis quality: {runs} runs/cell, seed {args.seed}, query {args.query}, "
        f"scrape {timing.scrape:g}s, interval {timing.interval:g}s, steps {STEPS}, "
        f"pause {timing.pause:g}s, deadline {timing.deadline:g}s, "
        f"minRequests {MIN_REQUESTS}, failureLimit {FAILURE_LIMIT}, "
        f"quiet windows {'judged alone' if args.no_accumulate else 'accumulated'}; "
        f"python {platform.python_version()}, {time.process_time() - started:.0f}s CPU\n"
    )
    print(compact(cells))
    print()
    print(table(cells))
    return 0


if __name__ == "__main__":
    sys.exit(main())
