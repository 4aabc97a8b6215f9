"""Go-style durations (``30s``, ``5m``, ``1h30m``, ``250ms``), as the CRD and the CLI take them.

Kubernetes users know this syntax from every controller; we validate it in the schema
(``DURATION_PATTERN``) and parse it here, so the CRD and the code agree on one grammar.
"""

from __future__ import annotations

import re

# One or more <number><unit> groups; the unit is required (Go accepts a bare "0" too).
DURATION_PATTERN = r"^(0|([0-9]+(\.[0-9]+)?(ns|us|ms|s|m|h))+)$"
_PART = re.compile(r"([0-9]+(?:\.[0-9]+)?)(ns|us|ms|s|m|h)")
_FULL = re.compile(DURATION_PATTERN)
_UNIT_SECONDS = {
    "ns": 1e-9,
    "us": 1e-6,
    "ms": 1e-3,
    "s": 1.0,
    "m": 60.0,
    "h": 3600.0,
}


class DurationError(ValueError):
    """A string that is not a Go-style duration."""


def parse_duration(text: str) -> float:
    """Return the duration in seconds; raise DurationError on anything else."""
    if not isinstance(text, str) or not _FULL.match(text):
        raise DurationError(f"invalid duration {text!r}: use Go style such as 30s, 5m, 1h30m")
    if text == "0":
        return 0.0
    return sum(float(n) * _UNIT_SECONDS[u] for n, u in _PART.findall(text))


def format_duration(seconds: float) -> str:
    """Render seconds compactly in Go style (``90`` → ``1m30s``, ``0.25`` → ``250ms``)."""
    if seconds < 1:
        return f"{round(seconds * 1000)}ms"
    total = round(seconds)
    h, rest = divmod(total, 3600)
    m, s = divmod(rest, 60)
    out = (f"{h}h" if h else "") + (f"{m}m" if m else "") + (f"{s}s" if s else "")
    return out or "0s"
