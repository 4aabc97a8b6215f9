"""The operator's Prometheus allowlist: which analysis.address it may query (issue 10.7)."""

from __future__ import annotations

import pytest

from canary.core.analysis.addresses import AddressError, Allowlist, normalize, shown


@pytest.mark.parametrize(
    ("url", "normal"),
    [
        ("http://prom:9090", "http://prom:9090"),
        ("HTTP://Prom:9090/", "http://prom:9090"),
        ("http://prom", "http://prom:80"),
        ("https://prom.example.com/", "https://prom.example.com:443"),
        ("http://prom:9090/prometheus/", "http://prom:9090/prometheus"),
        ("http://[::1]:9090", "http://[::1]:9090"),
    ],
)
def test_normalize(url: str, normal: str) -> None:
    assert normalize(url) == normal


@pytest.mark.parametrize(
    ("url", "why"),
    [
        ("ftp://prom", "http:// or https://"),
        ("prom:9090", "http:// or https://"),
        ("http://", "no host"),
        ("http://user:secret@prom:9090", "user info"),
        ("http://prom:9090/?x=1", "query or fragment"),
        ("http://prom:99999", "not a URL"),
    ],
)
def test_addresses_that_can_never_be_allowed(url: str, why: str) -> None:
    with pytest.raises(AddressError, match=why):
        normalize(url)


def test_only_the_default_and_the_listed_addresses_are_allowed() -> None:
    allowed = Allowlist(["http://prometheus.monitoring:9090", "", "https://thanos.example.com"])
    assert allowed.refusal("http://prometheus.monitoring:9090/") is None
    assert allowed.refusal("HTTP://PROMETHEUS.monitoring:9090") is None
    assert allowed.refusal("https://thanos.example.com:443/") is None
    refusal = allowed.refusal("http://169.254.169.254/latest/meta-data")
    assert refusal is not None
    assert refusal.startswith("analysis.address http://169.254.169.254/latest/meta-data ")
    assert "not on the operator's Prometheus allowlist" in refusal
    assert Allowlist([]).refusal("http://prometheus.monitoring:9090") is not None


def test_a_refusal_never_repeats_credentials_and_stays_short() -> None:
    refusal = Allowlist(["http://p:9090"]).refusal("http://admin:hunter2@p:9090")
    assert refusal is not None and "hunter2" not in refusal and "user info" in refusal
    long = "http://evil.example.com/" + "a" * 500 + "\n"
    assert len(shown(long)) == 80 and "\n" not in shown(long)
