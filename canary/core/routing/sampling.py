"""Sample a decision's outcomes with a seeded RNG; test an observed split against shares.

``sample(decision, n, seed=0)`` draws ``n`` outcomes from the exact shares
({"ns/name": count, "error": count}); ``random.Random(seed)`` only, so it is repeatable.

``verify(counts, shares, confidence=0.99)`` is a goodness-of-fit test (Pearson
chi-square, or the G-test with ``method="g"``); the p-value is the upper tail of the
chi-square distribution, computed here from the regularized incomplete gamma function
(no scipy). It passes when ``p >= 1 - confidence``. Gateways that split by
deterministic weighted round robin (Traefik) produce counts *closer* to the shares
than chance would: those pass too — explicitly, when every count is within one
round-robin cycle (number of categories) of its expectation, whatever the p-value.
Any count on an outcome whose share is 0 fails outright.

``verify`` is a library function (the evaluator's contract: "test an observed split
against expected shares"), for scripts and tests that hold raw request counts. The
operator does not use it: its SplitVerified judges the observed share from Prometheus
counts with the max(0.02, 3σ) bound of ``canary.core.rollout.splits`` — one rule per
question, and they answer different questions.
"""

from __future__ import annotations

import math
import random
from collections.abc import Mapping
from dataclasses import dataclass

from canary.core.routing.decision import Decision

ERROR = "error"  # the outcome key for requests answered with 5xx by the gateway

_EPS = 1e-15
_MAX_ITER = 10_000


def sample(decision: Decision, n: int, *, seed: int = 0) -> dict[str, int]:
    """Draw ``n`` outcomes of ``decision`` with ``random.Random(seed)``."""
    if n < 0:
        raise ValueError("n must be >= 0")
    shares = decision.outcome_shares()
    labels = sorted(shares)
    counts = {label: 0 for label in labels}
    counts.setdefault(ERROR, 0)
    if not labels or n == 0:
        return counts
    rng = random.Random(seed)
    weights = [shares[label] for label in labels]
    for label in rng.choices(labels, weights=weights, k=n):
        counts[label] += 1
    return counts


def _lower_series(a: float, x: float) -> float:
    """Regularized lower incomplete gamma P(a, x) by its series (x < a + 1)."""
    term = total = 1.0 / a
    ap = a
    for _ in range(_MAX_ITER):
        ap += 1.0
        term *= x / ap
        total += term
        if abs(term) < abs(total) * _EPS:
            break
    return total * math.exp(-x + a * math.log(x) - math.lgamma(a))


def _upper_fraction(a: float, x: float) -> float:
    """Regularized upper incomplete gamma Q(a, x) by Lentz's continued fraction."""
    tiny = 1e-300
    b = x + 1.0 - a
    c = 1.0 / tiny
    d = 1.0 / b
    h = d
    for i in range(1, _MAX_ITER):
        an = -i * (i - a)
        b += 2.0
        d = an * d + b
        d = tiny if abs(d) < tiny else d
        c = b + an / c
        c = tiny if abs(c) < tiny else c
        d = 1.0 / d
        delta = d * c
        h *= delta
        if abs(delta - 1.0) < _EPS:
            break
    return h * math.exp(-x + a * math.log(x) - math.lgamma(a))


def chi2_sf(statistic: float, df: int) -> float:
    """P(X >= statistic) for X ~ chi-square with ``df`` degrees of freedom."""
    if df <= 0:
        return 1.0
    if statistic <= 0:
        return 1.0
    a, x = df / 2.0, statistic / 2.0
    if x < a + 1.0:
        return max(0.0, min(1.0, 1.0 - _lower_series(a, x)))
    return max(0.0, min(1.0, _upper_fraction(a, x)))


@dataclass(frozen=True, slots=True)
class VerifyResult:
    passed: bool
    p_value: float
    statistic: float
    df: int
    deterministic: bool  # within one round-robin cycle of the expectation
    reason: str


def verify(
    counts: Mapping[str, int],
    shares: Mapping[str, float],
    *,
    confidence: float = 0.99,
    method: str = "chi2",
) -> VerifyResult:
    """Goodness of fit of observed ``counts`` to expected ``shares`` (fractions)."""
    if not 0.0 < confidence < 1.0:
        raise ValueError("confidence must be between 0 and 1")
    if method not in ("chi2", "g"):
        raise ValueError("method must be 'chi2' or 'g'")
    total_share = sum(shares.values())
    n = sum(counts.values())
    if n == 0:
        return VerifyResult(False, 1.0, 0.0, 0, False, "no observations")
    if total_share <= 0:
        raise ValueError("shares must sum to a positive number")
    labels = sorted(set(counts) | set(shares))
    for label in labels:
        if shares.get(label, 0.0) <= 0 and counts.get(label, 0) > 0:
            return VerifyResult(
                False, 0.0, math.inf, 0, False, f"{counts[label]} observed for {label!r}, share 0"
            )
    live = [label for label in labels if shares.get(label, 0.0) > 0]
    stat = 0.0
    max_dev = 0.0
    for label in live:
        expected = n * shares[label] / total_share
        observed = counts.get(label, 0)
        max_dev = max(max_dev, abs(observed - expected))
        if method == "chi2":
            stat += (observed - expected) ** 2 / expected
        elif observed > 0:
            stat += 2.0 * observed * math.log(observed / expected)
    df = len(live) - 1
    p = chi2_sf(stat, df)
    deterministic = max_dev <= len(live)
    alpha = 1.0 - confidence
    if p >= alpha:
        return VerifyResult(True, p, stat, df, deterministic, f"p={p:.4g} >= {alpha:.4g}")
    if deterministic:
        reason = f"within one round-robin cycle (max deviation {max_dev:.2f})"
        return VerifyResult(True, p, stat, df, True, reason)
    return VerifyResult(False, p, stat, df, False, f"p={p:.4g} < {alpha:.4g}")
