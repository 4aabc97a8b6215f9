"""The Rollout resource (``canary.dev/v1alpha1``) as pydantic models.

The models are the single source of the CRD schema (``canary.crdgen`` renders
``crds/rollout.yaml`` from them) and of the controller's view of spec and status. Field
names are the CRD's camelCase (aliases); Python code uses snake_case. Validation rules
that the API server enforces (CEL) are attached to the models as ``x-kubernetes-validations``
and mirrored here by validators, so ``canary plan`` rejects what the apiserver would.
"""

from __future__ import annotations

import itertools
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from pydantic.alias_generators import to_camel
from pydantic.types import JsonValue

from canary.core.durations import DURATION_PATTERN, parse_duration

GROUP = "canary.dev"
VERSION = "v1alpha1"
KIND = "Rollout"
PLURAL = "rollouts"
API_VERSION = f"{GROUP}/{VERSION}"

# Marks a field whose default the operator fills (from its configuration) rather than the
# API server: the CRD omits its default so an unset field stays unset in the object.
OPERATOR_DEFAULT = "x-canary-operator-default"

RouteKind = Literal["HTTPRoute", "GRPCRoute"]
TemplateName = Literal["error-rate", "latency", "request-rate"]
Flavor = Literal["traefik", "envoy-gateway", "istio", "app"]
NoDataPolicy = Literal["hold", "fail", "pass"]
OnFailure = Literal["rollback", "pause"]
OnDelete = Literal["restore", "keep"]

Duration = str  # Go style; validated by DURATION_PATTERN in the schema and parse_duration here


def _cel(rule: str, message: str, field_path: str | None = None) -> dict[str, JsonValue]:
    out: dict[str, JsonValue] = {"rule": rule, "message": message}
    if field_path:
        out["fieldPath"] = field_path
    return out


class _Model(BaseModel):
    model_config = ConfigDict(
        alias_generator=to_camel,
        populate_by_name=True,
        extra="forbid",
        frozen=True,
    )

    def dump(self) -> dict[str, Any]:
        """The camelCase dict as the API server stores it (unset optionals left out)."""
        return self.model_dump(by_alias=True, exclude_none=True, mode="json")


def _check_duration(value: str | None) -> str | None:
    if value is not None:
        parse_duration(value)
    return value


class BackendRef(_Model):
    """A backend as the route's backendRefs reference it."""

    name: str = Field(min_length=1, max_length=253, description="Name of the backend (a Service).")
    port: int | None = Field(
        default=None, ge=1, le=65535, description="Port as the backendRef gives it, if it does."
    )
    namespace: str | None = Field(
        default=None,
        max_length=63,
        description="Namespace of the backend; defaults to the route's. Cross-namespace "
        "backends need a ReferenceGrant.",
    )
    kind: str = Field(default="Service", max_length=63, description="backendRef kind.")
    group: str = Field(default="", max_length=253, description="backendRef group ('' = core).")

    def key(self, default_namespace: str) -> tuple[str, str, str, str, int | None]:
        """Identity used to find this backend in a route: (group, kind, ns, name, port)."""
        return (self.group, self.kind, self.namespace or default_namespace, self.name, self.port)


class RouteRef(_Model):
    """A user-owned route whose rules canary re-weights."""

    kind: RouteKind = Field(default="HTTPRoute", description="HTTPRoute or GRPCRoute.")
    name: str = Field(min_length=1, max_length=253, description="Route name (same namespace).")
    rules: list[int | str] | None = Field(
        default=None,
        max_length=16,
        description="Rules to re-weight, by name or 0-based index. Omitted: the one rule "
        "that lists both backends (zero or several such rules make the Rollout Invalid).",
        json_schema_extra={"items": {"x-kubernetes-int-or-string": True}},
    )

    @field_validator("rules")
    @classmethod
    def _rules(cls, value: list[int | str] | None) -> list[int | str] | None:
        if value is not None:
            for item in value:
                if isinstance(item, int) and item < 0:
                    raise ValueError("rule indexes are 0-based and not negative")
                if isinstance(item, str) and not item:
                    raise ValueError("rule names are not empty")
        return value


