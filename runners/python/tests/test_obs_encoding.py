"""The log path's fast encodings (kre_runner/obs.py) against the general ones."""

import json

import pytest

from kre_runner import protos
from kre_runner.obs import LogRecordEncoder, ObsPublisher, RecordIds, format_record_id, set_time

ORIGIN = {"runtime_id": "rt-1", "version": "v2", "workflow": "wf", "node": "n-1", "replica": "host-42"}
CASES = [
    ("01JEZ0000000000000000000AB", 1_796_586_001_234_000_000, "INFO", "scored: label=cat", "LOGGER", "0b6c3c3e-3f0e-4b7e-9a53-111111111111"),
    ("01JEZ0000000000000000000AC", 1_796_586_001_000_000_000, "ERROR", "ünïcödé ✓ and a\nsecond line", "STDERR", None),
    ("01JEZ0000000000000000000AD", 1_999_000_001, "DEBUG", "x" * (16 * 1024), "RUNNER", None),
    ("01JEZ0000000000000000000AE", 5, "WARN", "tiny", "STDOUT", "r"),
]


@pytest.mark.parametrize("record_id,ns,level,message,source,request_id", CASES)
def test_log_record_bytes_are_protobufs(record_id, ns, level, message, source, request_id):
    r = protos.LogRecord(message=message, id=record_id)
    set_time(r.time, ns)
    for key, value in ORIGIN.items():
        setattr(r.origin, key, value)
    r.level = protos.enum_value("kre.records.LogLevel", f"LOG_LEVEL_{level}")
    r.source = protos.enum_value("kre.records.LogSource", f"LOG_SOURCE_{source}")
    if request_id:
        r.request_id = request_id
    assert LogRecordEncoder(ORIGIN).encode(record_id, ns, level, message, source, request_id) == r.SerializeToString()


def test_record_ids_are_the_formatted_ones():
    clock = iter([1_700_000_000_000, 1_700_000_000_000, 1_700_000_000_001, 1_699_999_999_999])
    ids = RecordIds(process_random=123_456_789, now_ms=lambda: next(clock))
    assert [ids.next() for _ in range(4)] == [
        format_record_id(1_700_000_000_000, 123_456_789, 0),
        format_record_id(1_700_000_000_000, 123_456_789, 1),
        format_record_id(1_700_000_000_001, 123_456_789, 2),
        format_record_id(1_700_000_000_001, 123_456_789, 3),  # the clock stepped back: kept
    ]


@pytest.mark.parametrize(
    "request_id,message,fields",
    [("r-1", 'say "hi"\n', None), (None, "plain", {"n": 1, "nested": {"a": [1, "b"]}}), (None, "ü ✓", None)],
)
def test_echo_line_is_json_dumps(request_id, message, fields):
    line = {"level": "warn", "node": "n-1"}
    if request_id:
        line["requestId"] = request_id
    line["message"] = message
    if fields:
        line["fields"] = fields
    sut = ObsPublisher.__new__(ObsPublisher)
    sut._echo_nodes = {}
    assert sut._echo_line("WARN", "n-1", request_id, message, fields) == json.dumps(line, default=str)
