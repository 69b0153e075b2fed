"""Bounded in-flight work, graceful shutdown, payload compression and refusal."""

import asyncio
import gzip
import pathlib
import time

from kre_runner import codec
from plane import Node, Plane, RunnerProcess, value

from conformance_pb2 import Req

KRT = pathlib.Path(__file__).parent / "krt"
NODES = [Node("n", ["entrypoint"]), Node("sink", ["n"])]


async def plane_with_runner(url: str, **env):
    plane = await Plane(url, NODES).connect()
    await plane.provision()
    await plane.watch(plane.subject("n"))
    runner = await RunnerProcess(plane.env("n", KRT, "v3/main.py", **env), KRT).ready()
    return plane, runner


def test_at_most_max_in_flight_messages_run_at_once(nats_server):
    async def go():
        plane, runner = await plane_with_runner(nats_server.url, KRT_MAX_IN_FLIGHT="2")
        try:
            started = time.time()
            ids = [await plane.send("entrypoint", Req(mode="concurrent", ms=400)) for _ in range(6)]
            outs = [(await plane.wait_for(i, plane.subject("n")))[0] for i in ids]
            took = time.time() - started
            assert max(value(o)["most"] for o in outs) == 2
            assert took >= 1.1  # three rounds of two
        finally:
            await runner.stop()
            await plane.close()

    asyncio.run(go())


def test_the_bound_holds_over_several_inputs(nats_server):
    async def go():
        plane = await Plane(nats_server.url, [Node("n", ["entrypoint", "third"]), Node("sink", ["n"]), Node("third", [])]).connect()
        await plane.provision()
        await plane.watch(plane.subject("n"))
        runner = await RunnerProcess(plane.env("n", KRT, "v3/main.py", KRT_MAX_IN_FLIGHT="2"), KRT).ready()
        try:
            ids = []
            for _ in range(3):
                ids.append(await plane.send("entrypoint", Req(mode="concurrent", ms=300)))
                ids.append(await plane.send("third", {"mode": "concurrent", "ms": 300}))
            outs = [(await plane.wait_for(i, plane.subject("n")))[0] for i in ids]
            assert max(value(o)["most"] for o in outs) == 2
        finally:
            await runner.stop()
            await plane.close()

    asyncio.run(go())


def test_sigterm_finishes_the_message_in_flight_then_exits(nats_server):
    async def go():
        plane, runner = await plane_with_runner(nats_server.url)
        try:
            rid = await plane.send("entrypoint", Req(mode="sleep", ms=1500, text="finish me"))
            await asyncio.sleep(0.4)
            runner.proc.send_signal(__import__("signal").SIGTERM)
            await asyncio.sleep(0.3)
            status, body = await asyncio.to_thread(runner.get, "/readyz")
            assert status == 503 and body["error"]["consumers"] == {"status": "down"}
            later = await plane.send("entrypoint", Req(mode="echo", text="for the next replica"))
            code = await runner.stop(timeout=10)
            assert code == 0
            [out] = await plane.wait_for(rid, plane.subject("n"))
            assert value(out) == {"step": "slept", "text": "finish me"}
            assert plane.of(later) == []
            # the next replica takes what this one did not
            nxt = await RunnerProcess(runner.env, KRT).ready()
            await plane.wait_for(later, plane.subject("n"), timeout=15)
            await nxt.stop()
        finally:
            await plane.close()

    asyncio.run(go())


def test_large_payloads_are_compressed_and_oversize_ones_refused(small_nats_server):
    async def go():
        plane, runner = await plane_with_runner(small_nats_server.url)
        try:
            rid = await plane.send("entrypoint", Req(mode="big", text="x", ms=100_000))
            [out] = await plane.wait_for(rid, plane.subject("n"))
            assert codec.is_gzip(out.raw) and len(out.raw) < 64 * 1024
            assert value(out) == {"blob": "x" * 100_000}
            rid = await plane.send("entrypoint", Req(mode="random", ms=100_000))
            [err] = await plane.wait_for(rid, plane.reply_to)
            assert err.envelope.message_type == codec.ERROR
            assert "above the NATS max payload of 61440 bytes" in err.envelope.error
            # a compressed input is inflated
            request_id = "gz-1"
            data = gzip.compress(codec.encode_envelope(request_id, "entrypoint", codec.OK, codec.pack(Req(mode="echo", text="zip"))))
            await plane.js.publish(plane.subject("entrypoint"), data, headers={codec.H_REPLY_TO: plane.reply_to})
            [out] = await plane.wait_for(request_id, plane.subject("n"))
            assert value(out)["text"] == "zip"
        finally:
            await runner.stop()
            await plane.close()

    asyncio.run(go())


def test_stream_sequence_from_either_ack_subject_format():
    from types import SimpleNamespace

    from kre_runner.runner import stream_sequence

    v1 = SimpleNamespace(reply="$JS.ACK.S.c.1.42.7.1700000000000000000.0")
    v2 = SimpleNamespace(reply="$JS.ACK._.ABCHASH.S.c.1.43.7.1700000000000000000.0.xyz")
    assert stream_sequence(v1) == 42
    assert stream_sequence(v2) == 43
    assert stream_sequence(SimpleNamespace(reply=None, metadata=None)) == 0
