"""How a CLI verb reaches the cluster: kubectl-like flags, one factory, one-line errors.

Every cluster verb takes ``--kubeconfig``, ``--context`` and ``-n/--namespace`` (kubectl
puts them on each verb, so ``canary promote app -n team`` reads as it would there) and
asks :func:`connect` for a :class:`Cluster`: the two ports the CLI uses and the namespace
it resolved. The factory is looked up on the click context's ``obj`` first, so unit tests
pass ``obj=lambda target: Cluster(FakeRollouts(...), FakeEvents(), "ns")`` to
``CliRunner.invoke`` and never touch a kubeconfig.

Adapter errors become :class:`UsageFailure` (exit 3, one line on stderr) in
:func:`translated`; a watch that breaks (410 Gone, a restarted apiserver) is re-opened by
:func:`follow`, which always starts with the current state (a watch without a
resourceVersion sends ADDED for every existing object first).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

import click

from canary.adapters import errors
from canary.adapters.ports import EventsPort, Obj
from canary.cli.app import UsageFailure

DEFAULT_NAMESPACE = "default"
WATCH_SLICE = 300.0  # seconds per server-side watch before it is re-opened
RETRY_PAUSE = 1.0  # seconds between attempts when the API server is unavailable


@dataclass(frozen=True)
class Target:
    """What the user asked for on the command line (``namespace`` None: not given)."""

    kubeconfig: str | None = None
    context: str | None = None
    namespace: str | None = None


class CliRolloutsPort(Protocol):
    """What the CLI does with Rollouts: read, watch, annotate (commands). Never status,
    never finalizers — those are the operator's (``canary.adapters.ports.RolloutsPort``)."""

    def get(self, *, namespace: str, name: str) -> Obj: ...

    def list(self, *, namespace: str | None) -> list[Obj]: ...

    def watch(
        self, *, namespace: str | None, name: str | None = None, timeout: float | None = None
    ) -> Iterator[tuple[str, Obj]]: ...

    def annotate(
        self, *, namespace: str, name: str, annotations: Mapping[str, str | None]
    ) -> Obj: ...


@dataclass(frozen=True)
class Cluster:
    """The ports a verb talks through, and the namespace it acts in."""

    rollouts: CliRolloutsPort
    events: EventsPort
    namespace: str


Factory = Callable[[Target], Cluster]
F = TypeVar("F", bound=Callable[..., Any])


class ContractCommand(click.Command):
    """A verb whose usage errors exit 3 with one line (click's own exit 2 means timeout here)."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        try:
            return super().parse_args(ctx, args)
        except click.UsageError as exc:
            hint = f" (see: {ctx.command_path} --help)"
            raise UsageFailure(exc.format_message() + hint) from None


def kube_options(fn: F) -> F:
    """Add ``--kubeconfig``, ``--context`` and ``-n/--namespace`` to a verb."""
    fn = click.option(
        "-n",
        "--namespace",
        default=None,
        help="Namespace (default: the kubeconfig context's, else 'default').",
    )(fn)
    fn = click.option("--context", default=None, help="kubeconfig context to use.")(fn)
    fn = click.option(
        "--kubeconfig",
        default=None,
        type=click.Path(dir_okay=False),
        help="kubeconfig file (default: $KUBECONFIG, ~/.kube/config or in-cluster).",
    )(fn)
    return fn


def connect(target: Target) -> Cluster:
    """Build the ports for ``target``: the factory on the click context, else the cluster."""
    ctx = click.get_current_context(silent=True)
    factory = ctx.find_root().obj if ctx is not None else None
    with translated():
        if callable(factory):
            cluster: Cluster = factory(target)
            return cluster
        return _kube_cluster(target)


def _kube_cluster(target: Target) -> Cluster:
    # Imported here, not at the top: ``--help``, completion, ``plan`` and ``evaluate``
    # never load Kubernetes code (docs/performance.md, "CLI latency").
    from canary.cli.kubeapi import CliEvents, CliRollouts, load_api_client

    api = load_api_client(kubeconfig=target.kubeconfig, context=target.context)
    namespace = target.namespace or _context_namespace(target) or DEFAULT_NAMESPACE
    return Cluster(rollouts=CliRollouts(api), events=CliEvents(api), namespace=namespace)


def _context_namespace(target: Target) -> str | None:
    """The namespace of the kubeconfig context in use, as kubectl defaults it."""
    import os

    from kubernetes import config as kube_config

    config: Any = kube_config  # untyped module
    if not target.kubeconfig and os.environ.get("CANARY_KUBE_SERVER"):
        return None
    try:
        contexts, active = config.list_kube_config_contexts(config_file=target.kubeconfig)
    except Exception:  # no kubeconfig (in-cluster, token env): kubectl's default applies
        return None
    chosen = active
    if target.context:
        chosen = next((c for c in contexts if c.get("name") == target.context), active)
    namespace = ((chosen or {}).get("context") or {}).get("namespace")
    return str(namespace) if namespace else None


def message_of(exc: errors.KubeError) -> str:
    """One line for an adapter error (first line only; the API's message kept)."""
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


@contextmanager
def translated(what: str | None = None) -> Iterator[None]:
    """Adapter errors → ``UsageFailure`` (exit 3) with one line.

    ``what`` ("rollout ns/name") names the object for a 404.
    """
    try:
        yield
    except errors.NotFound as exc:
        raise UsageFailure(f"{what} not found" if what else message_of(exc)) from None
    except errors.Forbidden as exc:
        raise UsageFailure(f"access denied: {message_of(exc)}") from None
    except errors.KubeUnavailable as exc:
        raise UsageFailure(f"cluster unreachable: {message_of(exc)}") from None
    except errors.KubeError as exc:
        raise UsageFailure(message_of(exc)) from None


def rollout_label(namespace: str, name: str) -> str:
    return f"rollout {namespace}/{name}"


def get_rollout(cluster: Cluster, name: str, namespace: str | None = None) -> Obj:
    ns = namespace or cluster.namespace
    with translated(rollout_label(ns, name)):
        return cluster.rollouts.get(namespace=ns, name=name)


def follow(
    cluster: Cluster,
    *,
    namespace: str | None,
    name: str | None,
    deadline: float | None,
    resync: bool = False,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> Iterator[tuple[str, Obj]]:
    """Watch events until ``deadline`` (monotonic; None = forever), re-opening as needed.

    Each (re-)opened watch begins with ADDED for every current object, so a consumer
    that judges the latest state never misses one; with ``resync`` a ``("RESYNC", {})``
    precedes each opening, for consumers that keep a map of objects (deletions during a
    gap are then not missed). 410 Gone and an unavailable API server re-open the watch
    after a short pause; NotFound/Forbidden raise UsageFailure.
    """
    while True:
        remaining = None if deadline is None else deadline - clock()
        if remaining is not None and remaining <= 0:
            return
        timeout = WATCH_SLICE if remaining is None else min(WATCH_SLICE, remaining)
        if resync:
            yield "RESYNC", {}
        with translated(rollout_label(namespace or "*", name or "*")):
            try:
                yield from cluster.rollouts.watch(namespace=namespace, name=name, timeout=timeout)
            except (errors.NotFound, errors.Forbidden):
                raise
            except errors.KubeError:  # 410 Gone, an ERROR event, the apiserver restarting
                sleep(min(RETRY_PAUSE, max(0.0, timeout)))
