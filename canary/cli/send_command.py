"""``canary promote [--full] | abort | retry | pause | resume NAME``: commands as annotations.

A command is two annotations on the Rollout — ``canary.dev/command: <verb>`` and
``canary.dev/command-id: <id>`` — never a spec field, so GitOps tools keep owning the
spec (Argo's ``pause`` writes ``spec.paused``; Flagger keeps gates in a loadtester's
memory). The operator acts once per id, records ``status.lastCommand`` {id, verb, at,
result} and emits an Event; a command written while the operator is down is simply
there when it comes back.

Before writing, :func:`precheck` reads the rollout: a command already in effect (pause
while paused) exits 0 without a write, one that cannot apply (retry of a Succeeded
rollout) exits 1 with the reason — the operator's own rule
(``canary.core.rollout.applicability``), asked of the status as read. A pending command
with the same verb is not written twice, and ``--id`` makes a CI retry idempotent: an id
already acknowledged is reported, not re-sent. ``--wait`` waits for the acknowledgement:
0 applied or in effect, 1 ignored, 2 timed out (the command stays persisted).
"""

from __future__ import annotations

import datetime as dt
import secrets
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import click

from canary.adapters.ports import Obj
from canary.cli import render
from canary.cli.app import EXIT_FAILED, EXIT_OK, UsageFailure, cli
from canary.cli.cluster import (
    ContractCommand,
    Target,
    connect,
    get_rollout,
    kube_options,
    translated,
)
from canary.cli.status import DEFAULT_TIMEOUT, Outcome, Reporter, is_stale, parse_timeout, wait_for
from canary.core.phases import COMMAND_ANNOTATION, COMMAND_ID_ANNOTATION, Cond, Verb
from canary.core.rollout.applicability import InEffect, NotApplicable, applicability

MAX_ID = 253
IGNORED = "ignored"  # result prefix: the command does not apply (core.rollout.command_effects)


@dataclass(frozen=True)
class Check:
    """What reading the rollout says about a command: write it, or answer now."""

    write: bool
    code: int = EXIT_OK
    reason: str = ""


WRITE = Check(write=True)


def precheck(verb: str, obj: Obj) -> Check:
    """The operator's own rule (``canary.core.rollout.applicability``) on the rollout as
    read: in effect (0), not applicable (1), or write."""
    if is_stale(obj):  # a new spec not yet seen, or never reconciled: the operator decides
        return WRITE
    answer = applicability(
        verb,
        render.phase(obj) or None,
        pause_reason=render.status(obj).get("pauseReason"),
        contested=(render.condition(obj, Cond.CONTESTED) or {}).get("status") == "True",
    )
    if isinstance(answer, InEffect):
        return Check(write=False, code=EXIT_OK, reason=answer.detail)
    if isinstance(answer, NotApplicable):
        return Check(write=False, code=EXIT_FAILED, reason=answer.reason)
    return WRITE


def new_id(verb: str, now: dt.datetime) -> str:
    """``promote-20240501T100000Z-3fa9c1``: unique, sortable, readable in Events."""
    return f"{verb}-{now.astimezone(dt.UTC).strftime('%Y%m%dT%H%M%SZ')}-{secrets.token_hex(3)}"


def acknowledgement(obj: Obj, command_id: str) -> Mapping[str, Any] | None:
    last = render.status(obj).get("lastCommand")
    if isinstance(last, Mapping) and last.get("id") == command_id:
        return last
    return None


def ack_outcome(obj: Obj, command_id: str) -> Outcome | None:
    """0 applied / in effect, 1 ignored — once ``status.lastCommand.id`` is ours."""
    last = acknowledgement(obj, command_id)
    if last is None:
        return None
    result = str(last.get("result", ""))
    code = EXIT_FAILED if result.startswith(IGNORED) else EXIT_OK
    return Outcome(code, f"{last.get('verb')} on rollout {render.key(obj)}: {result}")


def pending(obj: Obj) -> tuple[str, str] | None:
    """(verb, id) of a command written but not yet acknowledged."""
    annotations = render.meta(obj).get("annotations") or {}
    verb = annotations.get(COMMAND_ANNOTATION)
    cid = annotations.get(COMMAND_ID_ANNOTATION)
    if verb and cid and acknowledgement(obj, cid) is None:
        return str(verb), str(cid)
    return None


