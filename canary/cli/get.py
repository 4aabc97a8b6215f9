"""``canary get [NAME] [-n NS | -A] [-w] [-o text|wide|json|yaml]``: list, show, watch.

Without ``-w`` it is ``kubectl get rollouts.canary.dev`` with the columns that matter
(NAME PHASE STEP WEIGHT EFFECTIVE AGE; wide adds STABLE CANARY MESSAGE). With ``-w``
on a terminal it is a live view driven by the watch — for one NAME the detail view
(steps as a progress bar, desired / effective / observed weight, the last measurement
of every metric against its bound, conditions, recent Events); piped, one timestamped
plain line per change, which is what a CI log wants.
"""

from __future__ import annotations

import datetime as dt
import json
import sys
import time
from collections.abc import Mapping
from typing import Any

import click
from rich.console import Console, RenderableType
from rich.live import Live
from rich.text import Text

from canary.adapters.ports import Obj
from canary.cli import render
from canary.cli.app import UsageFailure, cli
from canary.cli.cluster import (
    Cluster,
    ContractCommand,
    Target,
    connect,
    follow,
    get_rollout,
    kube_options,
    translated,
)
from canary.cli.status import parse_timeout, recent_events


@cli.command("get", cls=ContractCommand)
@click.argument("name", required=False)
@kube_options
@click.option(
    "-A", "--all-namespaces", "all_namespaces", is_flag=True, help="List across all namespaces."
)
@click.option("-w", "--watch", is_flag=True, help="Keep watching: live view on a TTY.")
@click.option(
    "-o",
    "--output",
    type=click.Choice(("text", "wide", "json", "yaml")),
    default="text",
    show_default=True,
)
@click.option(
    "--timeout",
    default="0",
    show_default=True,
    help="With -w: stop after this duration (0: never).",
)
def get_cmd(
    name: str | None,
    kubeconfig: str | None,
    context: str | None,
    namespace: str | None,
    all_namespaces: bool,
    watch: bool,
    output: str,
    timeout: str,
) -> None:
    """List Rollouts (rollouts.canary.dev), show one, or watch them.

    \b
    canary get -A
    canary get api -n app-team-a -o wide
    canary get api -w            # live view on a terminal, a line per change in a pipe
    """
    if all_namespaces and namespace:
        raise UsageFailure("-A/--all-namespaces and -n/--namespace are exclusive")
    if all_namespaces and name:
        raise UsageFailure("a NAME needs a namespace; drop -A/--all-namespaces")
    seconds = parse_timeout(timeout)
    cluster = connect(Target(kubeconfig=kubeconfig, context=context, namespace=namespace))
    ns = None if all_namespaces else cluster.namespace
    if watch:
        _watch(cluster, name=name, namespace=ns, output=output, seconds=seconds)
        return
    now = dt.datetime.now(dt.UTC)
    if name:
        objs = [get_rollout(cluster, name, ns)]
    else:
        with translated(f"rollouts in {ns or 'all namespaces'}"):
            objs = cluster.rollouts.list(namespace=ns)
    if output in ("json", "yaml"):
        click.echo(render.dump(objs[0] if name else render.as_list(objs), output))
    elif not objs:
        where = f"in {ns} namespace" if ns else "in any namespace"
        click.echo(f"No rollouts found {where}.", err=True)
    else:
        wide = output == "wide"
        click.echo(render.table(objs, now=now, wide=wide, all_namespaces=all_namespaces))


def _watch(
    cluster: Cluster, *, name: str | None, namespace: str | None, output: str, seconds: float | None
) -> None:
    if name:
        get_rollout(cluster, name, namespace)  # not found → exit 3 before watching
    deadline = None if seconds is None else time.monotonic() + seconds
    stream = follow(cluster, namespace=namespace, name=name, deadline=deadline, resync=True)
    try:
        if sys.stdout.isatty() and output in ("text", "wide"):
            _live(cluster, stream, name=name, namespace=namespace, wide=output == "wide")
        else:
            _lines(stream, output=output)
    except KeyboardInterrupt:
        pass


def _lines(stream: Any, *, output: str) -> None:
    """A timestamped line per change (text/wide), or one JSON object / YAML doc per event."""
    last: dict[str, str] = {}
    for type_, obj in stream:
        if type_ == "RESYNC":
            continue
        now = dt.datetime.now(dt.UTC)
        if output == "json":
            click.echo(json.dumps({"type": type_, "object": obj}, separators=(",", ":")))
        elif output == "yaml":
            click.echo("---\n" + render.dump({"type": type_, "object": obj}, "yaml"))
        else:
            text = render.change_line(obj, now=now, event=type_)
            body = text.split(" ", 1)[1]
            if last.get(render.key(obj)) != body:
                last[render.key(obj)] = body
                click.echo(text)
            if type_ == "DELETED":
                last.pop(render.key(obj), None)


def _live(
    cluster: Cluster, stream: Any, *, name: str | None, namespace: str | None, wide: bool
) -> None:
    """Redraw on every watch event: the detail view for NAME, else the table."""
    objs: dict[str, Mapping[str, Any]] = {}
    console = Console()
    with Live(Text("waiting for the first event…"), console=console, auto_refresh=False) as live:
        for type_, obj in stream:
            if type_ == "RESYNC":
                objs.clear()
                continue
            if type_ == "DELETED":
                objs.pop(render.key(obj), None)
            else:
                objs[render.key(obj)] = obj
            live.update(_view(cluster, objs, name=name, namespace=namespace, wide=wide))
            live.refresh()


def _view(
    cluster: Cluster,
    objs: Mapping[str, Mapping[str, Any]],
    *,
    name: str | None,
    namespace: str | None,
    wide: bool,
) -> RenderableType:
    now = dt.datetime.now(dt.UTC)
    if name:
        if not objs:
            return Text(f"rollout {namespace}/{name} was deleted", style="red")
        obj: Obj = dict(next(iter(objs.values())))
        return render.detail_renderable(obj, recent_events(cluster, obj), now=now)
    ordered = [objs[k] for k in sorted(objs)]
    if not ordered:
        return Text("no rollouts", style="dim")
    return render.table_renderable(ordered, now=now, wide=wide, all_namespaces=namespace is None)
