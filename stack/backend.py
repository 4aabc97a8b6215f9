"""Demo backends: one process serves several named backends, each on its own port.

    python -m stack.backend --serve user-service-v2=127.0.0.1:18081 \
                            --serve user-service-v3=127.0.0.1:0

Each backend answers every path with a small JSON echo and the header
`X-Backend: <name>`, except:

- `GET/POST /-/control`  JSON `{"error_rate": 0.2, "latency_ms": 300}` (the control
  API of docs/local-control-plane.md). A POST merges the given keys and restarts the
  fault counter.
- `GET /-/healthz`        200 "ok" (never faulted, never counted)
- `GET /metrics`          Prometheus text: `http_requests_total{code,method}` and the
  `http_request_duration_seconds` histogram, one registry per backend.

Faults are deterministic (see `stack.faults`). Once every backend listens, the process
prints one JSON line per backend (`{"name", "host", "port"}`) on stdout and flushes,
so a parent can use port 0 and learn the real ports.
"""

from __future__ import annotations

import argparse
import json
import sys
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, ClassVar

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

from stack.faults import exact_rate, should_fail

CONTROL_PATH = "/-/control"
HEALTH_PATH = "/-/healthz"
METRICS_PATH = "/metrics"
BACKEND_HEADER = "X-Backend"
BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)


@dataclass
class BackendState:
    """Mutable per-backend state, guarded by `lock`."""

    name: str
    error_rate: Fraction = Fraction(0)
    latency_ms: float = 0.0
    served: int = 0  # requests since the last control change (the fault counter's n)
    lock: threading.Lock = field(default_factory=threading.Lock)
    registry: CollectorRegistry = field(default_factory=CollectorRegistry)

    def __post_init__(self) -> None:
        self.requests = Counter(
            "http_requests_total",
            "Requests served by this demo backend.",
            ["code", "method"],
            registry=self.registry,
        )
        self.duration = Histogram(
            "http_request_duration_seconds",
            "Time to answer a request, injected latency included.",
            ["code", "method"],
            buckets=BUCKETS,
            registry=self.registry,
        )

    def control(self) -> dict[str, Any]:
        with self.lock:
            return {
                "name": self.name,
                "error_rate": float(self.error_rate),
                "latency_ms": self.latency_ms,
                "served": self.served,
            }

    def configure(self, body: dict[str, Any]) -> dict[str, Any]:
        unknown = set(body) - {"error_rate", "latency_ms"}
        if unknown:
            raise ValueError(f"unknown keys: {sorted(unknown)}")
        with self.lock:
            if "error_rate" in body:
                rate = float(body["error_rate"])
                if not 0.0 <= rate <= 1.0:
                    raise ValueError("error_rate must be within 0..1")
                self.error_rate = exact_rate(rate)
            if "latency_ms" in body:
                latency = float(body["latency_ms"])
                if latency < 0:
                    raise ValueError("latency_ms must be >= 0")
                self.latency_ms = latency
            self.served = 0
        return self.control()

    def next_request(self) -> tuple[bool, float]:
        """Count one request; return (fail?, latency in seconds)."""
        with self.lock:
            self.served += 1
            return should_fail(self.served, self.error_rate), self.latency_ms / 1000.0


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive: Traefik and the load generator reuse sockets
    disable_nagle_algorithm = True  # headers and body are two writes: no 40 ms delayed-ACK stall
    server_version = "canary-demo-backend"
    state: ClassVar[BackendState]

    def log_message(self, format: str, *args: Any) -> None:
        pass  # quiet: thousands of requests per test

    def _send(self, code: int, body: bytes, content_type: str = "application/json") -> None:
        self.send_response(code)
        self.send_header(BACKEND_HEADER, self.state.name)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _body(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _json(self, code: int, obj: Any) -> None:
        self._send(code, json.dumps(obj).encode() + b"\n")

    def _handle(self) -> None:
        path = self.path.split("?", 1)[0]
        payload = self._body()
        if path == CONTROL_PATH:
            self._control(payload)
        elif path == HEALTH_PATH:
            self._send(200, b"ok\n", "text/plain")
        elif path == METRICS_PATH:
            self._send(200, generate_latest(self.state.registry), CONTENT_TYPE_LATEST)
        else:
            self._serve()

    def _control(self, payload: bytes) -> None:
        if self.command == "GET":
            self._json(200, self.state.control())
            return
        try:
            body = json.loads(payload or b"{}")
            if not isinstance(body, dict):
                raise ValueError("expected a JSON object")
            self._json(200, self.state.configure(body))
        except ValueError as exc:
            self._json(400, {"error": str(exc)})

    def _serve(self) -> None:
        start = time.perf_counter()
        fail, latency = self.state.next_request()
        if latency:
            time.sleep(latency)
        code = 500 if fail else 200
        self._json(
            code,
            {
                "backend": self.state.name,
                "method": self.command,
                "path": self.path,
                "headers": {k.lower(): v for k, v in self.headers.items()},
                "fault": fail,
            },
        )
        labels = {"code": str(code), "method": self.command}
        self.state.requests.labels(**labels).inc()
        self.state.duration.labels(**labels).observe(time.perf_counter() - start)

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = _handle


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128

    def handle_error(self, request: Any, client_address: Any) -> None:
        if isinstance(sys.exc_info()[1], ConnectionError):
            return  # a client gave up (e.g. the load generator's deadline): not a server bug
        super().handle_error(request, client_address)


@dataclass(frozen=True)
class ServeSpec:
    """One backend to serve: `name=host:port` on the command line."""

    name: str
    host: str
    port: int

    @classmethod
    def parse(cls, text: str) -> ServeSpec:
        name, sep, addr = text.partition("=")
        host, colon, port = addr.rpartition(":")
        if not (sep and colon and name and host and port.isdigit()):
            raise ValueError(f"expected NAME=HOST:PORT, got {text!r}")
        return cls(name=name, host=host, port=int(port))


class BackendGroup:
    """Several named backends served by threads of this process."""

    def __init__(self, specs: Sequence[ServeSpec]) -> None:
        self.servers: list[tuple[ServeSpec, _Server]] = []
        for spec in specs:
            handler = type(f"Handler_{spec.name}", (_Handler,), {"state": BackendState(spec.name)})
            self.servers.append((spec, _Server((spec.host, spec.port), handler)))
        self._threads: list[threading.Thread] = []

    def addresses(self) -> list[dict[str, Any]]:
        return [
            {"name": spec.name, "host": spec.host, "port": srv.server_address[1]}
            for spec, srv in self.servers
        ]

    def state(self, name: str) -> BackendState:
        for spec, srv in self.servers:
            if spec.name == name:
                handler: type[_Handler] = srv.RequestHandlerClass  # type: ignore[assignment]
                return handler.state
        raise KeyError(name)

    def start(self) -> None:
        for spec, srv in self.servers:
            thread = threading.Thread(
                target=srv.serve_forever,
                kwargs={"poll_interval": 0.05},
                name=spec.name,
                daemon=True,
            )
            thread.start()
            self._threads.append(thread)

    def stop(self) -> None:
        for _, srv in self.servers:
            srv.shutdown()
            srv.server_close()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m stack.backend", description=__doc__)
    parser.add_argument(
        "--serve",
        action="append",
        required=True,
        metavar="NAME=HOST:PORT",
        help="a backend to serve (repeatable; port 0 picks a free port)",
    )
    args = parser.parse_args(argv)
    group = BackendGroup([ServeSpec.parse(s) for s in args.serve])
    group.start()
    for addr in group.addresses():
        print(json.dumps(addr), flush=True)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        pass
    finally:
        group.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