def run_command(
    verb: str,
    *,
    name: str,
    target: Target,
    command_id: str | None,
    wait: bool,
    timeout: str,
    output: str,
) -> None:
    seconds = parse_timeout(timeout)
    if command_id is not None and not (0 < len(command_id) <= MAX_ID):
        raise UsageFailure(f"--id: 1 to {MAX_ID} characters")
    cluster = connect(target)
    ns = cluster.namespace
    obj = get_rollout(cluster, name, ns)
    label = f"rollout {ns}/{name}"
    if command_id is not None and (acked := ack_outcome(obj, command_id)) is not None:
        _finish(obj, acked, command_id, output, written=False)  # a CI retry of the same id
    waiting = pending(obj)
    if command_id is not None and waiting == (verb, command_id):
        cid, written, note = command_id, False, "already requested (not written again)"
    elif command_id is None and waiting is not None and waiting[0] == verb:
        cid, written, note = waiting[1], False, "already requested (not written again)"
    else:
        check = precheck(verb, obj)
        if not check.write:
            _finish(
                obj, Outcome(check.code, f"{verb} {label}: {check.reason}"), None, output, False
            )
        cid = command_id or new_id(verb, dt.datetime.now(dt.UTC))
        with translated(label):
            obj = cluster.rollouts.annotate(
                namespace=ns,
                name=name,
                annotations={COMMAND_ANNOTATION: str(verb), COMMAND_ID_ANNOTATION: cid},
            )
        written, note = True, "requested"
    if not wait:
        reason = (
            f"{verb} {note} on {label} (id {cid}); the operator acknowledges it in "
            "status.lastCommand"
        )
        _finish(obj, Outcome(EXIT_OK, reason), cid, output, written)
    obj, outcome = wait_for(
        cluster,
        namespace=ns,
        name=name,
        check=lambda o: ack_outcome(o, cid),
        timeout=seconds,
        reporter=Reporter(),
        what=f"the operator to acknowledge {verb} (id {cid}); the command stays persisted "
        "and takes effect when the operator runs",
    )
    _finish(obj, outcome, cid, output, written)


def _finish(obj: Obj, outcome: Outcome, cid: str | None, output: str, written: bool) -> None:
    if output == "text":
        if outcome.code == EXIT_OK:
            click.echo(outcome.reason)
    else:
        last = acknowledgement(obj, cid) if cid else None
        data = {
            "name": render.meta(obj).get("name"),
            "namespace": render.meta(obj).get("namespace"),
            "id": cid,
            "written": written,
            "result": {"exitCode": outcome.code, "reason": outcome.reason},
            "lastCommand": dict(last) if last else None,
        }
        click.echo(render.dump(data, output))
    if outcome.code != EXIT_OK:
        click.echo(f"error: {outcome.reason}", err=True)
    sys.exit(outcome.code)


def _command_options(fn: Any) -> Any:
    fn = click.option(
        "-o", "--output", type=click.Choice(("text", "json", "yaml")), default="text"
    )(fn)
    fn = click.option(
        "--timeout",
        default=DEFAULT_TIMEOUT,
        show_default=True,
        help="With --wait: give up after this Go duration (exit 2); 0 waits forever.",
    )(fn)
    fn = click.option(
        "-w", "--wait", is_flag=True, help="Wait until the operator acknowledges the command."
    )(fn)
    fn = click.option(
        "--id",
        "command_id",
        default=None,
        help="Command id (default: generated). Reusing an id makes a CI retry idempotent.",
    )(fn)
    return kube_options(fn)


def _register(verb: str, summary: str) -> None:
    @cli.command(verb, help=summary, cls=ContractCommand)
    @click.argument("name")
    @_command_options
    def command(
        name: str,
        kubeconfig: str | None,
        context: str | None,
        namespace: str | None,
        command_id: str | None,
        wait: bool,
        timeout: str,
        output: str,
    ) -> None:
        target = Target(kubeconfig=kubeconfig, context=context, namespace=namespace)
        run_command(
            verb,
            name=name,
            target=target,
            command_id=command_id,
            wait=wait,
            timeout=timeout,
            output=output,
        )


@cli.command("promote", cls=ContractCommand)
@click.argument("name")
@click.option("--full", is_flag=True, help="Go to the last step now, skipping analysis.")
@_command_options
def promote_cmd(
    name: str,
    full: bool,
    kubeconfig: str | None,
    context: str | None,
    namespace: str | None,
    command_id: str | None,
    wait: bool,
    timeout: str,
    output: str,
) -> None:
    """Open the current gate (a manual gate or a pause); --full jumps to the last step.

    \b
    canary promote api -n app-team-a --wait
    canary promote api --full
    """
    run_command(
        Verb.PROMOTE_FULL if full else Verb.PROMOTE,
        name=name,
        target=Target(kubeconfig=kubeconfig, context=context, namespace=namespace),
        command_id=command_id,
        wait=wait,
        timeout=timeout,
        output=output,
    )


_register(Verb.ABORT, "Abort: stable 100 / canary 0 now (phase Aborted).")
_register(Verb.RETRY, "Retry after a rollback or abort: start again at step 1.")
_register(Verb.PAUSE, "Hold at the current step (no spec field is written).")
_register(Verb.RESUME, "Continue after a pause.")
