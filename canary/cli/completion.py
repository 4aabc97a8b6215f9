"""``canary completion bash|zsh``: print the shell completion script.

click generates it (``_CANARY_COMPLETE=bash_source canary`` does the same); this verb
only gives it a discoverable name, as kubectl and gh do:

    source <(canary completion bash)                     # ~/.bashrc
    canary completion zsh > "${fpath[1]}/_canary"        # zsh
"""

from __future__ import annotations

import click
from click.shell_completion import get_completion_class

from canary.cli.app import UsageFailure, cli
from canary.cli.cluster import ContractCommand

SHELLS = ("bash", "zsh")
COMPLETE_VAR = "_CANARY_COMPLETE"


@cli.command("completion", cls=ContractCommand)
@click.argument("shell", type=click.Choice(SHELLS))
def completion_cmd(shell: str) -> None:
    """Print the bash or zsh completion script for canary.

    \b
    source <(canary completion bash)
    canary completion zsh > "${fpath[1]}/_canary"
    """
    cls = get_completion_class(shell)
    if cls is None:  # pragma: no cover - click ships both
        raise UsageFailure(f"no completion support for {shell}")
    root = click.get_current_context().find_root()
    script = cls(root.command, {}, "canary", COMPLETE_VAR).source()
    click.echo(script)
