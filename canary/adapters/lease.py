"""The coordination.k8s.io Lease behind single-writer election: read and write, no decisions.

The decisions (create, renew, take over, stand by; expiry by locally observed time) are in
``canary.core.election``; the loop that makes them is ``canary.operator.leadership``. Every
call here carries its own request timeout (a hung call must end before the renew deadline
does), and every write of an existing Lease is a ``replace`` carrying the resourceVersion
it was read at: a concurrent writer gets 409 (``errors.Conflict``) instead of winning twice.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import urllib3.exceptions
from kubernetes import client
from kubernetes.client.exceptions import ApiException

from canary.adapters import errors
from canary.adapters.kube import translate
from canary.core.election import LeaseRecord


def _time_text(value: Any) -> str | None:
    if value is None:
        return None
    return value.isoformat() if isinstance(value, datetime) else str(value)


def record_of(lease: Any) -> LeaseRecord:
    spec = lease.spec
    return LeaseRecord(
        holder=spec.holder_identity if spec else None,
        renew_time=_time_text(spec.renew_time) if spec else None,
        duration_seconds=spec.lease_duration_seconds if spec else None,
        resource_version=lease.metadata.resource_version if lease.metadata else None,
        transitions=(spec.lease_transitions or 0) if spec else 0,
    )


class KubeLease:
    """One Lease, read and written with a bounded request time."""

    def __init__(
        self,
        api_client: client.ApiClient,
        *,
        namespace: str,
        name: str,
        duration_seconds: int,
        request_timeout: float,
    ) -> None:
        self._api = client.CoordinationV1Api(api_client)
        self.namespace = namespace
        self.name = name
        self.duration_seconds = duration_seconds
        self.request_timeout = request_timeout

    def _call(self, what: str, fn: Any, *args: Any) -> Any:
        try:
            return fn(*args, _request_timeout=self.request_timeout)
        except ApiException as exc:
            raise translate(exc, what=f"{what} lease {self.namespace}/{self.name}") from exc
        except (urllib3.exceptions.HTTPError, OSError) as exc:
            raise errors.KubeUnavailable(
                f"{what} lease {self.namespace}/{self.name}: {exc}"
            ) from exc

    def get(self) -> tuple[LeaseRecord, Any] | None:
        """The record and the object to write back, or None when there is no Lease."""
        try:
            lease = self._call("read", self._api.read_namespaced_lease, self.name, self.namespace)
        except errors.NotFound:
            return None
        return record_of(lease), lease

    def create(self, *, identity: str, now: datetime) -> LeaseRecord:
        body = client.V1Lease(
            metadata=client.V1ObjectMeta(name=self.name, namespace=self.namespace),
            spec=client.V1LeaseSpec(
                holder_identity=identity,
                lease_duration_seconds=self.duration_seconds,
                acquire_time=now,
                renew_time=now,
                lease_transitions=0,
            ),
        )
        created = self._call("create", self._api.create_namespaced_lease, self.namespace, body)
        return record_of(created)

    def renew(self, lease: Any, *, now: datetime) -> LeaseRecord:
        lease.spec.renew_time = now
        lease.spec.lease_duration_seconds = self.duration_seconds
        return self._replace("renew", lease)

    def take_over(self, lease: Any, *, identity: str, now: datetime) -> LeaseRecord:
        lease.spec.holder_identity = identity
        lease.spec.acquire_time = now
        lease.spec.renew_time = now
        lease.spec.lease_duration_seconds = self.duration_seconds
        lease.spec.lease_transitions = (lease.spec.lease_transitions or 0) + 1
        return self._replace("take over", lease)

    def release(self, lease: Any) -> None:
        """Give the Lease up (holder and renewTime cleared) so a standby takes over at once."""
        lease.spec.holder_identity = None
        lease.spec.renew_time = None
        self._replace("release", lease)

    def _replace(self, what: str, lease: Any) -> LeaseRecord:
        # replace carries metadata.resourceVersion: a concurrent writer gets 409
        written = self._call(
            what, self._api.replace_namespaced_lease, self.name, self.namespace, lease
        )
        return record_of(written)
