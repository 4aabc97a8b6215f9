"""Gather one ``Observation``: routes, readiness, the evaluator, traffic, analysis.

Everything here is I/O through the adapters' ports; every judgement is delegated to the
pure core (rule resolution, readiness, the route evaluator, verdicts). A fact that cannot
be established stays ``None`` and the state machine decides what that means.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from canary.adapters.errors import AdapterError, MetricsError, NotFound, TraefikApiError
from canary.adapters.ports import ClusterReadPort, MetricsPort, RoutesPort, TraefikApi
from canary.core.analysis.flavors import TRAEFIK_CONTROLLER, flavor_for, with_flavors
from canary.core.analysis.measurements import measurement_plan, requests_query
from canary.core.analysis.promql import TemplateError, prometheus_duration
from canary.core.analysis.templates import Backend, Target
from canary.core.analysis.verdicts import error_result, judge_metric, summarize
from canary.core.models import AppliedWeight, Rollout, RolloutStatus
from canary.core.phases import ENDED_ON_STABLE_PHASES, HANDS_OFF_PHASES, Cond, Phase, Reason
from canary.core.results import AnalysisResult, MetricResult, Sample
from canary.core.rollout.hashing import spec_hash
from canary.core.rollout.observation import Observation, RuleRef, command_from_annotations
from canary.core.rollout.schedule import analysis_window, rfc3339, seconds_since
from canary.core.routes.fieldmanagers import writers
from canary.core.routes.gateways import controllers_by_gateway, route_controllers
from canary.core.routes.ownership import claim_of, owner_conflict, taken_over
from canary.core.routes.patching import live_weights, weight_of
from canary.core.routes.readiness import route_readiness
from canary.core.routes.rules import InvalidRollout, ResolvedRoute, resolve_rules
from canary.core.routing import (
    SPEC_PROFILE,
    BackendKey,
    EffectiveShare,
    InputError,
    Profile,
    RoutingError,
    Table,
    build_table,
    gateway_controllers,
    route_profile,
)
from canary.core.routing import effective_canary_share as evaluator_share
from canary.operator import selfmetrics
from canary.operator.wakes import Deps, WakeIndex, deps_of, parent_gateways

log = logging.getLogger("canary.operator")

MIN_OBSERVED_WINDOW = 4.0  # seconds of traffic before an observed share means anything

Obj = dict[str, Any]


@dataclass
class Resolved:
    """The live routes and what the Rollout addresses in them."""

    routes: dict[str, dict[str, Any]] = field(default_factory=dict)  # label -> live route
    resolved: list[ResolvedRoute] = field(default_factory=list)
    invalid: str | None = None


def resolve(rollout: Rollout, routes: RoutesPort) -> Resolved:
    """Read every addressed route and resolve its rules; the first problem wins."""
    out = Resolved()
    ns = rollout.metadata.namespace
    for i, ref in enumerate(rollout.spec.routes):
        try:
            live = routes.get(kind=ref.kind, namespace=ns, name=ref.name)
        except NotFound:
            out.invalid = f"spec.routes[{i}]: {ref.kind} {ns}/{ref.name} not found"
            return out
        try:
            res = resolve_rules(live, rollout.spec, ref, namespace=ns, route_index=i)
        except InvalidRollout as exc:
            out.invalid = str(exc)
            return out
        out.routes[res.label] = live
        out.resolved.append(res)
    return out


def _served_expectation(route: dict[str, Any], rule_index: int) -> dict[int, int]:
    rule = (route.get("spec") or {}).get("rules", [])[rule_index]
    refs = rule.get("backendRefs") or []
    return {j: weight_of(ref) for j, ref in enumerate(refs) if weight_of(ref) > 0}


class ViewBehind(Exception):
    """The shared view predates a route this pass read: retry the pass shortly."""


@dataclass(frozen=True)
class View:
    """The cluster as the evaluator sees it, built once per cache version and shared by
    every Rollout's pass: the routing table, each Gateway's controller, and the
    resourceVersion of every route it was built from (to tell a table older than a route
    a pass has just read)."""

    version: int | None
    docs: list[Obj]
    table: Table | None
    table_error: str | None
    classes: Any  # gateway_controllers(docs)
    by_gateway: dict[tuple[str, str], str]
    route_versions: dict[tuple[str, str, str], str]

    @classmethod
    def build(cls, docs: list[Obj], version: int | None) -> View:
        table: Table | None = None
        error: str | None = None
        try:
            # An object the evaluator cannot parse is skipped; only Rollouts whose routes
            # need it see it as their culprit (core/routing/isolation.py).
            table = build_table(docs, skip_invalid=True)
        except (InputError, RoutingError) as exc:
            error = f"cannot evaluate the routes: {exc}"
        versions: dict[tuple[str, str, str], str] = {}
        for d in docs:
            if d.get("kind") in ("HTTPRoute", "GRPCRoute"):
                meta = d.get("metadata") or {}
                key = (str(d["kind"]), str(meta.get("namespace", "")), str(meta.get("name", "")))
                versions[key] = str(meta.get("resourceVersion", ""))
        return cls(
            version=version,
            docs=docs,
            table=table,
            table_error=error,
            classes=gateway_controllers(docs),
            by_gateway=controllers_by_gateway(docs),
            route_versions=versions,
        )


@dataclass
class Observer:
    routes: RoutesPort
    cluster: ClusterReadPort
    metrics_for: Callable[[Rollout], MetricsPort | None]
    traefik: TraefikApi | None = None
    cluster_namespaces: Sequence[str] | None = None  # None: read all namespaces
    route_ready_fallback: float = 0.0
    # the Rollouts of a namespace (one owner per rule); a watch-backed index in the operator
    peers: Callable[[str], Sequence[Obj]] = field(default=lambda ns: ())
    # (ns, name) -> (stepStartedAt, since when the step's weights are served and verified)
    _configured: dict[tuple[str, str], tuple[str | None, datetime]] = field(
        default_factory=dict, repr=False
    )
    _skipped_noted: set[str] = field(default_factory=set, repr=False)  # logged already
    check_budget: float = 30.0  # seconds for all Prometheus queries of one check; 0: none
    clock: Callable[[], float] = time.monotonic  # budget and rebuild pacing (decisions use now)
    # the shared view is rebuilt when the cache changed, at most once per this many seconds
    rebuild_after: float = 0.2
    wakes: WakeIndex = field(default_factory=WakeIndex)
    _view: View | None = field(default=None, repr=False)
    _view_lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    _built_at: float = field(default=0.0, repr=False)

    def observe(
        self,
        rollout: Rollout,
        status: RolloutStatus,
        *,
        now: datetime,
        invalid: str | None = None,
    ) -> Observation:
        """What is seen for ``rollout``. ``invalid``: the models rejected its spec (the
        reconciler passes the Rollout rebuilt from the backends and routes alone)."""
        ns = rollout.metadata.namespace
        command = command_from_annotations(rollout.metadata.annotations)
        deleting = rollout.metadata.deletion_timestamp is not None
        res = resolve(rollout, self.routes)
        self._record_deps(rollout, res)
        if invalid is not None and not deleting:
            return self._while_invalid(rollout, status, invalid, Reason.INVALID_SPEC, now, res)
        if res.invalid:
            if status.phase == Phase.SUCCEEDED:
                # after success (manageBackends may have removed the old stable) nothing
                # is addressed any more; there is nothing to re-assert
                return Observation(command=command, deleting=deleting)
            if not deleting:
                return self._while_invalid(rollout, status, res.invalid, Reason.INVALID_SPEC, now)
            return Observation(invalid=res.invalid, command=command, deleting=deleting)

        addressed = tuple(RuleRef(r.label, rule.index) for r in res.resolved for rule in r.rules)
        live = tuple(w for r in res.resolved for w in live_weights(res.routes[r.label], r))
        if status.phase == Phase.SUCCEEDED and not deleting:
            # hands off: the live weights are read only to report drift (a successor
            # Rollout's writes are not drift)
            return Observation(
                addressed=addressed,
                live_weights=live,
                command=command,
                taken_over=self._taken_over(rollout, status, res, live),
            )
        view, snapshot_error = self.view()
        docs = view.docs if view is not None else None
        controllers = self._controllers(res, view)
        if deleting:  # only the restore matters now (is it served?): no evaluator, analysis
            return Observation(
                addressed=addressed,
                live_weights=live,
                data_plane_applied=self._data_plane(res, ns, controllers),
                command=command,
                deleting=True,
            )
        hands_off = _stays_hands_off(rollout, status)
        conflict = None if hands_off else self._owner_conflict(rollout, status, res)
        if conflict is not None:
            return self._while_invalid(rollout, status, conflict, Reason.RULE_OWNED, now, res)
        if docs is not None:
            try:
                spec = with_flavors(rollout.spec, _all(controllers))
            except InvalidRollout as exc:
                return self._while_invalid(rollout, status, str(exc), Reason.INVALID_SPEC, now, res)
            rollout = rollout.model_copy(update={"spec": spec})
        ready, reason = self._readiness(res, status, now)
        data_plane = self._data_plane(res, ns, controllers)
        evaluated = self._evaluate(rollout, res, view, snapshot_error)
        share, verified, culprit = evaluated.share, evaluated.verified, evaluated.culprit
        configured = ready and data_plane is not False and verified
        since = self._configured_since(rollout, status, live, configured, now)
        observed, observed_n = self._observed(rollout, res, status, now, since, controllers)
        analysis = self._analysis(rollout, res, status, now)
        return Observation(
            addressed=addressed,
            live_weights=live,
            route_ready=ready,
            route_reason=reason,
            data_plane_applied=data_plane,
            effective_share=share,
            split_verified=verified,
            split_culprit=culprit,
            divergence=evaluated.divergence,
            observed_share=observed,
            observed_requests=observed_n,
            analysis=analysis,
            command=command,
            deleting=deleting,
            writers=writers(res.routes, res.resolved),  # who last wrote the rules (Contested)
            taken_over=self._taken_over(rollout, status, res, live) if hands_off else (),
        )

    def _while_invalid(
        self,
        rollout: Rollout,
        status: RolloutStatus,
        invalid: str,
        reason: str,
        now: datetime,
        seen: Resolved | None = None,
    ) -> Observation:
        """An invalid spec. RolledBack/Aborted keep stable 100 / canary 0 asserted where
        that is safe: on the rules it applied weights to (``status.lastAppliedWeights``),
        resolved with the backends and routes it last acted on (the spec's stable,
        canary, routes and steps still hash to ``status.specHash``) to exactly those
        rules. Anything else is left out (``unasserted`` says why); another Rollout's rule
        (RuleOwned) is never written. Other phases: nothing is read, nothing written."""
        command = command_from_annotations(rollout.metadata.annotations)
        base = Observation(invalid=invalid, invalid_reason=reason, command=command)
        if status.phase in HANDS_OFF_PHASES and seen is not None and not seen.invalid:
            # hands off (Succeeded, Failed): nothing is written, but the live weights are
            # read so that drift is still reported (a successor's writes are not drift)
            now_live = tuple(
                w for r in seen.resolved for w in live_weights(seen.routes[r.label], r)
            )
            return replace(
                base,
                addressed=tuple(
                    RuleRef(r.label, rule.index) for r in seen.resolved for rule in r.rules
                ),
                live_weights=now_live,
                taken_over=self._taken_over(rollout, status, seen, now_live),
            )
        if status.phase not in ENDED_ON_STABLE_PHASES:
            return base
        owned: dict[str, set[int]] = {}
        for w in status.last_applied_weights:
            owned.setdefault(w.route, set()).add(w.rule)
        if reason == Reason.RULE_OWNED:
            why = "another Rollout owns an addressed rule"
        elif not owned:
            why = "it applied no weights"
        elif status.spec_hash != spec_hash(rollout.spec):
            why = (
                "spec.stable, canary, routes or steps changed since it applied stable 100 / "
                "canary 0, so which backendRefs it set is not known"
            )
        else:
            why = ""
        if why:
            return replace(base, unasserted=why)
        ns, held, left_out = rollout.metadata.namespace, Resolved(), []
        for i, ref in enumerate(rollout.spec.routes):
            label = f"{ref.kind}/{ref.name}"
            if label not in owned:
                continue
            try:
                live = self.routes.get(kind=ref.kind, namespace=ns, name=ref.name)
                res = resolve_rules(live, rollout.spec, ref, namespace=ns, route_index=i)
            except NotFound:
                left_out.append(f"{label} not found")
                continue
            except InvalidRollout as exc:
                left_out.append(str(exc))
                continue
            rules = {rule.index for rule in res.rules}
            if rules != owned[label]:
                left_out.append(
                    f"{label}: the backends now resolve to rules {sorted(rules)}, "
                    f"it applied rules {sorted(owned[label])}"
                )
                continue
            held.routes[label] = live
            held.resolved.append(res)
        if not held.resolved:
            return replace(base, unasserted="; ".join(left_out))
        view, _ = self.view()
        ready, route_reason = self._readiness(held, status, now)
        return replace(
            base,
            addressed=tuple(
                RuleRef(r.label, rule.index) for r in held.resolved for rule in r.rules
            ),
            live_weights=tuple(
                w for r in held.resolved for w in live_weights(held.routes[r.label], r)
            ),
            route_ready=ready,
            route_reason=route_reason,
            data_plane_applied=self._data_plane(held, ns, self._controllers(held, view)),
            writers=writers(held.routes, held.resolved),
            unasserted="; ".join(left_out),
        )

    # -- the cluster around the routes ------------------------------------------------

    def _snapshot(self) -> tuple[list[Obj] | None, str | None]:
        try:
            return self.cluster.snapshot(namespaces=self.cluster_namespaces), None
        except AdapterError as exc:
            return None, str(exc)

    def view(self) -> tuple[View | None, str | None]:
        """The shared view of the cluster; rebuilt only when the cache changed.

        A reader without ``version`` (no cache: a snapshot per pass) builds a view each
        time. With a cache, one pass at a time rebuilds, at most once per
        ``rebuild_after`` seconds; no pass waits for a rebuild (measured at 1,000 Rollouts:
        seven of eight workers queued on the rebuild lock) — it uses the current view, and
        if that predates its routes it is retried shortly (``ViewBehind``).
        """
        version: int | None = getattr(self.cluster, "version", None)
        if version is None:
            docs, error = self._snapshot()
            if docs is None:
                return None, error
            built = View.build(docs, None)
            if built.table is not None:
                self._note_skipped(built.table)
            return built, None
        current = self._view
        if current is not None and current.version == version:
            return current, None
        if current is not None and (
            self.clock() - self._built_at < self.rebuild_after
            or not self._view_lock.acquire(blocking=False)
        ):
            # a rebuild is running or was done a moment ago: never wait for one. A pass
            # whose routes this view predates is retried shortly (``ViewBehind``)
            return current, None
        if current is None:
            self._view_lock.acquire()  # the first view: every pass needs it
        try:
            latest = self._view
            if latest is not None and latest.version == getattr(self.cluster, "version", None):
                return latest, None  # another pass rebuilt it meanwhile
            version = getattr(self.cluster, "version", version)
            docs, error = self._snapshot()
            if docs is None:
                return None, error
            view = View.build(docs, version)
            selfmetrics.VIEW_BUILDS.inc()
            self._built_at = self.clock()
            self._view = view
            if view.table is not None:
                self._note_skipped(view.table)
            return view, None
        finally:
            self._view_lock.release()

    def _unread_namespace(self, rollout: Rollout, res: Resolved) -> str | None:
        """A parent Gateway or backend in a namespace outside the caches' scope: say so
        (and how to fix it) rather than "not found"."""
        scope = self.cluster_namespaces
        if scope is None:
            return None
        ns = rollout.metadata.namespace
        fix = "add --read-namespace {0} (chart: rbac.readOnlyNamespaces)"
        for r in res.resolved:
            for gw in parent_gateways(res.routes[r.label]):
                gw_ns = gw.split("/", 1)[0]
                if gw_ns not in scope:
                    return (
                        f"{r.label}: its parent Gateway {gw} is in namespace {gw_ns}, which "
                        f"this operator does not read: {fix.format(gw_ns)}"
                    )
        for side, ref in (("stable", rollout.spec.stable), ("canary", rollout.spec.canary)):
            where = ref.namespace or ns
            if where not in scope:
                return (
                    f"spec.{side}: Service {where}/{ref.name} is in namespace {where}, which "
                    f"this operator does not read: {fix.format(where)}"
                )
        return None

    def _record_deps(self, rollout: Rollout, res: Resolved) -> None:
        """What this pass reads, for the object → Rollout wake index (operator/wakes.py)."""
        ns = rollout.metadata.namespace
        spec = rollout.spec
        backends = [(ref.namespace or ns, ref.name) for ref in (spec.stable, spec.canary)]
        routes = [(r.kind, res.routes[r.label]) for r in res.resolved]
        # a route not found (or not resolvable) yet: its creation must wake us too
        named = [
            (ref.kind, {"metadata": {"namespace": ns, "name": ref.name}}) for ref in spec.routes
        ]
        deps: Deps = deps_of([*named, *routes], backends)
        self.wakes.record((ns, rollout.metadata.name), deps)

    @staticmethod
    def _controllers(res: Resolved, view: View | None) -> dict[str, dict[str, str]]:
        """Route label → {"gwNs/gwName": controllerName} of its parent Gateways."""
        if view is None:
            return {}
        return {
            label: route_controllers(route, view.by_gateway) for label, route in res.routes.items()
        }

    def _taken_over(
        self,
        rollout: Rollout,
        status: RolloutStatus,
        res: Resolved,
        live: tuple[AppliedWeight, ...],
    ) -> tuple[tuple[str, int, str], ...]:
        """Hands off: the released rules another Rollout now sets (its writes are not
        drift; canary.core.routes.ownership.taken_over)."""
        released = [(w.route, w.rule) for w in status.last_applied_weights]
        if not released:
            return ()
        ns = rollout.metadata.namespace
        taken = taken_over(
            rollout.metadata.name,
            released,
            {(w.route, w.rule): (w.stable, w.canary) for w in live},
            self.peers(ns),
            res.routes,
            ns,
        )
        return tuple((route, rule, who) for (route, rule), who in sorted(taken.items()))

    def _owner_conflict(self, rollout: Rollout, status: RolloutStatus, res: Resolved) -> str | None:
        """One owner per rule (canary.core.routes.ownership): another Rollout owns a rule of
        ours."""
        ns = rollout.metadata.namespace
        me = claim_of(
            {
                "metadata": {
                    "name": rollout.metadata.name,
                    "creationTimestamp": rollout.metadata.creation_timestamp,
                },
                "spec": rollout.spec.dump(),
                "status": status.dump(),
            },
            res.routes,
            ns,
        )
        if me is None:
            return None
        others = [
            claim
            for body in self.peers(ns)
            if (body.get("metadata") or {}).get("name") != rollout.metadata.name
            and (claim := claim_of(body, res.routes, ns)) is not None
        ]
        return owner_conflict(me, others)

    # -- readiness -------------------------------------------------------------------

    def _readiness(self, res: Resolved, status: RolloutStatus, now: datetime) -> tuple[bool, str]:
        for route in res.routes.values():
            r = route_readiness(route)
            if r.ready:
                continue
            if not r.has_status and self.route_ready_fallback > 0:
                waited = seconds_since(status.step_started_at, now) or 0.0
                if waited >= self.route_ready_fallback:
                    continue  # documented fallback for implementations without status
            return False, r.reason
        return True, ""

    def _data_plane(
        self, res: Resolved, ns: str, controllers: dict[str, dict[str, str]]
    ) -> bool | None:
        """Does the gateway serve the live weights? Asked per parent Gateway's controller:
        Traefik's API only for routes attached to a Traefik Gateway; other implementations
        have no such API here (None: route status + evaluator + observed traffic decide)."""
        if self.traefik is None:
            return None
        asked = False
        try:
            for r in res.resolved:
                if TRAEFIK_CONTROLLER not in controllers.get(r.label, {}).values():
                    continue
                asked = True
                live = res.routes[r.label]
                for rule in r.rules:
                    served = self.traefik.served_rule(
                        namespace=ns, route=r.name, rule=rule.index, kind=r.kind.lower()
                    )
                    if not served.serves(_served_expectation(live, rule.index)):
                        return False
        except TraefikApiError as exc:
            log.debug("traefik: %s", exc)
            return False
        return True if asked else None

    # -- the evaluator ---------------------------------------------------------------

    def _evaluate(
        self, rollout: Rollout, res: Resolved, view: View | None, snapshot_error: str | None
    ) -> Evaluated:
        """The canary's effective share as the routes' data plane serves it: each route is
        predicted with the profile of its Gateways' controller (Traefik's → ``traefik``,
        others → ``spec``); where that profile and the spec route an addressed rule's
        requests differently, ``divergence`` says so (a condition, not a hold)."""
        spec, ns = rollout.spec, rollout.metadata.namespace
        if view is None:
            return Evaluated(None, False, f"cannot read the routes: {snapshot_error}")
        if view.table is None:
            return Evaluated(None, False, view.table_error)
        unread = self._unread_namespace(rollout, res)
        if unread is not None:
            return Evaluated(None, False, unread)
        for r in res.resolved:
            seen = view.route_versions.get((r.kind, ns, r.name))
            have = str((res.routes[r.label].get("metadata") or {}).get("resourceVersion", ""))
            if view.version is not None and seen != have:
                # the shared table predates the route this pass read (our own write, or
                # the watch delivered it a moment ago): no verdict on old data, no status
                # write; the pass is retried when a newer view exists
                raise ViewBehind(
                    f"{r.label}: the route evaluator has not seen resourceVersion {have} yet"
                )
        table, classes = view.table, view.classes

        def key(ref: Any) -> BackendKey:
            return BackendKey(ref.name, ref.port, ref.namespace, ref.kind, ref.group)

        shares: list[float] = []
        divergence: str | None = None  # None: every route predicted with the spec
        verdict: tuple[bool, str | None] = (True, None)
        for r in res.resolved:
            profile = route_profile(
                table, classes, route_kind=r.kind, route_namespace=ns, route_name=r.name
            )
            result = evaluator_share(
                table,
                route_kind=r.kind,
                route_namespace=ns,
                route_name=r.name,
                rule_indexes=[rule.index for rule in r.rules],
                stable=key(spec.stable),
                canary=key(spec.canary),
                profile=profile,
            )
            shares.append(result.share)
            if profile.name != SPEC_PROFILE.name:
                divergence = divergence or _divergence_message(r.label, profile, result)
            if verdict[0] and not result.verified:
                verdict = (False, result.culprit or f"{r.label}: split not verified")
        share = min(shares) if shares else None
        return Evaluated(share, verdict[0], verdict[1], divergence)

    def _note_skipped(self, table: Table) -> None:
        """Log each skipped object once (while it stays broken), not every reconcile."""
        now = {f"{s.ref}: {s.error}" for s in table.objects.skipped if not s.harmless}
        for line in sorted(now - self._skipped_noted):
            log.warning("route evaluator skips %s", line)
        self._skipped_noted = now

    # -- traffic and analysis --------------------------------------------------------

    def _deadline(self) -> float | None:
        """The end of one check's Prometheus budget (``clock`` time), None: unbounded."""
        return self.clock() + self.check_budget if self.check_budget > 0 else None

    def _targets(self, res: Resolved) -> list[Target]:
        return [
            Target(
                route=r.name,
                rule=rule.index,
                route_kind=r.kind,
                canary_index=rule.canary,
                stable_index=rule.stable,
            )
            for r in res.resolved
            for rule in r.rules
        ]

    def _configured_since(
        self,
        rollout: Rollout,
        status: RolloutStatus,
        live: tuple[AppliedWeight, ...],
        configured: bool,
        now: datetime,
    ) -> datetime | None:
        """Since when the step's weights have been live, ready, served and verified without
        a break (None: not now). Traffic from before that (a not-ready endpoint answering
        503, a shadowing route, someone else's weights) says nothing about the split now,
        so the observed share counts only from here. In memory: a restarted operator
        starts counting afresh, and a new step starts its own count."""
        key = (rollout.metadata.namespace, rollout.metadata.name)
        want = status.canary_weight
        configured = (
            configured
            and want is not None
            and all((w.stable, w.canary) == (100 - want, want) for w in live)
        )
        held = self._configured.get(key)
        if not configured:
            self._configured.pop(key, None)
            return None
        if held is None or held[0] != status.step_started_at:
            held = (status.step_started_at, now)
            self._configured[key] = held
        return held[1]

    def _observed(
        self,
        rollout: Rollout,
        res: Resolved,
        status: RolloutStatus,
        now: datetime,
        configured_since: datetime | None,
        controllers: dict[str, dict[str, str]],
    ) -> tuple[float | None, int]:
        if status.phase != Phase.PROGRESSING or configured_since is None:
            return None, 0
        metrics = self.metrics_for(rollout)
        since = seconds_since(status.step_started_at, now)
        if since is not None:
            since = min(since, (now - configured_since).total_seconds())
        if metrics is None or since is None or since < MIN_OBSERVED_WINDOW:
            return None, 0
        spec, ns = rollout.spec, rollout.metadata.namespace
        flavor = next((m.flavor for m in spec.analysis.metrics if m.flavor), None)
        flavor = flavor or flavor_for(_all(controllers))
        if flavor is None and spec.analysis.request_count is None:
            return None, 0  # no way to count requests per backend here
        window = prometheus_duration(float(int(min(since - 1.0, 300.0))))
        counts: dict[str, float] = {}
        deadline = self._deadline()
        try:
            for side, ref in (("canary", spec.canary), ("stable", spec.stable)):
                q = requests_query(
                    spec,
                    flavor=flavor,
                    namespace=ns,
                    targets=self._targets(res),
                    backend=Backend(ref.name, ref.namespace or ns, side),
                    interval=window,
                )
                sample = metrics.query(promql=q, at=now.timestamp(), deadline=deadline)
                counts[side] = 0.0 if sample.empty or sample.value is None else sample.value
        except (MetricsError, TemplateError) as exc:
            log.debug("observed share: %s", exc)
            return None, 0
        total = counts["canary"] + counts["stable"]
        if total < 1:
            return None, 0
        return counts["canary"] / total, round(total)

    def _analysis(
        self, rollout: Rollout, res: Resolved, status: RolloutStatus, now: datetime
    ) -> AnalysisResult | None:
        spec, ns = rollout.spec, rollout.metadata.namespace
        window = analysis_window(spec, status, now)
        if window is None:
            return None
        metrics = self.metrics_for(rollout)
        stamp = rfc3339(now)
        by_name = {m.name: m for m in spec.analysis.metrics}
        results: list[MetricResult]
        if metrics is None:
            results = [
                error_result(m, query="", message="no Prometheus address configured")
                for m in spec.analysis.metrics
            ]
            return summarize(results, time=stamp)
        try:
            planned = measurement_plan(
                spec, namespace=ns, targets=self._targets(res), window=window.seconds
            )
        except TemplateError as exc:
            results = [error_result(m, query="", message=str(exc)) for m in spec.analysis.metrics]
            return summarize(results, time=stamp)
        samples: dict[tuple[str, str], tuple[Sample, Sample, str]] = {}
        errors: dict[str, tuple[str, str]] = {}
        deadline = self._deadline()
        for q in planned:
            if q.metric in errors:
                continue  # the metric is an error already: its other queries change nothing
            if deadline is not None and self.clock() >= deadline:
                errors[q.metric] = (
                    q.value,
                    f"check budget of {self.check_budget:g}s (all queries of one check) "
                    "ran out before this metric was queried",
                )
                continue
            try:
                value = metrics.query(promql=q.value, at=now.timestamp(), deadline=deadline)
                requests = metrics.query(promql=q.requests, at=now.timestamp(), deadline=deadline)
            except MetricsError as exc:
                errors[q.metric] = (q.value, str(exc))
                continue
            samples[(q.metric, q.side)] = (value, requests, q.value)
        results = []
        for name, metric in by_name.items():
            if name in errors:
                query, message = errors[name]
                results.append(error_result(metric, query=query, message=message))
                continue
            canary_value, canary_req, query = samples[(name, "canary")]
            stable = samples.get((name, "stable"))
            results.append(
                judge_metric(
                    metric,
                    canary_value,
                    stable[0] if stable else None,
                    canary_requests=_count(canary_req),
                    stable_requests=_count(stable[1]) if stable else None,
                    min_requests=spec.analysis.min_requests,
                    no_data=spec.analysis.no_data,
                    baseline=status.baseline.get(name),
                    baseline_requests=status.baseline.get(name + ".requests"),
                    query=query,
                )
            )
        return summarize(results, time=stamp)


