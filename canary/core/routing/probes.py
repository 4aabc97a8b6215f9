"""Representative requests: the simplest request each match of a rule accepts.

For an HTTP match: the path value itself (Exact or PathPrefix), every Exact header and
query parameter, the method (GET when none). For a gRPC match: the service and method
(``canary.Probe`` / ``Probe`` when one is left open) and Exact headers. The host is each
of the route's effective hostnames on the listener (a wildcard becomes
``canary-probe.<suffix>``), the scheme and port those of the listener. A
RegularExpression anywhere in a match gives no probe (we cannot invent a string a
regex accepts in general): the caller reports it.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import quote

from canary.core.routing import objects as o
from canary.core.routing.attach import Attachment
from canary.core.routing.hostnames import probe_host
from canary.core.routing.request import Request, make_request


@dataclass(frozen=True, slots=True)
class Probe:
    attachment: Attachment
    rule: o.Rule
    match_index: int
    match: o.HTTPMatch | o.GRPCMatch | None
    hostname: str  # the effective hostname probed
    request: Request | None  # None: a regex makes the match unprobeable
    why_not: str = ""


def _http_probe(m: o.HTTPMatch, base: str, gateway: str) -> tuple[Request | None, str]:
    if m.path.type == o.REGEX:
        return None, f"RegularExpression path {m.path.value!r}"
    for v in m.headers + m.query:
        if v.regex is not None:
            return None, f"RegularExpression value for {v.name!r}"
    query = "&".join(f"{quote(q.name)}={quote(q.value)}" for q in m.query)
    url = base + m.path.value + (f"?{query}" if query else "")
    headers = [(h.name, h.value) for h in m.headers]
    return make_request(m.method or "GET", url, headers, gateway=gateway), ""


def _grpc_probe(m: o.GRPCMatch | None, base: str, gateway: str) -> tuple[Request | None, str]:
    if m is None:
        return make_request("POST", base, grpc=("canary.Probe", "Probe"), gateway=gateway), ""
    if m.type == o.REGEX:
        return None, "RegularExpression gRPC method match"
    for h in m.headers:
        if h.regex is not None:
            return None, f"RegularExpression value for header {h.name!r}"
    grpc = (m.service or "canary.Probe", m.method or "Probe")
    headers = [(h.name, h.value) for h in m.headers]
    return make_request("POST", base, headers, grpc=grpc, gateway=gateway), ""


def probes(att: Attachment, rule: o.Rule) -> list[Probe]:
    """One probe per match of ``rule`` and effective hostname of the attachment."""
    lst = att.listener
    scheme = "https" if lst.protocol == "HTTPS" else "http"
    out: list[Probe] = []
    matches: list[tuple[int, o.HTTPMatch | o.GRPCMatch | None]] = list(enumerate(rule.matches))
    if not matches:
        matches = [(0, None)]
    for hostname in att.hostnames:
        base = f"{scheme}://{probe_host(hostname)}:{lst.port}"
        for i, m in matches:
            if isinstance(m, o.HTTPMatch):
                req, why = _http_probe(m, base, att.gateway.key)
            else:
                req, why = _grpc_probe(m, base, att.gateway.key)
            out.append(Probe(att, rule, i, m, hostname, req, why))
    return out
