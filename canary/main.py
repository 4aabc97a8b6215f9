"""Console entry point: the CLI verbs plus the operator's ``run`` verb."""

from __future__ import annotations

import sys

from canary.cli.commands import cli


def main() -> None:
    """Run ``canary`` (also installed as ``kubectl-canary``)."""
    try:
        from canary.operator.run import register_run  # the operator brings kopf

        register_run(cli)
    except ImportError:  # pragma: no cover - the operator is optional at import time
        pass
    cli(prog_name="kubectl canary" if sys.argv[0].endswith("kubectl-canary") else "canary")


if __name__ == "__main__":  # pragma: no cover
    main()
