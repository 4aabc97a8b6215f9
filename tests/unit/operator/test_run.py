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
