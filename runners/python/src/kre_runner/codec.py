"""The data plane's wire formats (docs/data-plane.md), as libs/messaging/src/data-plane has them:
the envelope, gzip compression to fit NATS' max payload, payloads as `google.protobuf.Any`
(typed messages, or Struct / Value / BytesValue for plain values), and JSON <-> Struct."""

from __future__ import annotations

import datetime
import gzip
import math
import zlib
from dataclasses import dataclass
from typing import Any as TAny

from google.protobuf import any_pb2
from google.protobuf.message import DecodeError, Message

from . import protos

# kre.nats.MessageType
UNDEFINED, OK, ERROR, EARLY_REPLY, EARLY_EXIT = 0, 1, 2, 3, 4
MESSAGE_TYPE_NAMES = {0: "UNDEFINED", 1: "OK", 2: "ERROR", 3: "EARLY_REPLY", 4: "EARLY_EXIT"}

# NATS headers (libs/messaging/src/data-plane/headers.ts)
H_REPLY_TO = "kre-reply-to"
H_REQUEST_ID = "kre-request-id"
H_DEADLINE = "kre-deadline"
PROPAGATED_HEADERS = (H_REPLY_TO, H_REQUEST_ID, H_DEADLINE, "traceparent", "tracestate")

TYPE_URL_PREFIX = "type.googleapis.com/"
STRUCT = "google.protobuf.Struct"
VALUE = "google.protobuf.Value"
BYTES_VALUE = "google.protobuf.BytesValue"
ANY = "google.protobuf.Any"

HEADER_ROOM = 4 * 1024
MAX_INFLATED = 256 * 1024 * 1024


class InvalidMessageError(Exception):
    def __init__(self, reason: str):
        super().__init__(f"invalid message: {reason}")


class PayloadTooLargeError(Exception):
    def __init__(self, what: str, size: int, compressed: int, limit: int):
        super().__init__(
            f"{what} is {size} bytes ({compressed} gzip-compressed), above the NATS max payload of "
            f"{limit} bytes: send less data, or raise the server's max_payload"
        )


class PayloadError(TypeError):
    """A value that cannot travel as a payload; the message says where and how to fix it."""


def payload_limit(server_max_payload: int | None) -> int:
    """The largest payload a message can carry: the server's max payload minus header room."""
    return max(1024, (server_max_payload or 1024 * 1024) - HEADER_ROOM)


def is_gzip(data: bytes) -> bool:
    return len(data) >= 2 and data[0] == 0x1F and data[1] == 0x8B


def compress_to_fit(data: bytes, limit: int, what: str = "the message") -> bytes:
    """`data` as is when it fits, gzip-compressed otherwise (as KRE's runners did)."""
    if len(data) <= limit:
        return data
    compressed = gzip.compress(data, compresslevel=6)
    if len(compressed) > limit:
        raise PayloadTooLargeError(what, len(data), len(compressed), limit)
    return compressed


def decompress_if_needed(data: bytes, max_bytes: int = MAX_INFLATED) -> bytes:
    if not is_gzip(data):
        return data
    try:
        d = zlib.decompressobj(16 + zlib.MAX_WBITS)
        out = d.decompress(data, max_bytes)
        if d.unconsumed_tail:
            raise ValueError(f"inflates above {max_bytes} bytes")
        return out
    except (zlib.error, ValueError) as error:
        raise InvalidMessageError(f"invalid gzip payload: {error}") from error


@dataclass
class Envelope:
    request_id: str
    from_node: str
    message_type: int
    payload: any_pb2.Any | None = None
    error: str = ""


def encode_envelope(
    request_id: str,
    from_node: str,
    message_type: int,
    payload: any_pb2.Any | None = None,
    error: str = "",
) -> bytes:
    m = protos.KreNatsMessage(request_id=request_id, from_node=from_node, message_type=message_type)
    if payload is not None and payload.type_url:
        m.payload.type_url = payload.type_url
        m.payload.value = payload.value
    if error:
        m.error = error
    return m.SerializeToString()


def decode_envelope(data: bytes) -> Envelope:
    """Decodes and checks an envelope (already inflated); KRE-era UNDEFINED reads as OK."""
    m = protos.KreNatsMessage()
    try:
        m.ParseFromString(bytes(data))
    except (DecodeError, RuntimeWarning, ValueError) as error:
        raise InvalidMessageError(f"not a kre.nats.KreNatsMessage ({error or 'cannot decode'})") from error
    t = m.message_type
    if t not in MESSAGE_TYPE_NAMES:
        raise InvalidMessageError(f"unknown message_type {t}")
    if not m.request_id:
        raise InvalidMessageError("request_id is empty")
    if not m.from_node:
        raise InvalidMessageError("from_node is empty")
    env = Envelope(m.request_id, m.from_node, OK if t == UNDEFINED else t, error=m.error)
    if m.HasField("payload") and m.payload.type_url:
        env.payload = any_pb2.Any(type_url=m.payload.type_url, value=m.payload.value)
    if env.message_type == ERROR and not env.error:
        raise InvalidMessageError("an ERROR message without an error text")
    return env


