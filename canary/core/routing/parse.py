"""Parse already-loaded YAML/JSON documents into typed objects, applying CRD defaults.

Validation follows the CRD schema and CEL rules of the standard channel: whatever the
API server would refuse is an :class:`InputError` naming the document and the field
(for example ``HTTPRoute app/web: spec.rules[0].backendRefs[1].port: required for a
Service reference``), never a crash later on.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from canary.core.routing import objects as o
from canary.core.routing.fieldcheck import Doc
from canary.core.routing.parse_rules import parse_rules

# Kinds the evaluator reads, by API group.
_GATEWAY_KINDS = {"GatewayClass", "Gateway", "HTTPRoute", "GRPCRoute", "ReferenceGrant"}
_CORE_KINDS = {"Service", "Namespace"}
_DISCOVERY_KINDS = {"EndpointSlice"}
# Kinds that commonly sit next to routes in a manifest; skipped with a note.
_IGNORED_KINDS = {
    "Rollout",
    "Deployment",
    "StatefulSet",
    "DaemonSet",
    "ReplicaSet",
    "Pod",
    "ConfigMap",
    "Secret",
    "ServiceAccount",
    "Ingress",
    "Endpoints",
    "TLSRoute",
    "TCPRoute",
    "UDPRoute",
    "BackendTLSPolicy",
    "Job",
    "CronJob",
    "HorizontalPodAutoscaler",
    "PodDisruptionBudget",
    "NetworkPolicy",
    "Role",
    "RoleBinding",
    "ClusterRole",
    "ClusterRoleBinding",
}

_PROTOCOLS_WITH_HOSTNAME = {"HTTP", "HTTPS", "TLS"}


def _group(api_version: str) -> str:
    return api_version.rsplit("/", 1)[0] if "/" in api_version else ""


def _doc_of(raw: Mapping[str, Any], index: int) -> Doc:
    kind = raw.get("kind")
    meta = raw.get("metadata")
    name = meta.get("name") if isinstance(meta, Mapping) else None
    ns = meta.get("namespace") if isinstance(meta, Mapping) else None
    label = str(kind) if isinstance(kind, str) and kind else f"document #{index + 1}"
    return Doc(label, str(ns) if isinstance(ns, str) and ns else "default", str(name or "?"))


def flatten(docs: Iterable[Any]) -> list[Mapping[str, Any]]:
    """Drop empty documents and expand ``kind: List`` / ``*List`` wrappers."""
    out: list[Mapping[str, Any]] = []
    for index, raw in enumerate(docs):
        if raw is None:
            continue
        if not isinstance(raw, Mapping):
            raise o.InputError(f"document #{index + 1}", "", "not a mapping (object)")
        kind = raw.get("kind")
        if isinstance(kind, str) and kind.endswith("List") and "items" in raw:
            items = raw.get("items")
            if not isinstance(items, list):
                raise o.InputError(f"{kind} #{index + 1}", "items", "must be a list")
            out.extend(flatten(items))
        else:
            out.append(raw)
    return out


def parse_objects(docs: Iterable[Any]) -> o.Objects:
    """Parse documents (dicts as loaded from YAML or JSON) into :class:`Objects`."""
    gateways: list[o.Gateway] = []
    classes: list[str] = []
    routes: list[o.Route] = []
    services: list[o.Service] = []
    grants: list[o.ReferenceGrant] = []
    namespaces: dict[str, dict[str, str]] = {}
    slices: dict[tuple[str, str], bool] = {}
    slices_given = False
    ignored: list[str] = []
    for index, raw in enumerate(flatten(docs)):
        doc = _doc_of(raw, index)
        kind = doc.req_str(raw, "kind")
        api = doc.req_str(raw, "apiVersion")
        group = _group(api)
        doc.mapping(raw, "metadata", required=True)
        meta = raw["metadata"]
        doc.req_str(meta, "name", "metadata.name")
        spec: Mapping[str, Any] = doc.mapping(raw, "spec") or {}
        if group == o.GATEWAY_GROUP and kind in _GATEWAY_KINDS:
            if kind == "GatewayClass":
                doc.req_str(spec, "controllerName", "spec.controllerName")
                classes.append(doc.name)
            elif kind == "Gateway":
                gateways.append(_gateway(doc, spec))
            elif kind == "ReferenceGrant":
                grants.append(_grant(doc, spec))
            else:
                created = meta.get("creationTimestamp")
                routes.append(_route(doc, kind, spec, str(created) if created else None))
        elif group == "" and kind in _CORE_KINDS:
            if kind == "Service":
                services.append(_service(doc, spec))
            else:
                labels = doc.str_map(meta, "labels", "metadata.labels")
                namespaces[doc.name] = {**labels, "kubernetes.io/metadata.name": doc.name}
        elif group == "discovery.k8s.io" and kind in _DISCOVERY_KINDS:
            slices_given = True
            svc, ready = _slice(doc, raw)
            key = (doc.namespace, svc)
            slices[key] = slices.get(key, False) or ready
        elif kind in _IGNORED_KINDS:
            ignored.append(doc.ref)
        else:
            raise o.InputError(doc.ref, "kind", f"unknown kind {kind!r} (apiVersion {api!r})")
    return o.Objects(
        gateways=tuple(gateways),
        gateway_classes=tuple(classes),
        routes=tuple(routes),
        services=tuple(services),
        grants=tuple(grants),
        namespaces=namespaces,
        slices=slices,
        slices_given=slices_given,
        ignored=tuple(ignored),
    )


def _selector(doc: Doc, raw: Mapping[str, Any] | None, path: str) -> o.LabelSelector:
    if raw is None:
        return o.LabelSelector()
    labels = doc.str_map(raw, "matchLabels", f"{path}.matchLabels")
    reqs: list[o.Requirement] = []
    for i, expr in enumerate(doc.list(raw, "matchExpressions", f"{path}.matchExpressions")):
        p = f"{path}.matchExpressions[{i}]"
        key = doc.req_str(expr, "key", f"{p}.key")
        op = doc.enum(expr, "operator", f"{p}.operator", ("In", "NotIn", "Exists", "DoesNotExist"))
        values = tuple(str(v) for v in doc.list(expr, "values", f"{p}.values", item=str))
        if op in ("In", "NotIn") and not values:
            raise o.InputError(doc.ref, f"{p}.values", f"must be non-empty for operator {op}")
        reqs.append(o.Requirement(key, op, values))
    return o.LabelSelector(tuple(sorted(labels.items())), tuple(reqs))


def _gateway(doc: Doc, spec: Mapping[str, Any]) -> o.Gateway:
    class_name = doc.req_str(spec, "gatewayClassName", "spec.gatewayClassName")
    listeners: list[o.Listener] = []
    raw_listeners = doc.list(spec, "listeners", "spec.listeners", required=True)
    for i, raw in enumerate(raw_listeners):
        p = f"spec.listeners[{i}]"
        name = doc.req_str(raw, "name", f"{p}.name")
        port = doc.port(raw, "port", f"{p}.port", required=True)
        assert port is not None
        protocol = doc.req_str(raw, "protocol", f"{p}.protocol")
        hostname = doc.hostname(raw, "hostname", f"{p}.hostname", wildcard=True)
        if hostname is not None and protocol not in _PROTOCOLS_WITH_HOSTNAME:
            raise o.InputError(doc.ref, f"{p}.hostname", f"not allowed for protocol {protocol}")
        allowed = doc.mapping(raw, "allowedRoutes", f"{p}.allowedRoutes") or {}
        nss = doc.mapping(allowed, "namespaces", f"{p}.allowedRoutes.namespaces") or {}
        np = f"{p}.allowedRoutes.namespaces"
        frm = doc.enum(nss, "from", f"{np}.from", ("Same", "All", "Selector"), default="Same")
        sel_raw = doc.mapping(nss, "selector", f"{np}.selector")
        if frm == "Selector" and sel_raw is None:
            raise o.InputError(doc.ref, f"{np}.selector", "required when from is Selector")
        selector = _selector(doc, sel_raw, f"{np}.selector") if frm == "Selector" else None
        kinds: list[tuple[str, str]] = []
        for j, k in enumerate(doc.list(allowed, "kinds", f"{p}.allowedRoutes.kinds")):
            kp = f"{p}.allowedRoutes.kinds[{j}]"
            kinds.append(
                (
                    doc.opt_str(k, "group", f"{kp}.group", o.GATEWAY_GROUP),
                    doc.req_str(k, "kind", f"{kp}.kind"),
                )
            )
        listeners.append(o.Listener(name, port, protocol, hostname, frm, selector, tuple(kinds)))
    names = [lst.name for lst in listeners]
    for name in names:
        if names.count(name) > 1:
            raise o.InputError(doc.ref, "spec.listeners", f"listener name {name!r} not unique")
    return o.Gateway(doc.namespace, doc.name, class_name, tuple(listeners))


def _service(doc: Doc, spec: Mapping[str, Any]) -> o.Service:
    ports: set[int] = set()
    for i, raw in enumerate(doc.list(spec, "ports", "spec.ports")):
        port = doc.port(raw, "port", f"spec.ports[{i}].port", required=True)
        assert port is not None
        ports.add(port)
    svc_type = doc.opt_str(spec, "type", "spec.type", "ClusterIP")
    return o.Service(doc.namespace, doc.name, frozenset(ports), svc_type)


def _slice(doc: Doc, raw: Mapping[str, Any]) -> tuple[str, bool]:
    labels = doc.str_map(raw["metadata"], "labels", "metadata.labels")
    svc = labels.get("kubernetes.io/service-name")
    if not svc:
        raise o.InputError(doc.ref, "metadata.labels", "kubernetes.io/service-name is required")
    ready = False
    for i, ep in enumerate(doc.list(raw, "endpoints", "endpoints")):
        cond = doc.mapping(ep, "conditions", f"endpoints[{i}].conditions") or {}
        if cond.get("ready") is not False:
            ready = True
    return svc, ready


def _grant(doc: Doc, spec: Mapping[str, Any]) -> o.ReferenceGrant:
    froms: list[o.GrantFrom] = []
    for i, raw in enumerate(doc.list(spec, "from", "spec.from", required=True)):
        p = f"spec.from[{i}]"
        froms.append(
            o.GrantFrom(
                doc.req_str(raw, "group", f"{p}.group", allow_empty=True),
                doc.req_str(raw, "kind", f"{p}.kind"),
                doc.req_str(raw, "namespace", f"{p}.namespace"),
            )
        )
    tos: list[o.GrantTo] = []
    for i, raw in enumerate(doc.list(spec, "to", "spec.to", required=True)):
        p = f"spec.to[{i}]"
        name = doc.opt_str(raw, "name", f"{p}.name", "") or None
        tos.append(
            o.GrantTo(
                doc.req_str(raw, "group", f"{p}.group", allow_empty=True),
                doc.req_str(raw, "kind", f"{p}.kind"),
                name,
            )
        )
    return o.ReferenceGrant(doc.namespace, doc.name, tuple(froms), tuple(tos))


def _route(doc: Doc, kind: str, spec: Mapping[str, Any], created: str | None) -> o.Route:
    hostnames: list[str] = []
    for i, _ in enumerate(doc.list(spec, "hostnames", "spec.hostnames", item=str)):
        h = doc.hostname(spec["hostnames"], i, f"spec.hostnames[{i}]", wildcard=True)
        assert h is not None
        hostnames.append(h)
    parents: list[o.ParentRef] = []
    for i, raw in enumerate(doc.list(spec, "parentRefs", "spec.parentRefs")):
        p = f"spec.parentRefs[{i}]"
        parents.append(
            o.ParentRef(
                group=doc.opt_str(raw, "group", f"{p}.group", o.GATEWAY_GROUP),
                kind=doc.opt_str(raw, "kind", f"{p}.kind", "Gateway"),
                namespace=doc.opt_str(raw, "namespace", f"{p}.namespace", doc.namespace),
                name=doc.req_str(raw, "name", f"{p}.name"),
                section_name=doc.opt_str(raw, "sectionName", f"{p}.sectionName", "") or None,
                port=doc.port(raw, "port", f"{p}.port"),
            )
        )
    rules = parse_rules(doc, kind, spec)
    return o.Route(
        kind,
        doc.namespace,
        doc.name,
        created,
        tuple(dict.fromkeys(hostnames)),
        tuple(parents),
        rules,
    )
