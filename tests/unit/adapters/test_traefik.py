"""Traefik served-weights adapter: parsing /api/http/services (shape captured from 3.7.15)."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any

import pytest

from canary.adapters.errors import RuleNotServed, TraefikUnavailable
from canary.adapters.fakes import FakeTraefikApi
from canary.adapters.traefik import HttpTraefikApi, ServedRule, normalize, parse_served_rule

P = "httproute-app-team-a-api-route-gw-infra-prod-gateway-ep-web"
R0 = f"{P}-0-2d8a102d3364fc9e0b88"
R1 = f"{P}-1-c6d94b8f6d5a76e15325"
# /api/http/services of Traefik 3.7.15 serving the seed's api-route (loadBalancer details cut)
SERVICES: list[dict[str, Any]] = [
    {"name": f"{R0}-svc-app-team-a-user-service-v2-0@kubernetesgateway", "type": "loadbalancer"},
    {"name": f"{R0}-svc-app-team-a-user-service-v3-1@kubernetesgateway", "type": "loadbalancer"},
    {
        "name": f"{R0}-wrr@kubernetesgateway",
        "type": "weighted",
        "weighted": {
            "services": [
                {"name": f"{R0}-svc-app-team-a-user-service-v2-0", "weight": 90},
                {"name": f"{R0}-svc-app-team-a-user-service-v3-1", "weight": 10},
            ]
        },
    },
    {
        "name": f"{R1}-wrr@kubernetesgateway",
        "type": "weighted",
        "weighted": {"services": [{"name": f"{R1}-svc-app-team-a-user-service-v2-0", "weight": 1}]},
    },
]


def test_weights_of_each_rule_by_backendref_index() -> None:
    rule0 = parse_served_rule(SERVICES, namespace="app-team-a", route="api-route", rule=0)
    assert rule0.services == (f"{R0}-wrr@kubernetesgateway",)
    assert rule0.uniform() == {0: 90, 1: 10}
    assert rule0.serves({0: 90, 1: 10})
    assert not rule0.serves({0: 50, 1: 50})
    rule1 = parse_served_rule(SERVICES, namespace="app-team-a", route="api-route", rule=1)
    assert rule1.uniform() == {0: 1}


def test_zero_weight_children_are_absent_and_count_as_zero() -> None:
    services = [
        {
            "name": f"{R0}-wrr@kubernetesgateway",
            "weighted": {
                "services": [{"name": f"{R0}-svc-app-team-a-user-service-v2-0", "weight": 100}]
            },
        }
    ]
    served = parse_served_rule(services, namespace="app-team-a", route="api-route", rule=0)
    assert served.serves({0: 100, 1: 0})


def test_several_matches_must_agree() -> None:
    other = {**SERVICES[2], "name": f"{P}-0-ffffffffffffffffffff-wrr@kubernetesgateway"}
    other["weighted"] = {
        "services": [{"name": f"{R0}-svc-app-team-a-user-service-v2-0", "weight": 50}]
    }
    served = parse_served_rule(
        [SERVICES[2], other], namespace="app-team-a", route="api-route", rule=0
    )
    assert len(served.services) == 2
    assert served.uniform() is None
    assert not served.serves({0: 90, 1: 10})


@pytest.mark.parametrize(("route", "rule"), [("api", 0), ("api-route", 2), ("other-route", 0)])
def test_unserved_rule_is_an_error(route: str, rule: int) -> None:
    with pytest.raises(RuleNotServed):
        parse_served_rule(SERVICES, namespace="app-team-a", route=route, rule=rule)


def test_normalize_like_traefik() -> None:
    assert normalize("app.team_a") == "app-team-a"


def test_fake_serves_what_it_was_told() -> None:
    fake = FakeTraefikApi()
    fake.set(namespace="ns", route="r", rule=0, weights=[{0: 95, 1: 5}])
    assert fake.served_rule(namespace="ns", route="r", rule=0).serves({0: 95, 1: 5})
    with pytest.raises(RuleNotServed):
        fake.served_rule(namespace="ns", route="r", rule=1)
    fake.unavailable = True
    with pytest.raises(TraefikUnavailable):
        fake.served_rule(namespace="ns", route="r", rule=0)
    assert ServedRule(services=()).uniform() is None


@pytest.fixture
def traefik_api() -> Iterator[str]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:
            pass

        def do_GET(self) -> None:
            if "page=2" in self.path:
                body, next_page = [SERVICES[3]], "1"
            else:
                body, next_page = SERVICES[:3], "2"
            data = json.dumps(body).encode()
            self.send_response(200)
            self.send_header("X-Next-Page", next_page)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

    server = HTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_http_adapter_follows_pages(traefik_api: str) -> None:
    api = HttpTraefikApi(base_url=traefik_api)
    assert api.served_rule(namespace="app-team-a", route="api-route", rule=1).uniform() == {0: 1}


def test_http_adapter_unreachable() -> None:
    with pytest.raises(TraefikUnavailable):
        HttpTraefikApi(base_url="http://127.0.0.1:9", timeout=0.5).served_rule(
            namespace="a", route="b", rule=0
        )
