"""Byte compatibility with the Node side: vectors written by libs/messaging (vectors/node.json,
from vectors/node-vectors.mjs) decode here, what Python writes is byte-identical where the
encoding is deterministic, and (when the repo is built) the Node side decodes Python's bytes."""

import json
import os
import pathlib
import shutil
import subprocess

import pytest
from google.protobuf import any_pb2, struct_pb2

from kre_runner import codec, protos
from kre_runner.obs import RecordIds, format_record_id, set_time

from conformance_pb2 import Req

HERE = pathlib.Path(__file__).parent
REPO = HERE.parents[2]
NODE = json.loads((HERE / "vectors/node.json").read_text())
ENV = {k: bytes.fromhex(v) for k, v in NODE["envelopes"].items()}


def env(name):
    return codec.decode_envelope(codec.decompress_if_needed(ENV[name]))


def test_node_envelopes_decode():
    typed = env("typed")
    assert (typed.request_id, typed.from_node, typed.message_type) == ("req-1", "etl", codec.OK)
    r = Req()
    assert typed.payload.Unpack(r)
    assert (r.mode, r.text, r.ms, r.n) == ("echo", "hi", 7, 9007199254740993)
    assert codec.unpack_plain(env("struct").payload) == NODE["object"]
    assert codec.unpack_plain(env("value").payload) == [1, "two", False]
    assert codec.unpack_plain(env("bytes").payload) == b"\x00\x01\x02\xff"
    err = env("error")
    assert (err.message_type, err.error, err.payload) == (codec.ERROR, 'node "etl" failed', None)
    assert env("earlyReply").message_type == codec.EARLY_REPLY
    assert env("earlyExit").message_type == codec.EARLY_EXIT
    assert codec.is_gzip(ENV["gzip"]) and codec.unpack_plain(env("gzip").payload) == {"blob": "z" * 5000}


def test_a_js_object_reaches_python_as_an_any_holding_a_struct():
    payload = env("struct").payload
    assert isinstance(payload, any_pb2.Any)
    s = struct_pb2.Struct()
    assert payload.Unpack(s)
    assert s["b"] == "x" and s["d"]["e"] == -3


def test_python_writes_the_same_bytes():
    def mine(kind, value=None, error=""):
        return codec.encode_envelope("req-1", "etl", kind, None if value is None else codec.pack(value), error)

    assert mine(codec.OK, Req(mode="echo", text="hi", ms=7, n=9007199254740993)) == ENV["typed"]
    assert mine(codec.OK, NODE["object"]) == ENV["struct"]
    assert mine(codec.OK, [1, "two", False]) == ENV["value"]
    assert mine(codec.OK, b"\x00\x01\x02\xff") == ENV["bytes"]
    assert mine(codec.ERROR, error='node "etl" failed') == ENV["error"]
    assert mine(codec.EARLY_REPLY, {"step": "early"}) == ENV["earlyReply"]
    assert mine(codec.EARLY_EXIT, {"step": "exit"}) == ENV["earlyExit"]


def test_node_records_and_data_requests_decode():
    rec = {k: bytes.fromhex(v) for k, v in NODE["records"].items()}
    log = protos.LogRecord.FromString(rec["logs"])
    assert (log.message, log.request_id, log.origin.replica) == ("hello", "req-1", "host-1")
    assert log.id == format_record_id(1767323045678, 1, 2)
    assert protos.enum_name("kre.records.LogLevel", log.level) == "LOG_LEVEL_WARN"
    assert codec.struct_to_dict(log.fields) == {"k": 1}
    m = protos.NodeMetric.FromString(rec["metrics"])
    assert (m.count, m.errors, list(m.bucket_counts), list(m.bucket_bounds_ms)) == (3, 1, [1, 2, 0], [1.0, 10.0])
    p = protos.Prediction.FromString(rec["predictions"])
    assert (p.predicted_value, p.true_value, codec.struct_to_dict(p.extra)) == ("cat", "dog", {"score": 0.5})
    ms = protos.Measurement.FromString(rec["measurements"])
    assert dict(ms.tags) == {"host": "h1"} and codec.struct_to_dict(ms.fields) == {"ms": 1.5, "ok": True, "who": "me"}
    assert log.time.seconds == 1767323045 and log.time.nanos == 678_000_000
    data = {k: bytes.fromhex(v) for k, v in NODE["data"].items()}
    save = protos.SaveRequest.FromString(data["save"])
    assert codec.struct_to_dict(save.document) == {"name": "ana", "age": 42}
    find = protos.FindRequest.FromString(data["find"])
    assert (find.limit, codec.struct_to_dict(find.query)) == (5, {"age": {"$gt": 40}})
    reply = protos.DataReply.FromString(data["reply"])
    assert reply.id == "abc" and codec.struct_to_dict(reply.documents[0]) == {"_id": "abc", "name": "ana"}


def test_record_ids_are_the_node_sides():
    assert NODE["recordIds"], "vectors/node.json predates record ids: regenerate it"
    for ms, random, counter, text in NODE["recordIds"]:
        assert format_record_id(ms, random, counter) == text


def test_record_ids_are_unique_sorted_and_differ_between_processes():
    clock = iter([5, 5, 4, 7])  # the clock steps back once
    ids = RecordIds(process_random=9, now_ms=lambda: next(clock))
    made = [ids.next() for _ in range(4)]
    assert made == sorted(made) and len(set(made)) == 4
    assert made[2].startswith(format_record_id(5, 0, 0)[:10])  # never backwards
    assert len({RecordIds().next()[10:18] for _ in range(20)}) > 1  # drawn per process