class Step(_Model):
    """One weight step; without ``pause`` it is a manual gate (``canary promote``)."""

    model_config = ConfigDict(
        json_schema_extra={
            "x-kubernetes-validations": [
                _cel(
                    "self.weight >= 0 && self.weight <= 100",
                    "weight must be between 0 and 100",
                    ".weight",
                )
            ]
        }
    )

    weight: int = Field(ge=0, le=100, description="Canary raw weight for this step (0..100).")
    pause: Duration | None = Field(
        default=None,
        max_length=32,
        pattern=DURATION_PATTERN,
        description="How long to hold (Go duration). Omitted: wait for promotion.",
    )

    consecutive_passes: int | None = Field(
        default=None,
        ge=1,
        le=100,
        description="Passing checks in a row needed before the step may end (default 1: "
        "the last check passed). Ignored without metrics.",
    )

    _pause = field_validator("pause")(classmethod(lambda cls, v: _check_duration(v)))


class Metric(_Model):
    """One check: a builtin template or a PromQL query, and its bounds."""

    model_config = ConfigDict(
        json_schema_extra={
            "x-kubernetes-validations": [
                _cel(
                    "has(self.template) != has(self.query)",
                    "set exactly one of template or query",
                )
            ]
        }
    )

    name: str = Field(
        min_length=1,
        max_length=63,
        pattern=r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$",
        description="Metric name (DNS label).",
    )
    template: TemplateName | None = Field(default=None, description="Builtin query template.")
    flavor: Flavor | None = Field(
        default=None,
        description="Which metrics the template reads (traefik, envoy-gateway, istio, app). "
        "Omitted: derived from the parent GatewayClass's controllerName (Traefik, Envoy "
        "Gateway, Istio); other controllers need flavor or a query.",
    )
    quantile: float | None = Field(
        default=None, gt=0, lt=1, description="Latency quantile (default 0.99)."
    )
    query: str | None = Field(
        default=None,
        max_length=4096,
        description="Custom PromQL. Variables: {{namespace}}, {{route}}, {{rule}}, {{canary}}, "
        "{{stable}}, {{backend}}, {{interval}}; it is run once for the canary and once for "
        "the stable backend ({{backend}}).",
    )
    min: float | None = Field(default=None, description="Absolute lower bound for the canary.")
    max: float | None = Field(default=None, description="Absolute upper bound for the canary.")
    max_increase: float | None = Field(
        default=None, ge=0, description="Largest allowed canary − stable (same unit)."
    )
    max_ratio: float | None = Field(
        default=None, gt=0, description="Largest allowed canary / stable (skipped if stable=0)."
    )
    significance: float | None = Field(
        default=None,
        gt=0,
        lt=1,
        description="Count-based bounds fail only if a one-sided test says the canary is worse "
        "than stable at this level (e.g. 0.05).",
    )
    dry_run: bool = Field(
        default=False,
        description="Measured, recorded and reported (status, Events, canary status) but never "
        "acts: its verdict does not count towards the check's.",
    )

    @model_validator(mode="after")
    def _one_source(self) -> Metric:
        if (self.template is None) == (self.query is None):
            raise ValueError("set exactly one of template or query")
        return self


class Analysis(_Model):
    """How and how often the canary is judged."""

    interval: Duration = Field(
        default="1m",
        max_length=32,
        pattern=DURATION_PATTERN,
        description="Time between checks and the query window (default: the operator's "
        "CANARY_DEFAULT_INTERVAL, else 1m).",
        json_schema_extra={OPERATOR_DEFAULT: True},
    )
    address: str | None = Field(
        default=None, max_length=2048, description="Prometheus URL (default: operator config)."
    )
    failure_limit: int = Field(
        default=1,
        ge=0,
        le=100,
        description="Failed checks tolerated per rollout (cumulative); the next one acts.",
    )
    min_requests: int = Field(
        default=20,
        ge=0,
        le=1_000_000,
        description="Canary requests per window below which a check is inconclusive "
        "(default: the operator's CANARY_DEFAULT_MIN_REQUESTS, else 20).",
        json_schema_extra={OPERATOR_DEFAULT: True},
    )
    no_data: NoDataPolicy = Field(default="hold", description="What no data means.")
    request_count: str | None = Field(
        default=None,
        max_length=4096,
        description="PromQL counting one backend's requests over {{interval}} (variables as "
        "in metrics[].query, {{backend}} = canary or stable); backs minRequests and the "
        "observed share. Default: the flavor's request counter.",
    )
    metrics: list[Metric] = Field(default_factory=list, max_length=10)

    _interval = field_validator("interval")(classmethod(lambda cls, v: _check_duration(v)))

    @field_validator("metrics")
    @classmethod
    def _unique(cls, value: list[Metric]) -> list[Metric]:
        names = [m.name for m in value]
        if len(set(names)) != len(names):
            raise ValueError("metric names must be unique")
        return value


