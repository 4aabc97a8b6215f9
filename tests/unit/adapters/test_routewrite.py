"""guarded_patch on FakeRoutes: concurrent edits are retried from a fresh read."""

from __future__ import annotations

from typing import Any

import pytest
from tenacity import wait_none

from canary.adapters import errors
from canary.adapters.fakes import FakeRoutes
from canary.adapters.ports import Obj
from canary.adapters.routewrite import guarded_patch

NS = "app-team-a"


def route(*refs: tuple[str, int]) -> Obj:
    return {
        "kind": "HTTPRoute",
        "metadata": {"name": "api-route", "namespace": NS},
        "spec": {
            "rules": [
                {
                    "filters": [{"type": "RequestHeaderModifier"}],
                    "backendRefs": [{"name": n, "port": 80, "weight": w} for n, w in refs],
                }
            ]
        },
    }


def set_canary(weight: int) -> Any:
    """The contract's ops: test generation and identity at the index, replace weights."""

    def compute(live: Obj) -> list[dict[str, Any]] | None:
        refs = live["spec"]["rules"][0]["backendRefs"]
        want = {"user-service-v2": 100 - weight, "user-service-v3": weight}
        ops: list[dict[str, Any]] = [
            {"op": "test", "path": "/metadata/generation", "value": live["metadata"]["generation"]}
        ]
        changed = False
        for i, ref in enumerate(refs):
            if ref["name"] in want:
                base = f"/spec/rules/0/backendRefs/{i}"
                ops.append({"op": "test", "path": f"{base}/name", "value": ref["name"]})
                ops.append({"op": "replace", "path": f"{base}/weight", "value": want[ref["name"]]})
                changed |= ref.get("weight") != want[ref["name"]]
        return ops if changed else None

    return compute


def weights(obj: Obj) -> dict[str, int]:
    return {r["name"]: r["weight"] for r in obj["spec"]["rules"][0]["backendRefs"]}


def patch(routes: FakeRoutes, compute: Any, attempts: int = 5) -> Obj | None:
    return guarded_patch(
        routes=routes, kind="HTTPRoute", namespace=NS, name="api-route",
        compute_ops=compute, attempts=attempts, wait=wait_none(),
    )  # fmt: skip


def test_plain_write() -> None:
    routes = FakeRoutes([route(("user-service-v2", 90), ("user-service-v3", 10))])
    out = patch(routes, set_canary(5))
    assert out is not None
    assert weights(out) == {"user-service-v2": 95, "user-service-v3": 5}
    assert out["metadata"]["generation"] == 2
    assert len(routes.patches) == 1


def test_nothing_to_write_sends_nothing() -> None:
    routes = FakeRoutes([route(("user-service-v2", 95), ("user-service-v3", 5))])
    assert patch(routes, set_canary(5)) is None
    assert routes.patches == []


def test_concurrent_reorder_is_refused_retried_and_converges() -> None:
    """A foreign writer inserts a backend at index 0 between our read and our write."""
    routes = FakeRoutes([route(("user-service-v2", 90), ("user-service-v3", 10))])

    def foreign_edit(r: FakeRoutes, kind: str, ns: str, name: str) -> None:
        r.before_patch = None  # once
        r.edit(
            kind=kind, namespace=ns, name=name,
            fn=lambda o: o["spec"]["rules"][0]["backendRefs"].insert(
                0, {"name": "legacy", "port": 80, "weight": 7}
            ),
        )  # fmt: skip

    routes.before_patch = foreign_edit
    out = patch(routes, set_canary(50))
    assert out is not None
    assert weights(out) == {"legacy": 7, "user-service-v2": 50, "user-service-v3": 50}
    assert len(routes.patches) == 2  # refused once, then written from a fresh read
    assert routes.gets == 2
    # the foreign backend, the rule's filters and the foreign edit all survive
    assert out["spec"]["rules"][0]["filters"] == [{"type": "RequestHeaderModifier"}]
    assert out["metadata"]["generation"] == 3


def test_status_only_change_does_not_fail_the_generation_test() -> None:
    routes = FakeRoutes([route(("user-service-v2", 90), ("user-service-v3", 10))])

    def status_write(r: FakeRoutes, kind: str, ns: str, name: str) -> None:
        r.edit(kind=kind, namespace=ns, name=name,
               fn=lambda o: o.setdefault("status", {}).update(parents=[]))  # fmt: skip

    routes.before_patch = status_write
    assert patch(routes, set_canary(5)) is not None
    assert len(routes.patches) == 1


def test_gives_up_after_the_bound_with_patch_test_failed() -> None:
    routes = FakeRoutes([route(("user-service-v2", 90), ("user-service-v3", 10))])

    def always_edit(r: FakeRoutes, kind: str, ns: str, name: str) -> None:
        def touch(o: Obj) -> None:  # a different spec every time: the generation moves on
            o["spec"].setdefault("hostnames", []).append(f"h{len(r.patches)}.example.com")

        r.edit(kind=kind, namespace=ns, name=name, fn=touch)

    routes.before_patch = always_edit
    with pytest.raises(errors.PatchTestFailed):
        patch(routes, set_canary(5), attempts=3)
    assert len(routes.patches) == 3


def test_invalid_object_is_not_retried() -> None:
    routes = FakeRoutes([route(("user-service-v2", 90), ("user-service-v3", 10))])
    with pytest.raises(errors.InvalidObject, match="weight"):
        patch(routes, set_canary(101))  # stable would be -1
    assert len(routes.patches) == 1


def test_not_found_propagates() -> None:
    with pytest.raises(errors.NotFound):
        patch(FakeRoutes(), set_canary(5))
