"""``canary lint-routes``: problems a person should fix before a rollout relies on a route.

Problems (each makes the exit code 1): a parentRef not accepted, a route attached
nowhere, an unresolved backendRef (missing Service or port, unsupported kind, no ready
endpoints), a cross-namespace backendRef without a permitting ReferenceGrant, a rule
whose weights are all 0 or that has no backendRefs (everything answers 500), and a
*shadowed* match: for every listener and hostname, its representative request is taken
by a higher-precedence match that accepts everything it accepts (so it can never be
selected). Informational findings (exit code unaffected): a match whose representative
request is taken by another rule that does not fully cover it (partly shadowed), and
matches that cannot be probed (regular expressions). A document that cannot be parsed
is left out of the table (``build_table(skip_invalid=True)``) and is a problem of its
own (``unparsable``); an EndpointSlice of no Service is only noted (``ignored-object``).

With a data-plane ``profile`` (``traefik``), every representative request of every rule
is also evaluated with that profile; where it and the spec answer differently, a
``divergence`` warning names the request, both answers and the cause (one of the
divergence codes of ``profiles``). Warnings do not change the exit code either.
"""

from __future__ import annotations

from dataclasses import dataclass

from canary.core.routing import objects as o
from canary.core.routing.backends import REF_NOT_PERMITTED
from canary.core.routing.divergence import rule_findings
from canary.core.routing.evaluate import evaluate
from canary.core.routing.hostnames import ANY, covers
from canary.core.routing.match import prefix_matches
from canary.core.routing.probes import probes
from canary.core.routing.profiles import SPEC_PROFILE, Profile
from canary.core.routing.table import Table

ERROR = "error"  # counts as a problem (exit 1)
INFO = "info"  # reported, does not change the exit code
WARNING = "warning"  # the chosen data plane routes differently from the spec (no exit 1)

# Problem codes.
NOT_ACCEPTED = "parent-not-accepted"
ATTACHED_NOWHERE = "attached-nowhere"
UNRESOLVED = "unresolved-backend"
MISSING_GRANT = "missing-reference-grant"
ALL_ZERO = "all-zero-weights"
NO_BACKENDS = "no-backends"
SHADOWED = "shadowed"
PARTLY_SHADOWED = "partly-shadowed"
NOT_PROBED = "not-probed"
DIVERGENCE = "divergence"
UNPARSABLE = "unparsable"  # left out of the table (build_table(skip_invalid=True))
IGNORED_OBJECT = "ignored-object"  # left out, and nothing can need it


@dataclass(frozen=True, slots=True)
class Problem:
    severity: str
    code: str
    ref: str  # "HTTPRoute ns/name"
    rule: int | None
    message: str

    def to_dict(self) -> dict[str, object]:
        return {
            "severity": self.severity,
            "code": self.code,
            "object": self.ref,
            "rule": self.rule,
            "message": self.message,
        }


def _value_covers(a: o.ValueMatch, b: o.ValueMatch) -> bool:
    if a.regex is None:
        return b.regex is None and a.value == b.value
    if b.regex is None:
        return a.regex.fullmatch(b.value) is not None
    return a.value == b.value


def _values_cover(a: tuple[o.ValueMatch, ...], b: tuple[o.ValueMatch, ...]) -> bool:
    by_key = {v.key: v for v in b}
    return all(v.key in by_key and _value_covers(v, by_key[v.key]) for v in a)


def subsumes(a: o.HTTPMatch | o.GRPCMatch | None, b: o.HTTPMatch | o.GRPCMatch | None) -> bool:
    """Does match ``a`` accept every request match ``b`` accepts?"""
    if a is None:
        return True
    if b is None:
        return False
    if isinstance(a, o.HTTPMatch) and isinstance(b, o.HTTPMatch):
        pa, pb = a.path, b.path
        if pa.type == o.EXACT:
            path_ok = pb.type == o.EXACT and pa.value == pb.value
        elif pa.type == o.PATH_PREFIX:
            path_ok = pb.type != o.REGEX and prefix_matches(pa.norm, pb.norm or "/")
        else:
            path_ok = pb.type == o.REGEX and pa.value == pb.value
        return (
            path_ok
            and (a.method is None or a.method == b.method)
            and _values_cover(a.headers, b.headers)
            and _values_cover(a.query, b.query)
        )
    if isinstance(a, o.GRPCMatch) and isinstance(b, o.GRPCMatch):
        if a.type != b.type:
            return False
        return (
            (a.service is None or a.service == b.service)
            and (a.method is None or a.method == b.method)
            and _values_cover(a.headers, b.headers)
        )
    return False


def _hosts_cover(a: tuple[str, ...], b: tuple[str, ...]) -> bool:
    return all(any(x in (ANY, y) or covers(x, y) for x in a) for y in b)


