"""The root click group and the helpers every verb shares.

Each verb lives in its own module under ``canary.cli`` and registers itself on ``cli``
when that module is imported. ``canary.cli.verbs`` lists every verb with its module
and one-line summary; the root group imports a verb's module only when that verb runs
(:class:`LazyGroup`), so ``canary --help`` and shell completion load no verb module, no
Kubernetes client and no pydantic model (docs/performance.md, "CLI latency").
"""

from __future__ import annotations

import importlib
from collections.abc import Callable

import click
from click.shell_completion import CompletionItem

from canary import __version__

# Exit codes (docs/cli.md, the exit-code table).
EXIT_OK = 0  # goal reached / valid / applied
EXIT_FAILED = 1  # rolled back, aborted, failed; problems found; command not applicable
EXIT_TIMEOUT = 2  # --wait timed out
EXIT_USAGE = 3  # usage error, bad input, not found, access denied


class UsageFailure(click.ClickException):
    """A one-line error on stderr and exit code 3 (bad input, not found, denied)."""

    exit_code = EXIT_USAGE

    def show(self, file: object = None) -> None:
        click.echo(f"error: {self.format_message()}", err=True)


Loader = Callable[[], click.Command]


class LazyGroup(click.Group):
    """A group whose verbs are imported on first use.

    ``add_lazy(name, source, summary)``: ``source`` is a module that registers ``name`` on
    this group when imported, or a function returning the command. ``summary`` is what
    ``--help`` and completion show without importing anything; a unit test keeps it equal
    to the command's own short help.
    """

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.lazy: dict[str, tuple[str | Loader, str]] = {}

    def add_lazy(self, name: str, source: str | Loader, summary: str) -> None:
        self.lazy[name] = (source, summary)

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*self.commands, *self.lazy})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in self.commands and cmd_name in self.lazy:
            source = self.lazy[cmd_name][0]
            if callable(source):
                self.add_command(source(), cmd_name)
            else:
                importlib.import_module(source)  # the module registers its verbs on cli
        return self.commands.get(cmd_name)

    def summary_command(self, name: str) -> click.Command:
        """The loaded command, else a stand-in that carries only its summary."""
        if name in self.commands:
            return self.commands[name]
        return click.Command(name, help=self.lazy[name][1])

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        names = self.list_commands(ctx)
        if not names:
            return
        limit = formatter.width - 6 - max(len(n) for n in names)
        rows = [(n, self.summary_command(n).get_short_help_str(limit)) for n in names]
        with formatter.section("Commands"):
            formatter.write_dl(rows)

    def shell_complete(self, ctx: click.Context, incomplete: str) -> list[CompletionItem]:
        """Verb names with their summaries, without importing any verb module."""
        items = [
            CompletionItem(n, help=self.summary_command(n).get_short_help_str())
            for n in self.list_commands(ctx)
            if n.startswith(incomplete)
        ]
        return items + click.Command.shell_complete(self, ctx, incomplete)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="canary")
def cli() -> None:
    """Progressive delivery for Kubernetes Gateway API.

    Walk a Rollout's weight steps on a user-owned HTTPRoute or GRPCRoute, verify the
    split the data plane really serves, judge the canary with Prometheus, roll back
    when it is worse.
    """
