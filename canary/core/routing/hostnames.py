"""Hostname semantics: wildcard suffix matching, listener ∩ route intersection, precedence.

``*.example.com`` matches ``a.example.com`` and ``a.b.example.com`` but not
``example.com``. A route's *effective* hostnames on a listener are the intersection
of its hostnames with the listener's (route hostnames that do not match are ignored;
none left means the route does not attach). ``"*"`` stands for "any host" (neither
listener nor route restricts it).

Precedence between routes (HTTPRouteSpec.hostnames): the largest number of characters
in a matching non-wildcard hostname first, then in a matching hostname. We encode it as
a sort key where smaller sorts first: ``(-exact_chars, -matching_chars)``.
"""

from __future__ import annotations

ANY = "*"  # no hostname restriction

HostKey = tuple[int, int]


def covers(pattern: str, name: str) -> bool:
    """True when wildcard ``pattern`` matches ``name`` (a host or a narrower wildcard)."""
    return pattern.startswith("*.") and name != pattern and name.endswith(pattern[1:])


def host_matches(pattern: str, host: str) -> bool:
    """Does a listener/route hostname ``pattern`` match request ``host``?"""
    if pattern == ANY:
        return True
    if pattern.startswith("*."):
        return host.endswith(pattern[1:])
    return pattern == host


def intersect(listener_hostname: str | None, route_hostnames: tuple[str, ...]) -> tuple[str, ...]:
    """Effective hostnames of a route on a listener; empty means no intersection."""
    if not route_hostnames:
        return (listener_hostname or ANY,)
    if listener_hostname is None:
        return route_hostnames
    out: list[str] = []
    for h in route_hostnames:
        if h == listener_hostname or covers(listener_hostname, h):
            out.append(h)
        elif covers(h, listener_hostname):
            out.append(listener_hostname)
    return tuple(dict.fromkeys(out))


def overlap(a: tuple[str, ...], b: tuple[str, ...]) -> bool:
    """Do two effective hostname sets share any host?"""
    for x in a:
        for y in b:
            if ANY in (x, y) or x == y or covers(x, y) or covers(y, x):
                return True
    return False


def host_key(hostnames: tuple[str, ...], host: str) -> HostKey | None:
    """Precedence key of the best of ``hostnames`` matching ``host``; None if none does."""
    best: HostKey | None = None
    for h in hostnames:
        if h == host:
            return (-len(h), -len(h))
        if h == ANY:
            key = (0, 0)
        elif h.startswith("*.") and host.endswith(h[1:]):
            key = (0, -len(h))
        else:
            continue
        if best is None or key < best:
            best = key
    return best


def wildcard_suffixes(host: str) -> list[str]:
    """The wildcard patterns that could match ``host``, most specific first."""
    labels = host.split(".")
    return ["*." + ".".join(labels[i:]) for i in range(1, len(labels))]


def probe_host(hostname: str) -> str:
    """A concrete host for a (possibly wildcard) hostname, for representative requests."""
    if hostname == ANY:
        return "canary-probe.example"
    if hostname.startswith("*."):
        return "canary-probe" + hostname[1:]
    return hostname
