"""The Gateway API route evaluator (pure core): which rule and backends a request gets.

Library contract (docs/evaluator-spec.md, "Library and JSON output (contract)"):
``build_table(docs)`` from parsed Gateway API documents; ``evaluate(table,
make_request(...))`` → :class:`Decision` with exact backend shares; ``sample(decision, n,
seed=...)`` draws N seeded outcomes; ``verify(counts, shares)`` tests observed counts
against shares (a library function: the operator's SplitVerified uses
``canary.core.rollout.splits``); ``effective_canary_share`` is the helper the operator
uses to confirm a Rollout's split; ``lint_routes`` finds problems.
Profiles (``profiles``): ``spec`` (default) or a data plane's (``traefik``), picked for
a GatewayClass by ``profile_for_controller``; ``compare`` says where they differ.
"""

from canary.core.routing.decision import BackendDecision, Decision
from canary.core.routing.divergence import Finding, compare
from canary.core.routing.effective import (
    BackendKey,
    EffectiveShare,
    effective_canary_share,
    gateway_controllers,
    route_profile,
)
from canary.core.routing.evaluate import evaluate
from canary.core.routing.lint import Problem, lint_routes
from canary.core.routing.objects import InputError
from canary.core.routing.profiles import (
    SPEC_PROFILE,
    TRAEFIK_PROFILE,
    Profile,
    get_profile,
    profile_for_controller,
)
from canary.core.routing.request import Request, RequestError, make_request
from canary.core.routing.sampling import VerifyResult, sample, verify
from canary.core.routing.table import RoutingError, Table, build_table

__all__ = [
    "SPEC_PROFILE",
    "TRAEFIK_PROFILE",
    "BackendDecision",
    "BackendKey",
    "Decision",
    "EffectiveShare",
    "Finding",
    "InputError",
    "Problem",
    "Profile",
    "Request",
    "RequestError",
    "RoutingError",
    "Table",
    "VerifyResult",
    "build_table",
    "compare",
    "effective_canary_share",
    "evaluate",
    "gateway_controllers",
    "get_profile",
    "lint_routes",
    "make_request",
    "profile_for_controller",
    "route_profile",
    "sample",
    "verify",
]
