"""Bounded, open-loop HTTP/1.1 load generator on raw asyncio streams (keep-alive).

    python -m stack.loadgen --url http://127.0.0.1:18000/users --rate 100 --duration 10 \
        -H "Host: api.example.com" -H "X-Api-Version: v2"

Requests are scheduled at `rate` per second regardless of how fast answers come (open
loop), handed to a pool of keep-alive connections, and the run is bounded twice: by
`count`/`duration` for what is sent and by a hard deadline (`duration + drain`) after
which unfinished requests are abandoned. The report counts answers per backend (the
`X-Backend` response header; "-" when absent, e.g. a gateway 404/503) and per status.
Loopback targets only: the tests never send traffic anywhere else.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import sys
import time
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from urllib.parse import urlsplit

NO_BACKEND = "-"


@dataclass
class LoadReport:
    """What a run sent and got back."""

    planned: int
    sent: int = 0
    completed: int = 0
    errors: int = 0  # connection errors and timeouts (no HTTP status)
    elapsed: float = 0.0
    by_backend: Counter[str] = field(default_factory=Counter)
    by_code: Counter[int] = field(default_factory=Counter)
    by_backend_code: Counter[tuple[str, int]] = field(default_factory=Counter)
    latencies: list[float] = field(default_factory=list)

    @property
    def rps(self) -> float:
        return self.completed / self.elapsed if self.elapsed else 0.0

    def share(self, backend: str) -> float:
        """Fraction of completed answers that came from `backend`."""
        return self.by_backend[backend] / self.completed if self.completed else 0.0

    def error_ratio(self, backend: str) -> float:
        """Fraction of `backend`'s answers with a 5xx status."""
        total = self.by_backend[backend]
        bad = sum(n for (b, c), n in self.by_backend_code.items() if b == backend and c >= 500)
        return bad / total if total else 0.0

    def quantile(self, q: float) -> float:
        if not self.latencies:
            return 0.0
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))]

    def to_dict(self) -> dict[str, object]:
        return {
            "planned": self.planned,
            "sent": self.sent,
            "completed": self.completed,
            "errors": self.errors,
            "elapsed_s": round(self.elapsed, 3),
            "rps": round(self.rps, 1),
            "by_backend": dict(self.by_backend),
            "by_code": {str(k): v for k, v in sorted(self.by_code.items())},
            "by_backend_code": {
                f"{b} {c}": n for (b, c), n in sorted(self.by_backend_code.items())
            },
            "p50_ms": round(self.quantile(0.5) * 1000, 1),
            "p99_ms": round(self.quantile(0.99) * 1000, 1),
        }


class _Conn:
    """One keep-alive HTTP/1.1 connection."""

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
            with contextlib.suppress(Exception):
                await self.writer.wait_closed()
        self.reader = self.writer = None

    async def request(self, raw: bytes, backend_header: bytes) -> tuple[int, str]:
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        assert self.reader is not None
        self.writer.write(raw)
        await self.writer.drain()
        head = await self.reader.readuntil(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split(" ", 2)[1])
        headers: dict[str, str] = {}
        for line in lines[1:]:
            if ":" in line:
                k, v = line.split(":", 1)
                headers[k.strip().lower()] = v.strip()
        if headers.get("transfer-encoding", "").lower() == "chunked":
            while True:
                size = int((await self.reader.readline()).split(b";")[0], 16)
                await self.reader.readexactly(size + 2)
                if size == 0:
                    break
        else:
            await self.reader.readexactly(int(headers.get("content-length", "0")))
        if headers.get("connection", "").lower() == "close":
            await self.close()
        return status, headers.get(backend_header.decode(), NO_BACKEND)


def build_request(
    *, url: str, method: str = "GET", headers: Mapping[str, str] | None = None
) -> bytes:
    """The raw HTTP/1.1 request for `url` (Host from `headers` wins over the URL's)."""
    parts = urlsplit(url)
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    hdrs = {"Host": parts.netloc, "User-Agent": "canary-loadgen", "Connection": "keep-alive"}
    for k, v in (headers or {}).items():
        hdrs = {h: x for h, x in hdrs.items() if h.lower() != k.lower()}
        hdrs[k] = v
    lines = [f"{method} {path} HTTP/1.1", *(f"{k}: {v}" for k, v in hdrs.items()), "", ""]
    return "\r\n".join(lines).encode("latin-1")


