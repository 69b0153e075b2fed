"""ctx services against a real NATS: logger and captured prints (records), predictions and
measurements (records on the observability stream), db (a fake mongo-writer answers, the
boundary), configuration (KV, node -> workflow -> project), object store, config, path."""

import asyncio
import json
import pathlib
import re
import tempfile

import pytest

from kre_runner import codec, protos
from plane import Node, Plane, RunnerProcess, records, value

from conformance_pb2 import Req

KRT = pathlib.Path(__file__).parent / "krt"
RECORD_ID = r"[0-9A-HJKMNP-TV-Z]{26}"  # libs/messaging RECORD_ID
NODES = [Node("n", ["entrypoint"]), Node("sink", ["n"])]


@pytest.fixture(scope="module")
def dp(nats_server, aio):
    plane = Plane(nats_server.url, NODES)
    files = tempfile.mkdtemp(prefix="kre-config-")
    pathlib.Path(files, "BIG_FILE").write_text("large content")
    plane.data_requests = []

    async def mongo_writer(msg):
        op = msg.subject.rsplit(".", 1)[-1]
        if op == "save":
            req = protos.SaveRequest()
            req.ParseFromString(codec.decompress_if_needed(msg.data))
            plane.data_requests.append(("save", req))
            await msg.respond(protos.DataReply(id="65f0c0ffee").SerializeToString())
        else:
            req = protos.FindRequest()
            req.ParseFromString(codec.decompress_if_needed(msg.data))
            plane.data_requests.append(("find", req))
            reply = protos.DataReply()
            codec.fill_struct(reply.documents.add(), {"_id": "65f0c0ffee", "name": "ana", "age": 42})
            await msg.respond(reply.SerializeToString())

    async def setup():
        await plane.connect()
        await plane.provision()
        await plane.watch(plane.subject("n"))
        kv = await plane.js.key_value(plane.bucket("workflow"))
        await kv.put("preset", b"from-workflow")
        plane.writer = await plane.nc.subscribe(f"{plane.data_prefix}.*", cb=mongo_writer)
        env = plane.env(
            "n", KRT, "v3/main.py",
            KRT_NATS_OBJECT_STORE=f"{plane.prefix}_{plane.rt}_{plane.ver}_store",
            KRT_CONFIG_KEYS="GREETING,MISSING,API_TOKEN",
            GREETING="hola",
            API_TOKEN="tok-s3cr3t-4242",
            KRT_CONFIG_FILES_DIR=files,
        )
        return await RunnerProcess(env, KRT).ready()

    plane.runner = aio(setup())
    yield plane
    aio(plane.runner.stop())
    aio(plane.close())


async def output(dp, **req):
    rid = await dp.send("entrypoint", Req(**req))
    [out] = await dp.wait_for(rid, dp.subject("n"))
    return rid, value(out)


async def until(check, timeout=8):
    for _ in range(int(timeout / 0.05)):
        result = check()
        if result:
            return result
        await asyncio.sleep(0.05)
    raise AssertionError("condition not met")


def test_logger_and_prints_become_log_records(dp, aio):
    async def go():
        rid, out = await output(dp, mode="print")
        assert out == {"step": "printed"}
        logs = await until(lambda: [r for r in records(dp, "logs") if r.request_id == rid] if len([r for r in records(dp, "logs") if r.request_id == rid]) >= 4 else None)
        got = {(protos.enum_name("kre.records.LogSource", r.source), protos.enum_name("kre.records.LogLevel", r.level), r.message) for r in logs}
        assert ("LOG_SOURCE_STDOUT", "LOG_LEVEL_INFO", "printed line") in got
        assert ("LOG_SOURCE_STDERR", "LOG_LEVEL_ERROR", "to stderr") in got
        assert ("LOG_SOURCE_LOGGER", "LOG_LEVEL_INFO", "logged line") in got
        assert ("LOG_SOURCE_LOGGER", "LOG_LEVEL_WARN", "careful") in got
        logged = next(r for r in logs if r.message == "logged line")
        assert codec.struct_to_dict(logged.fields) == {"k": 1}
        o = logged.origin
        assert (o.runtime_id, o.version, o.workflow, o.node) == ("rt", "v1", "wf", "n") and o.replica
        # every record has its own producer-made id (mongo-writer's _id), in emission order
        ids = [r.id for r in records(dp, "logs")]
        assert all(re.fullmatch(RECORD_ID, i) for i in ids) and len(set(ids)) == len(ids)
        # init's print, before any message
        assert any(r.message == "init printed this" and not r.request_id for r in records(dp, "logs"))
        # ctx.logger is echoed as a JSON line on stdout
        line = next(l for l in dp.runner.stdout().splitlines() if '"logged line"' in l)
        assert json.loads(line)["requestId"] == rid
        assert "logged line" not in dp.runner.stderr()  # once, not also as a plain stderr line

    aio(go())


def test_config_values_are_masked_in_records_and_output(dp, aio):
    async def go():
        rid, out = await output(dp, mode="leak")
        assert out == {"step": "leaked"}
        logs = await until(lambda: [r for r in records(dp, "logs") if r.request_id == rid] if len([r for r in records(dp, "logs") if r.request_id == rid]) >= 2 else None)
        assert any(r.message == "calling with ***" for r in logs)
        token = next(r for r in logs if r.message == "token")
        assert codec.struct_to_dict(token.fields) == {"token": "***"}
        assert all("tok-s3cr3t-4242" not in str(r) for r in records(dp, "logs"))
        assert "tok-s3cr3t-4242" not in dp.runner.stdout() + dp.runner.stderr()
        # Short values ("hola") are left alone.
        assert "calling with ***" in dp.runner.stdout()

    aio(go())


