"""``canary plan``: offline validation of a Rollout against its route(s).

Reads the manifests a user is about to apply, validates the Rollout with the same models
the operator uses, resolves the addressed rules in the given routes exactly as the
operator will, and prints for every step the guarded JSON Patch it would send and the
resulting raw weights and canary share of each addressed rule. Nothing talks to a
cluster. Exit 0 when the Rollout can be acted on, 3 (one line on stderr, naming the field)
when it cannot.

Steps build on each other from the route's live weights (the seed's 90/10 becomes 95/5 at
step 1); a step whose weights are already in place sends no patch (``needs_write``).

With ``--profile`` (and the Gateway among the given files) every step also gets the
canary's *effective* share as the route evaluator predicts it for that data plane
(``spec``, ``traefik`` or ``auto`` from the GatewayClass), and the addressed rules'
requests that the data plane routes differently from the spec are listed.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import click
import pydantic

from canary.cli.app import UsageFailure, cli
from canary.cli.yamlio import load_documents
from canary.core.durations import DURATION_PATTERN
from canary.core.models import API_VERSION, KIND, Rollout
from canary.core.routes.patching import (
    JsonPatch,
    RuleWeights,
    add_canary_ops,
    apply_patch,
    needs_write,
    remove_stable_ops,
    rule_weights,
    weight_patch,
)
from canary.core.routes.rules import InvalidRollout, ResolvedRoute, backend_label, resolve_rules
from canary.core.routing.profiles import AUTO, PROFILES

GATEWAY_GROUP = "gateway.networking.k8s.io"
# loc entries pydantic adds for union members; they are not field names
_UNION_TAGS = frozenset({"int", "str", "float", "bool", "list", "dict", "none"})


@dataclass(frozen=True)
class _Target:
    """One route of the Rollout: the given object and its resolved rules."""

    source: str
    doc: dict[str, Any]
    resolved: ResolvedRoute


@cli.command("plan")
@click.option(
    "-f",
    "--filename",
    "files",
    multiple=True,
    type=click.Path(),
    help="Manifest file, directory or '-' (repeatable): the Rollout and its route(s).",
)
@click.argument("paths", nargs=-1, type=click.Path())
@click.option(
    "--profile",
    "profile_name",
    type=click.Choice([*sorted(PROFILES), AUTO]),
    default=None,
    help="Also predict each step's effective canary share with the route evaluator for "
    "this data plane: spec, traefik, or auto (per route: traefik when its Gateways' "
    "GatewayClass in the files has Traefik's controllerName, else spec); needs the Gateway "
    "in the given files. No default: without it, no prediction.",
)
@click.option("-o", "--output", type=click.Choice(["text", "json"]), default="text")
def plan_cmd(
    files: tuple[str, ...], paths: tuple[str, ...], profile_name: str | None, output: str
) -> None:
    """Validate a Rollout against its route and print each step's patch.

    \b
    canary plan -f rollout.yaml -f httproute.yaml
    canary plan -f examples/ --output json
    canary plan -f rollout.yaml -f routes.yaml -f gateway.yaml --profile traefik
    """
    sources = files + paths
    if not sources:
        raise UsageFailure("give the Rollout and its route(s): canary plan -f FILE [-f FILE]...")
    docs = load_documents(sources)
    source, rollout = _find_rollout(docs)
    targets = _targets(rollout, docs)
    steps = plan_steps(rollout, targets)
    if profile_name is not None:
        from canary.cli.plan_effective import add_effective

        add_effective(rollout, docs, targets, steps, profile_name)
    if output == "json":
        click.echo(json.dumps(steps, indent=2))
    else:
        click.echo(_render_text(source, rollout, targets, steps))


# ---------------------------------------------------------------------------------------
# Finding and validating the objects


def _find_rollout(docs: Sequence[tuple[str, dict[str, Any]]]) -> tuple[str, Rollout]:
    found = [(src, d) for src, d in docs if d.get("kind") == KIND]
    ours = [(src, d) for src, d in found if d.get("apiVersion") == API_VERSION]
    if not ours:
        others = sorted({str(d.get("apiVersion")) for _, d in found})
        hint = f" (found kind Rollout of apiVersion {', '.join(others)})" if others else ""
        raise UsageFailure(f"no Rollout ({API_VERSION}) in the given files{hint}")
    if len(ours) > 1:
        names = ", ".join(f"{src}: {_meta(d).get('name')}" for src, d in ours)
        raise UsageFailure(f"several Rollouts in the given files ({names}); plan one at a time")
    source, doc = ours[0]
    try:
        return source, Rollout.model_validate(doc)
    except pydantic.ValidationError as exc:
        raise UsageFailure(f"{source}: {validation_message(exc)}") from None


def validation_message(exc: pydantic.ValidationError) -> str:
    """One line for a pydantic error: ``spec.steps[1].weight: ...`` (+ how many more)."""
    errors = exc.errors()
    first = errors[0]
    path = ""
    for part in first["loc"]:
        if isinstance(part, int):
            path += f"[{part}]"
        elif part not in _UNION_TAGS and "[" not in part:
            path += f".{part}" if path else part
    msg = str(first["msg"]).removeprefix("Value error, ")
    ctx = first.get("ctx") or {}
    if first["type"] == "string_pattern_mismatch" and ctx.get("pattern") == DURATION_PATTERN:
        msg = f"not a Go duration like 30s, 5m or 1h30m (got {first['input']!r})"
    elif first["type"] in ("literal_error", "string_pattern_mismatch"):
        msg = f"{msg} (got {first['input']!r})"
    line = msg if not path or msg.startswith(f"{path}.") else f"{path}: {msg}"
    more = len(errors) - 1
    return line + (f" (and {more} more error{'s' if more > 1 else ''})" if more else "")


def _targets(rollout: Rollout, docs: Sequence[tuple[str, dict[str, Any]]]) -> list[_Target]:
    namespace = rollout.metadata.namespace
    out: list[_Target] = []
    seen: dict[tuple[str, str], int] = {}
    for i, ref in enumerate(rollout.spec.routes):
        if (ref.kind, ref.name) in seen:
            raise UsageFailure(
                f"spec.routes[{i}]: {ref.kind}/{ref.name} is already spec.routes"
                f"[{seen[ref.kind, ref.name]}]; list each route once"
            )
        seen[ref.kind, ref.name] = i
        hits = [
            (src, d)
            for src, d in docs
            if d.get("kind") == ref.kind
            and str(d.get("apiVersion", "")).startswith(f"{GATEWAY_GROUP}/")
            and _meta(d).get("name") == ref.name
            and _meta(d).get("namespace") in (None, namespace)
        ]
        if not hits:
            raise UsageFailure(f"{ref.kind} {namespace}/{ref.name} not found in the given files")
        if len(hits) > 1:
            where = ", ".join(src for src, _ in hits)
            raise UsageFailure(f"{ref.kind} {namespace}/{ref.name} is given twice ({where})")
        source, doc = hits[0]
        try:
            resolved = resolve_rules(doc, rollout.spec, ref, namespace=namespace, route_index=i)
        except InvalidRollout as exc:
            raise UsageFailure(str(exc)) from None
        out.append(_Target(source, doc, resolved))
    return out


def _meta(doc: dict[str, Any]) -> dict[str, Any]:
    meta = doc.get("metadata")
    return meta if isinstance(meta, dict) else {}


# ---------------------------------------------------------------------------------------
# Planning


def plan_steps(rollout: Rollout, targets: Sequence[_Target]) -> list[dict[str, Any]]:
    """Every step as JSON-ready data: ``{step, of, weight, pause, ops, rules}``.

    ``ops`` maps ``Kind/name`` to the JSON Patch for that route (``[]``: nothing to write);
    ``rules`` lists ``{route, rule, stable, canary, foreign, share}`` after the step, with
    ``share`` a fraction. With ``manageBackends``, step 1 first appends a missing canary
    backendRef and the last step (at weight 100) gets ``after_success``: the patch removing
    the old stable backendRef.
    """
    spec = rollout.spec
    namespace = rollout.metadata.namespace
    docs = [t.doc for t in targets]
    resolved = [t.resolved for t in targets]
    out: list[dict[str, Any]] = []
    for n, step in enumerate(spec.steps, start=1):
        entry: dict[str, Any] = {
            "step": n,
            "of": len(spec.steps),
            "weight": step.weight,
            "pause": step.pause,
            "ops": {},
            "rules": [],
        }
        for k, target in enumerate(targets):
            ops: JsonPatch = []
            if any(rule.canary is None for rule in resolved[k].rules):
                ops = add_canary_ops(docs[k], resolved[k], spec.canary)
                docs[k] = apply_patch(docs[k], ops)
                ref = spec.routes[resolved[k].route_index]
                resolved[k] = resolve_rules(
                    docs[k], spec, ref, namespace=namespace, route_index=resolved[k].route_index
                )
            if needs_write(docs[k], resolved[k], step.weight):
                more = weight_patch(docs[k], resolved[k], canary_weight=step.weight)
                ops += [op for op in more if op not in ops]  # one generation test per patch
            docs[k] = _bump_generation(apply_patch(docs[k], ops)) if ops else docs[k]
            entry["ops"][target.resolved.label] = ops
            entry["rules"] += [_row(w) for w in rule_weights(docs[k], resolved[k])]
        out.append(entry)
    if spec.manage_backends and spec.steps[-1].weight == 100:
        out[-1]["after_success"] = {
            t.resolved.label: remove_stable_ops(docs[k], resolved[k]) for k, t in enumerate(targets)
        }
    return out


def _bump_generation(doc: dict[str, Any]) -> dict[str, Any]:
    """A spec patch bumps metadata.generation; the next step's test must expect that."""
    meta = doc.get("metadata")
    if isinstance(meta, dict) and isinstance(meta.get("generation"), int):
        meta["generation"] += 1
    return doc