async def run_load(
    *,
    url: str,
    rate: float,
    duration: float | None = None,
    count: int | None = None,
    headers: Mapping[str, str] | None = None,
    method: str = "GET",
    concurrency: int = 32,
    request_timeout: float = 10.0,
    drain: float = 10.0,
    backend_header: str = "X-Backend",
) -> LoadReport:
    """Send `count` requests (or rate × duration) at `rate`/s; bounded by duration + drain."""
    if rate <= 0:
        raise ValueError("rate must be > 0")
    if count is None:
        if duration is None:
            raise ValueError("give count or duration")
        count = max(1, round(rate * duration))
    planned_duration = count / rate
    parts = urlsplit(url)
    if parts.scheme != "http" or not parts.hostname:
        raise ValueError(f"only http:// URLs are supported: {url}")
    host, port = parts.hostname, parts.port or 80
    raw = build_request(url=url, method=method, headers=headers)
    hdr = backend_header.lower().encode()
    report = LoadReport(planned=count)
    queue: asyncio.Queue[float] = asyncio.Queue()

    async def worker() -> None:
        conn = _Conn(host, port)
        try:
            while True:
                await queue.get()
                t = time.perf_counter()
                try:
                    code, backend = await asyncio.wait_for(conn.request(raw, hdr), request_timeout)
                except (TimeoutError, OSError, asyncio.IncompleteReadError, ValueError):
                    report.errors += 1
                    await conn.close()
                else:
                    report.completed += 1
                    report.latencies.append(time.perf_counter() - t)
                    report.by_backend[backend] += 1
                    report.by_code[code] += 1
                    report.by_backend_code[(backend, code)] += 1
                finally:
                    queue.task_done()
        finally:
            await conn.close()

    async def schedule() -> None:
        t0 = time.perf_counter()
        for i in range(count):
            delay = t0 + i / rate - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            queue.put_nowait(time.perf_counter())
            report.sent += 1
        await queue.join()

    workers = [asyncio.create_task(worker()) for _ in range(max(1, concurrency))]
    start = time.perf_counter()
    try:
        await asyncio.wait_for(schedule(), planned_duration + drain)
    except TimeoutError:
        pass  # bounded: whatever did not finish by the deadline is abandoned
    finally:
        report.elapsed = time.perf_counter() - start
        for w in workers:
            w.cancel()
        await asyncio.gather(*workers, return_exceptions=True)
    return report


def load(**kwargs: object) -> LoadReport:
    """Synchronous wrapper of `run_load` (same keyword arguments)."""
    return asyncio.run(run_load(**kwargs))  # type: ignore[arg-type]


def _header(text: str) -> tuple[str, str]:
    name, sep, value = text.partition(":")
    if not sep or not name.strip():
        raise argparse.ArgumentTypeError(f"expected 'Name: value', got {text!r}")
    return name.strip(), value.strip()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m stack.loadgen", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--url", required=True)
    parser.add_argument("--rate", type=float, default=100.0, help="requests per second")
    parser.add_argument("--duration", type=float, default=10.0, help="seconds of sending")
    parser.add_argument("--count", type=int, help="requests to send (overrides --duration)")
    parser.add_argument("-H", "--header", type=_header, action="append", default=[])
    parser.add_argument("--host", help="Host header (shorthand for -H 'Host: …')")
    parser.add_argument("--method", default="GET")
    parser.add_argument("--concurrency", type=int, default=32)
    args = parser.parse_args(argv)
    headers = dict(args.header)
    if args.host:
        headers["Host"] = args.host
    report = load(
        url=args.url,
        rate=args.rate,
        duration=args.duration,
        count=args.count,
        headers=headers,
        method=args.method,
        concurrency=args.concurrency,
    )
    print(json.dumps(report.to_dict(), indent=2))
    return 0 if report.completed == report.planned and not report.errors else 1


if __name__ == "__main__":
    sys.exit(main())
