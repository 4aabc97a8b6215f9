"""``canary evaluate`` and ``canary lint-routes``: the route evaluator from the shell.

``evaluate`` answers what a conformant Gateway does with one request (docs/evaluator-spec.md,
"Library and JSON output (contract)": flags, JSON keys, exit codes). ``lint-routes`` lists
shadowed rules, unresolved refs, missing ReferenceGrants, all-zero weights and routes
attached nowhere. YAML is read here; the core only sees parsed documents. Bad input
(malformed YAML, unknown kinds, missing fields, bad URL or header) is one line on
stderr naming the file, the document and the field, and exit code 3 — except that
``lint-routes`` lists an object it cannot parse as a problem (``unparsable``, exit 1)
and checks the rest, as the operator does.
"""

from __future__ import annotations

import json
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import click
import yaml

from canary.cli.app import EXIT_FAILED, EXIT_OK, UsageFailure, cli
from canary.core.routing import (
    SPEC_PROFILE,
    InputError,
    Profile,
    RequestError,
    RoutingError,
    Table,
    build_table,
    evaluate,
    gateway_controllers,
    get_profile,
    lint_routes,
    make_request,
    profile_for_controller,
    sample,
)
from canary.core.routing.decision import Decision
from canary.core.routing.lint import ERROR, WARNING
from canary.core.routing.profiles import AUTO, PROFILES

_SUFFIXES = (".yaml", ".yml", ".json")


def _files(paths: tuple[str, ...]) -> list[Path]:
    out: list[Path] = []
    for raw in paths:
        p = Path(raw)
        if p.is_dir():
            out.extend(sorted(f for f in p.iterdir() if f.suffix in _SUFFIXES and f.is_file()))
        elif p.exists():
            out.append(p)
        else:
            raise UsageFailure(f"{raw}: no such file or directory")
    return out


def _load_docs(path: Path) -> list[Any]:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageFailure(f"{path}: cannot read: {exc}") from exc
    try:
        return list(yaml.safe_load_all(text))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise UsageFailure(f"{path}: malformed YAML{where}: {problem}") from exc


def load_table(paths: tuple[str, ...], *, skip_invalid: bool = False) -> tuple[Table, float]:
    """Read every file, build the table; returns it with the build time in ms.

    With ``skip_invalid`` (lint-routes) an object that cannot be parsed is left out and
    listed in ``table.objects.skipped``, its error prefixed with the file it is in;
    otherwise it is bad input naming the file (exit 3).
    """
    docs: list[Any] = []
    where: dict[str, str] = {}
    for path in _files(paths):
        file_docs = _load_docs(path)
        for doc in file_docs:
            if doc is not None and not isinstance(doc, dict):
                raise UsageFailure(f"{path}: a document is not a mapping (object)")
        try:
            # parse per file first, so the error can name the file
            parsed = build_table(file_docs, skip_invalid=skip_invalid)
        except InputError as exc:
            raise UsageFailure(f"{path}: {exc}") from exc
        for s in parsed.objects.skipped:
            where.setdefault(s.ref, str(path))
        docs.extend(file_docs)
    start = time.perf_counter()
    try:
        table = build_table(docs, skip_invalid=skip_invalid)
    except InputError as exc:  # pragma: no cover - each file parsed above
        raise UsageFailure(str(exc)) from exc
    elapsed = (time.perf_counter() - start) * 1000.0
    if table.objects.skipped:
        skipped = tuple(
            replace(s, error=f"{where[s.ref]}: {s.error}") if s.ref in where else s
            for s in table.objects.skipped
        )
        table.objects = replace(table.objects, skipped=skipped)
    return table, elapsed


PROFILE_CHOICES = [*sorted(PROFILES), AUTO]
PROFILE_HELP = (
    "Whose routing: spec (a conformant Gateway), traefik (Traefik's router priorities and "
    "matchers), auto (traefik when the Gateway's GatewayClass in the input has Traefik's "
    "controllerName; spec when it has another, is not in the input, or Gateways disagree)."
)


