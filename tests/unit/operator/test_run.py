"""`canary run` options: flags, their environment variables, JSON logs."""

from __future__ import annotations

import json
import logging

import click
import pytest

from canary.operator.run import _setup_logging, register_run


def _params(args: list[str]) -> dict[str, object]:
    group = click.Group()
    register_run(group)
    ctx = group.commands["run"].make_context("run", args)
    return dict(ctx.params)


def test_defaults() -> None:
    p = _params([])
    assert p["health_port"] == 8080 and p["metrics_port"] == 9090
    assert p["default_interval"] == "1m" and p["default_min_requests"] == 20
    assert p["lease_namespace"] == "default" and p["log_format"] == "text"


def test_environment_and_flags(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CANARY_HEALTH_PORT", "1234")
    monkeypatch.setenv("CANARY_DEFAULT_MIN_REQUESTS", "7")
    monkeypatch.setenv("POD_NAMESPACE", "canary-system")
    monkeypatch.setenv("CANARY_PROMETHEUS_URL", "")  # empty counts as unset
    p = _params(["--default-min-requests", "9"])
    assert p["health_port"] == 1234
    assert p["default_min_requests"] == 9  # the flag wins
    assert p["lease_namespace"] == "canary-system"
    assert p["prometheus_url"] is None


def test_json_logs_are_json(capsys: pytest.CaptureFixture[str]) -> None:
    root = logging.getLogger()
    saved = (root.handlers[:], root.level)
    try:
        _setup_logging("json", "INFO")
        logging.getLogger("canary.test").info('quote " and newline\nok')
        line = capsys.readouterr().err.strip()
        entry = json.loads(line)
        assert entry["message"] == 'quote " and newline\nok'
        assert entry["level"] == "INFO" and entry["logger"] == "canary.test"
    finally:
        root.handlers[:], root.level = saved[0], saved[1]


def _invoke(args: list[str], env: dict[str, str] | None = None) -> click.testing.Result:
    from click.testing import CliRunner

    group = click.Group()
    register_run(group)
    return CliRunner().invoke(group, ["run", *args], env=env)


@pytest.mark.parametrize(
    "args, message",
    [
        (["--lease-duration", "10", "--lease-renew-deadline", "10"], "must be greater than the"),
        (["--lease-renew-deadline", "2", "--lease-retry-period", "2"], "1.2 × the retry period"),
        (["--lease-retry-period", "0"], "must be > 0"),
    ],
)
def test_unsafe_lease_timings_are_refused_before_anything_runs(
    args: list[str], message: str
) -> None:
    result = _invoke(args)
    assert result.exit_code == 2, result.output
    assert message in result.output and "--lease-duration" in result.output


def test_a_malformed_failpoint_spec_is_refused_naming_the_variable() -> None:
    result = _invoke([], env={"CANARY_FAILPOINTS": "before-route-write=explode"})
    assert result.exit_code == 2, result.output
    assert "CANARY_FAILPOINTS" in result.output and "explode" in result.output


def test_help_documents_the_lease_timings() -> None:
    out = _invoke(["--help"]).output
    for flag in ("--lease-duration", "--lease-renew-deadline", "--lease-retry-period"):
        assert flag in out


def test_prometheus_allowlist_budget_and_concurrency_flags(monkeypatch: pytest.MonkeyPatch) -> None:
    p = _params([])
    assert p["prometheus_allow"] == () and p["prometheus_check_budget"] == 30.0
    assert p["prometheus_max_concurrent"] == 4
    monkeypatch.setenv("CANARY_PROMETHEUS_CHECK_BUDGET", "12.5")
    monkeypatch.setenv("CANARY_PROMETHEUS_MAX_CONCURRENT", "2")
    p = _params(["--prometheus-allow", "http://a:9090", "--prometheus-allow", "http://b:9090"])
    assert p["prometheus_allow"] == ("http://a:9090", "http://b:9090")
    assert p["prometheus_check_budget"] == 12.5 and p["prometheus_max_concurrent"] == 2
    with pytest.raises(click.BadParameter):
        _params(["--prometheus-max-concurrent", "0"])


def test_prometheus_allow_from_the_environment_and_bad_urls(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from canary.operator.run import _prometheus_allow

    monkeypatch.setenv("CANARY_PROMETHEUS_ALLOW", "http://a:9090, http://b:9090")
    assert _prometheus_allow((), None) == ("http://a:9090", "http://b:9090")
    assert _prometheus_allow(("http://c:9090",), None) == ("http://c:9090",)  # flags win
    with pytest.raises(click.BadParameter, match="http:// or https://") as err:
        _prometheus_allow(("prometheus:9090",), None)
    assert err.value.param_hint == "--prometheus-allow"
    with pytest.raises(click.BadParameter, match="user info"):
        _prometheus_allow((), "http://u:p@prometheus:9090")


def test_contest_limit_and_window(monkeypatch: pytest.MonkeyPatch) -> None:
    from canary.core.rollout.settings import ContestPolicy
    from canary.operator.config import OperatorConfig
    from canary.operator.run import _contest_window

    p = _params([])
    assert p["contest_limit"] == 3 and p["contest_window"] == "10m"
    assert OperatorConfig().contest_policy() == ContestPolicy(limit=3, window=600.0)
    monkeypatch.setenv("CANARY_CONTEST_LIMIT", "5")
    monkeypatch.setenv("CANARY_CONTEST_WINDOW", "1h")
    p = _params(["--contest-window", "90s"])
    assert p["contest_limit"] == 5 and p["contest_window"] == "90s"  # the flag wins
    assert _contest_window("90s") == 90.0 and _contest_window("1h30m") == 5400.0
    with pytest.raises(click.BadParameter):
        _params(["--contest-limit", "0"])


@pytest.mark.parametrize("window", ["0", "0s", "ten minutes", "10"])
def test_a_bad_contest_window_is_refused_naming_the_flag(window: str) -> None:
    result = _invoke(["--contest-window", window])
    assert result.exit_code == 2, result.output
    assert "--contest-window" in result.output


def test_contest_settings_reach_the_reconciler() -> None:
    from canary.core.rollout.settings import ContestPolicy
    from canary.operator.config import OperatorConfig

    config = OperatorConfig(contest_limit=2, contest_window=120.0)
    assert config.contest_policy() == ContestPolicy(limit=2, window=120.0)
    with pytest.raises(ValueError, match="at least 1"):
        OperatorConfig(contest_limit=0).contest_policy()
