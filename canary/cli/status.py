"""``canary status NAME [--wait] [--until done|paused|step=N] [--timeout D]``: CI's gate.

Exit codes (docs/cli.md): 0 goal reached (Succeeded, or the ``--until``
state); 1 RolledBack, Aborted, Failed, Paused after a failed check, or Contested
(another field manager keeps reverting the weights: a person must act); 2 timed out; 3
usage, not found or access denied. ``--until paused`` is ``AwaitingPromotion=True`` (a
manual gate) — what Argo's ``status`` cannot stop at; if the rollout succeeds first that
is 0 with a note. ``--until done`` keeps waiting through a user pause. Without
``--wait`` the status is printed once: 0 unless the rollout is in a failed terminal
phase (1) or missing (3). ``--until`` implies ``--wait``.

The judgement is :func:`judge`, a pure function of the object; a status the operator
wrote for an older generation (``observedGeneration`` < ``generation``: the CI just
applied a new spec) is not judged at all, so a re-applied, previously Succeeded Rollout
does not pass ``--until done`` before the operator has seen the change.
"""

from __future__ import annotations

import datetime as dt
import re
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import click
from rich.console import Console

from canary.adapters.ports import Obj
from canary.cli import render
from canary.cli.app import EXIT_FAILED, EXIT_OK, EXIT_TIMEOUT, UsageFailure, cli
from canary.cli.cluster import (
    Cluster,
    ContractCommand,
    Target,
    connect,
    follow,
    get_rollout,
    kube_options,
)
from canary.core.durations import DurationError, parse_duration
from canary.core.phases import FAILED_PHASES, PAUSE_FAILURE, Cond, Phase

DEFAULT_TIMEOUT = "30m"
_STEP = re.compile(r"^step=([0-9]+)$")
OUTPUTS = ("text", "json", "yaml")


@dataclass(frozen=True)
class Goal:
    """What ``--until`` waits for: ``done``, ``paused`` or ``step`` (with ``step`` ≥ 1)."""

    kind: str
    step: int = 0

    def __str__(self) -> str:
        return f"step={self.step}" if self.kind == "step" else self.kind


@dataclass(frozen=True)
class Outcome:
    """An exit code and the one line that explains it."""

    code: int
    reason: str


def parse_until(text: str) -> Goal:
    if text in ("done", "paused"):
        return Goal(text)
    match = _STEP.match(text)
    if match and int(match.group(1)) >= 1:
        return Goal("step", int(match.group(1)))
    raise UsageFailure(f"--until: expected done, paused or step=N (N >= 1), got {text!r}")


def parse_timeout(text: str) -> float | None:
    """Seconds, or None for ``0`` (wait forever)."""
    try:
        seconds = parse_duration(text)
    except DurationError as exc:
        raise UsageFailure(f"--timeout: {exc}") from None
    return seconds or None


def _true(obj: Obj, type_: str) -> bool:
    cond = render.condition(obj, type_)
    return cond is not None and cond.get("status") == "True"


def is_stale(obj: Obj) -> bool:
    """The status was written for an older spec (or not at all) — nothing to judge yet."""
    s = render.status(obj)
    if not s.get("phase"):
        return True
    generation = render.meta(obj).get("generation")
    observed = s.get("observedGeneration")
    if not isinstance(generation, int) or not isinstance(observed, int) or observed >= generation:
        return False
    invalid = render.condition(obj, Cond.INVALID)  # an invalid spec is marked per condition
    return not (
        invalid
        and invalid.get("status") == "True"
        and invalid.get("observedGeneration") == generation
    )


def _where(obj: Obj) -> str:
    s = render.status(obj)
    return f"step {s.get('stepLabel') or '-'}, weight {s.get('canaryWeight', '-')}"


