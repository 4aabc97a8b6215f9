"""Which metrics a Rollout reads: the flavor, taken from the Gateway when not given.

A builtin template needs a data-plane *flavor* (whose metric and label names it uses).
Guessing one is how a release ends up judged by series that do not exist, so a metric
without ``flavor`` takes it from the ``controllerName`` of the GatewayClass of every
Gateway its routes are attached to. Known controllers are below (their documented
controller names); any other controller — or parents of different implementations —
makes the Rollout Invalid with a message naming the field to set, before any route write.
An explicit ``flavor`` always wins (stored Rollouts that say ``traefik`` keep working).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import get_args

from canary.core.models import Flavor, Metric, RolloutSpec
from canary.core.routes.rules import InvalidRollout
from canary.core.routing.profiles import TRAEFIK_CONTROLLER

# GatewayClass spec.controllerName → flavor
CONTROLLER_FLAVORS: dict[str, Flavor] = {
    TRAEFIK_CONTROLLER: "traefik",  # Traefik's kubernetesGateway provider
    "gateway.envoyproxy.io/gatewayclass-controller": "envoy-gateway",  # Envoy Gateway
    "istio.io/gateway-controller": "istio",  # Istio
}
__all__ = ["CONTROLLER_FLAVORS", "TRAEFIK_CONTROLLER", "flavor_for", "with_flavors"]


def flavor_for(controllers: Iterable[str]) -> Flavor | None:
    """The one flavor all ``controllers`` share, or None (unknown, none, or mixed)."""
    flavors = {CONTROLLER_FLAVORS.get(c) for c in controllers}
    if len(flavors) != 1:
        return None
    return next(iter(flavors))


def _describe(controllers: Iterable[str]) -> str:
    names = sorted(set(controllers))
    return ", ".join(names) if names else "none found"


def with_flavors(spec: RolloutSpec, controllers: Iterable[str]) -> RolloutSpec:
    """``spec`` with every metric's flavor filled in from the Gateways' ``controllers``.

    Raises ``InvalidRollout`` naming the field when a flavor is needed and cannot be
    derived: a template without flavor, or a custom query without flavor whose request
    count has no source (neither a flavor nor ``analysis.requestCount``).
    """
    controllers = sorted(set(controllers))
    derived = flavor_for(controllers)
    metrics: list[Metric] = []
    changed = False
    for i, metric in enumerate(spec.analysis.metrics):
        if metric.flavor is not None:
            metrics.append(metric)
            continue
        if metric.template is None and spec.analysis.request_count is not None:
            metrics.append(metric)  # the request count comes from analysis.requestCount
            continue
        if derived is None:
            where = f"spec.analysis.metrics[{i}].flavor"
            known = " | ".join(sorted(get_args(Flavor)))
            if metric.template:
                need = (
                    f"set flavor or query: {where} ({known}), or a query in place of "
                    f"template {metric.template!r} with spec.analysis.requestCount"
                )
            else:
                # a custom query has a value but no request count: minRequests and the
                # observed share need one, from the flavor's counter or requestCount
                need = (
                    f"set flavor or requestCount: {where} ({known}), or "
                    "spec.analysis.requestCount (PromQL counting one backend's requests "
                    "over {{interval}}) — a custom query still needs a request count for "
                    "minRequests and the observed share"
                )
            raise InvalidRollout(
                where,
                f"cannot derive the metrics' flavor from the parent Gateways' controllers "
                f"({_describe(controllers)}); {need}",
            )
        metrics.append(metric.model_copy(update={"flavor": derived}))
        changed = True
    if not changed:
        return spec
    analysis = spec.analysis.model_copy(update={"metrics": metrics})
    return spec.model_copy(update={"analysis": analysis})
