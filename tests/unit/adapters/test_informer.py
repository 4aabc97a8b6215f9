"""The informer's list/watch semantics against a fake ApiClient (scripted call_api answers).

The fake keeps the real ``param_serialize`` (URLs, query, auth headers) and replaces only
``call_api``: each request takes the next scripted answer; when the script is exhausted
every further request blocks (as an idle watch does) until the informer stops it.
"""

from __future__ import annotations

import itertools
import json
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import urllib3.exceptions
from kubernetes import client

from canary.adapters.informer import (
    EVALUATOR_KINDS,
    SERVICE,
    Change,
    ClusterCache,
    Informer,
    Kind,
)

ROUTE = next(k for k in EVALUATOR_KINDS if k.kind == "HTTPRoute")
GATEWAY = next(k for k in EVALUATOR_KINDS if k.kind == "Gateway")

# --------------------------------------------------------------------------- fake


class Raw:
    """The urllib3 response of a watch: scripted lines, then EOF (or block until cut)."""

    def __init__(self, lines: list[bytes], *, block: bool = False) -> None:
        self.lines = lines
        self.block = block
        self.cut = threading.Event()
        self.waiting = threading.Event()  # the reader reached the blocking end
        self.released = False

    def stream(self, amt: Any = None, decode_content: bool = True) -> Iterator[bytes]:
        for line in self.lines:
            # split each line in two chunks: the informer must reassemble lines
            yield line[:5]
            yield line[5:] + b"\n"
        if self.block:
            self.waiting.set()
            self.cut.wait(30)

    def shutdown(self) -> None:
        self.cut.set()

    def close(self) -> None:
        self.cut.set()

    def release_conn(self) -> None:
        self.released = True


class Resp:
    def __init__(self, status: int, body: bytes = b"", *, reason: str = "", raw: Raw | None = None):
        self.status = status
        self.reason = reason or {200: "OK", 403: "Forbidden", 404: "Not Found", 410: "Gone"}.get(
            status, ""
        )
        self._body = body
        self.response = raw or Raw([])

    def read(self) -> bytes:
        return self._body


def listing(*items: dict[str, Any], rv: str, cont: str = "") -> Resp:
    meta: dict[str, Any] = {"resourceVersion": rv}
    if cont:
        meta["continue"] = cont
    return Resp(200, json.dumps({"kind": "List", "metadata": meta, "items": list(items)}).encode())


def watching(*events: tuple[str, dict[str, Any]], block: bool = False) -> Resp:
    lines = [json.dumps({"type": t, "object": o}).encode() for t, o in events]
    return Resp(200, raw=Raw(lines, block=block))


def status(code: int, message: str) -> Resp:
    body = {"kind": "Status", "status": "Failure", "message": message, "code": code}
    return Resp(code, json.dumps(body).encode())


def obj(name: str, rv: str, *, ns: str = "a", **extra: Any) -> dict[str, Any]:
    meta = {"name": name, "namespace": ns, "resourceVersion": rv}
    meta.update(extra)
    return {"metadata": meta, "spec": {"n": rv}}


class FakeKube(client.ApiClient):
    def __init__(self, *answers: Resp | Callable[[str, dict[str, str]], Resp]) -> None:
        cfg = client.Configuration()
        cfg.host = "https://kube.invalid"
        super().__init__(cfg)
        self.answers = list(answers)
        self.requests: list[tuple[str, dict[str, str]]] = []
        self.exhausted = threading.Event()
        self.lock = threading.Lock()
        self.raws: list[Raw] = []

    @property
    def blocked(self) -> list[Raw]:
        """The watches being read that wait for more (an idle informer has exactly one)."""
        with self.lock:
            return [raw for raw in self.raws if raw.waiting.is_set()]

    def call_api(self, method: str, url: str, *args: Any, **kwargs: Any) -> Any:  # type: ignore[override]
        parts = urlsplit(url)
        query = {k: v[0] for k, v in parse_qs(parts.query).items()}
        with self.lock:
            self.requests.append((parts.path, query))
            answer = self.answers.pop(0) if self.answers else None
            if not self.answers:
                self.exhausted.set()
        if answer is None:
            if query.get("watch") != "true":
                raise AssertionError(f"unscripted list {parts.path} {query}")
            answer = watching(block=True)
        resp = answer(parts.path, query) if callable(answer) else answer
        with self.lock:
            self.raws.append(resp.response)
        return resp

    def watches(self) -> list[dict[str, str]]:
        return [q for _, q in self.requests if q.get("watch") == "true"]

    def lists(self) -> list[dict[str, str]]:
        return [q for _, q in self.requests if q.get("watch") != "true"]


