"""The runner rides out a NATS restart and a consumer recreated by a redeploy."""

import asyncio
import pathlib
import time

from conftest import NatsServer
from plane import Node, Plane, RunnerProcess, value

from conformance_pb2 import Req

KRT = pathlib.Path(__file__).parent / "krt"
NODES = [Node("n", ["entrypoint"]), Node("sink", ["n"])]


async def echo(plane, text, timeout=15):
    rid = await plane.send("entrypoint", Req(mode="echo", text=text))
    outs = await plane.wait_for(rid, plane.subject("n"), timeout=timeout)
    assert len(outs) == 1, [(o.headers, o.subject) for o in outs]
    out = outs[0]
    return value(out)["text"]


def test_nats_restart():
    server = NatsServer()
    try:

        async def whole():
            first = await Plane(server.url, NODES).connect()
            await first.provision()
            runner = await RunnerProcess(first.env("n", KRT, "v3/main.py"), KRT).ready()
            await first.watch(first.subject("n"))
            assert await echo(first, "before") == "before"
            await first.nc.close()
            server.restart()
            await runner.ready(timeout=20)
            await first.connect()
            first.seen.clear()
            await first.watch(first.subject("n"))
            try:
                started = time.time()
                assert await echo(first, "after restart") == "after restart"
                assert time.time() - started < 8  # not a heartbeat-watchdog wait
                assert "NATS: reconnected" in runner.stderr()
            finally:
                await runner.stop()
                await first.close()

        asyncio.run(whole())
    finally:
        server.stop()


def test_consumer_recreated(nats_server):
    async def go():
        plane = await Plane(nats_server.url, NODES).connect()
        await plane.provision()
        await plane.watch(plane.subject("n"))
        runner = await RunnerProcess(plane.env("n", KRT, "v3/main.py"), KRT).ready()
        try:
            assert await echo(plane, "one") == "one"
            info = await plane.js.consumer_info(plane.stream, "n_entrypoint")
            await plane.js.delete_consumer(plane.stream, "n_entrypoint")
            deadline = time.time() + 15
            while (await asyncio.to_thread(runner.get, "/readyz"))[0] == 200 and time.time() < deadline:
                await asyncio.sleep(0.1)
            status, body = await asyncio.to_thread(runner.get, "/readyz")
            assert status == 503 and body["error"]["consumers"] == {"status": "down"}
            await plane.js.add_consumer(plane.stream, info.config)
            await runner.ready(timeout=15)
            assert await echo(plane, "two") == "two"
        finally:
            await runner.stop()
            await plane.close()

    asyncio.run(go())
