"""Import every verb module so that each registers itself on the root group."""

from canary.cli.app import cli

# One import per verb module (keep sorted). Each module decorates its commands with
# ``@cli.command(...)`` at import time.
from canary.cli import commands_verbs  # noqa: F401  isort: skip
from canary.cli import completion  # noqa: F401  isort: skip
from canary.cli import evaluate  # noqa: F401  isort: skip
from canary.cli import get  # noqa: F401  isort: skip
from canary.cli import plan  # noqa: F401  isort: skip
from canary.cli import status  # noqa: F401  isort: skip

__all__ = ["cli"]
