"""The deterministic fault schedule: request n fails iff floor(n·r) > floor((n−1)·r)."""

from __future__ import annotations

import pytest

from stack.faults import exact_rate, should_fail


@pytest.mark.parametrize(
    ("rate", "n", "failures"),
    [
        (0.0, 1000, 0),
        (1.0, 1000, 1000),
        (0.2, 1000, 200),
        (0.2, 7, 1),
        (0.1, 100, 10),
        (0.57, 100, 57),  # exact decimal: float 0.57*100 is 56.99…
        (0.33, 300, 99),
        (0.05, 19, 0),
        (0.05, 20, 1),
    ],
)
def test_failures_in_the_first_n_requests(rate: float, n: int, failures: int) -> None:
    assert sum(should_fail(i, rate) for i in range(1, n + 1)) == failures


def test_schedule_is_spread_not_bunched() -> None:
    # 0.2: every fifth request fails, starting with the fifth
    assert [i for i in range(1, 21) if should_fail(i, 0.2)] == [5, 10, 15, 20]


@pytest.mark.parametrize("rate", [0.01, 0.1, 0.2, 0.25, 0.5, 0.75, 0.99])
def test_any_window_is_within_one_of_the_rate(rate: float) -> None:
    fails = [should_fail(i, rate) for i in range(1, 2001)]
    for start in range(0, 1900, 37):
        window = fails[start : start + 100]
        assert abs(sum(window) - 100 * rate) <= 1


def test_rate_is_clamped_and_request_numbers_start_at_one() -> None:
    assert exact_rate(1.5) == 1 and exact_rate(-0.1) == 0
    with pytest.raises(ValueError):
        should_fail(0, 0.2)
