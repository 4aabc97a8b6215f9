"""Parse already-loaded YAML/JSON documents into typed objects, applying CRD defaults.

Validation follows the CRD schema and CEL rules of the standard channel: whatever the
API server would refuse is an :class:`InputError` naming the document and the field
(for example ``HTTPRoute app/web: spec.rules[0].backendRefs[1].port: required for a
Service reference``), never a crash later on.

In the operator one such object must not stop the evaluator for every Rollout:
``parse_objects(docs, skip_invalid=True)`` leaves it out and records it (``Skipped``);
``isolation.py`` tells which routes need it.
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
_SERVICE_LABEL = "kubernetes.io/service-name"  # an EndpointSlice's Service


def _group(api_version: str) -> str:
    return api_version.rsplit("/", 1)[0] if "/" in api_version else ""


def _doc_of(raw: Mapping[str, Any], index: int) -> Doc:
    kind = raw.get("kind")
    meta = raw.get("metadata")
    name = meta.get("name") if isinstance(meta, Mapping) else None
    ns = meta.get("namespace") if isinstance(meta, Mapping) else None
    label = str(kind) if isinstance(kind, str) and kind else f"document #{index + 1}"
    return Doc(label, str(ns) if isinstance(ns, str) and ns else "default", str(name or "?"))


def flatten(docs: Iterable[Any], skipped: list[o.Skipped] | None = None) -> list[Mapping[str, Any]]:
    """Drop empty documents and expand ``kind: List`` / ``*List`` wrappers.

    A document that is not an object raises :class:`InputError`, or is recorded in
    ``skipped`` when a list is given (lenient parsing).
    """
    out: list[Mapping[str, Any]] = []
    for index, raw in enumerate(docs):
        if raw is None:
            continue
        try:
            if not isinstance(raw, Mapping):
                raise o.InputError(f"document #{index + 1}", "", "not a mapping (object)")
            kind = raw.get("kind")
            if isinstance(kind, str) and kind.endswith("List") and "items" in raw:
                items = raw.get("items")
                if not isinstance(items, list):
                    raise o.InputError(f"{kind} #{index + 1}", "items", "must be a list")
                out.extend(flatten(items, skipped))
            else:
                out.append(raw)
        except o.InputError as exc:
            if skipped is None:
                raise
            error = f"{exc.path}: {exc.message}" if exc.path else exc.message
            skipped.append(o.Skipped(exc.doc, "", "", error))
    return out


class _Collector:
    """The objects parsed so far; a document is added only once it parsed completely."""

    def __init__(self) -> None:
        self.gateways: list[o.Gateway] = []
        self.classes: list[str] = []
        self.routes: list[o.Route] = []
        self.services: list[o.Service] = []
        self.grants: list[o.ReferenceGrant] = []
        self.namespaces: dict[str, dict[str, str]] = {}
        self.slices: dict[tuple[str, str], bool] = {}
        self.slices_given = False
        self.ignored: list[str] = []
        self.skipped: list[o.Skipped] = []

    def add(self, doc: Doc, raw: Mapping[str, Any]) -> None:
        """Parse one document into the collections; raises :class:`InputError`."""
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
                self.classes.append(doc.name)
            elif kind == "Gateway":
                self.gateways.append(_gateway(doc, spec))
            elif kind == "ReferenceGrant":
                self.grants.append(_grant(doc, spec))
            else:
                created = meta.get("creationTimestamp")
                self.routes.append(_route(doc, kind, spec, str(created) if created else None))
        elif group == "" and kind in _CORE_KINDS:
            if kind == "Service":
                self.services.append(_service(doc, spec))
            else:
                labels = doc.str_map(meta, "labels", "metadata.labels")
                self.namespaces[doc.name] = {**labels, "kubernetes.io/metadata.name": doc.name}
        elif group == "discovery.k8s.io" and kind in _DISCOVERY_KINDS:
            svc, ready = _slice(doc, raw)
            if svc is None:  # valid in Kubernetes: a slice of no Service; nothing needs it
                self.skipped.append(
                    o.Skipped(
                        doc.kind,
                        doc.namespace,
                        doc.name,
                        f"metadata.labels: no {_SERVICE_LABEL} label: belongs to no Service",
                    )
                )
                return
            self.slices_given = True
            key = (doc.namespace, svc)
            self.slices[key] = self.slices.get(key, False) or ready
        elif kind in _IGNORED_KINDS:
            self.ignored.append(doc.ref)
        else:
            raise o.InputError(doc.ref, "kind", f"unknown kind {kind!r} (apiVersion {api!r})")

    def objects(self) -> o.Objects:
        return o.Objects(
            gateways=tuple(self.gateways),
            gateway_classes=tuple(self.classes),
            routes=tuple(self.routes),
            services=tuple(self.services),
            grants=tuple(self.grants),
            namespaces=self.namespaces,
            slices=self.slices,
            slices_given=self.slices_given,
            ignored=tuple(self.ignored),
            skipped=tuple(self.skipped),
        )


def parse_objects(docs: Iterable[Any], *, skip_invalid: bool = False) -> o.Objects:
    """Parse documents (dicts as loaded from YAML or JSON) into :class:`Objects`.

    The first document that cannot be parsed raises :class:`InputError` — or, with
    ``skip_invalid``, is left out and recorded in ``Objects.skipped`` with the error and
    what could still be read of it (see :class:`Skipped`). An EndpointSlice without the
    ``kubernetes.io/service-name`` label is valid Kubernetes: it is skipped in both modes.
    """
    out = _Collector()
    for index, raw in enumerate(flatten(docs, out.skipped if skip_invalid else None)):
        doc = _doc_of(raw, index)
        try:
            out.add(doc, raw)
        except o.InputError as exc:
            if not skip_invalid:
                raise
            out.skipped.append(_skipped(doc, raw, exc))
    return out.objects()


def _skipped(doc: Doc, raw: Mapping[str, Any], exc: o.InputError) -> o.Skipped:
    """What can still be read of a document that failed: a route's head, a slice's Service."""
    error = f"{exc.path}: {exc.message}" if exc.path else exc.message
    kind = raw.get("kind")
    spec = raw.get("spec")
    route = None
    if kind in (o.HTTP_ROUTE, o.GRPC_ROUTE) and isinstance(spec, Mapping):
        try:
            hostnames, parents = _route_head(doc, spec)
            route = o.Route(str(kind), doc.namespace, doc.name, None, hostnames, parents, ())
        except o.InputError:
            route = None
    service = None
    if kind == "EndpointSlice":
        meta = raw.get("metadata")
        labels = meta.get("labels") if isinstance(meta, Mapping) else None
        value = labels.get(_SERVICE_LABEL) if isinstance(labels, Mapping) else None
        service = value if isinstance(value, str) and value else None
        if service is None:
            service = "?"  # unreadable labels: which Service it serves is unknown
    return o.Skipped(doc.kind, doc.namespace, doc.name, error, route, service)


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


def _slice(doc: Doc, raw: Mapping[str, Any]) -> tuple[str | None, bool]:
    """(the Service the slice belongs to, None when unlabelled; any endpoint ready)."""
    labels = doc.str_map(raw["metadata"], "labels", "metadata.labels")
    svc = labels.get(_SERVICE_LABEL) or None
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


def _route_head(
    doc: Doc, spec: Mapping[str, Any]
) -> tuple[tuple[str, ...], tuple[o.ParentRef, ...]]:
    """A route's hostnames and parentRefs: where it attaches (rules aside)."""
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
    return tuple(dict.fromkeys(hostnames)), tuple(parents)


def _route(doc: Doc, kind: str, spec: Mapping[str, Any], created: str | None) -> o.Route:
    hostnames, parents = _route_head(doc, spec)
    rules = parse_rules(doc, kind, spec)
    return o.Route(kind, doc.namespace, doc.name, created, hostnames, parents, rules)
