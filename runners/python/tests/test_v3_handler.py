"""The kre-py v3 API against a real NATS: routing (docs/data-plane.md, "How messages travel"),
headers, early reply / exit, errors, timeout, deadlines, in-progress acks, handler choice."""

import asyncio
import time
import urllib.request

import pytest

from kre_runner import codec
from plane import TRACEPARENT, Node, Plane, RunnerProcess, value

from conformance_pb2 import Req

KRT = __import__("pathlib").Path(__file__).parent / "krt"

NODES = [
    Node("n", ["entrypoint", "special", "other"]),
    Node("x", ["feeder"]),
    Node("sink", ["n"]),
    Node("sider", ["n.side"]),
    Node("tail", ["x"]),
    Node("special", []),
    Node("other", []),
    Node("feeder", []),
]


@pytest.fixture(scope="module")
def dp(nats_server, aio):
    plane = Plane(nats_server.url, NODES)

    async def setup():
        await plane.connect()
        await plane.provision()
        await plane.watch(plane.subject("n"), plane.subject("n") + ".>", plane.subject("x"))
        n = await RunnerProcess(plane.env("n", KRT, "v3/main.py", KRT_HANDLER_TIMEOUT="1.5"), KRT).ready()
        x = await RunnerProcess(plane.env("x", KRT, "v3/main.py", KRT_IS_EXITPOINT="true"), KRT).ready()
        return n, x

    plane.runners = list(aio(setup()))
    yield plane
    for r in plane.runners:
        aio(r.stop())
    aio(plane.close())


def typed(**kw):
    return Req(**kw)


def test_ok_output_goes_downstream_with_headers_not_to_reply(dp, aio):
    async def go():
        rid = await dp.send("entrypoint", typed(mode="echo", text="hi", n=9007199254740993))
        [out] = await dp.wait_for(rid, dp.subject("n"))
        assert out.envelope.from_node == "n" and out.envelope.message_type == codec.OK
        assert value(out) == {"mode": "echo", "text": "hi", "ms": 0, "n": "9007199254740993", "by": "default", "node": "n", "started": "yes"}
        assert out.headers["traceparent"] == TRACEPARENT
        assert out.headers[codec.H_REPLY_TO] == dp.reply_to and out.headers[codec.H_REQUEST_ID] == rid
        assert out.headers["Nats-Msg-Id"].startswith(f"{dp.stream}:n_entrypoint:")
        await asyncio.sleep(0.3)
        assert dp.of(rid, dp.reply_to) == []

    aio(go())


def test_typed_output_keeps_its_type_url(dp, aio):
    async def go():
        rid = await dp.send("entrypoint", typed(mode="typed", text="t", n=41))
        [out] = await dp.wait_for(rid, dp.subject("n"))
        assert out.envelope.payload.type_url == "type.googleapis.com/conf.Req"
        r = Req()
        assert out.envelope.payload.Unpack(r)
        assert (r.text, r.n) == ("t!", 42)

    aio(go())


def test_exitpoint_output_answers_the_client_and_flows_on(dp, aio):
    async def go():
        rid = await dp.send("feeder", {"mode": "echo", "text": "exit"})
        [reply] = await dp.wait_for(rid, dp.reply_to)
        assert reply.envelope.message_type == codec.OK
        assert value(reply)["node"] == "x"
        await dp.wait_for(rid, dp.subject("x"))

    aio(go())


def test_channels_and_v3_ignores_the_return_value(dp, aio):
    async def go():
        rid = await dp.send("entrypoint", typed(mode="send-and-return"))
        outs = await dp.wait_for(rid, dp.subject("n"))
        [side] = await dp.wait_for(rid, dp.subject("n", "side"))
        await asyncio.sleep(0.3)
        assert [value(o) for o in dp.of(rid, dp.subject("n"))] == [{"step": "sent"}]
        assert value(side) == {"step": "channel"}

    aio(go())


def test_nothing_sent_and_acked(dp, aio):
    async def go():
        _, before = await dp.ack_state("n_entrypoint")
        rid = await dp.send("entrypoint", typed(mode="nothing"))
        await asyncio.sleep(2.5)  # more than AckWait
        assert dp.of(rid) == []
        assert await dp.ack_state("n_entrypoint") == (0, before + 1)

    aio(go())


def test_early_reply_then_output_flows(dp, aio):
    async def go():
        rid = await dp.send("entrypoint", typed(mode="early-reply"))
        [early] = await dp.wait_for(rid, dp.reply_to)
        assert early.envelope.message_type == codec.EARLY_REPLY and value(early) == {"step": "early"}
        [out] = await dp.wait_for(rid, dp.subject("n"))
        assert value(out) == {"step": "output"}

    aio(go())


def test_early_exit_stops_the_flow(dp, aio):
    async def go():
        rid = await dp.send("entrypoint", typed(mode="early-exit"))
        [ex] = await dp.wait_for(rid, dp.reply_to)
        assert ex.envelope.message_type == codec.EARLY_EXIT and value(ex) == {"step": "exit"}
        await asyncio.sleep(0.5)
        assert dp.of(rid, dp.subject("n")) == []

    aio(go())


