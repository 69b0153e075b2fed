"""kre-py's v1-era API (`handler(ctx, data)` returns the output), and a node whose generated
code is protoc 3.13's (needs the pure-Python protobuf backend on protobuf >= 4.21)."""

import asyncio
import pathlib

import pytest

from kre_runner import codec
from plane import Node, Plane, RunnerProcess, value

from conformance_pb2 import Req

KRT = pathlib.Path(__file__).parent / "krt"
NODES = [Node("a", ["entrypoint"]), Node("g", ["feeder"]), Node("sink", ["a"]), Node("feeder", [])]


@pytest.fixture(scope="module")
def dp(nats_server, aio):
    plane = Plane(nats_server.url, NODES)

    async def setup():
        await plane.connect()
        await plane.provision()
        await plane.watch(plane.subject("a"), plane.subject("g"))
        a = await RunnerProcess(plane.env("a", KRT, "v1/main.py"), KRT).ready()
        g = await RunnerProcess(plane.env("g", KRT, "old/main.py", KRT_IS_EXITPOINT="true"), KRT).ready()
        return a, g

    plane.runners = aio(setup())
    yield plane
    for r in plane.runners:
        aio(r.stop())
    aio(plane.close())


def unpack(seen):
    r = Req()
    assert seen.envelope.payload.Unpack(r)
    return r


def test_return_value_is_the_output(dp, aio):
    async def go():
        rid = await dp.send("entrypoint", Req(mode="echo", text="ana"))
        [out] = await dp.wait_for(rid, dp.subject("a"))
        assert out.envelope.message_type == codec.OK and unpack(out).text == "Hello ana!"

    aio(go())


def test_early_reply_then_return(dp, aio):
    async def go():
        rid = await dp.send("entrypoint", Req(mode="early-reply"))
        [early] = await dp.wait_for(rid, dp.reply_to)
        assert early.envelope.message_type == codec.EARLY_REPLY and unpack(early).text == "early"
        [out] = await dp.wait_for(rid, dp.subject("a"))
        assert unpack(out).text == "output"

    aio(go())


def test_reply_twice_is_an_error(dp, aio):
    async def go():
        rid = await dp.send("entrypoint", Req(mode="reply-twice"))
        first, err = await dp.wait_for(rid, dp.reply_to, count=2)
        assert unpack(first).text == "first"
        assert err.envelope.message_type == codec.ERROR
        assert "error the message was replied previously" in err.envelope.error

    aio(go())


def test_early_exit_sends_the_return_value_to_the_client(dp, aio):
    async def go():
        rid = await dp.send("entrypoint", Req(mode="early-exit"))
        [ex] = await dp.wait_for(rid, dp.reply_to)
        assert ex.envelope.message_type == codec.EARLY_EXIT and unpack(ex).text == "exit"
        await asyncio.sleep(0.4)
        assert dp.of(rid, dp.subject("a")) == []

    aio(go())


def test_dict_return_travels_as_struct_and_none_sends_nothing(dp, aio):
    async def go():
        rid = await dp.send("entrypoint", Req(mode="dict"))
        [out] = await dp.wait_for(rid, dp.subject("a"))
        assert out.envelope.payload.type_url == "type.googleapis.com/google.protobuf.Struct"
        assert value(out) == {"plain": True, "n": 2}
        rid = await dp.send("entrypoint", Req(mode="none"))
        await asyncio.sleep(0.5)
        assert dp.of(rid) == []

    aio(go())


def test_errors_name_the_node_and_the_exception(dp, aio):
    async def go():
        rid = await dp.send("entrypoint", Req(mode="boom", text="t"))
        [err] = await dp.wait_for(rid, dp.reply_to)
        assert err.envelope.error == 'node "a" failed on a message from "entrypoint": ValueError: v1 failure t'
        rid = await dp.send("entrypoint", Req(mode="unset"))
        [err] = await dp.wait_for(rid, dp.reply_to)
        assert "AttributeError: ctx.get('never-set')" in err.envelope.error

    aio(go())


def test_protoc_3_13_generated_code_runs(dp, aio):
    """greeter_pb2.py is written the way protoc 3.13 wrote it (krt-template greeter); this test
    process (protobuf's C backend) cannot import it, so it speaks the wire format directly."""
    from google.protobuf import any_pb2

    async def go():
        req = any_pb2.Any(type_url="type.googleapis.com/greeter.Request", value=b"\n\x03Ana")
        rid = await dp.send("feeder", req)
        [reply] = await dp.wait_for(rid, dp.reply_to)
        assert reply.envelope.payload.type_url == "type.googleapis.com/greeter.Response"
        assert reply.envelope.payload.value == b"\n\x0aHello Ana!"

    aio(go())
