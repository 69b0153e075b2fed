"""Fixtures: a real nats-server with JetStream (the project's binary), and helpers that provision a
workflow as libs/messaging/src/workflow-streams.ts does and run the runner as a process."""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

import sys, pathlib
sys.path.append(str(pathlib.Path(__file__).parent / "krt"))

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[2]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def nats_server_binary() -> str:
    explicit = os.environ.get("NATS_SERVER_BIN")
    if explicit:
        return explicit
    path = subprocess.run(
        ["bash", str(REPO / "scripts/tools/build.sh"), "--path", "nats-server"],
        capture_output=True, text=True, check=True,
    ).stdout.strip()
    if not os.path.exists(path):
        subprocess.run(["bash", str(REPO / "scripts/tools/build.sh"), "nats-server"], check=True)
    return path


class NatsServer:
    def __init__(self, max_payload: int | None = None):
        self.port = free_port()
        self.dir = tempfile.mkdtemp(prefix="kre-pytest-nats-")
        self.args = [nats_server_binary(), "-a", "127.0.0.1", "-p", str(self.port), "-js", "-sd", self.dir]
        if max_payload:
            conf = Path(self.dir) / "nats.conf"
            conf.write_text(f"max_payload: {max_payload}\n")
            self.args += ["-c", str(conf)]
        self.start()
        self.url = f"nats://127.0.0.1:{self.port}"

    def restart(self) -> None:
        self.proc.terminate()
        self.proc.wait(10)
        self.start()

    def start(self) -> None:
        self.proc = subprocess.Popen(self.args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.time() + 15
        while time.time() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                break
            except OSError:
                time.sleep(0.05)
        else:
            raise RuntimeError("nats-server did not start")

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        shutil.rmtree(self.dir, ignore_errors=True)


@pytest.fixture(scope="session")
def nats_server():
    server = NatsServer()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def small_nats_server():
    """A server with a 64 KiB max payload, for compression and refusal."""
    server = NatsServer(max_payload=64 * 1024)
    yield server
    server.stop()


def run(coro):
    return asyncio.run(coro)


class BackgroundLoop:
    """One asyncio loop for a whole test module, in a thread: subscriptions outlive a test."""

    def __init__(self):
        import threading

        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()

    def __call__(self, coro, timeout: float = 60):
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def close(self):
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)


@pytest.fixture(scope="module")
def aio():
    loop = BackgroundLoop()
    yield loop
    loop.close()