def test_error_when_the_handler_raises(dp, aio):
    async def go():
        rid = await dp.send("entrypoint", typed(mode="throw", text="x1"))
        [err] = await dp.wait_for(rid, dp.reply_to)
        assert err.envelope.message_type == codec.ERROR
        assert err.envelope.error == 'node "n" failed on a message from "entrypoint": conformance failure x1'
        await asyncio.sleep(1.5)
        assert dp.of(rid, dp.subject("n")) == []
        assert len(dp.of(rid, dp.reply_to)) == 1

    aio(go())


def test_error_when_the_handler_times_out(dp, aio):
    async def go():
        rid = await dp.send("entrypoint", typed(mode="sleep", ms=5000))
        [err] = await dp.wait_for(rid, dp.reply_to)
        assert err.envelope.message_type == codec.ERROR
        assert "did not finish within 1.5 s (KRT_HANDLER_TIMEOUT)" in err.envelope.error
        await asyncio.sleep(0.3)
        assert dp.of(rid, dp.subject("n")) == []

    aio(go())


def test_handler_chosen_by_from_node(dp, aio):
    async def go():
        rid = await dp.send("special", {"mode": "echo", "text": "s"})
        [out] = await dp.wait_for(rid, dp.subject("n"))
        assert value(out) == {"by": "special", "fromNode": "special", "data": {"mode": "echo", "text": "s"}}
        rid = await dp.send("other", {"mode": "ctx"})
        [out] = await dp.wait_for(rid, dp.subject("n"))
        assert value(out) == {"step": "sent without await"}

    aio(go())


def test_send_any_forwards_unchanged(dp, aio):
    async def go():
        rid = await dp.send("entrypoint", typed(mode="any", text="raw"))
        [out] = await dp.wait_for(rid, dp.subject("n"))
        r = Req()
        assert out.envelope.payload.Unpack(r) and r.text == "raw"

    aio(go())


def test_invalid_message_answered_and_terminated(dp, aio):
    async def go():
        rid = await dp.send("entrypoint", None, raw=b"\xff\x00\x13", to=dp.subject("entrypoint"))
        [err] = await dp.wait_for(rid, dp.reply_to)
        assert err.envelope.message_type == codec.ERROR and "invalid message" in err.envelope.error
        await asyncio.sleep(1.5)
        assert len(dp.of(rid, dp.reply_to)) == 1

    aio(go())


def test_expired_deadline_skipped_and_acked(dp, aio):
    async def go():
        rid = await dp.send("entrypoint", typed(mode="echo"), deadline=int(time.time() * 1000) - 1)
        await asyncio.sleep(1.5)
        assert dp.of(rid) == []
        assert (await dp.ack_state("n_entrypoint"))[0] == 0

    aio(go())


def test_in_progress_acks_keep_a_long_handler_from_redelivery(dp, aio):
    async def go():
        _, before = await dp.ack_state("x_feeder")
        rid = await dp.send("feeder", {"mode": "sleep", "ms": 2500, "text": "long"})
        [reply] = await dp.wait_for(rid, dp.reply_to)
        assert value(reply) == {"step": "slept", "text": "long"}
        await asyncio.sleep(0.3)
        assert len(dp.of(rid, dp.reply_to)) == 1
        assert await dp.ack_state("x_feeder") == (0, before + 1)

    aio(go())


def test_killed_replica_message_redelivered_to_the_next(dp, aio):
    async def go():
        _, before = await dp.ack_state("x_feeder")
        rid = await dp.send("feeder", {"mode": "sleep", "ms": 1000, "text": "survivor"})
        await asyncio.sleep(0.3)
        x = dp.runners[1]
        x.kill()
        dp.runners[1] = await RunnerProcess(x.env, KRT).ready()
        [reply] = await dp.wait_for(rid, dp.reply_to, timeout=15)
        assert value(reply) == {"step": "slept", "text": "survivor"}
        deadline = time.time() + 10
        while await dp.ack_state("x_feeder") != (0, before + 2) and time.time() < deadline:
            await asyncio.sleep(0.1)
        assert await dp.ack_state("x_feeder") == (0, before + 2)

    aio(go())


def test_health_endpoints(dp):
    n = dp.runners[0]
    assert n.get("/livez") == (200, {"status": "ok"})
    status, body = n.get("/readyz")
    assert status == 200 and body["status"] == "ok" and body["info"]["consumers"] == {"status": "up"}
    assert n.get("/nope")[0] == 404
    # Prometheus text, under the Node runner's (prom-client's) names
    with urllib.request.urlopen(n.health + "/metrics", timeout=2) as r:
        assert r.headers["Content-Type"].startswith("text/plain; version=0.0.4")
        text = r.read().decode()
    values = dict(line.split(" ", 1) for line in text.splitlines() if not line.startswith("#"))
    assert float(values["process_cpu_seconds_total"]) > 0
    assert int(values["process_resident_memory_bytes"]) > 1_000_000
    assert 0 < time.time() - float(values["process_start_time_seconds"]) < 3_600


def test_code_that_blocks_past_the_timeout_still_ends_with_one_outcome_and_an_ack(dp, aio):
    async def go():
        rid = await dp.send("entrypoint", typed(mode="block", ms=2000))
        deadline = time.time() + 10
        while not dp.of(rid) and time.time() < deadline:
            await asyncio.sleep(0.05)
        await asyncio.sleep(1.5)
        seen = dp.of(rid)
        assert len(seen) == 1, seen  # its output, or ERROR (timed out): never both, never none
        assert (await dp.ack_state("n_entrypoint"))[0] == 0

    aio(go())