def resolve_profile(
    name: str, paths: tuple[str, ...], table: Table, gateway: str | None = None
) -> Profile:
    """The named profile; ``auto``: the one of the Gateway's GatewayClass controllerName
    when the GatewayClass is in the given files, else spec."""
    if name != AUTO:
        return get_profile(name)
    docs = [d for path in _files(paths) for d in _load_docs(path)]
    controllers = gateway_controllers(docs)
    if gateway is None and len(table.gateways) != 1:
        classes = {g.class_name for g in table.gateways.values()}
    else:
        try:
            classes = {table.gateway(gateway).class_name}
        except RoutingError as exc:
            raise UsageFailure(str(exc)) from exc
    found = {profile_for_controller(controllers.get(c)).name for c in classes}
    return get_profile(found.pop()) if len(found) == 1 else SPEC_PROFILE


def _parse_request(line: str) -> tuple[str, str]:
    parts = line.split()
    if len(parts) == 1:
        return "GET", parts[0]
    if len(parts) == 2:
        return parts[0], parts[1]
    raise UsageFailure(f'--request {line!r}: expected "METHOD URL"')


def _parse_header(raw: str) -> tuple[str, str]:
    name, sep, value = raw.partition(":")
    if not sep or not name.strip() or name != name.strip():
        raise UsageFailure(f'-H {raw!r}: expected "Name: value"')
    return name, value.strip()


def _pct(x: float) -> str:
    return f"{x * 100:.4g}%"


def _render_text(
    d: Decision, req_line: str, table_ms: float, samples: dict[str, int] | None
) -> str:
    lines = [f"{req_line}  ->  {d.status}"]
    where = f"Gateway {d.gateway}" + (f", listener {d.listener}" if d.listener else "")
    lines.append(f"  via       {where}")
    if d.profile != "spec":
        prio = f", router priority {d.priority}" if d.priority is not None else ""
        lines.append(f"  profile   {d.profile}{prio}")
    if d.route is not None:
        name = f" ({d.rule_name})" if d.rule_name else ""
        lines.append(f"  matched   {d.route_kind} {d.route} rule {d.rule}{name}, match {d.match}")
    else:
        lines.append("  matched   nothing")
    if d.location:
        lines.append(f"  location  {d.location}")
    for i, b in enumerate(d.backends):
        label = "backends" if i == 0 else ""
        state = "" if b.valid else f"  INVALID: {b.reason}"
        redirect = f"  -> {b.status} {b.location}" if b.status else ""
        lines.append(
            f"  {label:<9} {b.namespace}/{b.name}:{b.port}  weight {b.weight}  "
            f"share {_pct(b.share)}{state}{redirect}"
        )
    if d.error_share:
        lines.append(f"  errors    {_pct(d.error_share)} of requests answered with 5xx")
    if d.route is not None and d.location is None:
        r = d.request.to_dict()
        q = f"?{r['query']}" if r["query"] else ""
        lines.append(f"  forwards  {r['method']} {r['host']}{r['path']}{q}")
        for name, value in r["headers"].items():
            lines.append(f"            {name}: {value}")
    rh = d.response_headers
    for action, values in (("set", rh.set), ("add", rh.add)):
        for name, value in values.items():
            lines.append(f"  response  {action} {name}: {value}")
    for name in rh.remove:
        lines.append(f"  response  remove {name}")
    if samples is not None:
        lines.append("  samples   " + ", ".join(f"{k} {v}" for k, v in samples.items()))
    for note in d.notes:
        lines.append(f"  note      {note}")
    for row in d.explain or []:
        what = f"{row.get('route_kind', '')} {row.get('route', '')}".strip() or "-"
        if "rule" in row:
            what += f" rule {row['rule']} match {row['match']}"
        if "priority" in row:
            what += f" (priority {row['priority']})"
        reason = f": {row['reason']}" if row.get("reason") else ""
        lines.append(f"  explain   {what}: {row['result']}{reason}")
    lines.append(f"  table     built in {table_ms:.1f} ms")
    return "\n".join(lines)