def _route_problems(table: Table, route: o.Route) -> list[Problem]:
    out: list[Problem] = []
    statuses = [s for s in table.statuses if s.route is route]
    for s in statuses:
        if not s.accepted:
            out.append(
                Problem(
                    ERROR,
                    NOT_ACCEPTED,
                    route.ref,
                    None,
                    f"parentRef {s.parent.describe()}: {s.reason}: {s.message}",
                )
            )
    if not any(a.route is route for a in table.attachments):
        out.append(
            Problem(
                ERROR,
                ATTACHED_NOWHERE,
                route.ref,
                None,
                "attached to no listener: it serves no traffic",
            )
        )
    for rule in route.rules:
        plan = table.plans[(route.kind, route.key, rule.index)]
        redirect = any(f.type == o.REQUEST_REDIRECT for f in rule.filters)
        if not rule.backends and not redirect:
            out.append(
                Problem(
                    ERROR,
                    NO_BACKENDS,
                    route.ref,
                    rule.index,
                    "no backendRefs: every matching request gets 500",
                )
            )
        elif rule.backends and all(b.weight == 0 for b in rule.backends):
            out.append(
                Problem(
                    ERROR,
                    ALL_ZERO,
                    route.ref,
                    rule.index,
                    "all backendRef weights are 0: every matching request gets 500",
                )
            )
        for b in plan.backends:
            if b.valid:
                continue
            code = MISSING_GRANT if b.resolution.reason == REF_NOT_PERMITTED else UNRESOLVED
            out.append(
                Problem(
                    ERROR,
                    code,
                    route.ref,
                    rule.index,
                    f"backendRef {b.spec.describe()}: {b.resolution.reason}: "
                    f"{b.resolution.message}",
                )
            )
    return out


def _shadow_problems(table: Table, route: o.Route) -> list[Problem]:
    out: list[Problem] = []
    atts = [a for a in table.attachments if a.route is route]
    for rule in route.rules:
        verdicts: dict[int, list[str | None]] = {}
        partly: dict[int, str] = {}
        for att in atts:
            for probe in probes(att, rule):
                if probe.request is None:
                    verdicts.setdefault(probe.match_index, []).append(None)
                    continue
                d = evaluate(table, probe.request)
                if d.route == route.key and d.route_kind == route.kind and d.rule == rule.index:
                    verdicts.setdefault(probe.match_index, []).append("")
                    continue
                winner = None
                if d.route is not None and d.route_kind is not None and d.rule is not None:
                    wr = table.route(d.route_kind, *d.route.split("/", 1))
                    assert wr is not None and d.match is not None
                    w_match = (
                        wr.rules[d.rule].matches[d.match] if wr.rules[d.rule].matches else None
                    )
                    w_att = next(
                        a
                        for a in table.attachments
                        if a.route is wr and a.listener.name == d.listener
                    )
                    if subsumes(w_match, probe.match) and _hosts_cover(
                        w_att.hostnames, att.hostnames
                    ):
                        winner = f"{wr.ref} rule {d.rule}"
                    else:
                        partly[probe.match_index] = (
                            f"{wr.ref} rule {d.rule} takes {probe.request.describe()}"
                        )
                else:
                    partly[probe.match_index] = f"{probe.request.describe()} gets {d.status}"
                verdicts.setdefault(probe.match_index, []).append(winner or "")
        for idx, vs in sorted(verdicts.items()):
            if vs and all(v for v in vs):
                out.append(
                    Problem(
                        ERROR,
                        SHADOWED,
                        route.ref,
                        rule.index,
                        f"match {idx} is shadowed by {vs[0]}: it can never be selected",
                    )
                )
            elif any(v is None for v in vs):
                out.append(
                    Problem(
                        INFO,
                        NOT_PROBED,
                        route.ref,
                        rule.index,
                        f"match {idx} uses a regular expression: not checked",
                    )
                )
            elif idx in partly:
                out.append(
                    Problem(
                        INFO, PARTLY_SHADOWED, route.ref, rule.index, f"match {idx}: {partly[idx]}"
                    )
                )
    return out


def _skipped_problems(table: Table) -> list[Problem]:
    out: list[Problem] = []
    for s in table.objects.skipped:
        if s.harmless:
            out.append(Problem(INFO, IGNORED_OBJECT, s.ref, None, f"{s.error}: ignored"))
        else:
            out.append(
                Problem(
                    ERROR,
                    UNPARSABLE,
                    s.ref,
                    None,
                    f"{s.error}: skipped; a Rollout whose routes need it cannot verify its split",
                )
            )
    return out


def lint_routes(table: Table, profile: Profile = SPEC_PROFILE) -> list[Problem]:
    """Objects that could not be parsed, then all problems and findings route by route
    (divergences with a data-plane profile)."""
    out: list[Problem] = _skipped_problems(table)
    for route in table.objects.routes:
        out.extend(_route_problems(table, route))
        out.extend(_shadow_problems(table, route))
        for rule in route.rules:
            for f in rule_findings(table, route, rule, profile):
                out.append(Problem(WARNING, DIVERGENCE, route.ref, rule.index, f.message()))
    return out
