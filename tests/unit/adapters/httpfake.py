"""A scripted HTTP server on 127.0.0.1 for adapter unit tests (a fake of a remote API).

``server.script(method, path_prefix, status, body)`` queues an answer; a queue entry is
consumed per matching request and the last one repeats. Every request is recorded.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

Answer = tuple[int, Any] | Callable[["Request"], tuple[int, Any]]


@dataclass
class Request:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class FakeHTTP:
    url: str = ""
    requests: list[Request] = field(default_factory=list)
    _scripts: list[tuple[str, str, list[Answer]]] = field(default_factory=list)

    def script(self, method: str, prefix: str, *answers: Answer) -> None:
        self._scripts.insert(0, (method, prefix, list(answers)))

    def answer(self, req: Request) -> tuple[int, Any]:
        for method, prefix, answers in self._scripts:
            if req.method == method and req.path.startswith(prefix):
                found = answers.pop(0) if len(answers) > 1 else answers[0]
                return found(req) if callable(found) else found
        return 404, {"kind": "Status", "code": 404, "reason": "NotFound", "message": "no script"}

    def only(self, method: str) -> list[Request]:
        return [r for r in self.requests if r.method == method]


def serve() -> Iterator[FakeHTTP]:
    fake = FakeHTTP()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.0"

        def _handle(self) -> None:
            parts = urlsplit(self.path)
            length = int(self.headers.get("Content-Length") or 0)
            req = Request(
                method=self.command,
                path=parts.path,
                query=parse_qs(parts.query),
                headers={k.lower(): v for k, v in self.headers.items()},
                body=self.rfile.read(length) if length else b"",
            )
            fake.requests.append(req)
            status, body = fake.answer(req)
            raw = body if isinstance(body, bytes) else json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(raw)))
            self.end_headers()
            self.wfile.write(raw)

        do_GET = do_POST = do_PATCH = do_PUT = do_DELETE = _handle

        def log_message(self, format: str, *args: Any) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    fake.url = f"http://127.0.0.1:{httpd.server_address[1]}"
    try:
        yield fake
    finally:
        httpd.shutdown()
        httpd.server_close()
