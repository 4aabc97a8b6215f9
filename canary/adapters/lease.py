"""The coordination.k8s.io Lease behind single-writer election (decision in core.leader)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from kubernetes import client
from kubernetes.client.exceptions import ApiException

from canary.core.leader import LeaseAction, LeaseState, decide_lease


def _parse_time(value: Any) -> datetime | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    return datetime.fromisoformat(str(value).replace("Z", "+00:00"))


class KubeLease:
    """Acquire or renew one Lease; every write is guarded by resourceVersion."""

    def __init__(
        self, api_client: client.ApiClient, *, namespace: str, name: str, duration_seconds: int
    ) -> None:
        self._api = client.CoordinationV1Api(api_client)
        self.namespace = namespace
        self.name = name
        self.duration_seconds = duration_seconds

    def holder(self) -> str | None:
        lease: Any
        try:
            lease = self._api.read_namespaced_lease(self.name, self.namespace)
        except ApiException as exc:
            if exc.status == 404:
                return None
            raise
        return lease.spec.holder_identity if lease.spec else None

    def try_acquire(self, *, identity: str, now: datetime) -> bool:
        """One round of election; True when ``identity`` holds the Lease afterwards."""
        lease: Any
        try:
            lease = self._api.read_namespaced_lease(self.name, self.namespace)
        except ApiException as exc:
            if exc.status != 404:
                raise
            lease = None
        state = None
        if lease is not None:
            spec = lease.spec
            state = LeaseState(
                holder=spec.holder_identity,
                renew_time=_parse_time(spec.renew_time),
                duration_seconds=spec.lease_duration_seconds or self.duration_seconds,
                transitions=spec.lease_transitions or 0,
            )
        action = decide_lease(state, identity=identity, now=now)
        if action is LeaseAction.STANDBY:
            return False
        try:
            if action is LeaseAction.CREATE:
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
                self._api.create_namespaced_lease(self.namespace, body)
                return True
            assert lease is not None and state is not None
            lease.spec.renew_time = now
            lease.spec.lease_duration_seconds = self.duration_seconds
            if action is LeaseAction.TAKE_OVER:
                lease.spec.holder_identity = identity
                lease.spec.acquire_time = now
                lease.spec.lease_transitions = state.transitions + 1
            # replace carries metadata.resourceVersion: a concurrent writer gets 409
            self._api.replace_namespaced_lease(self.name, self.namespace, lease)
            return True
        except ApiException as exc:
            if exc.status in (409, 422):
                return False
            raise

    def release(self, *, identity: str) -> None:
        """Give the Lease up on shutdown so a standby takes over at once."""
        lease: Any
        try:
            lease = self._api.read_namespaced_lease(self.name, self.namespace)
            if lease.spec.holder_identity != identity:
                return
            lease.spec.holder_identity = None
            lease.spec.renew_time = None
            self._api.replace_namespaced_lease(self.name, self.namespace, lease)
        except ApiException:
            return
