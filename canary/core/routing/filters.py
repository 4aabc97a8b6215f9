"""What filters do to the request, the response headers and the client's answer.

Filters run in the order written (the spec: SHOULD). RequestHeaderModifier: ``set``
overwrites, ``add`` appends to existing values, ``remove`` deletes; names are
case-insensitive. URLRewrite: ``hostname`` replaces Host; ``ReplaceFullPath`` replaces
the path; ``ReplacePrefixMatch`` replaces the matched prefix element-wise (the spec's
table, including the empty and "/" replacements). RequestRedirect builds the Location:
scheme (request's when empty), hostname (request's Host without port when empty), port
(explicit; else the well-known port of an explicit scheme; else the listener's port),
with :80 for http and :443 for https left out; path modified like URLRewrite; the query
string is kept (implementation-specific; Envoy keeps it). ResponseHeaderModifier is
reported as the effect ``{set, add, remove}``. RequestMirror does not change the split.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from canary.core.routing import objects as o
from canary.core.routing.profiles import SPEC, TRAEFIK
from canary.core.routing.request import DEFAULT_PORTS, Request
from canary.core.routing.traefik_rules import join_prefix


@dataclass(slots=True)
class Forwarded:
    """The request as the backend receives it; headers keyed by lower-cased name."""

    method: str
    host: str
    path: str
    query: str
    headers: dict[str, tuple[str, list[str]]]

    @classmethod
    def of(cls, req: Request) -> Forwarded:
        headers: dict[str, tuple[str, list[str]]] = {}
        for name, value in req.headers:
            key = name.lower()
            if key in headers:
                headers[key][1].append(value)
            else:
                headers[key] = (name, [value])
        return cls(req.method, req.authority, req.path, req.query, headers)

    def copy(self) -> Forwarded:
        headers = {k: (n, list(v)) for k, (n, v) in self.headers.items()}
        return Forwarded(self.method, self.host, self.path, self.query, headers)

    def to_dict(self) -> dict[str, Any]:
        return {
            "method": self.method,
            "host": self.host,
            "path": self.path,
            "query": self.query,
            "headers": {n: ", ".join(v) for n, v in self.headers.values()},
        }


@dataclass(slots=True)
class ResponseHeaders:
    set: dict[str, str] = field(default_factory=dict)
    add: dict[str, str] = field(default_factory=dict)
    remove: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {"set": dict(self.set), "add": dict(self.add), "remove": list(self.remove)}


@dataclass(frozen=True, slots=True)
class RedirectResult:
    status: int
    location: str


@dataclass(slots=True)
class FilterOutcome:
    redirect: RedirectResult | None = None
    error: str | None = None  # a filter that cannot run (ExtensionRef): 500
    mirrors: list[str] = field(default_factory=list)


def modify_headers(headers: dict[str, tuple[str, list[str]]], mod: o.HeaderModifier) -> None:
    for name, value in mod.set:
        headers[name.lower()] = (name, [value])
    for name, value in mod.add:
        key = name.lower()
        if key in headers:
            headers[key][1].append(value)
        else:
            headers[key] = (name, [value])
    for name in mod.remove:
        headers.pop(name.lower(), None)


def replace_prefix(path: str, prefix: str, replacement: str) -> str:
    """ReplacePrefixMatch per the spec's table (``prefix`` matched element-wise)."""
    norm = prefix.rstrip("/")
    rest = path[len(norm) :]
    out = replacement.rstrip("/") + rest
    return out or "/"


def modify_path(
    path: str, mod: o.PathModifier | None, match: o.HTTPMatch | None, profile: str = SPEC
) -> str:
    if mod is None:
        return path
    if mod.type == o.REPLACE_FULL_PATH:
        return mod.value or "/"
    prefix = match.path.value if match is not None else "/"
    if profile == TRAEFIK:
        return join_prefix(path, prefix, mod.value)
    return replace_prefix(path, prefix, mod.value)


def _traefik_location(
    r: o.Redirect, fwd: Forwarded, req: Request, match: o.HTTPMatch | None
) -> str:
    """Traefik's RequestRedirect middleware: the client's Host port is kept unless a
    scheme or port is configured; a configured port is always written."""
    scheme = r.scheme or req.scheme
    sent_host, _, sent_port = req.authority.rpartition(":")
    if not sent_host or sent_port.endswith("]") or not sent_port.isdigit():
        sent_host, sent_port = req.authority, ""
    host = r.hostname or sent_host
    if r.port is not None:
        port = str(r.port)
    elif r.scheme in ("http", "https"):
        port = ""
    else:
        port = sent_port
    netloc = f"{host}:{port}" if port else host
    path = modify_path(fwd.path, r.path, match, TRAEFIK)
    if not path.startswith("/"):
        path = "/" + path  # Go's URL.String() with a host
    query = f"?{fwd.query}" if fwd.query else ""
    return f"{scheme}://{netloc}{path}{query}"


def redirect_location(
    r: o.Redirect,
    fwd: Forwarded,
    req: Request,
    listener_port: int,
    match: o.HTTPMatch | None,
    profile: str = SPEC,
) -> str:
    if profile == TRAEFIK:
        return _traefik_location(r, fwd, req, match)
    scheme = r.scheme or req.scheme
    host = r.hostname or req.hostname
    if r.port is not None:
        port = r.port
    elif r.scheme is not None:
        port = DEFAULT_PORTS[r.scheme]
    else:
        port = listener_port
    netloc = host if DEFAULT_PORTS.get(scheme) == port else f"{host}:{port}"
    path = modify_path(fwd.path, r.path, match)
    query = f"?{fwd.query}" if fwd.query else ""
    return f"{scheme}://{netloc}{path}{query}"


def apply_filters(
    filters: tuple[o.Filter, ...],
    fwd: Forwarded,
    response: ResponseHeaders,
    req: Request,
    listener_port: int,
    match: o.HTTPMatch | None,
    profile: str = SPEC,
) -> FilterOutcome:
    """Apply ``filters`` in order to ``fwd`` and ``response`` (mutated in place); the
    ``traefik`` profile rewrites prefixes and builds Locations as Traefik does."""
    outcome = FilterOutcome()
    for f in filters:
        if f.type == o.REQUEST_HEADER_MODIFIER:
            assert f.header_modifier is not None
            modify_headers(fwd.headers, f.header_modifier)
        elif f.type == o.RESPONSE_HEADER_MODIFIER:
            assert f.header_modifier is not None
            mod = f.header_modifier
            response.set.update(mod.set)
            response.add.update(mod.add)
            response.remove.extend(mod.remove)
        elif f.type == o.URL_REWRITE:
            assert f.rewrite is not None
            if f.rewrite.hostname is not None:
                fwd.host = f.rewrite.hostname
            fwd.path = modify_path(fwd.path, f.rewrite.path, match, profile)
        elif f.type == o.REQUEST_REDIRECT:
            assert f.redirect is not None
            location = redirect_location(f.redirect, fwd, req, listener_port, match, profile)
            outcome.redirect = RedirectResult(f.redirect.status_code, location)
        elif f.type == o.REQUEST_MIRROR:
            assert f.mirror is not None
            outcome.mirrors.append(f.mirror.describe())
        else:
            outcome.error = f"filter ExtensionRef {f.extension} cannot be resolved"
    return outcome
