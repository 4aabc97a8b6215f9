"""One-sided tests on request counts: is the canary's error proportion worse?

``significance`` in a Rollout means: a violated relative bound (maxIncrease/maxRatio) on
an error rate fails the check only if the data show the canary is worse *beyond chance*.
With 5 % of traffic the canary sees few requests, so small-count behaviour matters:

- ``fisher_greater``: exact one-sided Fisher test (hypergeometric tail), used whenever an
  expected cell count is below 5 or the table is small — the textbook rule for when the
  normal approximation misleads.
- ``two_proportion_z``: pooled two-proportion z-test for large counts.
- ``binomial_greater``: canary against a fixed rate (the stable baseline recorded at the
  previous step, when stable has no traffic at 100 %).

Pure Python (``math.lgamma``, ``math.erfc``); no scipy in the core.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

EXACT_MAX_TOTAL = 2000  # tables up to this many requests are always tested exactly
EXACT_MAX_TERMS = 200_000  # never sum more hypergeometric/binomial terms than this


@dataclass(frozen=True)
class TestResult:
    """p-value of H1 "canary error proportion is greater", and how it was computed."""

    p_value: float
    method: str  # "fisher", "z", "binomial" or "normal"


def _log_comb(n: int, k: int) -> float:
    return math.lgamma(n + 1) - math.lgamma(k + 1) - math.lgamma(n - k + 1)


def _counts(errors: float, total: float, what: str) -> tuple[int, int]:
    e, n = round(errors), round(total)
    if n < 0 or e < 0 or e > n:
        raise ValueError(f"{what}: {errors} errors of {total} requests is not a valid count")
    return e, n


def _sum_exp(logs: list[float]) -> float:
    if not logs:
        return 0.0
    top = max(logs)
    return math.exp(top) * sum(math.exp(v - top) for v in logs)


TAIL_EPS = 1e-17  # a tail term this small relative to the sum so far ends the sum


def _tail(log_term: Callable[[int], float], first: int, last: int, mode: float) -> float:
    """Sum of ``exp(log_term(k))`` for k in first..last, stopping once past the mode
    (terms only shrink there) and the next term is negligible — identical to the full sum
    to double precision, and cheap for the large counts of a busy canary."""
    logs: list[float] = []
    top = -math.inf
    for k in range(first, last + 1):
        v = log_term(k)
        if k > mode and logs and v < top + math.log(TAIL_EPS):
            break
        logs.append(v)
        top = max(top, v)
    return _sum_exp(logs)


def _normal_sf(z: float) -> float:
    """P(Z > z) for a standard normal Z."""
    return 0.5 * math.erfc(z / math.sqrt(2))


def fisher_greater(x1: int, n1: int, x2: int, n2: int) -> float:
    """Exact one-sided Fisher p-value for p1 > p2 (x1 of n1 vs x2 of n2)."""
    total, errors = n1 + n2, x1 + x2
    hi = min(n1, errors)
    log_den = _log_comb(total, n1)
    mode = (n1 + 1) * (errors + 1) / (total + 2)
    return min(
        1.0,
        _tail(
            lambda k: _log_comb(errors, k) + _log_comb(total - errors, n1 - k) - log_den,
            x1,
            hi,
            mode,
        ),
    )


def two_proportion_z(x1: int, n1: int, x2: int, n2: int) -> float:
    """One-sided pooled two-proportion z-test p-value for p1 > p2."""
    pooled = (x1 + x2) / (n1 + n2)
    if pooled in (0.0, 1.0):
        return 1.0
    se = math.sqrt(pooled * (1 - pooled) * (1 / n1 + 1 / n2))
    return _normal_sf((x1 / n1 - x2 / n2) / se)


def canary_worse(
    canary_errors: float, canary_requests: float, stable_errors: float, stable_requests: float
) -> TestResult:
    """Test whether the canary's error proportion exceeds stable's (counts may be floats)."""
    x1, n1 = _counts(canary_errors, canary_requests, "canary")
    x2, n2 = _counts(stable_errors, stable_requests, "stable")
    if n1 == 0 or n2 == 0:
        return TestResult(1.0, "fisher")
    total, errors = n1 + n2, x1 + x2
    expected = min(n1 * errors, n2 * errors, n1 * (total - errors), n2 * (total - errors))
    terms = min(n1, errors) - x1 + 1
    if (total <= EXACT_MAX_TOTAL or expected < 5 * total) and terms <= EXACT_MAX_TERMS:
        return TestResult(fisher_greater(x1, n1, x2, n2), "fisher")
    return TestResult(two_proportion_z(x1, n1, x2, n2), "z")


def binomial_greater(errors: float, requests: float, rate: float) -> TestResult:
    """P(X >= errors) for X ~ Binomial(requests, rate): the canary against a fixed rate."""
    x, n = _counts(errors, requests, "canary")
    if not 0.0 <= rate <= 1.0:
        raise ValueError(f"baseline rate {rate} is not within 0..1")
    if x == 0 or rate >= 1.0:
        return TestResult(1.0, "binomial")
    if rate <= 0.0:
        return TestResult(0.0, "binomial")  # any error is impossible under the baseline
    if n - x + 1 <= EXACT_MAX_TERMS:
        lp, lq = math.log(rate), math.log1p(-rate)
        term = lambda k: _log_comb(n, k) + k * lp + (n - k) * lq  # noqa: E731
        return TestResult(min(1.0, _tail(term, x, n, (n + 1) * rate)), "binomial")
    mean, sd = n * rate, math.sqrt(n * rate * (1 - rate))
    return TestResult(_normal_sf((x - 0.5 - mean) / sd), "normal")
