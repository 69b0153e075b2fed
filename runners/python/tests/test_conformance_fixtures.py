"""The conformance fixtures (runners/python/conformance) behave as e2e/conformance/README.md says,
in each style as far as it can express it."""

import asyncio
import pathlib

import pytest

from kre_runner import codec
from plane import Node, Plane, RunnerProcess, value

from conformance_pb2 import Req

FIXTURES = pathlib.Path(__file__).parents[1] / "conformance"
NODES = [Node("n", ["entrypoint", "special"]), Node("sink", ["n"]), Node("sider", ["n.side"]), Node("special", [])]


@pytest.mark.parametrize("style", ["v3", "v1"])
def test_conformance_fixture(nats_server, style):
    async def go():
        plane = await Plane(nats_server.url, NODES).connect()
        await plane.provision()
        await plane.watch(plane.subject("n"), plane.subject("n") + ".>")
        runner = await RunnerProcess(plane.env("n", FIXTURES, f"{style}.py"), FIXTURES).ready()
        try:
            rid = await plane.send("entrypoint", Req(mode="echo", text="hi", n=9007199254740993))
            [out] = await plane.wait_for(rid, plane.subject("n"))
            assert value(out) == {"mode": "echo", "text": "hi", "ms": 0, "n": "9007199254740993", "by": "default", "node": "n"}
            rid = await plane.send("entrypoint", Req(mode="send-and-return"))
            outs = await plane.wait_for(rid, plane.subject("n"), count=2 if style == "v3" else 1)
            await asyncio.sleep(0.2)
            want = [{"step": "sent"}, {"step": "returned"}] if style == "v3" else [{"step": "returned"}]
            assert [value(o) for o in plane.of(rid, plane.subject("n"))] == want
            rid = await plane.send("entrypoint", Req(mode="early-exit"))
            [ex] = await plane.wait_for(rid, plane.reply_to)
            assert ex.envelope.message_type == codec.EARLY_EXIT and value(ex) == {"step": "exit"}
            rid = await plane.send("special", {"mode": "echo", "text": "s"})
            [out] = await plane.wait_for(rid, plane.subject("n"))
            assert value(out) == {"by": "special", "fromNode": "special", "data": {"mode": "echo", "text": "s"}}
        finally:
            await runner.stop()
            await plane.close()

    asyncio.run(go())
