"""The root click group and the helpers every verb shares.

Each verb lives in its own module under ``canary.cli`` and registers itself on ``cli``;
``canary.cli.commands`` imports them all so that registration happens once.
"""

from __future__ import annotations

import click

from canary import __version__

# Exit codes (DESIGN.md, CLI contract).
EXIT_OK = 0  # goal reached / valid / applied
EXIT_FAILED = 1  # rolled back, aborted, failed; problems found; command not applicable
EXIT_TIMEOUT = 2  # --wait timed out
EXIT_USAGE = 3  # usage error, bad input, not found, access denied


class UsageFailure(click.ClickException):
    """A one-line error on stderr and exit code 3 (bad input, not found, denied)."""

    exit_code = EXIT_USAGE

    def show(self, file: object = None) -> None:
        click.echo(f"error: {self.format_message()}", err=True)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="canary")
def cli() -> None:
    """Progressive delivery for Kubernetes Gateway API.

    Walk a Rollout's weight steps on a user-owned HTTPRoute or GRPCRoute, verify the
    split the data plane really serves, judge the canary with Prometheus, roll back
    when it is worse.
    """
