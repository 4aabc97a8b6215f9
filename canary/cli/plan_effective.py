"""``canary plan --profile``: each step's effective canary share, as the evaluator predicts.

The routing table is built from every given document with the Rollout's routes replaced
by their state after the step; the share is ``effective_canary_share`` with the chosen
profile, and the addressed rules' divergences (spec vs the profile) are listed.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from canary.cli.app import UsageFailure
from canary.core.models import Rollout
from canary.core.routes.patching import apply_patch
from canary.core.routing import (
    BackendKey,
    InputError,
    Profile,
    build_table,
    effective_canary_share,
    gateway_controllers,
    get_profile,
    route_profile,
)
from canary.core.routing.profiles import AUTO


def _key(ref: Any) -> BackendKey:
    return BackendKey(ref.name, ref.port, ref.namespace, ref.kind, ref.group)


def add_effective(
    rollout: Rollout,
    docs: Sequence[tuple[str, dict[str, Any]]],
    targets: Sequence[Any],
    steps: list[dict[str, Any]],
    profile_name: str,
) -> None:
    """Add ``effective`` rows and ``divergences`` to every step (mutates ``steps``)."""
    spec, ns = rollout.spec, rollout.metadata.namespace
    base = [d for _, d in docs]
    if not any(d.get("kind") == "Gateway" for d in base):
        raise UsageFailure(
            "--profile: no Gateway in the given files; add the Gateway (and the Services) "
            "so the evaluator can predict the split"
        )
    controllers = gateway_controllers(base)
    current = [t.doc for t in targets]
    for entry in steps:
        for k, t in enumerate(targets):
            ops = entry["ops"].get(t.resolved.label) or []
            if ops:
                current[k] = apply_patch(current[k], ops)
                meta = current[k].get("metadata")
                if isinstance(meta, dict) and isinstance(meta.get("generation"), int):
                    meta["generation"] += 1  # as plan_steps does: the next test expects it
        swap = {id(t.doc): current[k] for k, t in enumerate(targets)}
        try:
            table = build_table([swap.get(id(d), d) for d in base])
        except InputError as exc:
            raise UsageFailure(f"--profile: {exc}") from None
        rows: list[dict[str, Any]] = []
        findings: dict[str, dict[str, str]] = {}
        for t in targets:
            r = t.resolved
            profile: Profile = (
                route_profile(
                    table, controllers, route_kind=r.kind, route_namespace=ns, route_name=r.name
                )
                if profile_name == AUTO
                else get_profile(profile_name)
            )
            result = effective_canary_share(
                table,
                route_kind=r.kind,
                route_namespace=ns,
                route_name=r.name,
                rule_indexes=[rule.index for rule in r.rules],
                stable=_key(spec.stable),
                canary=_key(spec.canary),
                profile=profile,
            )
            rows.append(
                {
                    "route": r.label,
                    "profile": profile.name,
                    "share": round(result.share, 6),
                    "expected": round(result.expected, 6),
                    "verified": result.verified,
                    "culprit": result.culprit,
                }
            )
            for f in result.divergences:
                findings.setdefault(f.request, f.to_dict())
        entry["effective"] = rows
        entry["divergences"] = list(findings.values())
