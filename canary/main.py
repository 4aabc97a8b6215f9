"""Console entry point: the CLI verbs plus the operator's ``run`` verb."""

from __future__ import annotations

import sys

import click

from canary.cli.app import EXIT_USAGE
from canary.cli.commands import cli


def main(argv: list[str] | None = None) -> None:
    """Run ``canary`` (also installed as ``kubectl-canary``).

    Usage errors exit 3 with one line on stderr (the CLI contract: click's own exit code 2
    means "timed out" for ``canary status``).
    """
    try:
        from canary.operator.run import register_run  # the operator brings kopf

        register_run(cli)
    except ImportError:  # pragma: no cover - the operator is optional at import time
        pass
    prog = "kubectl canary" if sys.argv[0].endswith("kubectl-canary") else "canary"
    try:
        rc = cli.main(args=argv, prog_name=prog, standalone_mode=False)
    except click.UsageError as exc:
        hint = f" (see: {exc.ctx.command_path} --help)" if exc.ctx else ""
        click.echo(f"error: {exc.format_message()}{hint}", err=True)
        sys.exit(EXIT_USAGE)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except click.exceptions.Abort:
        click.echo("aborted", err=True)
        sys.exit(130)
    sys.exit(rc if isinstance(rc, int) else 0)


if __name__ == "__main__":  # pragma: no cover
    main()
