"""Echo backends for the differential harness: HTTP/1.1 and gRPC (h2c), one process.

    python -m stack.echo --http b0=127.0.0.1:0 --grpc g0=127.0.0.1:0

An HTTP backend answers every request with JSON ``{"backend", "method", "target",
"host", "headers": [[name, value], ...]}`` — the request target exactly as received
(path and query) and every header line (repeated headers stay separate, unlike
``stack.backend``'s echo). A gRPC backend answers every unary method (raw bytes, no
protobuf) with JSON ``{"backend", "method", "authority", "metadata": [[k, v], ...]}``
using grpcio's generic handler. Once all listen, one JSON line per backend
(``{"name", "kind", "port"}``) is printed on stdout.
"""

from __future__ import annotations

import argparse
import json
import sys
import threading
from collections.abc import Sequence
from concurrent import futures
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, ClassVar

import grpc


class _Echo(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True
    name: ClassVar[str]

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _echo(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            self.rfile.read(length)
        body = json.dumps(
            {
                "backend": self.name,
                "method": self.command,
                "target": self.path,
                "host": self.headers.get("Host"),
                "headers": [[k, v] for k, v in self.headers.items()],
            }
        ).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = do_OPTIONS = _echo


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True


class _GrpcEcho(grpc.GenericRpcHandler):
    def __init__(self, name: str) -> None:
        self.name = name

    def service(self, details: grpc.HandlerCallDetails) -> grpc.RpcMethodHandler | None:
        method = details.method
        metadata = [[k, v] for k, v in details.invocation_metadata]

        def unary(request: bytes, context: grpc.ServicerContext) -> bytes:
            return json.dumps(
                {
                    "backend": self.name,
                    "method": method,
                    "authority": dict(context.invocation_metadata()).get(":authority"),
                    "metadata": metadata,
                }
            ).encode()

        return grpc.unary_unary_rpc_method_handler(unary)


def _spec(text: str) -> tuple[str, str, int]:
    name, _, addr = text.partition("=")
    host, _, port = addr.rpartition(":")
    if not (name and host and port.isdigit()):
        raise SystemExit(f"expected NAME=HOST:PORT, got {text!r}")
    return name, host, int(port)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m stack.echo", description=__doc__)
    parser.add_argument("--http", action="append", default=[], metavar="NAME=HOST:PORT")
    parser.add_argument("--grpc", action="append", default=[], metavar="NAME=HOST:PORT")
    args = parser.parse_args(argv)
    lines: list[dict[str, Any]] = []
    servers: list[_Server] = []
    for text in args.http:
        name, host, port = _spec(text)
        handler = type(f"Echo_{name}", (_Echo,), {"name": name})
        srv = _Server((host, port), handler)
        servers.append(srv)
        threading.Thread(target=srv.serve_forever, daemon=True).start()
        lines.append({"name": name, "kind": "http", "port": srv.server_address[1]})
    grpc_servers: list[grpc.Server] = []
    for text in args.grpc:
        name, host, port = _spec(text)
        gsrv = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
        gsrv.add_generic_rpc_handlers((_GrpcEcho(name),))
        bound = gsrv.add_insecure_port(f"{host}:{port}")
        gsrv.start()
        grpc_servers.append(gsrv)
        lines.append({"name": name, "kind": "grpc", "port": bound})
    for line in lines:
        print(json.dumps(line), flush=True)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        pass
    finally:
        for srv in servers:
            srv.shutdown()
        for gsrv in grpc_servers:
            gsrv.stop(0)
    return 0


if __name__ == "__main__":
    sys.exit(main())