def failure(obj: Obj) -> Outcome | None:
    """Exit 1 when the rollout failed or a person must act: Contested, a failed terminal
    phase or a pause after a failed check."""
    s = render.status(obj)
    ph = s.get("phase")
    message = f": {s['message']}" if s.get("message") else ""
    contested = render.condition(obj, Cond.CONTESTED)
    if contested and contested.get("status") == "True":  # a person must act (canary resume)
        why = f": {contested.get('message')}" if contested.get("message") else message
        return Outcome(EXIT_FAILED, f"rollout {render.key(obj)} {ph}, Contested{why}")
    if ph in FAILED_PHASES:
        return Outcome(EXIT_FAILED, f"rollout {render.key(obj)} {ph}{message}")
    if ph == Phase.PAUSED and s.get("pauseReason") == PAUSE_FAILURE:
        return Outcome(
            EXIT_FAILED, f"rollout {render.key(obj)} paused after a failed check{message}"
        )
    return None


def judge(obj: Obj, goal: Goal) -> Outcome | None:
    """The exit for ``--wait --until goal`` on this object, or None to keep waiting."""
    if is_stale(obj):
        return None
    failed = failure(obj)
    if failed is not None:
        return failed
    s = render.status(obj)
    ph = s.get("phase")
    name = render.key(obj)
    if ph == Phase.SUCCEEDED:
        note = {
            "paused": " (note: it succeeded before reaching a manual gate)",
            "step": f" (past step {goal.step})",
        }.get(goal.kind, "")
        return Outcome(EXIT_OK, f"rollout {name} Succeeded{note}")
    if ph not in (Phase.PROGRESSING, Phase.PAUSED):
        return None
    if goal.kind == "paused" and _true(obj, Cond.AWAITING_PROMOTION):
        return Outcome(EXIT_OK, f"rollout {name} is at a manual gate ({_where(obj)})")
    index = s.get("stepIndex")
    if goal.kind == "step" and isinstance(index, int):
        at = index + 1
        if at > goal.step or (at == goal.step and _true(obj, Cond.SPLIT_VERIFIED)):
            return Outcome(EXIT_OK, f"rollout {name} reached step {goal.step} ({_where(obj)})")
    return None


def judge_now(obj: Obj) -> Outcome:
    """Without ``--wait``: 1 for a failed terminal phase, else 0."""
    s = render.status(obj)
    if s.get("phase") in FAILED_PHASES and not is_stale(obj):
        failed = failure(obj)
        assert failed is not None
        return failed
    return Outcome(EXIT_OK, f"rollout {render.key(obj)}: {render.summary(obj)}")


# --------------------------------------------------------------------------- waiting


class Reporter:
    """Progress during a wait on stderr: a spinner line on a TTY, else a line per change."""

    def __init__(self, *, tty: bool | None = None) -> None:
        self.tty = sys.stderr.isatty() if tty is None else tty
        self._last = ""
        self._console = Console(stderr=True) if self.tty else None
        self._status: Any = None

    def update(self, obj: Obj, *, note: str = "") -> None:
        text = render.summary(obj) + (f" — {note}" if note else "")
        if text == self._last:
            return
        self._last = text
        if self._console is not None:
            line = f"{render.key(obj)} {text}"
            if self._status is None:
                self._status = self._console.status(line)
                self._status.start()
            else:
                self._status.update(line)
        else:
            now = dt.datetime.now(dt.UTC)
            click.echo(f"{render.stamp(now)} {render.key(obj)} {text}", err=True)

    def close(self) -> None:
        if self._status is not None:
            self._status.stop()
            self._status = None


def wait_for(
    cluster: Cluster,
    *,
    namespace: str,
    name: str,
    check: Callable[[Obj], Outcome | None],
    timeout: float | None,
    reporter: Reporter,
    what: str,
) -> tuple[Obj, Outcome]:
    """Follow the rollout until ``check`` answers; exit 2 outcome at the deadline."""
    deadline = None if timeout is None else time.monotonic() + timeout
    latest = get_rollout(cluster, name, namespace)
    try:
        reporter.update(latest)
        outcome = check(latest)
        if outcome is not None:
            return latest, outcome
        for type_, obj in follow(cluster, namespace=namespace, name=name, deadline=deadline):
            if type_ == "DELETED":
                raise UsageFailure(f"rollout {namespace}/{name} was deleted while waiting")
            latest = obj
            reporter.update(obj)
            outcome = check(obj)
            if outcome is not None:
                return latest, outcome
    finally:
        reporter.close()
    limit = "ever" if timeout is None else render_duration(timeout)
    return latest, Outcome(
        EXIT_TIMEOUT,
        f"timed out after {limit} waiting for {what}; rollout {namespace}/{name} is "
        f"{render.summary(latest)}",
    )


