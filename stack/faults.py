"""Deterministic fault schedule shared by the demo backends and their tests.

Request n (1-based, counted since the last control change) fails iff
floor(n·r) > floor((n−1)·r). Over any N consecutive requests exactly floor(N·r) or
ceil(N·r) fail, so an e2e assertion on an error ratio is never flaky. The rate is read
as an exact decimal (Fraction of its repr) so 0.57·100 is 57, not 56.999….
"""

from __future__ import annotations

import math
from fractions import Fraction


def exact_rate(rate: float) -> Fraction:
    """`rate` as the decimal the user wrote, clamped to 0..1."""
    value = Fraction(repr(float(rate)))
    return min(max(value, Fraction(0)), Fraction(1))


def should_fail(n: int, rate: float | Fraction) -> bool:
    """Whether request number `n` (1-based) fails at error rate `rate`."""
    if n < 1:
        raise ValueError("request numbers start at 1")
    r = rate if isinstance(rate, Fraction) else exact_rate(rate)
    return math.floor(n * r) > math.floor((n - 1) * r)
