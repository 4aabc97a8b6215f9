"""``canary run``: the operator process (kopf, the Lease, health and /metrics endpoints)."""

from __future__ import annotations

import logging
import os
import sys
from typing import Any

import click

from canary.core.durations import DurationError, parse_duration
from canary.operator.config import OperatorConfig, env_default


def _setup_logging(fmt: str, level: str) -> None:
    handler = logging.StreamHandler(sys.stderr)
    if fmt == "json":
        handler.setFormatter(
            logging.Formatter(
                '{"time":"%(asctime)s","level":"%(levelname)s","logger":"%(name)s",'
                '"message":%(message)r}'
            )
        )
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)-7s %(name)s %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    logging.getLogger("kubernetes").setLevel(logging.WARNING)
    logging.getLogger("urllib3").setLevel(logging.WARNING)


def register_run(group: click.Group) -> None:
    """Add the ``run`` verb to the CLI group (main.py composes cli and operator)."""

    @group.command("run")
    @click.option(
        "--namespace",
        "namespaces",
        multiple=True,
        help="Watch only this namespace (repeatable). Default: all namespaces. "
        "Env CANARY_WATCH_NAMESPACES (comma-separated).",
    )
    @click.option(
        "--prometheus-url",
        default=lambda: env_default("CANARY_PROMETHEUS_URL"),
        help="Prometheus for Rollouts without analysis.address. Env CANARY_PROMETHEUS_URL.",
    )
    @click.option(
        "--traefik-api-url",
        default=lambda: env_default("CANARY_TRAEFIK_API_URL"),
        help="Traefik API to confirm the data plane serves the new weights "
        "(optional). Env CANARY_TRAEFIK_API_URL.",
    )
    @click.option(
        "--health-port",
        type=int,
        default=lambda: int(env_default("CANARY_HEALTH_PORT", "8080") or 8080),
        show_default="8080",
        help="GET /healthz. Env CANARY_HEALTH_PORT.",
    )
    @click.option("--health-host", default="0.0.0.0", show_default=True)
    @click.option(
        "--metrics-port",
        type=int,
        default=lambda: int(env_default("CANARY_METRICS_PORT", "9090") or 9090),
        show_default="9090",
        help="GET /metrics; 0 disables. Env CANARY_METRICS_PORT.",
    )
    @click.option(
        "--log-format",
        type=click.Choice(["text", "json"]),
        default=lambda: env_default("CANARY_LOG_FORMAT", "text"),
        show_default="text",
    )
    @click.option(
        "--log-level", default=lambda: env_default("CANARY_LOG_LEVEL", "INFO"), show_default="INFO"
    )
    @click.option("--lease-name", default="canary-operator", show_default=True)
    @click.option(
        "--lease-namespace",
        default=lambda: env_default("POD_NAMESPACE", "default"),
        show_default="$POD_NAMESPACE or default",
    )
    @click.option(
        "--lease-duration",
        type=int,
        default=15,
        show_default=True,
        help="Seconds; a standby takes over within this after the holder stops.",
    )
    @click.option(
        "--identity",
        default=lambda: env_default("POD_NAME"),
        help="Lease holder identity. Default: $POD_NAME or hostname-pid.",
    )
    @click.option(
        "--resync-interval",
        type=float,
        default=lambda: float(env_default("CANARY_RESYNC_INTERVAL", "5") or 5),
        show_default="5",
        help="Seconds between reconciles of one Rollout.",
    )
    @click.option(
        "--route-ready-fallback",
        type=float,
        default=0.0,
        show_default=True,
        help="Seconds after which a route whose implementation never writes "
        "status counts as ready (0: never; wait for Accepted/ResolvedRefs).",
    )
    @click.option(
        "--default-interval",
        default=lambda: env_default("CANARY_DEFAULT_INTERVAL", "1m"),
        show_default="1m",
        help="analysis.interval for Rollouts that leave it unset. Env CANARY_DEFAULT_INTERVAL.",
    )
    @click.option(
        "--default-min-requests",
        type=int,
        default=lambda: int(env_default("CANARY_DEFAULT_MIN_REQUESTS", "20") or 20),
        show_default="20",
        help="analysis.minRequests for Rollouts that leave it unset. "
        "Env CANARY_DEFAULT_MIN_REQUESTS.",
    )
    @click.option("--kubeconfig", default=None, help="Path to a kubeconfig (default $KUBECONFIG).")
    @click.option("--context", default=None, help="kubeconfig context.")
    def run_cmd(**kw: Any) -> None:
        """Run the operator (kopf): walk Rollouts through their steps."""
        namespaces = tuple(kw.pop("namespaces") or ())
        if not namespaces and os.environ.get("CANARY_WATCH_NAMESPACES"):
            namespaces = tuple(
                n.strip() for n in os.environ["CANARY_WATCH_NAMESPACES"].split(",") if n.strip()
            )
        try:
            parse_duration(kw["default_interval"])
        except DurationError as exc:
            raise click.BadParameter(str(exc), param_hint="--default-interval") from exc
        identity = kw.pop("identity") or f"{os.uname().nodename}-{os.getpid()}"
        config = OperatorConfig(namespaces=namespaces, identity=str(identity), **kw)
        _setup_logging(config.log_format, config.log_level)
        from canary.operator.handlers import run_operator

        run_operator(config)
