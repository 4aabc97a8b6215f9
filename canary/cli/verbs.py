"""Every verb of the CLI: its name, the module that defines it, its one-line summary.

The root group (:class:`canary.cli.app.LazyGroup`) imports a verb's module when the verb
runs; ``--help`` and completion show the summaries below and import nothing else. A
unit test keeps each summary equal to the command's own short help (tests/unit/cli).
"""

from canary.cli.app import cli

# name -> (module, summary); keep sorted.
VERBS: dict[str, tuple[str, str]] = {
    "abort": ("canary.cli.send_command", "Abort: stable 100 / canary 0 now (phase Aborted)."),
    "completion": (
        "canary.cli.completion",
        "Print the bash or zsh completion script for canary.",
    ),
    "evaluate": (
        "canary.cli.evaluate",
        "Say what a conformant Gateway (or, with --profile, a data plane) does with one "
        "request: route, rule, exact split.",
    ),
    "get": ("canary.cli.get", "List Rollouts (rollouts.canary.dev), show one, or watch them."),
    "lint-routes": (
        "canary.cli.evaluate",
        "Find shadowed rules, unresolved refs, missing grants, zero weights, unattached "
        "routes; with --profile traefik also where Traefik routes a request differently "
        "from the spec.",
    ),
    "pause": ("canary.cli.send_command", "Hold at the current step (no spec field is written)."),
    "plan": (
        "canary.cli.plan",
        "Validate a Rollout against its route and print each step's patch.",
    ),
    "promote": (
        "canary.cli.send_command",
        "Open the current gate (a manual gate or a pause); --full jumps to the last step.",
    ),
    "resume": ("canary.cli.send_command", "Continue after a pause."),
    "retry": (
        "canary.cli.send_command",
        "Retry after a rollback or abort: start again at step 1.",
    ),
    "status": (
        "canary.cli.status",
        "Show a Rollout's status, or wait for a goal (0 reached, 1 failed or Contested, "
        "2 timeout).",
    ),
}

for _name, (_module, _summary) in VERBS.items():
    cli.add_lazy(_name, _module, _summary)

__all__ = ["VERBS", "cli"]