def wait_for(what: str, fn: Callable[[], Any], timeout: float = 10.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if value := fn():
            return value
        time.sleep(0.005)
    raise AssertionError(f"never happened: {what}")


def run(
    api: FakeKube, kind: Kind = ROUTE, ns: str | None = "a", **kw: Any
) -> tuple[Informer, list[Change]]:
    seen: list[Change] = []
    kw.setdefault("retry_delay", 0.01)
    kw.setdefault("max_retry_delay", 0.05)
    informer = Informer(api, kind, namespace=ns, on_change=seen.append, **kw)
    informer.start()
    return informer, seen


def settle(api: FakeKube, informer: Informer) -> None:
    """Wait until every scripted answer was used and the informer waits in a watch."""
    wait_for("script used", api.exhausted.is_set)
    wait_for("informer idle", lambda: len(api.blocked) == 1)


def kinds_of(seen: list[Change]) -> list[tuple[str, str, str]]:
    return [(c.type, c.obj["metadata"]["name"], c.obj["metadata"]["resourceVersion"]) for c in seen]


# --------------------------------------------------------------------------- kinds


def test_kind_paths_and_api_versions() -> None:
    assert SERVICE.path(None) == "/api/v1/services"
    assert SERVICE.path("a") == "/api/v1/namespaces/a/services"
    assert SERVICE.api_version() == "v1"
    assert ROUTE.path("a") == "/apis/gateway.networking.k8s.io/v1/namespaces/a/httproutes"
    assert ROUTE.api_version() == "gateway.networking.k8s.io/v1"
    namespace = next(k for k in EVALUATOR_KINDS if k.kind == "Namespace")
    assert namespace.path(None) == "/api/v1/namespaces"
    with pytest.raises(ValueError, match="Namespace is cluster-scoped"):
        namespace.path("a")
    assert [k.kind for k in EVALUATOR_KINDS] == [
        "GatewayClass", "Gateway", "HTTPRoute", "GRPCRoute", "ReferenceGrant",
        "Namespace", "Service", "EndpointSlice",
    ]  # fmt: skip


# --------------------------------------------------------------------------- list + watch


def test_list_then_watch_applies_and_reports_changes() -> None:
    api = FakeKube(
        listing(obj("r1", "10"), obj("r2", "11"), rv="12"),
        watching(
            ("ADDED", obj("r3", "13")),
            ("MODIFIED", obj("r1", "14")),
            ("DELETED", obj("r2", "15")),
            block=True,
        ),
    )
    informer, seen = run(api)
    assert informer.wait_synced(5)
    settle(api, informer)
    informer.stop()
    assert kinds_of(seen) == [
        ("ADDED", "r1", "10"), ("ADDED", "r2", "11"),
        ("ADDED", "r3", "13"), ("MODIFIED", "r1", "14"), ("DELETED", "r2", "15"),
    ]  # fmt: skip
    assert sorted(o["metadata"]["name"] for o in informer.items()) == ["r1", "r3"]
    r1 = informer.get("a", "r1")
    assert r1 is not None and r1["spec"] == {"n": "14"}
    assert r1["apiVersion"] == "gateway.networking.k8s.io/v1" and r1["kind"] == "HTTPRoute"
    assert informer.get("a", "r2") is None
    assert informer.resource_version == "15"
    first_list, = api.lists()  # fmt: skip
    assert "resourceVersion" not in first_list and first_list["limit"] == "500"
    watch = api.watches()[0]
    assert watch["resourceVersion"] == "12"
    assert watch["allowWatchBookmarks"] == "true" and watch["timeoutSeconds"] == "300"
    assert api.requests[0][0] == "/apis/gateway.networking.k8s.io/v1/namespaces/a/httproutes"


def test_a_paged_list_follows_continue() -> None:
    api = FakeKube(
        listing(obj("r1", "1"), rv="5", cont="tok"),
        listing(obj("r2", "2"), rv="5"),
    )
    informer, _ = run(api)
    settle(api, informer)
    informer.stop()
    assert [q.get("continue") for q in api.lists()] == [None, "tok"]
    assert sorted(o["metadata"]["name"] for o in informer.items()) == ["r1", "r2"]
    assert api.watches()[0]["resourceVersion"] == "5"


def test_a_watch_that_ends_is_resumed_from_the_last_resource_version_without_relisting() -> None:
    api = FakeKube(
        listing(obj("r1", "10"), rv="10"),
        watching(("MODIFIED", obj("r1", "20"))),
        watching(("ADDED", obj("r2", "21")), block=True),
    )
    informer, seen = run(api)
    settle(api, informer)
    informer.stop()
    assert len(api.lists()) == 1
    assert [w["resourceVersion"] for w in api.watches()] == ["10", "20"]
    assert informer.resource_version == "21"
    assert kinds_of(seen)[-2:] == [("MODIFIED", "r1", "20"), ("ADDED", "r2", "21")]


def test_a_bookmark_only_advances_the_resource_version() -> None:
    bookmark = {"kind": "HTTPRoute", "metadata": {"resourceVersion": "99"}}
    api = FakeKube(
        listing(obj("r1", "10"), rv="10"),
        watching(("BOOKMARK", bookmark)),
        watching(block=True),
    )
    informer, seen = run(api)
    settle(api, informer)
    informer.stop()
    assert [w["resourceVersion"] for w in api.watches()] == ["10", "99"]
    assert kinds_of(seen) == [("ADDED", "r1", "10")]
    assert [o["metadata"]["name"] for o in informer.items()] == ["r1"]


@pytest.mark.parametrize("how", ["http status", "error event"])
def test_410_gone_relists_and_reports_the_differences(how: str) -> None:
    gone = (
        status(410, "too old resource version: 10 (20)")
        if how == "http status"
        else watching(("ERROR", {"kind": "Status", "code": 410, "reason": "Expired",
                                 "message": "too old resource version"}))
    )  # fmt: skip
    api = FakeKube(
        listing(obj("r1", "10"), obj("r2", "10"), obj("r3", "10"), rv="10"),
        gone,
        listing(obj("r1", "10"), obj("r2", "30"), obj("r4", "31"), rv="40"),
        watching(block=True),
    )
    informer, seen = run(api)
    settle(api, informer)
    informer.stop()
    assert len(api.lists()) == 2
    assert "resourceVersion" not in api.lists()[1]
    assert sorted(kinds_of(seen)[3:]) == [
        ("ADDED", "r4", "31"), ("DELETED", "r3", "10"), ("MODIFIED", "r2", "30"),
    ]  # fmt: skip
    assert sorted(o["metadata"]["name"] for o in informer.items()) == ["r1", "r2", "r4"]
    assert api.watches()[-1]["resourceVersion"] == "40"
    assert informer.error is None


def test_403_names_kind_and_namespace_then_recovers() -> None:
    api = FakeKube(
        status(403, 'httproutes.gateway.networking.k8s.io is forbidden: User "u" cannot list'),
        status(403, "still forbidden"),
        listing(obj("r1", "1"), rv="1"),
        watching(block=True),
    )
    informer, _ = run(api, retry_delay=0.05, max_retry_delay=0.05)
    wait_for("the error", lambda: informer.error)
    assert informer.error is not None
    assert informer.error.startswith("list httproutes in a: 403 Forbidden: httproutes.gateway")
    assert not informer.synced
    assert informer.wait_synced(5)
    settle(api, informer)
    informer.stop()
    assert informer.error is None
    assert [o["metadata"]["name"] for o in informer.items()] == ["r1"]


def test_a_broken_connection_retries_the_watch_from_its_resource_version() -> None:
    def broken(path: str, query: dict[str, str]) -> Resp:
        raise urllib3.exceptions.ProtocolError("Connection aborted.", ConnectionResetError())

    errors: list[str | None] = []

    def reopen(path: str, query: dict[str, str]) -> Resp:
        errors.append(informer.error)  # what the informer said while it waited to retry
        return watching(block=True)

    api = FakeKube(
        listing(obj("r1", "10"), rv="10"),
        watching(("MODIFIED", obj("r1", "11"))),
        broken,
        reopen,
    )
    informer, _ = run(api)
    settle(api, informer)
    informer.stop()
    assert len(api.lists()) == 1
    assert [w.get("resourceVersion") for w in api.watches()] == ["10", "11", "11"]
    assert errors == [
        "watch httproutes in a: ProtocolError: ('Connection aborted.', ConnectionResetError())"
    ]
    assert informer.error is None  # cleared once the watch was open again


def test_backoff_doubles_up_to_the_maximum() -> None:
    stamps: list[float] = []

    def fail(path: str, query: dict[str, str]) -> Resp:
        stamps.append(time.monotonic())
        return status(500, "boom")

    api = FakeKube(*[fail] * 5, listing(rv="1"), watching(block=True))
    informer, _ = run(api, retry_delay=0.02, max_retry_delay=0.08)
    settle(api, informer)
    informer.stop()
    gaps = [b - a for a, b in itertools.pairwise(stamps)]
    # waits of 0.02, 0.04, 0.08, 0.08 at least (never shorter; sleeps may overshoot)
    assert [g >= w for g, w in zip(gaps, [0.02, 0.04, 0.08, 0.08], strict=True)] == [True] * 4


def test_404_means_not_installed_synced_and_empty() -> None:
    api = FakeKube(status(404, "the server could not find the requested resource"))
    informer, seen = run(api, max_retry_delay=30)
    assert informer.wait_synced(5)
    informer.stop()
    assert informer.items() == [] and seen == [] and informer.error is None


def test_managed_fields_are_dropped_except_on_routes() -> None:
    mf = [{"manager": "kubectl", "operation": "Apply"}]
    for kind, kept in [(ROUTE, True), (SERVICE, False), (GATEWAY, False)]:
        api = FakeKube(
            listing(obj("x", "1", managedFields=mf), rv="1"),
            watching(("ADDED", obj("y", "2", managedFields=mf)), block=True),
        )
        informer, _ = run(api, kind=kind)
        settle(api, informer)
        informer.stop()
        for name in ("x", "y"):
            got = informer.get("a", name)
            assert got is not None
            assert ("managedFields" in got["metadata"]) is kept, (kind.kind, name)


def test_stop_returns_promptly_while_a_watch_is_open() -> None:
    api = FakeKube(listing(rv="1"))
    informer, _ = run(api)
    settle(api, informer)
    informer.stop()  # joins for at most STOP_WAIT
    assert api.blocked[0].cut.is_set()  # the open watch was cut, not waited out
    assert informer._thread is not None and not informer._thread.is_alive()


def test_a_failing_callback_is_logged_and_the_informer_goes_on(caplog: Any) -> None:
    def boom(change: Change) -> None:
        raise RuntimeError("callback bug")

    api = FakeKube(
        listing(obj("r1", "1"), rv="1"),
        watching(("ADDED", obj("r2", "2")), block=True),
    )
    informer = Informer(api, ROUTE, namespace="a", on_change=boom, retry_delay=0.01)
    informer.start()
    settle(api, informer)
    informer.stop()
    assert sorted(o["metadata"]["name"] for o in informer.items()) == ["r1", "r2"]
    assert "on_change failed" in caplog.text


# --------------------------------------------------------------------------- cluster cache


def _idle(path: str, query: dict[str, str]) -> Resp:
    return listing(rv="1") if query.get("watch") != "true" else watching(block=True)


class IdleKube(FakeKube):
    """Lists answer empty; watches stay open until cut. Records every path."""

    def call_api(self, method: str, url: str, *args: Any, **kwargs: Any) -> Any:  # type: ignore[override]
        parts = urlsplit(url)
        query = {k: v[0] for k, v in parse_qs(parts.query).items()}
        with self.lock:
            self.requests.append((parts.path, query))
        if query.get("watch") != "true":
            return listing(rv="1")
        resp = watching(block=True)
        with self.lock:
            self.raws.append(resp.response)
        return resp


def watched_paths(api: FakeKube) -> set[str]:
    return {p for p, q in api.requests if q.get("watch") == "true"}


def test_cluster_cache_watches_cluster_wide_when_no_namespaces() -> None:
    api = IdleKube()
    cache = ClusterCache(api, namespaces=None)
    cache.start()
    assert cache.wait_synced(5)
    wait_for("every watch open", lambda: len(api.blocked) == 8)
    cache.stop()
    g = "/apis/gateway.networking.k8s.io"
    assert watched_paths(api) == {
        f"{g}/v1/gatewayclasses", f"{g}/v1/gateways", f"{g}/v1/httproutes",
        f"{g}/v1/grpcroutes", f"{g}/v1beta1/referencegrants", "/api/v1/namespaces",
        "/api/v1/services", "/apis/discovery.k8s.io/v1/endpointslices",
    }  # fmt: skip


def test_cluster_cache_scopes_namespaced_kinds_and_dedups_namespaces() -> None:
    api = IdleKube()
    cache = ClusterCache(api, namespaces=["a", "b", "a"], kinds=[SERVICE, EVALUATOR_KINDS[0]])
    cache.start()
    assert cache.wait_synced(5)
    wait_for("every watch open", lambda: len(api.blocked) == 3)
    cache.stop()
    assert watched_paths(api) == {
        "/api/v1/namespaces/a/services",
        "/api/v1/namespaces/b/services",
        "/apis/gateway.networking.k8s.io/v1/gatewayclasses",
    }
    assert all(raw.cut.is_set() for raw in api.blocked)  # every watch was cut


def test_cluster_cache_docs_get_errors_and_version() -> None:
    seen: list[Change] = []
    svc_a = FakeKube(
        listing(obj("s1", "1"), rv="1"),
        watching(("ADDED", obj("s2", "2")), ("DELETED", obj("s1", "3")), block=True),
    )

    class Routed(client.ApiClient):
        """Answers per path: services in a scripted, httproutes in b forbidden."""

        def __init__(self) -> None:
            cfg = client.Configuration()
            cfg.host = "https://kube.invalid"
            super().__init__(cfg)

        def call_api(self, method: str, url: str, *args: Any, **kw: Any) -> Any:  # type: ignore[override]
            path = urlsplit(url).path
            if path == "/api/v1/namespaces/a/services":
                return svc_a.call_api(method, url, *args, **kw)
            if path.endswith("/namespaces/b/httproutes"):
                return status(403, "forbidden")
            return _idle(path, {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()})

    cache = ClusterCache(
        Routed(),
        namespaces=["a", "b"],
        kinds=[SERVICE, ROUTE],
        on_change=seen.append,
        retry_delay=0.01,
        max_retry_delay=0.05,
    )
    cache.start()
    wait_for("services in a settled", lambda: svc_a.exhausted.is_set() and svc_a.blocked)
    wait_for("the 403", cache.errors)
    assert not cache.synced
    assert cache.errors() == ["list httproutes in b: 403 Forbidden: forbidden"]
    cache.stop()
    assert [(c.type, c.obj["metadata"]["name"]) for c in seen] == [
        ("ADDED", "s1"), ("ADDED", "s2"), ("DELETED", "s1"),
    ]  # fmt: skip
    assert cache.version == 3
    assert [(d["kind"], d["apiVersion"], d["metadata"]["name"]) for d in cache.docs()] == [
        ("Service", "v1", "s2")
    ]
    assert cache.get("Service", "a", "s2") is not None
    assert cache.get("Service", "a", "s1") is None
    assert cache.get("Service", "c", "s2") is None  # not a cached namespace
    with pytest.raises(ValueError, match="kind 'Gateway' is not cached"):
        cache.get("Gateway", "a", "g")


def test_a_connection_pool_smaller_than_the_watches_is_reported(caplog: Any) -> None:
    api = IdleKube()
    api.configuration.connection_pool_maxsize = 10
    ClusterCache(api, namespaces=["a", "b"])  # 2 + 6 x 2 = 14 watches
    assert "14 informers share an ApiClient whose connection pool holds 10" in caplog.text
    caplog.clear()
    api.configuration.connection_pool_maxsize = 24
    ClusterCache(api, namespaces=["a", "b"])
    assert "connection pool" not in caplog.text