class RolloutSpec(_Model):
    """What to roll out where, in which steps, judged how."""

    model_config = ConfigDict(
        json_schema_extra={
            "x-kubernetes-validations": [
                _cel(
                    "!(self.stable.name == self.canary.name"
                    " && (has(self.stable.__namespace__) ? self.stable.__namespace__ : '')"
                    " == (has(self.canary.__namespace__) ? self.canary.__namespace__ : ''))",
                    "stable and canary must name different backends",
                    ".canary",
                ),
                _cel(
                    "!has(self.manageBackends) || !self.manageBackends"
                    " || self.routes.all(r, has(r.rules))",
                    "manageBackends needs explicit rules on every route",
                    ".manageBackends",
                ),
            ]
        }
    )

    routes: list[RouteRef] = Field(min_length=1, max_length=8)
    stable: BackendRef
    canary: BackendRef
    steps: list[Step] = Field(
        min_length=1,
        max_length=20,
        json_schema_extra={
            "x-kubernetes-validations": [
                _cel("self.size() >= 1", "at least one step is required"),
                _cel(
                    "self.map(s, s.weight).isSorted()"
                    " && self.all(s, self.exists_one(t, t.weight == s.weight))",
                    "step weights must be strictly increasing",
                ),
            ]
        },
    )
    analysis: Analysis = Field(default_factory=Analysis)
    on_failure: OnFailure = Field(
        default="rollback", description="rollback: stable 100 / canary 0; pause: hold as is."
    )
    on_delete: OnDelete = Field(
        default="restore",
        description="Deleting the Rollout mid-flight: restore stable 100 / canary 0, or keep.",
    )
    progress_deadline: Duration = Field(
        default="10m",
        max_length=32,
        pattern=DURATION_PATTERN,
        description="Bounds waiting for route readiness, split verification and holds.",
    )
    manage_backends: bool = Field(
        default=False,
        description="Append a missing canary backendRef (weight 0) and remove the old stable "
        "one after success.",
    )

    _deadline = field_validator("progress_deadline")(classmethod(lambda cls, v: _check_duration(v)))

    @model_validator(mode="after")
    def _rules(self) -> RolloutSpec:
        seen: dict[tuple[str, str], int] = {}
        for i, route in enumerate(self.routes):
            first = seen.setdefault((route.kind, route.name), i)
            if first != i:
                raise ValueError(
                    f"spec.routes[{i}]: {route.kind}/{route.name} is already spec.routes[{first}]"
                )
        s, c = self.stable, self.canary
        if s.name == c.name and (s.namespace or "") == (c.namespace or ""):
            raise ValueError("spec.canary: stable and canary must name different backends")
        weights = [step.weight for step in self.steps]
        if any(b <= a for a, b in itertools.pairwise(weights)):
            raise ValueError("spec.steps: step weights must be strictly increasing")
        if self.manage_backends and any(r.rules is None for r in self.routes):
            raise ValueError("spec.manageBackends: needs explicit rules on every route")
        return self


# ---------------------------------------------------------------------------------------
# Status


class Measurement(_Model):
    """One check of one metric."""

    value: float | None = Field(default=None, description="Canary value (None: no data).")
    stable_value: float | None = Field(default=None, description="Stable value, same window.")
    bound: str = Field(default="", max_length=256, description="The bound(s) applied.")
    samples: int = Field(default=0, ge=0, description="Canary requests in the window.")
    dry_run: bool = Field(default=False, description="A dryRun metric: never acted on.")
    verdict: str = Field(max_length=32, description="pass, fail, inconclusive, nodata or error.")
    time: str = Field(max_length=64, description="When it was measured (RFC 3339).")
    query: str = Field(default="", max_length=8192, description="The canary PromQL.")
    message: str = Field(default="", max_length=1024)


class MetricStatus(_Model):
    name: str = Field(max_length=63)
    measurements: list[Measurement] = Field(default_factory=list, max_length=10)


class AppliedWeight(_Model):
    """Raw weights canary last wrote to one rule."""

    route: str = Field(max_length=300, description="Kind/name of the route.")
    rule: int = Field(ge=0, description="0-based rule index.")
    stable: int = Field(ge=0)
    canary: int = Field(ge=0)


