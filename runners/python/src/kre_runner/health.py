"""`GET /livez` and `GET /readyz` (and `/health`) on KRT_LISTEN_HOST:KRT_HEALTH_PORT, with the
same answers as the Node apps (libs/observability health.module.ts, @nestjs/terminus shape), and
`GET /metrics` (Prometheus text: the process series, under prom-client's names as the Node
runner serves them, so one dashboard reads both)."""

from __future__ import annotations

import asyncio
import json
import os
import time
from typing import Callable

_STARTED = time.time()

Check = Callable[[], tuple[bool, str]]


def process_metrics() -> str:
    """CPU time, resident memory and start time, in Prometheus's text format."""
    rss = 0
    try:
        with open("/proc/self/statm", encoding="ascii") as statm:
            rss = int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        pass
    series = [
        ("process_cpu_seconds_total", "counter", "Total user and system CPU time spent in seconds.", time.process_time()),
        ("process_resident_memory_bytes", "gauge", "Resident memory size in bytes.", rss),
        ("process_start_time_seconds", "gauge", "Start time of the process since unix epoch in seconds.", round(_STARTED, 3)),
    ]
    return "".join(f"# HELP {name} {text}\n# TYPE {name} {kind}\n{name} {value}\n" for name, kind, text, value in series)


class HealthServer:
    def __init__(self, host: str, port: int, checks: dict[str, Check]):
        self.host = host
        self.port = port
        self.checks = checks
        self.server: asyncio.AbstractServer | None = None

    async def start(self) -> None:
        self.server = await asyncio.start_server(self._serve, self.host, self.port)

    async def close(self) -> None:
        if self.server is not None:
            self.server.close()
            try:
                await asyncio.wait_for(self.server.wait_closed(), timeout=2)
            except asyncio.TimeoutError:
                pass

    def _ready(self) -> tuple[int, dict]:
        info, error = {}, {}
        for key, check in self.checks.items():
            try:
                ok, _reason = check()
            except Exception:
                ok = False
            (info if ok else error)[key] = {"status": "up" if ok else "down"}
        details = {**info, **error}
        if error:
            return 503, {"status": "error", "info": info, "error": error, "details": details}
        return 200, {"status": "ok", "info": info, "error": {}, "details": details}

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            request = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), timeout=5)
            line = request.split(b"\r\n", 1)[0].decode("latin-1").split()
            method, path = (line[0], line[1].split("?", 1)[0]) if len(line) >= 2 else ("", "")
            content_type = "application/json; charset=utf-8"
            if method not in ("GET", "HEAD"):
                status, body = 405, {"statusCode": 405, "message": "Method Not Allowed"}
            elif path == "/metrics":
                status, body = 200, process_metrics()
                content_type = "text/plain; version=0.0.4; charset=utf-8"
            elif path == "/livez":
                status, body = 200, {"status": "ok"}
            elif path in ("/readyz", "/health"):
                status, body = self._ready()
            else:
                status, body = 404, {"statusCode": 404, "message": f"Cannot GET {path}"}
            data = (body if isinstance(body, str) else json.dumps(body)).encode()
            reason = {200: "OK", 404: "Not Found", 405: "Method Not Allowed", 503: "Service Unavailable"}[status]
            head = (
                f"HTTP/1.1 {status} {reason}\r\nContent-Type: {content_type}\r\n"
                f"Content-Length: {len(data)}\r\nConnection: close\r\n\r\n"
            ).encode()
            writer.write(head + (b"" if method == "HEAD" else data))
            await writer.drain()
        except (asyncio.TimeoutError, asyncio.IncompleteReadError, ConnectionError, asyncio.LimitOverrunError):
            pass
        finally:
            writer.close()