def _row(w: RuleWeights) -> dict[str, Any]:
    return {
        "route": w.route,
        "rule": w.rule,
        "stable": w.stable,
        "canary": w.canary,
        "foreign": w.foreign,
        "share": round(w.share, 6),
    }


# ---------------------------------------------------------------------------------------
# Text output


def _render_text(
    source: str, rollout: Rollout, targets: Sequence[_Target], steps: list[dict[str, Any]]
) -> str:
    spec = rollout.spec
    meta = rollout.metadata
    lines = [
        f"Rollout {meta.namespace}/{meta.name} ({source}): valid",
        f"  stable {backend_label(spec.stable)} -> canary {backend_label(spec.canary)}, "
        f"{len(spec.steps)} step{'s' if len(spec.steps) > 1 else ''}",
    ]
    for t in targets:
        rules = ", ".join(
            f"{r.index}" + (f" ({r.name})" if r.name else "") for r in t.resolved.rules
        )
        label = "rule" if len(t.resolved.rules) == 1 else "rules"
        lines.append(f"  {t.resolved.label} ({t.source}): {label} {rules}")
    live = [_row(w) for t in targets for w in rule_weights(t.doc, t.resolved)]
    lines += ["", "now (the given route):", *_table(live)]
    for entry in steps:
        gate = f"pause {entry['pause']}" if entry["pause"] else "manual gate (canary promote)"
        lines += ["", f"step {entry['step']}/{entry['of']}: weight {entry['weight']}, {gate}"]
        for route, ops in entry["ops"].items():
            lines += _patch_lines(route, ops)
        lines += _table(entry["rules"])
        for row in entry.get("effective", []):
            state = "verified" if row["verified"] else f"NOT verified: {row['culprit']}"
            lines.append(
                f"  effective ({row['profile']}) {row['route']}: "
                f"{row['share'] * 100:.1f}% of {row['expected'] * 100:.1f}%, {state}"
            )
    for route, ops in steps[-1].get("after_success", {}).items():
        lines += ["", "after success (manageBackends):", *_patch_lines(route, ops)]
    findings = {f["request"]: f for e in steps for f in e.get("divergences", [])}
    if findings:
        lines += ["", "divergences (the data plane routes these requests unlike the spec):"]
        for f in findings.values():
            lines.append(
                f"  warning {f['request']}: spec → {f['spec']}; {f['profile_name']} → "
                f"{f['profile']} [{f['code']}: {f['cause']}]"
            )
    return "\n".join(lines)


def _patch_lines(route: str, ops: JsonPatch) -> list[str]:
    if not ops:
        return [f"  {route}: no change (weights already in place)"]
    width = max(len(op["path"]) for op in ops)
    out = [f"  patch {route} (JSON Patch):"]
    for op in ops:
        value = f"  {json.dumps(op['value'])}" if "value" in op else ""
        out.append(f"    {op['op']:<7}  {op['path']:<{width}}{value}".rstrip())
    return out


def _table(rows: list[dict[str, Any]]) -> list[str]:
    head = ("ROUTE", "RULE", "STABLE", "CANARY", "FOREIGN", "SHARE")
    body = [
        (
            r["route"],
            str(r["rule"]),
            str(r["stable"]),
            str(r["canary"]),
            str(r["foreign"]),
            f"{r['share'] * 100:.1f}%",
        )
        for r in rows
    ]
    widths = [max(len(row[c]) for row in (head, *body)) for c in range(len(head))]
    return [
        "  " + "  ".join(f"{v:<{widths[c]}}" for c, v in enumerate(row)).rstrip()
        for row in (head, *body)
    ]