def python_vectors() -> dict:
    import datetime

    when = datetime.datetime(2026, 1, 2, 3, 4, 5, 678000)

    def origin(r):
        r.origin.runtime_id, r.origin.version, r.origin.workflow, r.origin.node, r.origin.replica = "rt", "v1", "wf", "n", "py-1"

    log = protos.LogRecord(message="from python", request_id="req-9", id=RecordIds(process_random=3, now_ms=lambda: 1767323045678).next())
    log.level = protos.enum_value("kre.records.LogLevel", "LOG_LEVEL_ERROR")
    log.source = protos.enum_value("kre.records.LogSource", "LOG_SOURCE_STDERR")
    set_time(log.time, when)
    origin(log)
    metric = protos.NodeMetric(from_node="entrypoint", count=2, errors=0, elapsed_ms_sum=3.0, elapsed_ms_max=2.0)
    set_time(metric.start, when)
    set_time(metric.end, when)
    metric.bucket_bounds_ms.extend([1.0, 10.0])
    metric.bucket_counts.extend([0, 2, 0])
    origin(metric)
    pred = protos.Prediction(error=protos.enum_value("kre.records.PredictionError", "PREDICTION_ERROR_NEW_LABELS"))
    set_time(pred.time, when)
    origin(pred)
    meas = protos.Measurement(name="m")
    codec.fill_struct(meas.fields, {"x": 1})
    meas.tags["t"] = "v"
    set_time(meas.time, when)
    origin(meas)
    save = protos.SaveRequest(collection="people")
    codec.fill_struct(save.document, {"name": "py", "nested": {"a": [1, None]}})
    find = protos.FindRequest(collection="people", limit=100)
    codec.fill_struct(find.query, {"name": {"$in": ["a", "b"]}})
    codec.fill_struct(find.sort, {})
    reply = protos.DataReply(id="x1")
    codec.fill_struct(reply.documents.add(), {"k": "v"})
    big = codec.encode_envelope("req-9", "py", codec.OK, codec.pack({"blob": "y" * 5000}))
    return {
        "envelopes": {
            "typed": codec.encode_envelope("req-9", "py", codec.OK, codec.pack(Req(mode="m", n=-5))).hex(),
            "struct": codec.encode_envelope("req-9", "py", codec.EARLY_REPLY, codec.pack({"a": [1, {"b": None}], "c": "d"})).hex(),
            "error": codec.encode_envelope("req-9", "py", codec.ERROR, error="boom").hex(),
            "gzip": codec.compress_to_fit(big, 1024).hex(),
        },
        "records": {"logs": log.SerializeToString().hex(), "metrics": metric.SerializeToString().hex(),
                    "predictions": pred.SerializeToString().hex(), "measurements": meas.SerializeToString().hex()},
        "data": {"save": save.SerializeToString().hex(), "find": find.SerializeToString().hex(), "reply": reply.SerializeToString().hex()},
    }


NODE_BIN = REPO / "node_modules/.bin/node"


def test_the_node_side_decodes_what_python_writes():
    node = str(NODE_BIN) if NODE_BIN.exists() else shutil.which("node")
    if not node or not (REPO / "dist/libs/messaging/src/data-plane/envelope.js").exists():
        pytest.fail("needs the built repository and Node (scripts/setup builds both)")
    p = subprocess.run(
        [node, "runners/python/tests/vectors/node-vectors.mjs", "check"],
        cwd=REPO, input=json.dumps(python_vectors()), capture_output=True, text=True, timeout=60,
    )
    assert p.returncode == 0, p.stderr
    got = json.loads(p.stdout)
    e = got["envelopes"]
    assert e["typed"] == {"requestId": "req-9", "fromNode": "py", "messageType": "OK", "error": None,
                          "typeUrl": "type.googleapis.com/conf.Req", "value": {"mode": "m", "text": "", "ms": 0, "n": "-5"}}
    assert e["struct"]["messageType"] == "EARLY_REPLY" and e["struct"]["value"] == {"a": [1, {"b": None}], "c": "d"}
    assert e["error"]["error"] == "boom" and e["error"]["messageType"] == "ERROR"
    assert e["gzip"]["value"] == {"blob": "y" * 5000}
    r = got["records"]
    assert r["logs"]["level"] == "LOG_LEVEL_ERROR" and r["logs"]["time"] == "2026-01-02T03:04:05.678Z"
    assert r["logs"]["id"] == format_record_id(1767323045678, 3, 0)
    assert r["metrics"]["count"] == "2" and r["metrics"]["bucketCounts"] == ["0", "2", "0"]
    assert r["predictions"]["error"] == "PREDICTION_ERROR_NEW_LABELS"
    assert r["measurements"]["tags"] == {"t": "v"} and r["measurements"]["fields"] == {"x": 1}
    d = got["data"]
    assert d["save"] == {"collection": "people", "document": {"name": "py", "nested": {"a": [1, None]}}}
    assert d["find"] == {"collection": "people", "query": {"name": {"$in": ["a", "b"]}}, "limit": 100, "sort": {}}
    assert d["reply"] == {"id": "x1", "documents": [{"k": "v"}]}


def test_values_a_model_returns_travel_as_json():
    import datetime

    class FakeNumpy:  # numpy scalars and arrays convert with tolist()
        def __init__(self, v):
            self.v = v

        def tolist(self):
            return self.v

    payload = codec.pack({"pred": FakeNumpy([1, 2.5]), "label": FakeNumpy("setosa"), "at": datetime.date(2026, 1, 2)})
    assert codec.unpack_plain(payload) == {"pred": [1, 2.5], "label": "setosa", "at": "2026-01-02"}
    with pytest.raises(codec.PayloadError, match="a set at x cannot be sent as JSON"):
        codec.pack({"x": {1}})
    with pytest.raises(codec.PayloadError, match="nan at y cannot be sent as JSON"):
        codec.pack({"y": float("nan")})
