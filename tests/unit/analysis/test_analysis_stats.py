"""One-sided tests against values computed by hand (textbook tables)."""

from __future__ import annotations

import math

import pytest

from canary.core.analysis import stats
from canary.core.analysis.stats import (
    binomial_greater,
    canary_worse,
    fisher_greater,
    two_proportion_z,
)


def test_fisher_lady_tasting_tea() -> None:
    # Fisher (1935): 3 of 4 vs 1 of 4; P(X >= 3) = (16 + 1) / 70
    assert fisher_greater(3, 4, 1, 4) == pytest.approx(17 / 70, rel=1e-12)


def test_fisher_by_hand() -> None:
    # 8 of 10 vs 1 of 6: N=16, K=9, n=10; (C(9,8)C(7,2) + C(9,9)C(7,1)) / C(16,10) = 196/8008
    assert fisher_greater(8, 10, 1, 6) == pytest.approx(196 / 8008, rel=1e-12)
    assert fisher_greater(0, 10, 0, 10) == pytest.approx(1.0)
    assert fisher_greater(0, 10, 5, 10) == pytest.approx(1.0)


def test_z_test_by_hand() -> None:
    # 60/1000 vs 40/1000: pooled 0.05, se = sqrt(0.05*0.95*0.002), z = 2.05196
    z = 0.02 / math.sqrt(0.05 * 0.95 * 0.002)
    assert z == pytest.approx(2.05196, abs=1e-5)
    assert two_proportion_z(60, 1000, 40, 1000) == pytest.approx(0.020085, abs=1e-5)
    assert two_proportion_z(0, 1000, 0, 1000) == 1.0
    assert two_proportion_z(1000, 1000, 1000, 1000) == 1.0


def test_canary_worse_picks_exact_at_small_counts() -> None:
    small = canary_worse(3, 4, 1, 4)
    assert small.method == "fisher" and small.p_value == pytest.approx(17 / 70)
    # large, balanced table: z-test; close to the exact answer
    big = canary_worse(600, 10000, 400, 10000)
    assert big.method == "z"
    assert big.p_value < 1e-9
    # float counts (Prometheus increase() extrapolates) are rounded
    assert canary_worse(2.9, 4.1, 1.2, 3.8).p_value == pytest.approx(17 / 70)


def test_canary_worse_exact_when_an_expected_cell_is_small() -> None:
    # 5 % canary, rare errors: expected canary errors < 5 → exact even with 20000 requests
    result = canary_worse(3, 1000, 5, 19000)
    assert result.method == "fisher"
    assert 0 < result.p_value < 0.05


def test_canary_worse_with_no_traffic_is_not_evidence() -> None:
    assert canary_worse(0, 0, 5, 100).p_value == 1.0
    assert canary_worse(1, 1, 0, 0).p_value == 1.0


@pytest.mark.parametrize(("x", "n"), [(-1, 10), (11, 10), (1, -2)])
def test_invalid_counts(x: float, n: float) -> None:
    with pytest.raises(ValueError, match="canary"):
        canary_worse(x, n, 0, 10)


def test_binomial_by_hand() -> None:
    # P(X >= 2 | n=10, p=0.1) = 1 - 0.9^10 - 10*0.1*0.9^9
    expected = 1 - 0.9**10 - 10 * 0.1 * 0.9**9
    result = binomial_greater(2, 10, 0.1)
    assert result.method == "binomial"
    assert result.p_value == pytest.approx(expected, rel=1e-12)
    assert binomial_greater(0, 10, 0.1).p_value == 1.0
    assert binomial_greater(3, 10, 1.0).p_value == 1.0
    assert binomial_greater(1, 10, 0.0).p_value == 0.0
    with pytest.raises(ValueError, match="baseline"):
        binomial_greater(1, 10, 1.5)


def test_binomial_normal_approximation_for_huge_counts(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(stats, "EXACT_MAX_TERMS", 10)
    result = binomial_greater(60, 1000, 0.05)
    assert result.method == "normal"
    # mean 50, sd sqrt(47.5); continuity-corrected z = 9.5 / 6.892 = 1.3784
    assert result.p_value == pytest.approx(0.5 * math.erfc(9.5 / math.sqrt(47.5) / math.sqrt(2)))


def test_sum_of_no_terms() -> None:
    assert stats._sum_exp([]) == 0.0
