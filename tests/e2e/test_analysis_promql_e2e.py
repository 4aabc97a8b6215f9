"""One-window error rates for envoy-gateway and istio on the real Prometheus — SYNTHETIC series.

No Envoy Gateway or Istio runs here. A tiny exporter serves counters named and labelled
as those projects document them (envoy: ``envoy_cluster_upstream_rq_xx`` with
``envoy_cluster_name`` ``<kind>/<ns>/<route>/rule/<n>/backend/<i>`` and
``envoy_response_code_class``; istio: ``istio_requests_total`` with ``reporter``,
``destination_service_namespace``, ``destination_service_name``, ``response_code``), the
real Prometheus of the local stack scrapes it every 1 s, and the builtin error-rate query
that canary renders for the flavor is evaluated by that Prometheus at a fixed time just
after the canary's first 5xx sample: it counts that sample (a series born inside the
window counts from zero), where the ``increase()`` form used before issue 14 answers 0.
"""

from __future__ import annotations

import json
import threading
import urllib.parse
import urllib.request
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from operator_support import wait_until

from canary.core.analysis.templates import Backend, Target, builtin, selector

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(120)]

WINDOW = "3s"


class Exporter:
    """Counters served in the Prometheus text format (synthetic)."""

    def __init__(self) -> None:
        self.counters: dict[str, float] = {}
        self.lock = threading.Lock()
        exporter = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                with exporter.lock:
                    body = "".join(f"{k} {v}\n" for k, v in exporter.counters.items())
                data = body.encode()
                self.send_response(200)
                self.send_header("Content-Type", "text/plain; version=0.0.4")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def set(self, series: str, value: float) -> None:
        with self.lock:
            self.counters[series] = value

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def exporter(cluster_env: Any, namespace: str) -> Iterator[Exporter]:
    exp = Exporter()
    targets = Path(cluster_env.targets_dir) / f"synthetic-{namespace}.json"
    group = {"targets": [f"127.0.0.1:{exp.port}"], "labels": {"job_kind": "synthetic"}}
    tmp = targets.with_suffix(".tmp")
    tmp.write_text(json.dumps([group]))
    tmp.rename(targets)
    try:
        yield exp
    finally:
        targets.unlink(missing_ok=True)
        exp.close()


def _query(prometheus_url: str, promql: str, at: float | None = None) -> list[Any]:
    params = {"query": promql}
    if at is not None:
        params["time"] = f"{at:.3f}"
    url = f"{prometheus_url}/api/v1/query?" + urllib.parse.urlencode(params)
    with urllib.request.urlopen(url, timeout=10) as resp:
        body = json.load(resp)
    assert body["status"] == "success", body
    return list(body["data"]["result"])


def _labels(d: dict[str, str]) -> str:
    return "{" + ",".join(f'{k}="{v}"' for k, v in d.items()) + "}"


# flavor → (counter, label sets of canary/stable, 5xx label, 2xx value of that label)
def _families(ns: str) -> dict[str, tuple[str, dict[str, dict[str, str]], str, str, str]]:
    return {
        "envoy-gateway": (
            "envoy_cluster_upstream_rq_xx",
            {
                "canary": {"envoy_cluster_name": f"httproute/{ns}/api-route/rule/0/backend/1"},
                "stable": {"envoy_cluster_name": f"httproute/{ns}/api-route/rule/0/backend/0"},
            },
            "envoy_response_code_class",
            "2",
            "5",
        ),
        "istio": (
            "istio_requests_total",
            {
                side: {
                    "reporter": "source",
                    "destination_service_namespace": ns,
                    "destination_service_name": name,
                }
                for side, name in (("canary", "user-service-v3"), ("stable", "user-service-v2"))
            },
            "response_code",
            "200",
            "500",
        ),
    }


@pytest.mark.parametrize("flavor", ["envoy-gateway", "istio"])
def test_a_5xx_series_born_in_the_window_is_counted_synthetic(
    flavor: str, exporter: Exporter, cluster_env: Any, namespace: str
) -> None:
    """Given synthetic canary/stable counters of ``flavor`` scraped by the real
    Prometheus, when the canary's 5xx series appears with value 1, then canary's builtin
    error rate evaluated 0.5 s after that first sample is 1 / (requests in the window),
    and the former increase() form answers 0 at the same instant."""
    prom = cluster_env.prometheus_url
    metric, sides, code_label, ok_code, err_code = _families(namespace)[flavor]
    ok = {side: f"{metric}{_labels({**lbl, code_label: ok_code})}" for side, lbl in sides.items()}
    err = f"{metric}{_labels({**sides['canary'], code_label: err_code})}"
    exporter.set(ok["canary"], 100)
    exporter.set(ok["stable"], 1000)

    def settled() -> bool:  # ≥ 5 samples: the 2xx series is older than the window
        found = _query(prom, f"count_over_time({ok['canary']}[1m])")
        return bool(found) and float(found[0]["value"][1]) >= 5

    wait_until("the synthetic canary series scraped 5 times", settled, timeout=30)
    exporter.set(ok["canary"], 110)
    exporter.set(ok["stable"], 1190)
    exporter.set(err, 1)  # the first 5xx: the series is born with it

    def first_5xx() -> float | None:
        found = _query(prom, f"{err}[1m]")
        stamps = [float(t) for r in found for t, _ in r["values"]]
        return min(stamps) if stamps else None

    born = wait_until("the 5xx series scraped", first_5xx, timeout=30)
    at = born + 0.5
    target = Target(route="api-route", rule=0, canary_index=1, stable_index=0)
    canary = Backend("user-service-v3", namespace, "canary")
    q = builtin(
        "error-rate",
        flavor,  # type: ignore[arg-type]
        namespace=namespace,
        targets=[target],
        backend=canary,
        interval=WINDOW,
    )
    (now,) = _query(prom, q.value, at)
    (requests,) = _query(prom, q.requests, at)
    n = float(requests["value"][1])
    assert 0 < n <= 11, requests  # what the canary counted in the window (at most 10 + 1)
    assert float(now["value"][1]) == pytest.approx(1 / n), (q.value, now)
    # the form used before issue 14 cannot see the born series' first sample
    sel = selector(flavor, namespace=namespace, targets=[target], backend=canary)  # type: ignore[arg-type]
    errors = sel + (
        ',response_code=~"5.."' if flavor == "istio" else ',envoy_response_code_class="5"'
    )
    old = (
        f"(sum(increase({metric}{{{errors}}}[{WINDOW}])) or vector(0)) / "
        f"sum(increase({metric}{{{sel}}}[{WINDOW}]))"
    )
    (before,) = _query(prom, old, at)
    assert float(before["value"][1]) == 0.0, (old, before)
