"""Typed field access for one document: every failure names the document and the field.

The Gateway API CRDs validate with OpenAPI types, patterns and enums; these helpers
apply the same checks so a manifest the API server would refuse is refused here too,
with an :class:`InputError` instead of a ``KeyError`` three modules later.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from canary.core.routing.objects import InputError

_HOSTNAME = re.compile(r"^(\*\.)?[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
HEADER_NAME = re.compile(r"^[A-Za-z0-9!#$%&'*+\-.^_`|~]+$")
_IPV4 = re.compile(r"^\d+\.\d+\.\d+\.\d+$")


@dataclass(frozen=True, slots=True)
class Doc:
    """The identity of the document being parsed, for error messages."""

    kind: str
    namespace: str
    name: str

    @property
    def ref(self) -> str:
        return f"{self.kind} {self.namespace}/{self.name}"

    def fail(self, path: str, message: str) -> InputError:
        return InputError(self.ref, path, message)

    def _get(self, raw: Any, key: str | int, path: str) -> Any:
        if isinstance(key, int):
            return raw[key]
        if not isinstance(raw, Mapping):
            raise self.fail(path.rsplit(".", 1)[0] if "." in path else path, "must be an object")
        return raw.get(key)

    def req_str(
        self, raw: Any, key: str, path: str | None = None, *, allow_empty: bool = False
    ) -> str:
        path = path or key
        value = self._get(raw, key, path)
        if value is None:
            raise self.fail(path, "required field missing")
        if not isinstance(value, str):
            raise self.fail(path, f"must be a string, got {type(value).__name__}")
        if not value and not allow_empty:
            raise self.fail(path, "must not be empty")
        return value

    def opt_str(self, raw: Any, key: str, path: str, default: str) -> str:
        value = self._get(raw, key, path)
        if value is None:
            return default
        if not isinstance(value, str):
            raise self.fail(path, f"must be a string, got {type(value).__name__}")
        return value

    def enum(
        self, raw: Any, key: str, path: str, allowed: Sequence[str], default: str | None = None
    ) -> str:
        value = self._get(raw, key, path)
        if value is None:
            if default is None:
                raise self.fail(path, "required field missing")
            return default
        if value not in allowed:
            raise self.fail(path, f"unsupported value {value!r} (one of {', '.join(allowed)})")
        return str(value)

    def integer(
        self, raw: Any, key: str, path: str, lo: int, hi: int, *, required: bool = False
    ) -> int | None:
        value = self._get(raw, key, path)
        if value is None:
            if required:
                raise self.fail(path, "required field missing")
            return None
        if isinstance(value, bool) or not isinstance(value, int):
            raise self.fail(path, f"must be an integer, got {value!r}")
        if not lo <= value <= hi:
            raise self.fail(path, f"must be between {lo} and {hi}, got {value}")
        return int(value)  # an int already; int() also tells older mypy (Any)

    def port(self, raw: Any, key: str, path: str, *, required: bool = False) -> int | None:
        return self.integer(raw, key, path, 1, 65535, required=required)

    def mapping(
        self, raw: Any, key: str, path: str | None = None, *, required: bool = False
    ) -> Mapping[str, Any] | None:
        path = path or key
        value = self._get(raw, key, path)
        if value is None:
            if required:
                raise self.fail(path, "required field missing")
            return None
        if not isinstance(value, Mapping):
            raise self.fail(path, "must be an object")
        return value

    def list(
        self,
        raw: Any,
        key: str,
        path: str,
        *,
        required: bool = False,
        item: type = Mapping,
    ) -> list[Any]:
        value = self._get(raw, key, path)
        if value is None:
            if required:
                raise self.fail(path, "required field missing")
            return []
        if not isinstance(value, list):
            raise self.fail(path, "must be a list")
        if required and not value:
            raise self.fail(path, "must not be empty")
        for i, entry in enumerate(value):
            if not isinstance(entry, item):
                kind = "an object" if item is Mapping else "a string"
                raise self.fail(f"{path}[{i}]", f"must be {kind}")
        return value

    def str_map(self, raw: Any, key: str, path: str) -> dict[str, str]:
        value = self.mapping(raw, key, path)
        if value is None:
            return {}
        return {str(k): "" if v is None else str(v) for k, v in value.items()}

    def hostname(self, raw: Any, key: str | int, path: str, *, wildcard: bool) -> str | None:
        value = self._get(raw, key, path)
        if value is None:
            return None
        if not isinstance(value, str) or not _HOSTNAME.match(value) or len(value) > 253:
            raise self.fail(path, f"invalid hostname {value!r} (RFC 1123, lower case)")
        if value.startswith("*.") and not wildcard:
            raise self.fail(path, f"wildcard not allowed here: {value!r}")
        if _IPV4.match(value):
            raise self.fail(path, f"IP addresses are not allowed: {value!r}")
        return value

    def header_name(self, raw: Any, key: str, path: str) -> str:
        value = self.req_str(raw, key, path)
        if not HEADER_NAME.match(value) or len(value) > 256:
            raise self.fail(path, f"invalid header name {value!r}")
        return value
