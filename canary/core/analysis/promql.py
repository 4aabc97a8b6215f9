"""PromQL templates with ``{{name}}`` placeholders, rendered so no value can change a query.

Why not Python's ``str.format`` or Go templates: a backend named ``x"} or vector(1) #``
must not turn an error-rate query into a constant. Every value is validated for its kind
(a Kubernetes name, an index, a Go duration, a quantile) *and* escaped for the context it
lands in, so either defence alone would suffice:

- ``{{name}}``           PromQL double-quoted string content (``\\``, ``"``, control characters)
- ``{{name|re}}``        regex content for ``=~``/``!~``: RE2 metacharacters escaped first,
                         then the string-literal layer on top
- ``{{name|traefik}}``   Traefik's ``Normalize`` (every non-alphanumeric becomes ``-``),
                         which is how route and service names appear in its ``service`` label

An unknown variable or filter is a ``TemplateError`` naming it; so is a known variable
without a value. ``interval`` is a Go duration rendered as a Prometheus range (``1m30s``).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping

from canary.core.durations import DurationError, parse_duration


class TemplateError(ValueError):
    """A query template or one of its values cannot be rendered safely."""


_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_DNS_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
_INDEX = re.compile(r"^(0|[1-9][0-9]{0,3})$")
_PLACEHOLDER = re.compile(r"\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*(?:\|\s*([A-Za-z]+)\s*)?\}\}")
_RE2_META = frozenset(r"\.+*?()|[]{}^$")
_ROUTE_KINDS = ("HTTPRoute", "GRPCRoute")


def _dns_label(name: str, value: str) -> str:
    if len(value) > 63 or not _DNS_LABEL.match(value):
        raise TemplateError(f"variable {name}: {value!r} is not a Kubernetes name (DNS label)")
    return value


def _dns_subdomain(name: str, value: str) -> str:
    if len(value) > 253 or not _DNS_SUBDOMAIN.match(value):
        raise TemplateError(f"variable {name}: {value!r} is not a Kubernetes object name")
    return value


def _index(name: str, value: str) -> str:
    if not _INDEX.match(value):
        raise TemplateError(f"variable {name}: {value!r} is not a 0-based index")
    return value


def _route_kind(name: str, value: str) -> str:
    if value not in _ROUTE_KINDS:
        raise TemplateError(f"variable {name}: {value!r} is not one of {', '.join(_ROUTE_KINDS)}")
    return value


def _interval(name: str, value: str) -> str:
    try:
        seconds = parse_duration(value)
    except DurationError as exc:
        raise TemplateError(f"variable {name}: {exc}") from exc
    return prometheus_duration(seconds, name=name)


def _quantile(name: str, value: str) -> str:
    try:
        q = float(value)
    except ValueError:
        q = -1.0
    if not 0 < q < 1:
        raise TemplateError(f"variable {name}: {value!r} is not a quantile in (0, 1)")
    return repr(q)


# Every variable a template may use, with the validator for its kind.
VARIABLES: dict[str, Callable[[str, str], str]] = {
    "namespace": _dns_label,  # the Rollout's (and routes') namespace
    "route": _dns_subdomain,  # route name
    "route_kind": _route_kind,  # HTTPRoute | GRPCRoute
    "rule": _index,  # 0-based rule index in the route
    "canary": _dns_subdomain,  # canary backend name
    "stable": _dns_subdomain,  # stable backend name
    "backend": _dns_subdomain,  # the backend being measured (canary or stable)
    "backend_namespace": _dns_label,  # its namespace (defaults to namespace)
    "backend_index": _index,  # its 0-based position in the rule's backendRefs
    "gateway": _dns_subdomain,  # parent Gateway name, when known
    "gateway_namespace": _dns_label,  # parent Gateway namespace, when known
    "interval": _interval,  # Go duration → Prometheus range
    "quantile": _quantile,  # latency quantile, (0, 1)
}


def prometheus_duration(seconds: float, *, name: str = "interval") -> str:
    """Render seconds as a Prometheus range (``90`` → ``1m30s``); whole milliseconds, > 0."""
    ms = round(seconds * 1000)
    if ms <= 0 or abs(ms - seconds * 1000) > 1e-6:
        raise TemplateError(f"variable {name}: {seconds}s is not a positive whole number of ms")
    parts = []
    for unit, size in (("h", 3_600_000), ("m", 60_000), ("s", 1000), ("ms", 1)):
        count, ms = divmod(ms, size)
        if count:
            parts.append(f"{count}{unit}")
    return "".join(parts)


def escape_string(value: str) -> str:
    """Content for a PromQL double-quoted string: the literal cannot end early or break."""
    out = []
    for ch in value:
        if ch == "\\":
            out.append("\\\\")
        elif ch == '"':
            out.append('\\"')
        elif ch == "\n":
            out.append("\\n")
        elif ch == "\r":
            out.append("\\r")
        elif ch == "\t":
            out.append("\\t")
        elif ord(ch) < 0x20 or ord(ch) == 0x7F:
            out.append(f"\\x{ord(ch):02x}")
        else:
            out.append(ch)
    return "".join(out)


def escape_regex(value: str) -> str:
    """Regex that matches exactly ``value`` (RE2), as PromQL string content."""
    return escape_string("".join("\\" + ch if ch in _RE2_META else ch for ch in value))


def traefik_normalize(value: str) -> str:
    """Traefik's ``provider.Normalize``: every non-alphanumeric character becomes ``-``.

    Source: traefik/traefik ``pkg/provider/provider.go``; the series scraped from a running
    Traefik 3.7.15 are in ``tests/unit/analysis/samples/traefik.prom``.
    """
    return re.sub(r"[^A-Za-z0-9]", "-", value)


_FILTERS: dict[str, Callable[[str], str]] = {
    "str": escape_string,
    "re": escape_regex,
    "traefik": lambda v: escape_regex(traefik_normalize(v)),
}


def placeholders(template: str) -> list[str]:
    """Variable names a template uses, in order of first use."""
    seen: dict[str, None] = {}
    for match in _PLACEHOLDER.finditer(template):
        seen.setdefault(match.group(1))
    return list(seen)


def render(template: str, variables: Mapping[str, str]) -> str:
    """Fill ``{{name}}`` / ``{{name|filter}}`` placeholders; raise TemplateError on anything odd."""
    unknown = [n for n in variables if n not in VARIABLES]
    if unknown:
        raise TemplateError(f"unknown variable {unknown[0]!r} given")

    def fill(match: re.Match[str]) -> str:
        name, flt = match.group(1), match.group(2) or "str"
        if name not in VARIABLES:
            raise TemplateError(
                f"unknown variable {{{{{name}}}}}; known: {', '.join(sorted(VARIABLES))}"
            )
        if flt not in _FILTERS:
            raise TemplateError(f"unknown filter {flt!r} in {{{{{name}|{flt}}}}}")
        if name not in variables:
            raise TemplateError(f"variable {{{{{name}}}}} has no value here")
        return _FILTERS[flt](VARIABLES[name](name, variables[name]))

    out = _PLACEHOLDER.sub(fill, template)
    if "{{" in out or "}}" in out:
        raise TemplateError(f"malformed placeholder in template: {template!r}")
    return out
