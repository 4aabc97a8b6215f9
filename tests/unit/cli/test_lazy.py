"""Verbs load on first use: ``--help`` and completion import no Kubernetes code.

What a command imports is checked in a fresh interpreter (``sys.modules`` at exit), not
timed: the timings are a benchmark (benchmarks/cli.py, docs/performance.md).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import click
import pytest

from canary.cli.verbs import VERBS, cli
from canary.main import RUN_SUMMARY, load_run, main

REPO = Path(__file__).resolve().parents[3]
HEAVY = ("kubernetes", "pydantic", "kopf", "urllib3", "rich", "yaml")

PROBE = """
import atexit, json, sys
def report():
    mods = sorted(m for m in sys.modules if m.split(".")[0] in {heavy!r} or m.startswith("canary."))
    sys.stderr.write("\\nMODULES " + json.dumps(mods) + "\\n")
atexit.register(report)
from canary.main import main
main({argv!r})
"""


def loaded_modules(argv: list[str], env: dict[str, str] | None = None) -> tuple[list[str], str]:
    """Run ``canary ARGV`` in a fresh interpreter; the modules it imported, and stdout."""
    proc = subprocess.run(
        [sys.executable, "-c", PROBE.format(heavy=set(HEAVY), argv=argv)],
        capture_output=True,
        text=True,
        cwd=REPO,
        env={**os.environ, **(env or {})},
        timeout=60,
    )
    line = next(x for x in proc.stderr.splitlines() if x.startswith("MODULES "))
    return json.loads(line.removeprefix("MODULES ")), proc.stdout


def heavy(modules: list[str]) -> list[str]:
    return [m for m in modules if m.split(".")[0] in HEAVY]


def test_help_imports_no_kubernetes_and_no_verb_module() -> None:
    modules, out = loaded_modules(["--help"])
    assert "promote" in out and "run" in out
    assert heavy(modules) == []
    assert not [m for m in modules if m.startswith(("canary.cli.get", "canary.operator"))]


def test_completion_of_verbs_imports_no_kubernetes() -> None:
    env = {"_CANARY_COMPLETE": "bash_complete", "COMP_WORDS": "canary pr", "COMP_CWORD": "1"}
    modules, out = loaded_modules([], env)
    assert "plain,promote" in out.splitlines()
    assert heavy(modules) == []


def test_completion_of_a_verbs_options_imports_no_kubernetes() -> None:
    env = {"_CANARY_COMPLETE": "bash_complete", "COMP_WORDS": "canary get --all", "COMP_CWORD": "2"}
    modules, out = loaded_modules([], env)
    assert "plain,--all-namespaces" in out.splitlines()
    assert not [m for m in modules if m.split(".")[0] in ("kubernetes", "kopf")]


def test_get_loads_the_kubernetes_client_only_when_it_connects() -> None:
    modules, _ = loaded_modules(["get", "--help"])
    assert "canary.cli.get" in modules
    assert not [m for m in modules if m.split(".")[0] in ("kubernetes", "kopf")]


@pytest.mark.parametrize("name", [*sorted(VERBS), "run"])
def test_each_summary_is_the_commands_own_short_help(name: str) -> None:
    ctx = click.Context(cli)
    command = cli.get_command(ctx, name)
    assert command is not None, name
    summary = RUN_SUMMARY if name == "run" else VERBS[name][1]
    stand_in = click.Command(name, help=summary)
    for limit in (30, 45, 60, 200):
        assert stand_in.get_short_help_str(limit) == command.get_short_help_str(limit), name


def test_every_registered_verb_is_listed() -> None:
    """A verb module that registers a command not in VERBS would be missing from --help."""
    ctx = click.Context(cli)
    for name in VERBS:
        cli.get_command(ctx, name)
    assert set(cli.commands) - {"run"} == set(VERBS)


def test_an_import_error_in_the_operator_says_what_failed(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A broken install names the module and the cause, not "No such command 'run'"."""
    monkeypatch.delitem(cli.commands, "run", raising=False)
    monkeypatch.delitem(sys.modules, "canary.operator.run", raising=False)
    monkeypatch.setitem(sys.modules, "canary.operator.config", None)  # import fails
    with pytest.raises(SystemExit) as exc:
        main(["run", "--help"])
    assert exc.value.code == 1
    err = capsys.readouterr().err
    assert "No such command" not in err
    assert err.startswith("error: canary run: the operator cannot be loaded")
    assert "canary.operator.config" in err and "ModuleNotFoundError" in err
    with pytest.raises(click.ClickException) as raised:
        load_run()
    assert isinstance(raised.value.__cause__, ImportError)