def type_name_of(type_url: str) -> str:
    return type_url[type_url.rfind("/") + 1 :]


# -- JSON values <-> google.protobuf.Struct / Value, with JSON's rules and loud errors


def _where(path: str) -> str:
    return f" at {path}" if path else ""


def _set_value(v, value: TAny, path: str) -> None:
    if value is None:
        v.null_value = 0
    elif isinstance(value, bool):
        v.bool_value = value
    elif isinstance(value, (int, float)):
        f = float(value)
        if not math.isfinite(f):
            raise PayloadError(f"{value}{_where(path)} cannot be sent as JSON")
        v.number_value = f
    elif isinstance(value, str):
        v.string_value = value
    elif isinstance(value, dict):
        fill_struct(v.struct_value, value, path)
    elif isinstance(value, (list, tuple)):
        lv = v.list_value
        lv.SetInParent()
        for i, item in enumerate(value):
            _set_value(lv.values.add(), item, f"{path}[{i}]")
    elif hasattr(value, "tolist") and callable(value.tolist) and not isinstance(value, (bytes, bytearray)):
        # numpy scalars and arrays (what a model's predict returns), as JSON would hold them
        _set_value(v, value.tolist(), path)
    elif isinstance(value, (datetime.datetime, datetime.date)):
        v.string_value = value.isoformat()  # as a JavaScript Date travels (toJSON)
    elif isinstance(value, (bytes, bytearray)):
        raise PayloadError(
            f"bytes{_where(path)} cannot travel inside an object: send them base64-encoded, or as the whole output"
        )
    else:
        raise PayloadError(
            f"a {type(value).__name__}{_where(path)} cannot be sent as JSON: convert it to a dict, list, str, number, bool or None"
        )


def fill_struct(struct, obj: dict, path: str = "") -> None:
    """Fills a Struct (of any descriptor pool) from a dict of JSON values."""
    struct.SetInParent()
    for key, item in obj.items():
        if not isinstance(key, str):
            raise PayloadError(f"key {key!r}{_where(path)} is not a string: JSON keys are strings")
        _set_value(struct.fields[key], item, f"{path}.{key}" if path else key)


def _from_value(v) -> TAny:
    kind = v.WhichOneof("kind")
    if kind == "number_value":
        n = v.number_value
        return int(n) if n.is_integer() and abs(n) <= 2**53 else n
    if kind == "string_value":
        return v.string_value
    if kind == "bool_value":
        return v.bool_value
    if kind == "struct_value":
        return struct_to_dict(v.struct_value)
    if kind == "list_value":
        return [_from_value(x) for x in v.list_value.values]
    return None


def struct_to_dict(struct) -> dict:
    """A Struct as a dict (integral numbers as int, as JSON would read them)."""
    return {k: _from_value(v) for k, v in struct.fields.items()}


def struct_bytes(obj: dict, path: str = "") -> bytes:
    from google.protobuf import struct_pb2

    s = struct_pb2.Struct()
    fill_struct(s, obj, path)
    return s.SerializeToString(deterministic=True)  # map entries in key order, not hash order


def pack(value: TAny, what: str = "the value") -> any_pb2.Any:
    """What a Python handler sends, as an Any: a protobuf message as itself (an Any unchanged);
    a dict as Struct, bytes as BytesValue, any other JSON value as Value (what JS nodes read)."""
    from google.protobuf import struct_pb2, wrappers_pb2

    if isinstance(value, Message):
        name = value.DESCRIPTOR.full_name
        if name == ANY:
            return any_pb2.Any(type_url=value.type_url, value=value.value)
        return any_pb2.Any(type_url=TYPE_URL_PREFIX + name, value=value.SerializeToString())
    if isinstance(value, (bytes, bytearray, memoryview)):
        return any_pb2.Any(
            type_url=TYPE_URL_PREFIX + BYTES_VALUE,
            value=wrappers_pb2.BytesValue(value=bytes(value)).SerializeToString(),
        )
    if isinstance(value, dict):
        return any_pb2.Any(type_url=TYPE_URL_PREFIX + STRUCT, value=struct_bytes(value))
    v = struct_pb2.Value()
    try:
        _set_value(v, value, "")
    except PayloadError as error:
        raise PayloadError(f"{what}: {error}") from None
    return any_pb2.Any(type_url=TYPE_URL_PREFIX + VALUE, value=v.SerializeToString(deterministic=True))


def unpack_plain(payload: any_pb2.Any | None) -> TAny:
    """A Struct / Value / BytesValue payload as the Python value it holds (None otherwise)."""
    from google.protobuf import struct_pb2, wrappers_pb2

    if payload is None or not payload.type_url:
        return None
    name = type_name_of(payload.type_url)
    if name == STRUCT:
        s = struct_pb2.Struct()
        s.ParseFromString(payload.value)
        return struct_to_dict(s)
    if name == VALUE:
        v = struct_pb2.Value()
        v.ParseFromString(payload.value)
        return _from_value(v)
    if name == BYTES_VALUE:
        b = wrappers_pb2.BytesValue()
        b.ParseFromString(payload.value)
        return b.value
    return None
