"""Builtin queries: error rate, latency quantile and request rate, per data-plane flavor.

Each builtin measures ONE backend (canary or stable) over the addressed rules and comes with
a companion request-count query, so a verdict knows how many requests back a value (and a
5 % canary with 3 requests is *inconclusive*, not a pass or a failure).

Counts over a window are ``(S - S offset i) >= 0 or S`` per series (``counted``: a series
born inside the window counts from zero, which ``increase()`` cannot do). Error rates are
``(sum(counted(errors)) or vector(0)) / sum(counted(all))``:
gateways create a ``code="500"`` series only after the first 500, so without ``or vector(0)``
a healthy canary would answer "no data" (Flagger's failure mode). With no traffic at all the
denominator is empty and the answer is still, correctly, no data.

Sources of every metric and label name (also in docs/analysis.md):

- traefik: ``tests/unit/analysis/samples/traefik.prom`` (verbatim from a running Traefik 3.7.15):
  ``traefik_service_requests_total{code,method,protocol,service}``,
  ``traefik_service_request_duration_seconds_bucket{…,le}``; ``service`` is
  ``<kind>-<routeNs>-<route>-gw-<gwNs>-<gw>-ep-<ep>-<ruleIdx>-<20 hex>-svc-<backendNs>-<svc>-
  <refIdx>@kubernetesgateway`` with route parts passed through ``Normalize``.
- envoy-gateway: cluster names ``<kind>/<ns>/<route>/rule/<n>`` and per-backend
  ``…/rule/<n>/backend/<i>`` from envoyproxy/gateway internal/gatewayapi/helpers.go
  (``irRouteDestinationName``, ``irDestinationSettingName``) and
  api/v1alpha1/envoyproxy_metric_types.go (``ClusterStatName`` default); Envoy's
  ``envoy_cluster_upstream_rq_xx{envoy_response_code_class}`` and
  ``envoy_cluster_upstream_rq_time_bucket`` (milliseconds) from envoyproxy/envoy
  docs/root/configuration/upstream/cluster_manager/cluster_stats.rst and the tag names
  in source/common/config/well_known_names.cc.
  Caveat: by default Envoy Gateway puts every backendRef of a rule into ONE cluster
  (a locality per backend, internal/xds/translator/cluster.go), so per-backend series exist
  only when it emits per-backend clusters; otherwise the query answers no data (noData
  policy), never a blended value. See docs/analysis.md.
- istio: https://istio.io/latest/docs/reference/config/metrics/ — ``istio_requests_total``
  and ``istio_request_duration_milliseconds_bucket`` with ``reporter``,
  ``destination_service_name``, ``destination_service_namespace``, ``response_code``.
- app: the demo backends (stack/backend.py: ``http_requests_total{code,method}``,
  ``http_request_duration_seconds`` histogram) scraped with ``namespace`` and ``service``
  target labels (stack/templates/prometheus.yml; prometheus-operator ServiceMonitors add
  the same two labels).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from canary.core.analysis.promql import TemplateError, render
from canary.core.models import Flavor, TemplateName

DEFAULT_QUANTILE = 0.99


@dataclass(frozen=True)
class Target:
    """One addressed rule, resolved to its index, and where the two backends sit in it."""

    route: str
    rule: int
    route_kind: str = "HTTPRoute"
    canary_index: int | None = None  # 0-based backendRef position (envoy-gateway needs it)
    stable_index: int | None = None


@dataclass(frozen=True)
class Backend:
    """The backend one query measures."""

    name: str
    namespace: str
    side: str  # "canary" | "stable"


@dataclass(frozen=True)
class BuiltinQuery:
    """A rendered query for one backend and its companion request count."""

    value: str
    requests: str
    count_based: bool  # value is errors / requests, so counts can be tested (significance)
    unit: str  # "ratio", "seconds" or "requests/s"


@dataclass(frozen=True)
class _Family:
    requests: str  # counter of all requests
    errors: str  # the same requests restricted to 5xx (extra matchers)
    bucket: str  # latency histogram buckets
    scale: str  # "" or " / 1000" to turn milliseconds into seconds


_FAMILIES: dict[str, _Family] = {
    "traefik": _Family(
        "traefik_service_requests_total",
        'code=~"5.."',
        "traefik_service_request_duration_seconds_bucket",
        "",
    ),
    "envoy-gateway": _Family(
        "envoy_cluster_upstream_rq_xx",
        'envoy_response_code_class="5"',
        "envoy_cluster_upstream_rq_time_bucket",
        " / 1000",
    ),
    "istio": _Family(
        "istio_requests_total",
        'response_code=~"5.."',
        "istio_request_duration_milliseconds_bucket",
        " / 1000",
    ),
    "app": _Family(
        "http_requests_total",
        'code=~"5.."',
        "http_request_duration_seconds_bucket",
        "",
    ),
}


def _vars(namespace: str, target: Target | None, backend: Backend) -> dict[str, str]:
    out = {
        "namespace": namespace,
        "backend": backend.name,
        "backend_namespace": backend.namespace,
    }
    if target is not None:
        out.update(route=target.route, rule=str(target.rule), route_kind=target.route_kind)
        index = target.canary_index if backend.side == "canary" else target.stable_index
        if index is not None:
            out["backend_index"] = str(index)
    return out


def _kind_prefix(target: Target) -> str:
    render("{{route_kind}}", {"route_kind": target.route_kind})  # validates
    return target.route_kind.lower()


def selector(flavor: Flavor, *, namespace: str, targets: Sequence[Target], backend: Backend) -> str:
    """The label matchers (without braces) that pick ``backend``'s series on those rules."""
    if flavor in ("traefik", "envoy-gateway"):
        if not targets:
            raise TemplateError(f"flavor {flavor} needs at least one addressed rule")
        frags: list[str] = []
        for t in targets:
            if flavor == "traefik":
                tmpl = (
                    _kind_prefix(t) + "-{{namespace|traefik}}-{{route|traefik}}-gw-.+-ep-.+"
                    "-{{rule}}-[0-9a-f]{20}-svc-{{backend_namespace|traefik}}-{{backend|traefik}}"
                    "-[0-9]+@kubernetesgateway"
                )
            else:
                if (t.canary_index if backend.side == "canary" else t.stable_index) is None:
                    raise TemplateError(
                        f"flavor envoy-gateway needs the {backend.side} backendRef index "
                        f"in {t.route_kind}/{t.route} rule {t.rule}"
                    )
                tmpl = (
                    _kind_prefix(t) + "/{{namespace|re}}/{{route|re}}/rule/{{rule}}"
                    "/backend/{{backend_index}}"
                )
            frag = render(tmpl, _vars(namespace, t, backend))
            if frag not in frags:
                frags.append(frag)
        label = "service" if flavor == "traefik" else "envoy_cluster_name"
        alternatives = frags[0] if len(frags) == 1 else "(?:" + "|".join(frags) + ")"
        return f'{label}=~"{alternatives}"'
    if flavor == "istio":
        tmpl = (
            'reporter="source",destination_service_namespace="{{backend_namespace}}",'
            'destination_service_name="{{backend}}"'
        )
    else:  # app
        tmpl = 'namespace="{{backend_namespace}}",service="{{backend}}"'
    return render(tmpl, _vars(namespace, None, backend))


