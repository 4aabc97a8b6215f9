"""Guarded route writes: read, compute ops, JSON-patch; on a failed ``test``, start over.

The ops carry ``test`` operations (backendRef identity at its index, ``metadata.generation``)
so a write computed from a stale read is refused by the API server (422) instead of
clobbering a concurrent edit. Refused writes are retried from a fresh read, a bounded
number of times with small jittered waits. An invalid object is never retried: the same
ops would be refused again.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from tenacity import (
    Retrying,
    retry_if_exception_type,
    stop_after_attempt,
    wait_random_exponential,
)
from tenacity.wait import wait_base

from canary.adapters.errors import PatchTestFailed
from canary.adapters.ports import Obj, RoutesPort

log = logging.getLogger(__name__)

ComputeOps = Callable[[Obj], list[dict[str, object]] | None]

DEFAULT_WAIT = wait_random_exponential(multiplier=0.05, max=1.0)


def guarded_patch(
    *,
    routes: RoutesPort,
    kind: str,
    namespace: str,
    name: str,
    compute_ops: ComputeOps,
    attempts: int = 5,
    wait: wait_base | None = None,
) -> Obj | None:
    """Patch the live route with ``compute_ops(live)``; return the patched route.

    ``compute_ops`` returns ``None`` (or ``[]``) when the live route already is as wanted:
    nothing is written and ``None`` is returned. ``PatchTestFailed`` is retried up to
    ``attempts`` reads in all, then re-raised; every other error propagates at once
    (``InvalidObject``, ``NotFound``, ``Forbidden``, ``KubeUnavailable``).
    """
    retrying = Retrying(
        stop=stop_after_attempt(max(1, attempts)),
        wait=wait if wait is not None else DEFAULT_WAIT,
        retry=retry_if_exception_type(PatchTestFailed),
        reraise=True,
        before_sleep=lambda state: log.info(
            "route %s %s/%s changed under us (attempt %d): re-reading",
            kind,
            namespace,
            name,
            state.attempt_number,
        ),
    )
    for attempt in retrying:
        with attempt:
            live = routes.get(kind=kind, namespace=namespace, name=name)
            ops = compute_ops(live)
            if not ops:
                return None
            return routes.json_patch(kind=kind, namespace=namespace, name=name, ops=ops)
    raise AssertionError("unreachable: tenacity either returns or re-raises")
