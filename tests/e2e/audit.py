"""Read the kube-apiserver audit log of the local stack (CANARY_AUDIT=1; AUDIT_LOG in cluster.env).

One JSON object per line (audit.k8s.io/v1 Event, Metadata level, RequestReceived omitted):
who (``user.username``), what (``verb``, ``objectRef.resource``/``subresource``/``name``),
the answer (``responseStatus.code``), when it was received (``requestReceivedTimestamp``)
and the ``requestURI`` (its ``fieldManager`` query parameter: ``Entry.field_manager``).
Long-running requests (watches) also log ``ResponseStarted``; :func:`read` keeps one entry
per request (``ResponseComplete`` or ``Panic``).
"""

from __future__ import annotations

import json
import os
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

WRITE_VERBS = frozenset({"create", "update", "patch", "delete", "deletecollection"})


@dataclass(frozen=True)
class Entry:
    audit_id: str
    user: str
    verb: str
    resource: str  # "leases", "rollouts/status", "httproutes", "events", ...
    namespace: str
    name: str
    code: int
    received: datetime
    uri: str = ""

    @property
    def writes(self) -> bool:
        return self.verb in WRITE_VERBS

    @property
    def field_manager(self) -> str:
        """The write's ``fieldManager`` query parameter ("" when the client set none)."""
        return (parse_qs(urlsplit(self.uri).query).get("fieldManager") or [""])[0]


def _parse_time(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def parse_line(line: str) -> Entry | None:
    try:
        event = json.loads(line)
    except ValueError:
        return None  # a line being written right now
    if event.get("stage") not in ("ResponseComplete", "Panic"):
        return None
    ref = event.get("objectRef") or {}
    resource = str(ref.get("resource", ""))
    if ref.get("subresource"):
        resource += "/" + str(ref["subresource"])
    return Entry(
        audit_id=str(event.get("auditID", "")),
        user=str((event.get("user") or {}).get("username", "")),
        verb=str(event.get("verb", "")),
        resource=resource,
        namespace=str(ref.get("namespace", "")),
        name=str(ref.get("name", "")),
        code=int((event.get("responseStatus") or {}).get("code", 0)),
        received=_parse_time(str(event.get("requestReceivedTimestamp"))),
        uri=str(event.get("requestURI", "")),
    )


class AuditLog:
    """The audit log file; ``entries()`` parses it whole (it rotates only at 200 MB)."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)

    def entries(self) -> list[Entry]:
        out: list[Entry] = []
        if not self.path.exists():
            return out
        with self.path.open(encoding="utf-8", errors="replace") as fh:
            for line in fh:
                entry = parse_line(line)
                if entry is not None:
                    out.append(entry)
        return out


def select(
    entries: Iterable[Entry],
    *,
    user: str | None = None,
    since: datetime | None = None,
    writes: bool | None = None,
    namespace: str | None = None,
) -> list[Entry]:
    return [
        e
        for e in entries
        if (user is None or e.user == user)
        and (since is None or e.received >= since)
        and (writes is None or e.writes == writes)
        and (namespace is None or e.namespace in ("", namespace))
    ]


def counts(entries: Iterable[Entry]) -> Counter[str]:
    """``"verb resource code"`` → number of requests, e.g. ``"patch httproutes 200": 2``."""
    return Counter(f"{e.verb} {e.resource} {e.code}" for e in entries)
