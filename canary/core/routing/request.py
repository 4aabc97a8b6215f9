"""The request being evaluated, parsed once so that matching is dictionary look-ups.

``make_request("GET", "http://api.example.com/users?x=1", [("X-Api-Version", "v2")])``
parses the URL (scheme and port select the listener; the Host header, when given,
overrides the URL's authority for hostname matching, as with ``curl -H Host:``).
Header names are case-insensitive; a repeated header is matched against its values
joined with "," (what Envoy does; the spec leaves it implementation-specific). A
repeated query parameter is matched by its first value, as the spec recommends.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from urllib.parse import parse_qsl, urlsplit

from canary.core.routing.fieldcheck import HEADER_NAME

DEFAULT_PORTS = {"http": 80, "https": 443}  # well-known ports per scheme
GRPC_CONTENT_TYPE = "application/grpc"


class RequestError(ValueError):
    """The request given to evaluate is malformed (bad URL, header or gRPC method)."""


@dataclass(frozen=True, slots=True)
class Request:
    method: str
    scheme: str
    authority: str  # Host as the client sent it (may include a port)
    hostname: str  # lower-cased, without port: what hostnames match against
    port: int  # selects the listener
    path: str  # without the query string
    query: str  # raw query string ("" when none)
    headers: tuple[tuple[str, str], ...]  # as sent, in order (without Host)
    grpc: tuple[str, str] | None = None  # (service, method) for gRPC requests
    gateway: str | None = None  # "ns/name" when the caller names the Gateway
    header_index: Mapping[str, str] = field(default_factory=dict)  # lower name -> joined
    query_index: Mapping[str, str] = field(default_factory=dict)  # name -> first value

    def describe(self) -> str:
        extra = "".join(f" [{n}: {v}]" for n, v in self.headers)
        q = f"?{self.query}" if self.query else ""
        return f"{self.method} {self.scheme}://{self.authority}{self.path}{q}{extra}"


def _index(headers: Iterable[tuple[str, str]]) -> dict[str, str]:
    joined: dict[str, str] = {}
    for name, value in headers:
        key = name.lower()
        joined[key] = f"{joined[key]},{value}" if key in joined else value
    return joined


def make_request(
    method: str,
    url: str,
    headers: Iterable[tuple[str, str]] = (),
    *,
    grpc: tuple[str, str] | None = None,
    gateway: str | None = None,
) -> Request:
    """Build a :class:`Request`; raises :class:`RequestError` on a malformed URL/header."""
    method = method.upper()
    if not method.isalpha():
        raise RequestError(f"invalid method {method!r}")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise RequestError(f"invalid URL {url!r}: {exc}") from exc
    scheme = parts.scheme.lower()
    if scheme not in DEFAULT_PORTS:
        raise RequestError(f"invalid URL {url!r}: scheme must be http or https")
    if not parts.hostname:
        raise RequestError(f"invalid URL {url!r}: no host")
    if any(c.isspace() for c in url):
        raise RequestError(f"invalid URL {url!r}: contains whitespace")
    authority = parts.netloc.rsplit("@", 1)[-1]
    hdrs: list[tuple[str, str]] = []
    for name, value in headers:
        if not HEADER_NAME.match(name):
            raise RequestError(f"invalid header name {name!r}")
        if any(c in value for c in "\r\n\0"):
            raise RequestError(f"invalid value for header {name!r}")
        if name.lower() == "host":
            authority = value.strip()
            continue
        hdrs.append((name, value))
    hostname = authority.lower()
    if hostname.startswith("["):
        hostname = hostname.split("]", 1)[0] + "]"
    elif ":" in hostname:
        hostname = hostname.rsplit(":", 1)[0]
    path = parts.path or "/"
    if grpc is not None:
        service, rpc = grpc
        if not service or not rpc or "/" in service or "/" in rpc:
            raise RequestError(f"invalid gRPC method {service}/{rpc!r}: use SERVICE/METHOD")
        path = f"/{service}/{rpc}"
        method = "POST"
        if not any(n.lower() == "content-type" for n, _ in hdrs):
            hdrs.append(("content-type", GRPC_CONTENT_TYPE))
    query_index: dict[str, str] = {}
    for name, value in parse_qsl(parts.query, keep_blank_values=True):
        query_index.setdefault(name, value)
    return Request(
        method=method,
        scheme=scheme,
        authority=authority,
        hostname=hostname,
        port=port if port is not None else DEFAULT_PORTS[scheme],
        path=path,
        query=parts.query,
        headers=tuple(hdrs),
        grpc=grpc,
        gateway=gateway,
        header_index=_index(hdrs),
        query_index=query_index,
    )
