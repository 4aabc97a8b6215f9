"""JSON merge patch (RFC 7386) between two status documents.

Status is a value: the machine computes the whole new status, and the
operator writes only the difference, and nothing at all when there is none. Lists are
atomic in a merge patch, so a changed list is sent whole; a removed key is ``None``.
"""

from __future__ import annotations

from typing import Any


def diff(old: dict[str, Any], new: dict[str, Any]) -> dict[str, Any]:
    """The merge patch that turns ``old`` into ``new`` ({} when they are equal)."""
    patch: dict[str, Any] = {}
    for key, value in new.items():
        if key not in old:
            patch[key] = value
            continue
        before = old[key]
        if isinstance(before, dict) and isinstance(value, dict):
            sub = diff(before, value)
            if sub:
                patch[key] = sub
        elif before != value or type(before) is not type(value):
            patch[key] = value
    for key in old:
        if key not in new:
            patch[key] = None
    return patch


def apply(doc: dict[str, Any], patch: dict[str, Any]) -> dict[str, Any]:
    """Apply a merge patch to a document (what the API server does); returns a new dict."""
    out = dict(doc)
    for key, value in patch.items():
        if value is None:
            out.pop(key, None)
        elif isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = apply(out[key], value)
        else:
            out[key] = value
    return out
