"""``canary run``: the operator process (kopf, the Lease, health and /metrics endpoints)."""

from __future__ import annotations

import json
import logging
import os
import sys
from collections.abc import Callable
from typing import Any, TypeVar

import click

from canary.core.analysis.addresses import AddressError, normalize
from canary.core.durations import DurationError, format_duration, parse_duration
from canary.core.rollout.settings import CONTEST_LIMIT, CONTEST_WINDOW
from canary.operator.config import OperatorConfig
from canary.operator.failpoints import ENV as FAILPOINTS_ENV
from canary.operator.failpoints import FailpointError, Failpoints

FC = TypeVar("FC", bound=Callable[..., Any] | click.Command)


class _JsonFormatter(logging.Formatter):
    """One JSON object per line (``--log-format json``)."""

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": self.formatTime(record),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry)


def _setup_logging(fmt: str, level: str) -> None:
    handler = logging.StreamHandler(sys.stderr)
    if fmt == "json":
        handler.setFormatter(_JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)-7s %(name)s %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    logging.getLogger("kubernetes").setLevel(logging.WARNING)
    logging.getLogger("urllib3").setLevel(logging.WARNING)


def _prometheus_allow(flags: tuple[str, ...], default: str | None) -> tuple[str, ...]:
    """The allowlist entries (flags, else CANARY_PROMETHEUS_ALLOW), each a valid URL."""
    entries = tuple(flags)
    if not entries and os.environ.get("CANARY_PROMETHEUS_ALLOW"):
        raw = os.environ["CANARY_PROMETHEUS_ALLOW"].replace(",", " ")
        entries = tuple(raw.split())
    for name, url in [("--prometheus-url", default)] + [("--prometheus-allow", u) for u in entries]:
        if not url:
            continue
        try:
            normalize(url)
        except AddressError as exc:
            raise click.BadParameter(f"{url}: {exc}", param_hint=name) from exc
    return entries


def _contest_window(text: str) -> float:
    """--contest-window in seconds: a Go-style duration above zero."""
    try:
        seconds = parse_duration(text)
    except DurationError as exc:
        raise click.BadParameter(str(exc), param_hint="--contest-window") from exc
    if seconds <= 0:
        raise click.BadParameter("must be above zero", param_hint="--contest-window")
    return seconds