def test_config_values_are_masked_in_the_error_a_failure_answers(dp, aio):
    async def go():
        rid = await dp.send("entrypoint", Req(mode="leak-raise"))
        [err] = await dp.wait_for(rid, dp.reply_to)
        assert err.envelope.message_type == codec.ERROR
        assert "tok-s3cr3t-4242" not in err.envelope.error
        assert err.envelope.error.endswith("the service refused ***")

    aio(go())


def test_predictions_with_kre_checks(dp, aio):
    async def go():
        rid, out = await output(dp, mode="predict")
        assert out["problems"] == [
            "[ctx.prediction.save] invalid 'true_value'='', must be a nonempty string",
            "[ctx.prediction.save] invalid value for metric error bad should be one of 'missing_values,new_labels'",
            "[ctx.prediction.save] invalid 'predicted_value'='', must be a nonempty string",
        ]
        preds = await until(lambda: [p for p in records(dp, "predictions") if p.request_id == rid] or None)
        assert len(preds) == 2
        first, second = preds
        assert (first.predicted_value, first.true_value) == ("cat", "dog")
        assert codec.struct_to_dict(first.extra) == {"score": 0.5}
        assert protos.enum_name("kre.records.PredictionError", second.error) == "PREDICTION_ERROR_MISSING_VALUES"
        assert all(re.fullmatch(RECORD_ID, p.id) for p in preds) and first.id < second.id
        # stored in the observability stream (JetStream), not only published
        info = await dp.js.stream_info(f"{dp.prefix.upper()}_rt_OBS")
        assert info.state.messages >= 2

    aio(go())


def test_measurements_awaited_or_not(dp, aio):
    async def go():
        rid, out = await output(dp, mode="measure")
        ms = await until(lambda: [m for m in records(dp, "measurements") if m.request_id == rid] if len([m for m in records(dp, "measurements") if m.request_id == rid]) == 2 else None)
        by = {m.name: m for m in ms}
        assert codec.struct_to_dict(by["latency"].fields) == {"ms": 1.5, "ok": True, "who": "me"}
        assert dict(by["latency"].tags) == {"host": "h1"}
        assert codec.struct_to_dict(by["count"].fields) == {"n": 3}
        assert all(re.fullmatch(RECORD_ID, m.id) for m in ms) and by["latency"].id != by["count"].id

    aio(go())


def test_db_requests_reach_mongo_writer(dp, aio):
    async def go():
        rid, out = await output(dp, mode="db", text="ana")
        assert out["id"] == "65f0c0ffee"
        assert out["found"] == [{"_id": "65f0c0ffee", "name": "ana", "age": 42}]
        assert "operator $where is not allowed" in out["problems"][0]
        assert out["problems"][1] == "the query must be a dict"
        (op1, save), (op2, find) = dp.data_requests[-2:]
        assert (op1, save.collection, codec.struct_to_dict(save.document)) == ("save", "people", {"name": "ana", "age": 42})
        assert (op2, find.collection, codec.struct_to_dict(find.query), find.limit) == ("find", "people", {"name": "ana"}, 5)
        assert codec.struct_to_dict(find.sort) == {"age": -1}

    aio(go())


def test_db_without_mongo_writer_fails_clearly(dp, aio):
    async def go():
        await dp.writer.unsubscribe()
        rid = await dp.send("entrypoint", Req(mode="db-down"))
        [err] = await dp.wait_for(rid, dp.reply_to)
        assert f"db.save: no mongo-writer answers on {dp.data_prefix}.save; is it running?" in err.envelope.error

    aio(go())


def test_configuration_kv_cascade(dp, aio):
    async def go():
        _, out = await output(dp, mode="config")
        assert out == {
            "only-node": "n1",
            "shared": "from-node",
            "shared-project": "from-project",
            "wf-key": "w1",
            "preset": "from-workflow",
            "default": "fallback",
            "deleted": "ConfigurationKeyNotFound",
        }
        kv = await dp.js.key_value(dp.bucket("project"))
        assert (await kv.get("shared")).value == b"from-project"

    aio(go())


def test_object_store(dp, aio):
    async def go():
        _, out = await output(dp, mode="objects")
        assert out == {"got": "\x00\x01weights", "listed": ["model.bin"], "gone": None}

    aio(go())


def test_config_variables_files_and_paths(dp, aio):
    async def go():
        _, out = await output(dp, mode="env")
        assert out == {
            "GREETING": "hola",
            "config": {
                "GREETING": "hola",
                "MISSING": "",
                "API_TOKEN": "tok-s3cr3t-4242",
                "BIG_FILE": "large content",
            },
            "note": "a note",
            "outside": "refused",
        }

    aio(go())


def test_metrics_records(dp, aio):
    async def go():
        metrics = await until(lambda: records(dp, "metrics") or None, timeout=12)
        m = metrics[0]
        assert m.from_node == "entrypoint" and m.count >= 1
        assert len(m.bucket_counts) == len(m.bucket_bounds_ms) + 1 and sum(m.bucket_counts) == m.count

    aio(go())
