"""Console entry point: the CLI verbs plus the operator's ``run`` verb."""

from __future__ import annotations

import sys

import click

from canary.cli.app import EXIT_FAILED, EXIT_USAGE
from canary.cli.verbs import cli

RUN_SUMMARY = "Run the operator (kopf): walk Rollouts through their steps."


class OperatorUnavailable(click.ClickException):
    """``canary run`` when the operator's code does not import: a broken installation."""

    exit_code = EXIT_FAILED

    def show(self, file: object = None) -> None:
        click.echo(f"error: {self.format_message()}", err=True)


def load_run() -> click.Command:
    """The operator's ``run`` verb, imported only when it is used (it brings kopf).

    An ImportError is not a missing verb: it says what failed to import and why.
    """
    try:
        from canary.operator.run import register_run
    except ImportError as exc:
        where = f" (importing {exc.name})" if exc.name else ""
        raise OperatorUnavailable(
            f"canary run: the operator cannot be loaded{where}: {type(exc).__name__}: {exc}. "
            "The installation is incomplete or has incompatible versions: reinstall canary "
            "with its dependencies (pip check lists conflicts)."
        ) from exc
    group = click.Group()
    register_run(group)
    return group.commands["run"]


cli.add_lazy("run", load_run, RUN_SUMMARY)


def main(argv: list[str] | None = None) -> None:
    """Run ``canary`` (also installed as ``kubectl-canary``).

    Usage errors exit 3 with one line on stderr (the CLI contract: click's own exit code 2
    means "timed out" for ``canary status``).
    """
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