def register_run(group: click.Group) -> None:
    """Add the ``run`` verb to the CLI group (main.py composes cli and operator).

    Every option also reads the environment variable shown in ``--help`` (flags win).
    """

    def option(*decls: str, **kw: Any) -> Callable[[FC], FC]:
        return click.option(*decls, show_envvar="envvar" in kw, **kw)

    @group.command("run")
    @option(
        "--namespace",
        "namespaces",
        multiple=True,
        help="Watch only this namespace (repeatable). Default: all namespaces. "
        "Env CANARY_WATCH_NAMESPACES (comma-separated).",
    )
    @option(
        "--read-namespace",
        "read_namespaces",
        multiple=True,
        help="Only with --namespace: another namespace whose Gateways, ReferenceGrants, "
        "Services, EndpointSlices and routes the route evaluator reads (repeatable; "
        "nothing is written there). Env CANARY_READ_NAMESPACES (comma-separated).",
    )
    @option(
        "--prometheus-url",
        envvar="CANARY_PROMETHEUS_URL",
        help="Prometheus for Rollouts without analysis.address.",
    )
    @option(
        "--prometheus-allow",
        "prometheus_allow",
        multiple=True,
        help="Another Prometheus a Rollout's analysis.address may name (repeatable). "
        "Default: only --prometheus-url; any other address is a check error. "
        "Env CANARY_PROMETHEUS_ALLOW (comma-separated).",
    )
    @option(
        "--prometheus-check-budget",
        type=click.FloatRange(min=0),
        default=30.0,
        show_default=True,
        envvar="CANARY_PROMETHEUS_CHECK_BUDGET",
        help="Seconds for all Prometheus queries of one check (retries included); what "
        "is not answered by then is a check error. 0: no budget.",
    )
    @option(
        "--prometheus-max-concurrent",
        type=click.IntRange(min=1),
        default=4,
        show_default=True,
        envvar="CANARY_PROMETHEUS_MAX_CONCURRENT",
        help="Prometheus queries in flight at once, per operator (all addresses).",
    )
    @option(
        "--traefik-api-url",
        envvar="CANARY_TRAEFIK_API_URL",
        help="Traefik API to confirm the data plane serves the new weights (optional).",
    )
    @option(
        "--health-port",
        type=int,
        default=8080,
        show_default=True,
        envvar="CANARY_HEALTH_PORT",
        help="GET /healthz.",
    )
    @option("--health-host", default="0.0.0.0", show_default=True)
    @option(
        "--metrics-port",
        type=int,
        default=9090,
        show_default=True,
        envvar="CANARY_METRICS_PORT",
        help="GET /metrics; 0 disables.",
    )
    @option(
        "--log-format",
        type=click.Choice(["text", "json"]),
        default="text",
        show_default=True,
        envvar="CANARY_LOG_FORMAT",
    )
    @option("--log-level", default="INFO", show_default=True, envvar="CANARY_LOG_LEVEL")
    @option("--lease-name", default="canary-operator", show_default=True)
    @option("--lease-namespace", default="default", show_default=True, envvar="POD_NAMESPACE")
    @option(
        "--lease-duration",
        type=int,
        default=15,
        show_default=True,
        help="Seconds a standby waits, from when it last saw the Lease change, before it "
        "takes over.",
    )
    @option(
        "--lease-renew-deadline",
        type=float,
        default=None,
        help="Seconds; the holder stops writing when its last renewal is older "
        "(must be < --lease-duration). Default: 2/3 of --lease-duration (10 for 15).",
    )
    @option(
        "--lease-retry-period",
        type=float,
        default=None,
        help="Seconds between tries to acquire or renew the Lease. "
        "Default: 2/15 of --lease-duration (2 for 15).",
    )
    @option("--identity", envvar="POD_NAME", help="Lease holder identity. Default: hostname-pid.")
    @option(
        "--resync-interval",
        type=click.FloatRange(min=0.1),
        default=300.0,
        show_default=True,
        envvar="CANARY_RESYNC_INTERVAL",
        help="Safety net: seconds after which a Rollout is looked at again even when "
        "nothing changed. Watches (Rollouts, routes, Gateways, Services, EndpointSlices) "
        "and each pass's own next-due time drive everything else.",
    )
    @option(
        "--kube-qps",
        type=click.FloatRange(min=0.1),
        default=20.0,
        show_default=True,
        envvar="CANARY_KUBE_QPS",
        help="Client-side limit: Kubernetes API requests per second (watches excluded).",
    )
    @option(
        "--kube-burst",
        type=click.IntRange(min=1),
        default=40,
        show_default=True,
        envvar="CANARY_KUBE_BURST",
        help="Client-side limit: requests allowed at once above --kube-qps.",
    )
    @option(
        "--route-ready-fallback",
        type=float,
        default=0.0,
        show_default=True,
        help="Seconds after which a route whose implementation never writes "
        "status counts as ready (0: never; wait for Accepted/ResolvedRefs).",
    )
    @option(
        "--default-interval",
        default="1m",
        show_default=True,
        envvar="CANARY_DEFAULT_INTERVAL",
        help="analysis.interval for Rollouts that leave it unset.",
    )
    @option(
        "--default-min-requests",
        type=int,
        default=20,
        show_default=True,
        envvar="CANARY_DEFAULT_MIN_REQUESTS",
        help="analysis.minRequests for Rollouts that leave it unset.",
    )
    @option(
        "--contest-limit",
        type=click.IntRange(min=1),
        default=CONTEST_LIMIT,
        show_default=True,
        envvar="CANARY_CONTEST_LIMIT",
        help="Contested: this many reverts of the weights by another field manager "
        "(a GitOps tool) within --contest-window stop re-asserting them; never more "
        "than this many weight writes per window (docs/gitops.md).",
    )
    @option(
        "--contest-window",
        default=format_duration(CONTEST_WINDOW),
        show_default=True,
        envvar="CANARY_CONTEST_WINDOW",
        help="Contested: the window (a duration such as 10m) in which --contest-limit "
        "reverts end the fight.",
    )
    @option("--kubeconfig", default=None, help="Path to a kubeconfig (default $KUBECONFIG).")
    @option("--context", default=None, help="kubeconfig context.")
    def run_cmd(**kw: Any) -> None:
        """Run the operator (kopf): walk Rollouts through their steps.

        Only the Lease holder writes (docs/operator.md). For tests only: CANARY_FAILPOINTS
        pauses or kills the process at named points; unset in production.
        """
        namespaces = tuple(kw.pop("namespaces") or ())
        if not namespaces and os.environ.get("CANARY_WATCH_NAMESPACES"):
            namespaces = tuple(
                n.strip() for n in os.environ["CANARY_WATCH_NAMESPACES"].split(",") if n.strip()
            )
        try:
            parse_duration(kw["default_interval"])
        except DurationError as exc:
            raise click.BadParameter(str(exc), param_hint="--default-interval") from exc
        kw["contest_window"] = _contest_window(kw["contest_window"])
        read_namespaces = tuple(kw.pop("read_namespaces") or ())
        if not read_namespaces and os.environ.get("CANARY_READ_NAMESPACES"):
            read_namespaces = tuple(
                n.strip() for n in os.environ["CANARY_READ_NAMESPACES"].split(",") if n.strip()
            )
        if read_namespaces and not namespaces:
            raise click.BadParameter(
                "only with --namespace (watching all namespaces reads all of them)",
                param_hint="--read-namespace",
            )
        kw["read_namespaces"] = read_namespaces
        kw["prometheus_allow"] = _prometheus_allow(kw["prometheus_allow"], kw["prometheus_url"])
        identity = kw.pop("identity") or f"{os.uname().nodename}-{os.getpid()}"
        config = OperatorConfig(namespaces=namespaces, identity=str(identity), **kw)
        problems = config.lease_timings().problems()
        if problems:
            raise click.BadParameter(
                "; ".join(problems),
                param_hint="--lease-duration/--lease-renew-deadline/--lease-retry-period",
            )
        try:
            Failpoints.from_env()
        except FailpointError as exc:
            raise click.BadParameter(str(exc), param_hint=FAILPOINTS_ENV) from exc
        _setup_logging(config.log_format, config.log_level)
        from canary.operator.handlers import run_operator

        run_operator(config)