class Contest(_Model):
    """Another field manager reverting the weights (docs/state-machine.md "Contested")."""

    reverts: list[str] = Field(
        default_factory=list,
        max_length=16,
        description="managedFields times of the reverts seen within the window (newest last).",
    )
    manager: str | None = Field(default=None, max_length=128, description="Who reverted.")
    fields: str = Field(default="", max_length=1024, description="What was reverted.")
    since: str | None = Field(
        default=None, max_length=64, description="Contested since (None: still re-asserting)."
    )
    resumed_at: str | None = Field(
        default=None, max_length=64, description="Reverts before this time no longer count."
    )


class LastCommand(_Model):
    id: str = Field(max_length=253)
    verb: str = Field(max_length=32)
    at: str = Field(max_length=64)
    result: str = Field(max_length=1024)


class Condition(_Model):
    type: str = Field(max_length=64)
    status: Literal["True", "False", "Unknown"]
    reason: str = Field(default="", max_length=128)
    message: str = Field(default="", max_length=1024)
    last_transition_time: str = Field(default="", max_length=64)
    observed_generation: int | None = None


class RolloutStatus(_Model):
    """What the operator knows and shows; written as a diff, never when unchanged."""

    model_config = ConfigDict(extra="ignore")

    phase: str | None = Field(default=None, max_length=32)
    observed_generation: int | None = None
    spec_hash: str | None = Field(
        default=None, max_length=64, description="Hash of stable/canary/routes/steps."
    )
    step_index: int | None = Field(default=None, ge=0, description="0-based current step.")
    step_label: str = Field(default="-", max_length=16, description='"2/3", 1-based; "-".')
    canary_weight: int | None = Field(default=None, description="Desired canary raw weight.")
    effective_weight: float | None = Field(
        default=None, description="Canary share (%) the evaluator verified."
    )
    observed_weight: float | None = Field(
        default=None, description="Canary share (%) observed in traffic."
    )
    step_started_at: str | None = Field(default=None, max_length=64)
    phase_started_at: str | None = Field(default=None, max_length=64)
    hold_since: str | None = Field(
        default=None, max_length=64, description="Since when the step has been held (deadline)."
    )
    last_analysis_at: str | None = Field(default=None, max_length=64)
    verified_at: str | None = Field(
        default=None,
        max_length=64,
        description="When the current step's split was first verified; its hold counts from here.",
    )
    step_verdict: str | None = Field(
        default=None,
        max_length=32,
        description="Verdict of the last check at the current step (after the noData policy).",
    )
    promoted_full: bool = Field(
        default=False,
        description="promote --full: succeed once the last step's split is verified.",
    )
    failures: int = Field(default=0, ge=0, description="Failed checks so far (cumulative).")
    step_passes: int = Field(
        default=0, ge=0, description="Passing checks in a row at the current step."
    )
    pause_reason: str | None = Field(default=None, max_length=32)
    last_applied_weights: list[AppliedWeight] = Field(default_factory=list, max_length=128)
    baseline: dict[str, float] = Field(
        default_factory=dict,
        description="Stable values recorded at the previous step ('<metric>.requests': the "
        "stable requests each rested on).",
    )
    analysis: list[MetricStatus] = Field(default_factory=list, max_length=10)
    last_command: LastCommand | None = None
    contest: Contest | None = None
    conditions: list[Condition] = Field(default_factory=list, max_length=16)
    message: str = Field(default="", max_length=1024)

    def condition(self, type_: str) -> Condition | None:
        return next((c for c in self.conditions if c.type == type_), None)


class RolloutMeta(_Model):
    """The metadata the controller needs."""

    model_config = ConfigDict(extra="ignore")

    name: str
    namespace: str = "default"
    generation: int = 1
    uid: str = ""
    annotations: dict[str, str] = Field(default_factory=dict)
    creation_timestamp: str | None = None
    deletion_timestamp: str | None = None


class Rollout(_Model):
    """A whole Rollout object."""

    model_config = ConfigDict(extra="ignore")

    api_version: Literal["canary.dev/v1alpha1"] = "canary.dev/v1alpha1"
    kind: Literal["Rollout"] = "Rollout"
    metadata: RolloutMeta
    spec: RolloutSpec
    status: RolloutStatus = Field(default_factory=RolloutStatus)
