"""``canary plan``: offline validation of a Rollout against its route(s)."""

from __future__ import annotations

import click

from canary.cli.app import cli


@cli.command("plan")
@click.option("-f", "--filename", "files", multiple=True, required=True, type=click.Path())
@click.option("-o", "--output", type=click.Choice(["text", "json"]), default="text")
def plan_cmd(files: tuple[str, ...], output: str) -> None:
    """Validate a Rollout against its route and print each step's patch."""
    raise click.ClickException("not implemented yet")
