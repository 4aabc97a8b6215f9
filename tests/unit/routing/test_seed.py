"""The seed article's examples (examples/routes/seed.yaml), end to end."""

from __future__ import annotations

import pytest

from canary.core.routing import build_table
from tests.unit.routing.routing_builders import ask, seed_docs, split


@pytest.fixture(scope="module")
def table():  # type: ignore[no-untyped-def]
    return build_table(seed_docs())


def test_api_route_v2_header_splits_90_10_between_v2_and_v3(table) -> None:  # type: ignore[no-untyped-def]
    d = ask(table, "GET https://api.example.com/users", {"X-Api-Version": "v2"})
    assert (d.status, d.route, d.rule) == (200, "app-team-a/api-route", 0)
    assert split(d) == {"user-service-v2": 0.9, "user-service-v3": 0.1}
    assert d.error_share == 0.0
    assert d.to_dict()["backends"][0] == {
        "name": "user-service-v2",
        "namespace": "app-team-a",
        "port": 8080,
        "weight": 90,
        "share": 0.9,
        "valid": True,
        "kind": "Service",
        "intended_share": 0.9,
    }


@pytest.mark.parametrize(
    "path,headers",
    [
        ("/users", {}),
        ("/users/42", {}),
        ("/users", {"X-Api-Version": "v1"}),
        ("/users/", {"x-api-version": "V2"}),  # values are case-sensitive
    ],
)
def test_api_route_other_users_requests_go_to_v2(table, path, headers) -> None:  # type: ignore[no-untyped-def]
    d = ask(table, f"GET https://api.example.com{path}", headers)
    assert (d.status, d.rule) == (200, 1)
    assert split(d) == {"user-service-v2": 1.0}


def test_api_route_header_name_is_case_insensitive(table) -> None:  # type: ignore[no-untyped-def]
    d = ask(table, "GET https://api.example.com/users/7", {"x-api-version": "v2"})
    assert d.rule == 0


def test_api_route_unmatched_path_and_host_are_404(table) -> None:  # type: ignore[no-untyped-def]
    assert ask(table, "GET https://api.example.com/usersx").status == 404
    assert ask(table, "GET https://other.example.com/users").status == 404


def test_api_route_is_not_on_the_port_80_listener(table) -> None:  # type: ignore[no-untyped-def]
    # http-redirect allows routes from the Gateway's namespace (infra) only.
    d = ask(table, "GET http://api.example.com/users")
    assert (d.status, d.listener) == (404, "http-redirect")


def test_transform_route_rewrites_prefix_and_modifies_headers(table) -> None:  # type: ignore[no-untyped-def]
    d = ask(
        table,
        "GET https://app.example.com/old-api/orders?page=2",
        [("X-Internal-Debug", "1"), ("X-Request-Source", "client"), ("Accept", "*/*")],
    )
    assert (d.status, d.route, d.rule) == (200, "default/transform-route", 0)
    r = d.to_dict()["request"]
    assert r["path"] == "/v2/api/orders"
    assert r["query"] == "page=2"
    assert r["host"] == "app.example.com"
    assert r["headers"] == {
        "X-Request-Source": "gateway",
        "Accept": "*/*",
        "X-Forwarded-Prefix": "/old-api",
    }


def test_transform_route_bare_prefix_becomes_v2_api(table) -> None:  # type: ignore[no-untyped-def]
    d = ask(table, "GET https://app.example.com/old-api")
    assert d.request.path == "/v2/api"


def test_transform_route_legacy_redirects_301(table) -> None:  # type: ignore[no-untyped-def]
    d = ask(table, "GET https://app.example.com/legacy")
    assert (d.status, d.location, d.backends) == (301, "https://new.example.com/legacy", [])
    assert d.to_dict()["location"] == "https://new.example.com/legacy"
    # Exact: /legacy/ is not /legacy
    assert ask(table, "GET https://app.example.com/legacy/").status == 404


def test_grpc_route_service_and_method(table) -> None:  # type: ignore[no-untyped-def]
    d = ask(table, "POST https://grpc.example.com", grpc=("user.UserService", "GetUser"))
    assert (d.status, d.route_kind, d.rule) == (200, "GRPCRoute", 0)
    assert split(d) == {"user-grpc-service": 1.0}
    d = ask(table, "POST https://grpc.example.com", grpc=("order.OrderService", "List"))
    assert (d.rule, split(d)) == (1, {"order-grpc-service": 1.0})
    # an unknown method of user.UserService is UNIMPLEMENTED (404)
    assert (
        ask(table, "POST https://grpc.example.com", grpc=("user.UserService", "Del")).status == 404
    )


def test_reference_grant_for_gateway_secret_does_not_permit_route_backends() -> None:
    from tests.unit.routing.routing_builders import backend, route, rule

    docs = seed_docs()
    docs.append(
        route(
            "cross",
            rule(backend("vault", namespace="cert-store")),
            namespace="app-team-a",
            hostnames=["x.example.com"],
            parents=[{"name": "prod-gateway", "namespace": "infra"}],
        )
    )
    d = ask(docs, "GET https://x.example.com/")
    assert d.status == 500
    assert d.backends[0].reason is not None and "ReferenceGrant" in d.backends[0].reason
    assert d.error_share == 1.0