@dataclass(frozen=True)
class Evaluated:
    """What the route evaluator says about the Rollout's split."""

    share: float | None
    verified: bool
    culprit: str | None
    divergence: str | None = None  # None: spec profile only; "": none; else the first one


def _stays_hands_off(rollout: Rollout, status: RolloutStatus) -> bool:
    """A Failed Rollout that will stay Failed in this pass (no restart: same spec, not
    invalid; no command) writes nothing, so one owner per rule does not concern it: a
    successor that took its rule must not make it Invalid (RuleOwned), which would
    restart it once that successor is done."""
    if status.phase != Phase.FAILED or status.spec_hash != spec_hash(rollout.spec):
        return False
    invalid = status.condition(Cond.INVALID)
    if invalid is not None and invalid.status == "True":
        return False
    command = command_from_annotations(rollout.metadata.annotations)
    return command is None or (
        status.last_command is not None and status.last_command.id == command.id
    )


def _divergence_message(label: str, profile: Profile, result: EffectiveShare) -> str:
    if not result.divergences:
        return ""
    first = result.divergences[0]
    more = f" (+{len(result.divergences) - 1} more)" if len(result.divergences) > 1 else ""
    return (
        f"{label}: {profile.observed_on or profile.name} routes a request of an addressed "
        f"rule differently from the Gateway API spec: {first.message()}{more}"
    )


def _all(controllers: dict[str, dict[str, str]]) -> list[str]:
    """Every parent Gateway's controller over all routes (unknown ones as "")."""
    return [c for by_gateway in controllers.values() for c in by_gateway.values()]


def _count(sample: Sample) -> float:
    return 0.0 if sample.empty or sample.value is None else float(sample.value)