def render_duration(seconds: float) -> str:
    from canary.core.durations import format_duration

    return format_duration(seconds)


# --------------------------------------------------------------------------- output


def report(
    obj: Obj, outcome: Outcome, *, output: str, events: list[Mapping[str, Any]], waited: bool
) -> None:
    """Print the result on stdout; a non-zero exit also gets one line on stderr."""
    now = dt.datetime.now(dt.UTC)
    if output == "text":
        click.echo("\n".join(render.detail_lines(obj, events, now=now)))
        if outcome.code == EXIT_OK and waited:
            click.echo(outcome.reason)
    else:
        data = {
            "name": render.meta(obj).get("name"),
            "namespace": render.meta(obj).get("namespace"),
            "result": {"exitCode": outcome.code, "reason": outcome.reason},
            "summary": render.summary(obj),
            "status": dict(render.status(obj)),
        }
        click.echo(render.dump(data, output))
    if outcome.code != EXIT_OK:
        click.echo(f"error: {outcome.reason}", err=True)


def recent_events(cluster: Cluster, obj: Obj, limit: int = 8) -> list[Mapping[str, Any]]:
    """Events are a nicety: an identity without ``events list`` still gets its status."""
    try:
        return list(cluster.events.list_for(obj=obj, limit=limit))
    except Exception:
        return []


@cli.command("status", cls=ContractCommand)
@click.argument("name")
@kube_options
@click.option("-w", "--wait", is_flag=True, help="Wait until the goal (--until) is reached.")
@click.option(
    "--until",
    "until",
    default=None,
    metavar="done|paused|step=N",
    help="Goal of --wait (implies --wait): done (default; waits through a user pause), "
    "paused (a manual gate: AwaitingPromotion=True), step=N (step N verified, or beyond).",
)
@click.option(
    "--timeout",
    default=DEFAULT_TIMEOUT,
    show_default=True,
    help="Give up after this Go duration (exit 2); 0 waits forever.",
)
@click.option("-o", "--output", type=click.Choice(OUTPUTS), default="text", show_default=True)
def status_cmd(
    name: str,
    kubeconfig: str | None,
    context: str | None,
    namespace: str | None,
    wait: bool,
    until: str | None,
    timeout: str,
    output: str,
) -> None:
    """Show a Rollout's status, or wait for a goal (0 reached, 1 failed or Contested, 2 timeout).

    \b
    canary status api -n app-team-a
    canary status api --wait --until paused --timeout 10m   # at a manual gate
    canary status api --wait --until done                   # Succeeded, 1 on rollback
    """
    goal = parse_until(until or "done")
    seconds = parse_timeout(timeout)
    cluster = connect(Target(kubeconfig=kubeconfig, context=context, namespace=namespace))
    ns = cluster.namespace
    if not (wait or until):
        obj = get_rollout(cluster, name, ns)
        outcome = judge_now(obj)
    else:
        obj = get_rollout(cluster, name, ns)
        steps = render.spec(obj).get("steps") or []
        if goal.kind == "step" and goal.step > len(steps):
            raise UsageFailure(
                f"--until step={goal.step}: rollout {ns}/{name} has {len(steps)} steps"
            )
        obj, outcome = wait_for(
            cluster,
            namespace=ns,
            name=name,
            check=lambda o: judge(o, goal),
            timeout=seconds,
            reporter=Reporter(),
            what=f"--until {goal}",
        )
    events = recent_events(cluster, obj)
    report(obj, outcome, output=output, events=events, waited=bool(wait or until))
    sys.exit(outcome.code)
