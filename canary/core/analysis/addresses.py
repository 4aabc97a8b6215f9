"""Which Prometheus a Rollout may make the operator query (``analysis.address``).

``analysis.address`` is user input: without a limit, anyone who may create a Rollout can
make the operator's pod send requests to any URL it can reach and read parts of the
answer back from the Rollout's status. The operator therefore queries only addresses on
its allowlist: the configured default (``--prometheus-url``) and each
``--prometheus-allow`` entry. Addresses are compared normalized: scheme and host
lower-case, the default port made explicit, no trailing ``/``, no user info, query or
fragment (an address carrying any of those is refused outright).
"""

from __future__ import annotations

from collections.abc import Iterable
from urllib.parse import urlsplit

_DEFAULT_PORTS = {"http": 80, "https": 443}
_SHOWN = 80  # characters of a refused address repeated in a message


class AddressError(ValueError):
    """An address that is not an http(s) URL the allowlist could ever hold."""


def normalize(url: str) -> str:
    """``HTTP://Prom:80/`` → ``http://prom:80``; raises :class:`AddressError`."""
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError as exc:
        raise AddressError(f"not a URL: {exc}") from exc
    scheme = parts.scheme.lower()
    if scheme not in _DEFAULT_PORTS:
        raise AddressError("must be an http:// or https:// URL")
    if not parts.hostname:
        raise AddressError("has no host")
    if parts.username is not None or parts.password is not None:
        raise AddressError("must not carry user info (credentials)")
    if parts.query or parts.fragment:
        raise AddressError("must not carry a query or fragment")
    host = parts.hostname.lower()
    if ":" in host:
        host = f"[{host}]"  # IPv6 literal
    path = parts.path.rstrip("/")
    return f"{scheme}://{host}:{port or _DEFAULT_PORTS[scheme]}{path}"


def shown(url: str) -> str:
    """The address as a message may repeat it: user info dropped, clipped, one line."""
    try:
        parts = urlsplit(url)
        netloc = parts.netloc.rsplit("@", 1)[-1]
        text = parts._replace(netloc=netloc, query="", fragment="").geturl()
    except ValueError:
        text = url
    text = "".join(c if c.isprintable() else "?" for c in text)
    return text if len(text) <= _SHOWN else text[: _SHOWN - 1] + "…"


class Allowlist:
    """The Prometheus addresses the operator may query (normalized)."""

    def __init__(self, urls: Iterable[str]) -> None:
        self.urls: frozenset[str] = frozenset(normalize(u) for u in urls if u)

    def refusal(self, url: str) -> str | None:
        """None when ``url`` may be queried, else why not (one short line)."""
        try:
            key = normalize(url)
        except AddressError as exc:
            return f"analysis.address {shown(url)} {exc}"
        if key in self.urls:
            return None
        return (
            f"analysis.address {shown(url)} is not on the operator's Prometheus allowlist "
            "(the default --prometheus-url and --prometheus-allow)"
        )