@cli.command("evaluate")
@click.option(
    "-f",
    "--filename",
    "files",
    multiple=True,
    required=True,
    help="YAML/JSON manifests (files or directories).",
)
@click.option(
    "--request",
    "request_line",
    required=True,
    help='"METHOD URL", e.g. "GET http://api.example.com/users".',
)
@click.option("-H", "--header", "headers", multiple=True, help='"Name: value" (repeatable).')
@click.option("--gateway", help="NS/NAME of the Gateway (required with several).")
@click.option("--grpc", help="SERVICE/METHOD: evaluate a gRPC call (GRPCRoutes).")
@click.option("--samples", type=click.IntRange(min=0), help="Draw N seeded outcomes.")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--explain", is_flag=True, help="Why each candidate did or did not match.")
@click.option(
    "--profile",
    "profile_name",
    type=click.Choice(PROFILE_CHOICES),
    default="spec",
    show_default=True,
    help=PROFILE_HELP,
)
@click.option("-o", "--output", type=click.Choice(["text", "json"]), default="text")
def evaluate_cmd(
    files: tuple[str, ...],
    request_line: str,
    headers: tuple[str, ...],
    gateway: str | None,
    grpc: str | None,
    samples: int | None,
    seed: int,
    explain: bool,
    profile_name: str,
    output: str,
) -> None:
    """Say what a conformant Gateway (or, with --profile, a data plane) does with one
    request: route, rule, exact split."""
    table, table_ms = load_table(files)
    profile = resolve_profile(profile_name, files, table, gateway)
    method, url = _parse_request(request_line)
    grpc_call: tuple[str, str] | None = None
    if grpc is not None:
        service, sep, rpc = grpc.rpartition("/")
        if not sep or not service or not rpc:
            raise UsageFailure(f"--grpc {grpc!r}: expected SERVICE/METHOD")
        grpc_call = (service, rpc)
    try:
        req = make_request(
            method, url, [_parse_header(h) for h in headers], grpc=grpc_call, gateway=gateway
        )
        decision = evaluate(table, req, explain=explain, profile=profile)
    except RequestError as exc:
        raise UsageFailure(f"--request/-H: {exc}") from exc
    except RoutingError as exc:
        raise UsageFailure(str(exc)) from exc
    counts = sample(decision, samples, seed=seed) if samples is not None else None
    if output == "json":
        body = decision.to_dict()
        if counts is not None:
            body["samples"] = counts
        body["table"] = {"build_ms": round(table_ms, 3), "routes": len(table.objects.routes)}
        click.echo(json.dumps(body, indent=2))
    else:
        click.echo(_render_text(decision, req.describe(), table_ms, counts))


@cli.command("lint-routes")
@click.option(
    "-f",
    "--filename",
    "files",
    multiple=True,
    required=True,
    help="YAML/JSON manifests (files or directories).",
)
@click.option(
    "--profile",
    "profile_name",
    type=click.Choice(PROFILE_CHOICES),
    default="spec",
    show_default=True,
    help=PROFILE_HELP + " Other than spec: warn where it routes a request differently.",
)
@click.option("-o", "--output", type=click.Choice(["text", "json"]), default="text")
def lint_routes_cmd(files: tuple[str, ...], profile_name: str, output: str) -> None:
    """Find shadowed rules, unresolved refs, missing grants, zero weights, unattached routes;
    with --profile traefik also where Traefik routes a request differently from the spec.

    An object that cannot be parsed is skipped and reported (unparsable); the rest is
    still checked."""
    table, _ = load_table(files, skip_invalid=True)
    profile = resolve_profile(profile_name, files, table)
    problems = lint_routes(table, profile)
    errors = [p for p in problems if p.severity == ERROR]
    if output == "json":
        click.echo(
            json.dumps(
                {
                    "problems": [p.to_dict() for p in problems],
                    "errors": len(errors),
                    "profile": profile.name,
                },
                indent=2,
            )
        )
    else:
        for p in problems:
            rule = f" rule {p.rule}" if p.rule is not None else ""
            click.echo(f"{p.severity:<5} {p.ref}{rule}: {p.code}: {p.message}")
        routes = len(table.objects.routes)
        warnings = sum(1 for p in problems if p.severity == WARNING)
        extra = f", {warnings} {profile.name} divergence warning(s)" if warnings else ""
        click.echo(
            f"{len(errors)} problem(s) in {routes} route(s){extra}"
            if errors
            else f"ok: {routes} route(s), no problems{extra}"
        )
    raise SystemExit(EXIT_FAILED if errors else EXIT_OK)
