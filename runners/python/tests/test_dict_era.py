"""kre-py's dict API (before 1.23): typed requests reach the node as dicts (decoded with the
version's proto, read without protoc), dicts go out as Structs; kre-py 1.1's synchronous
handlers run in a thread with set_value / get_value / get_path."""

import asyncio
import pathlib

import pytest
from google.protobuf import any_pb2

from kre_runner import codec, protofile
from plane import Node, Plane, RunnerProcess, records, value

KRT = pathlib.Path(__file__).parent / "krt"
NODES = [Node("a", ["entrypoint"]), Node("b", ["feeder"]), Node("sink", ["a"]), Node("sink2", ["b"]), Node("feeder", [])]


@pytest.fixture(scope="module")
def dp(nats_server, aio):
    plane = Plane(nats_server.url, NODES)

    async def setup():
        await plane.connect()
        await plane.provision()
        await plane.watch(plane.subject("a"), plane.subject("b"))
        a = await RunnerProcess(plane.env("a", KRT, "dict/v122/main.py", KRT_ENTRYPOINT_PROTO="dict/greeter.proto"), KRT).ready()
        b = await RunnerProcess(plane.env("b", KRT, "dict/v11/main.py", KRT_HANDLER_TIMEOUT="1", OUTPUT_PRICE_CURRENCY="USD"), KRT).ready()
        return a, b

    plane.runners = aio(setup())
    yield plane
    for r in plane.runners:
        aio(r.stop())
    aio(plane.close())


def request_bytes() -> bytes:
    types = protofile.ProtoTypes(str(KRT / "dict/greeter.proto"), [str(KRT)])
    Request = types.message_class("greeter.Request")
    r = Request(name="Ana", tags=["x", "y"])
    r.scores["math"] = 9
    r.inner.big = 1234567890123
    return r.SerializeToString()


def test_typed_request_reaches_a_1_2x_node_as_a_dict(dp, aio):
    async def go():
        rid = await dp.send("entrypoint", any_pb2.Any(type_url="type.googleapis.com/greeter.Request", value=request_bytes()))
        [out] = await dp.wait_for(rid, dp.subject("a"))
        assert out.envelope.payload.type_url.endswith("google.protobuf.Struct")
        assert value(out) == {
            "greeting": "Hello Ana!",
            "seen": {"name": "Ana", "tags": ["x", "y"], "scores": {"math": 9}, "inner": {"big": 1234567890123}},
            "model": "model-v1",
        }
        rid = await dp.send("entrypoint", any_pb2.Any(type_url="type.googleapis.com/greeter.Request", value=b"\n\x04boom"))
        [err] = await dp.wait_for(rid, dp.reply_to)
        assert err.envelope.error == 'node "a" failed on a message from "entrypoint": KeyError: \'missing\''

    aio(go())


def test_a_1_1_sync_handler_with_set_value_get_value_get_path(dp, aio):
    async def go():
        rid = await dp.send("feeder", {"sqm": 70})
        [out] = await dp.wait_for(rid, dp.subject("b"))
        assert value(out) == {"price": 70000, "currency": "USD", "model": "model.txt"}
        await asyncio.sleep(0.3)
        assert any(r.message == "pricing 70" and r.request_id == rid for r in records(dp, "logs"))

    aio(go())


def test_a_sync_handler_past_its_timeout_answers_error(dp, aio):
    async def go():
        rid = await dp.send("feeder", {"sqm": 1, "sleep": 2})
        [err] = await dp.wait_for(rid, dp.reply_to)
        assert "did not finish within 1 s" in err.envelope.error
        rid = await dp.send("feeder", {"sqm": 2})  # the replica still serves
        [out] = await dp.wait_for(rid, dp.subject("b"))
        assert value(out)["price"] == 2000

    aio(go())


def test_era_detection(tmp_path):
    from kre_runner.loader import load_handler_module

    cases = {
        "v3.py": ("async def default_handler(ctx, data):\n    pass\n", "v3"),
        "v1.py": ("from x_pb2 import R\nasync def handler(ctx, data):\n    data.Unpack(R())\n", "v1"),
        "dict122.py": ("async def handler(ctx, data):\n    return {'a': data['b']}\n", "dict"),
        "dict11.py": ("def handler(ctx, data):\n    return data\n", "dict"),
    }
    for name, (source, era) in cases.items():
        d = tmp_path / name[:-3]
        d.mkdir()
        (d / name).write_text(source.replace("from x_pb2 import R\n", "R = object\n") if era != "v1" else source.replace("from x_pb2 import R\n", "# uses x_pb2\nR = object\n"))
        assert load_handler_module(str(tmp_path), f"{name[:-3]}/{name}").era == era, name