def counted(series: str, rng: str) -> str:
    """What ``series`` (counters) counted over the window ``rng``, per series:
    ``(S - S offset rng) >= 0 or S``. Unlike ``increase(S[rng])``, a series born inside the
    window counts from zero (gateways create ``code="500"`` at the first 500, and
    ``increase()`` never sees a series' first sample, so a fault used to wait for its
    second failing request's window); a counter reset counts from the reset; and the
    count is the requests scraped in the window, not extrapolated to its edges."""
    return f"(({series} - {series} offset {rng}) >= 0 or {series})"


def _requests(family: _Family, sel: str, rng: str) -> str:
    return f"sum{counted(f'{family.requests}{{{sel}}}', rng)}"


def request_count(
    flavor: Flavor, *, namespace: str, targets: Sequence[Target], backend: Backend, interval: str
) -> str:
    """``sum((R - R offset i) >= 0 or R)`` over the backend's request counter — the
    requests behind a value (see ``counted``)."""
    sel = selector(flavor, namespace=namespace, targets=targets, backend=backend)
    return _requests(_FAMILIES[flavor], sel, render("{{interval}}", {"interval": interval}))


def builtin(
    template: TemplateName,
    flavor: Flavor,
    *,
    namespace: str,
    targets: Sequence[Target],
    backend: Backend,
    interval: str,
    quantile: float | None = None,
) -> BuiltinQuery:
    """Render a builtin template for one backend, with its request-count companion."""
    family = _FAMILIES[flavor]
    sel = selector(flavor, namespace=namespace, targets=targets, backend=backend)
    rng = render("{{interval}}", {"interval": interval})
    requests = _requests(family, sel, rng)
    if template == "error-rate":
        errors = f"sum{counted(f'{family.requests}{{{sel},{family.errors}}}', rng)}"
        return BuiltinQuery(f"({errors} or vector(0)) / {requests}", requests, True, "ratio")
    if template == "latency":
        q = render("{{quantile}}", {"quantile": str(quantile or DEFAULT_QUANTILE)})
        value = (
            f"histogram_quantile({q}, sum by (le) "
            f"{counted(f'{family.bucket}{{{sel}}}', rng)}){family.scale}"
        )
        return BuiltinQuery(value, requests, False, "seconds")
    value = f"sum(rate({family.requests}{{{sel}}}[{rng}]))"
    return BuiltinQuery(value, requests, False, "requests/s")
