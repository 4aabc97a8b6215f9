"""Which queries a check runs: the measurement plan the metrics adapter executes.

The operator never builds PromQL itself. For each metric of ``spec.analysis`` the plan
lists, for the canary and for the stable backend, the value query and the request-count
query; the adapter runs them and hands the ``Sample``s to ``judge_metric``. Custom
``Metric.query`` texts go through the same renderer as the builtins, once with
``{{backend}}`` = canary and once with stable; their request count comes from
``analysis.requestCount`` when set, else from the metric's ``flavor`` (filled in from the
Gateway's controller by ``canary.core.analysis.flavors.with_flavors`` when omitted), since
"how many requests" is a property of the data plane, not of the user's query.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from canary.core.analysis.promql import TemplateError, render
from canary.core.analysis.templates import Backend, Target, builtin, request_count
from canary.core.models import Flavor, Metric, RolloutSpec


@dataclass(frozen=True)
class PlannedQuery:
    """The queries for one metric and one side (canary or stable)."""

    metric: str
    side: str  # "canary" | "stable"
    value: str  # the value query, as sent
    requests: str  # the companion request-count query
    count_based: bool  # value is errors / requests (significance can be tested)


def _backends(spec: RolloutSpec, namespace: str) -> tuple[Backend, Backend]:
    c, s = spec.canary, spec.stable
    return (
        Backend(c.name, c.namespace or namespace, "canary"),
        Backend(s.name, s.namespace or namespace, "stable"),
    )


def custom_query(
    metric: Metric,
    *,
    spec: RolloutSpec,
    namespace: str,
    targets: Sequence[Target],
    backend: Backend,
    interval: str | None = None,
) -> str:
    """Render ``metric.query`` for one backend; the first addressed rule fills route/rule."""
    assert metric.query is not None
    return render_custom(
        metric.query,
        where=f"metric {metric.name}",
        spec=spec,
        namespace=namespace,
        targets=targets,
        backend=backend,
        interval=interval,
    )


def requests_query(
    spec: RolloutSpec,
    *,
    flavor: Flavor | None,
    namespace: str,
    targets: Sequence[Target],
    backend: Backend,
    interval: str,
) -> str:
    """How many requests ``backend`` served over ``interval``: ``analysis.requestCount``
    when set, else the flavor's request counter."""
    if spec.analysis.request_count is not None:
        return render_custom(
            spec.analysis.request_count,
            where="analysis.requestCount",
            spec=spec,
            namespace=namespace,
            targets=targets,
            backend=backend,
            interval=interval,
        )
    if flavor is None:
        raise TemplateError("no flavor and no analysis.requestCount: cannot count requests")
    return request_count(
        flavor, namespace=namespace, targets=targets, backend=backend, interval=interval
    )


def render_custom(
    text: str,
    *,
    where: str,
    spec: RolloutSpec,
    namespace: str,
    targets: Sequence[Target],
    backend: Backend,
    interval: str | None = None,
) -> str:
    """Render a user's PromQL text for one backend (variables as in ``Metric.query``);
    a TemplateError names ``where`` the text comes from."""
    canary, stable = _backends(spec, namespace)
    variables = {
        "namespace": namespace,
        "canary": canary.name,
        "stable": stable.name,
        "backend": backend.name,
        "backend_namespace": backend.namespace,
        "interval": interval or spec.analysis.interval,
    }
    if targets:
        first = targets[0]
        variables.update(route=first.route, route_kind=first.route_kind, rule=str(first.rule))
        index = first.canary_index if backend.side == "canary" else first.stable_index
        if index is not None:
            variables["backend_index"] = str(index)
    try:
        return render(text, variables)
    except TemplateError as exc:
        raise TemplateError(f"{where}: {exc}") from exc


def window_range(seconds: float) -> str:
    """A PromQL range for a window of ``seconds`` (whole seconds, at least 1s)."""
    return f"{max(1, math.ceil(seconds - 1e-9))}s"


def measurement_plan(
    spec: RolloutSpec,
    *,
    namespace: str,
    targets: Sequence[Target],
    window: float | None = None,
) -> list[PlannedQuery]:
    """For each metric: canary then stable queries. ``targets``: the addressed rules,
    resolved to indexes (rule names are resolved by the route evaluator, not here).
    ``window``: the range in seconds when it is not ``analysis.interval`` (a window that
    reaches back over quiet checks, ``canary.core.rollout.schedule.analysis_window``)."""
    plan: list[PlannedQuery] = []
    interval = spec.analysis.interval if window is None else window_range(window)
    for metric in spec.analysis.metrics:
        for backend in _backends(spec, namespace):
            requests: str | None = None  # the template's companion count
            count_based = False
            if metric.template is not None:
                if metric.flavor is None:
                    raise TemplateError(f"metric {metric.name}: no flavor (set flavor)")
                q = builtin(
                    metric.template,
                    metric.flavor,
                    namespace=namespace,
                    targets=targets,
                    backend=backend,
                    interval=interval,
                    quantile=metric.quantile,
                )
                value, requests, count_based = q.value, q.requests, q.count_based
            else:
                value = custom_query(
                    metric,
                    spec=spec,
                    namespace=namespace,
                    targets=targets,
                    backend=backend,
                    interval=interval,
                )
            # analysis.requestCount, when set, backs every metric; else the template's own
            # companion count, or the flavor's counter for a custom query
            if requests is None or spec.analysis.request_count is not None:
                requests = requests_query(
                    spec,
                    flavor=metric.flavor,
                    namespace=namespace,
                    targets=targets,
                    backend=backend,
                    interval=interval,
                )
            plan.append(PlannedQuery(metric.name, backend.side, value, requests, count_based))
    return plan
