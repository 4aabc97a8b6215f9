"""Sampling with a seeded RNG and the goodness-of-fit check (chi-square / G-test)."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from canary.core.routing import sample, verify
from canary.core.routing.sampling import chi2_sf
from tests.unit.routing.routing_builders import ask, backend, gateway, route, rule, service

GW = gateway()


def _decision(*weights: int):  # type: ignore[no-untyped-def]
    return ask(
        [GW, route("r", rule(*[backend(f"b{i}", weight=w) for i, w in enumerate(weights)]))],
        "GET http://h.example/",
    )


@pytest.mark.parametrize(
    "x,df,p",
    [
        (3.841458820694124, 1, 0.05),
        (6.634896601021214, 1, 0.01),
        (5.991464547107979, 2, 0.05),
        (18.307038053275146, 10, 0.05),
        (0.1, 3, 0.9918374237318764),
        (100.0, 5, 5.2851483609432406e-20),
        (0.0, 4, 1.0),
    ],
)
# Reference values: chi-square tables; df 3 and 5 from the closed forms with erfc.
def test_chi2_survival_function_matches_tables(x: float, df: int, p: float) -> None:
    assert math.isclose(chi2_sf(x, df), p, rel_tol=2e-3)
    assert chi2_sf(1.0, 0) == 1.0


def test_sample_is_seeded_and_counts_sum_to_n() -> None:
    d = _decision(90, 10)
    a = sample(d, 10_000, seed=7)
    assert a == sample(d, 10_000, seed=7)
    assert a != sample(d, 10_000, seed=8)
    assert sum(a.values()) == 10_000 and a["error"] == 0
    assert verify(a, d.outcome_shares()).passed


def test_sample_of_404_redirect_and_errors() -> None:
    assert sample(ask([GW], "GET http://h.example/"), 5) == {"no_match": 5, "error": 0}
    d = ask(
        [GW, service("b0"), route("r", rule(backend("b0"), backend("gone")))],
        "GET http://h.example/",
    )
    counts = sample(d, 1000, seed=1)
    assert set(counts) == {"app/b0", "error"} and 400 < counts["error"] < 600
    assert sample(d, 0) == {"app/b0": 0, "error": 0}
    with pytest.raises(ValueError):
        sample(d, -1)


def test_verify_rejects_a_wrong_split_and_zero_share_hits() -> None:
    shares = {"a": 0.9, "b": 0.1}
    bad = verify({"a": 500, "b": 500}, shares)
    assert not bad.passed and bad.p_value < 1e-10
    assert not verify({"a": 99, "c": 1}, shares).passed
    assert not verify({}, shares).passed


def test_verify_accepts_deterministic_round_robin() -> None:
    # Traefik's WRR: counts are exactly proportional up to one cycle.
    r = verify({"a": 900, "b": 100}, {"a": 0.9, "b": 0.1})
    assert r.passed and r.deterministic and r.p_value == 1.0
    # a tiny sample that chance would flag but is within one WRR cycle
    r = verify({"a": 1, "b": 1}, {"a": 0.99, "b": 0.01}, confidence=0.999999)
    assert r.passed and r.deterministic


def test_verify_g_test_and_argument_checks() -> None:
    r = verify({"a": 480, "b": 520}, {"a": 0.5, "b": 0.5}, method="g")
    assert r.passed and r.df == 1
    with pytest.raises(ValueError):
        verify({"a": 1}, {"a": 1.0}, confidence=1.5)
    with pytest.raises(ValueError):
        verify({"a": 1}, {"a": 1.0}, method="z")
    with pytest.raises(ValueError):
        verify({"a": 1}, {"a": 0.0})


@settings(max_examples=30, deadline=None)
@given(
    st.lists(st.integers(min_value=1, max_value=100), min_size=2, max_size=4), st.integers(0, 99)
)
def test_seeded_samples_of_true_shares_pass_at_99_percent_mostly(
    weights: list[int], seed: int
) -> None:
    d = _decision(*weights)
    r = verify(sample(d, 2000, seed=seed), d.outcome_shares(), confidence=0.999999)
    assert r.passed
