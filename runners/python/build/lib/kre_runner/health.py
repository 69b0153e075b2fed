"""`GET /livez` and `GET /readyz` (and `/health`) on KRT_LISTEN_HOST:KRT_HEALTH_PORT, with the
same answers as the Node apps (libs/observability health.module.ts, @nestjs/terminus shape)."""

from __future__ import annotations

import asyncio
import json
from typing import Callable

Check = Callable[[], tuple[bool, str]]


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
            if method not in ("GET", "HEAD"):
                status, body = 405, {"statusCode": 405, "message": "Method Not Allowed"}
            elif path == "/livez":
                status, body = 200, {"status": "ok"}
            elif path in ("/readyz", "/health"):
                status, body = self._ready()
            else:
                status, body = 404, {"statusCode": 404, "message": f"Cannot GET {path}"}
            data = json.dumps(body).encode()
            reason = {200: "OK", 404: "Not Found", 405: "Method Not Allowed", 503: "Service Unavailable"}[status]
            head = (
                f"HTTP/1.1 {status} {reason}\r\nContent-Type: application/json; charset=utf-8\r\n"
                f"Content-Length: {len(data)}\r\nConnection: close\r\n\r\n"
            ).encode()
            writer.write(head + (b"" if method == "HEAD" else data))
            await writer.drain()
        except (asyncio.TimeoutError, asyncio.IncompleteReadError, ConnectionError, asyncio.LimitOverrunError):
            pass
        finally:
            writer.close()
