"""The console entry point: usage errors exit 3 with one line (2 means "timed out")."""

from __future__ import annotations

import pytest

from canary.main import main


@pytest.mark.parametrize(
    "argv",
    [["no-such-verb"], ["status"], ["plan"], ["get", "--output", "nope"], ["evaluate"]],
)
def test_usage_errors_exit_3_with_one_line(
    argv: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exc:
        main(argv)
    assert exc.value.code == 3
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: "), err


def test_help_and_version_exit_0(capsys: pytest.CaptureFixture[str]) -> None:
    for argv in (["--help"], ["--version"], ["run", "--help"]):
        with pytest.raises(SystemExit) as exc:
            main(argv)
        assert exc.value.code == 0
    assert "--prometheus-url" in capsys.readouterr().out
