"""KRE's own messages (proto/kre/*.proto), built at run time in a private descriptor pool.

No generated code: the descriptors are written here field for field (tests/test_protos.py checks
them against the repository's .proto files and against bytes the Node side produced), so the
runner works with every protobuf from 3.20 to 7.x, and a tenant's own `_pb2.py` (even one that
defines the same names) never collides with ours in the default pool.
"""

from __future__ import annotations

from google.protobuf import descriptor_pb2, descriptor_pool, message_factory
from google.protobuf import any_pb2, struct_pb2, timestamp_pb2

_F = descriptor_pb2.FieldDescriptorProto
_T = {
    "string": _F.TYPE_STRING,
    "bytes": _F.TYPE_BYTES,
    "uint32": _F.TYPE_UINT32,
    "uint64": _F.TYPE_UINT64,
    "double": _F.TYPE_DOUBLE,
    "bool": _F.TYPE_BOOL,
}

_pool = descriptor_pool.DescriptorPool()


def _copy_file(module) -> None:
    proto = descriptor_pb2.FileDescriptorProto()
    module.DESCRIPTOR.CopyToProto(proto)
    _pool.AddSerializedFile(proto.SerializeToString())


for _wkt in (any_pb2, struct_pb2, timestamp_pb2):
    _copy_file(_wkt)


def _field(msg, name: str, number: int, kind: str, repeated: bool = False) -> None:
    f = msg.field.add(name=name, number=number)
    f.label = _F.LABEL_REPEATED if repeated else _F.LABEL_OPTIONAL
    if kind in _T:
        f.type = _T[kind]
    elif kind.startswith("enum:"):
        f.type = _F.TYPE_ENUM
        f.type_name = kind[5:]
    else:
        f.type = _F.TYPE_MESSAGE
        f.type_name = kind


def _enum(file, name: str, values: list[str]) -> None:
    e = file.enum_type.add(name=name)
    for i, v in enumerate(values):
        e.value.add(name=v, number=i)


def _file(name: str, package: str, deps: list[str]) -> descriptor_pb2.FileDescriptorProto:
    f = descriptor_pb2.FileDescriptorProto(name=name, package=package, syntax="proto3")
    f.dependency.extend(deps)
    return f


# kre/kre_nats_msg.proto
_nats = _file("kre/kre_nats_msg.proto", "kre.nats", ["google/protobuf/any.proto"])
_m = _nats.message_type.add(name="KreNatsMessage")
_field(_m, "request_id", 1, "string")
_field(_m, "payload", 2, ".google.protobuf.Any")
_field(_m, "error", 3, "string")
_field(_m, "from_node", 4, "string")
_field(_m, "message_type", 5, "enum:.kre.nats.MessageType")
_enum(_nats, "MessageType", ["UNDEFINED", "OK", "ERROR", "EARLY_REPLY", "EARLY_EXIT"])

# kre/records.proto
_rec = _file(
    "kre/records.proto",
    "kre.records",
    ["google/protobuf/struct.proto", "google/protobuf/timestamp.proto"],
)
_ts = ".google.protobuf.Timestamp"
_st = ".google.protobuf.Struct"
_m = _rec.message_type.add(name="Origin")
for _i, _n in enumerate(["runtime_id", "version", "workflow", "node", "replica"], 1):
    _field(_m, _n, _i, "string")
_enum(_rec, "LogLevel", [f"LOG_LEVEL_{x}" for x in ["UNSPECIFIED", "DEBUG", "INFO", "WARN", "ERROR"]])
_enum(
    _rec,
    "LogSource",
    [f"LOG_SOURCE_{x}" for x in ["UNSPECIFIED", "LOGGER", "STDOUT", "STDERR", "RUNNER", "DEPLOYER", "ENTRYPOINT", "INGESTION"]],
)
_m = _rec.message_type.add(name="LogRecord")
_field(_m, "time", 1, _ts)
_field(_m, "origin", 2, ".kre.records.Origin")
_field(_m, "level", 3, "enum:.kre.records.LogLevel")
_field(_m, "message", 4, "string")
_field(_m, "request_id", 5, "string")
_field(_m, "source", 6, "enum:.kre.records.LogSource")
_field(_m, "fields", 7, _st)
_field(_m, "id", 8, "string")
_m = _rec.message_type.add(name="NodeMetric")
_field(_m, "start", 1, _ts)
_field(_m, "end", 2, _ts)
_field(_m, "origin", 3, ".kre.records.Origin")
_field(_m, "from_node", 4, "string")
_field(_m, "count", 5, "uint64")
_field(_m, "errors", 6, "uint64")
_field(_m, "elapsed_ms_sum", 7, "double")
_field(_m, "elapsed_ms_max", 8, "double")
_field(_m, "bucket_bounds_ms", 9, "double", repeated=True)
_field(_m, "bucket_counts", 10, "uint64", repeated=True)
_field(_m, "id", 11, "string")
_enum(
    _rec,
    "PredictionError",
    ["PREDICTION_ERROR_NONE", "PREDICTION_ERROR_MISSING_VALUES", "PREDICTION_ERROR_NEW_LABELS"],
)
_m = _rec.message_type.add(name="Prediction")
_field(_m, "time", 1, _ts)
_field(_m, "origin", 2, ".kre.records.Origin")
_field(_m, "request_id", 3, "string")
_field(_m, "predicted_value", 4, "string")
_field(_m, "true_value", 5, "string")
_field(_m, "error", 6, "enum:.kre.records.PredictionError")
_field(_m, "extra", 7, _st)
_field(_m, "id", 8, "string")
_m = _rec.message_type.add(name="Measurement")
_field(_m, "time", 1, _ts)
_field(_m, "origin", 2, ".kre.records.Origin")
_field(_m, "request_id", 3, "string")
_field(_m, "name", 4, "string")
_field(_m, "fields", 5, _st)
_field(_m, "tags", 6, ".kre.records.Measurement.TagsEntry", repeated=True)
_field(_m, "id", 7, "string")
_entry = _m.nested_type.add(name="TagsEntry")
_field(_entry, "key", 1, "string")
_field(_entry, "value", 2, "string")
_entry.options.map_entry = True

# kre/data.proto
_data = _file("kre/data.proto", "kre.data", ["google/protobuf/struct.proto"])
_m = _data.message_type.add(name="SaveRequest")
_field(_m, "collection", 1, "string")
_field(_m, "document", 2, _st)
_m = _data.message_type.add(name="FindRequest")
_field(_m, "collection", 1, "string")
_field(_m, "query", 2, _st)
_field(_m, "limit", 3, "uint32")
_field(_m, "sort", 4, _st)
_m = _data.message_type.add(name="DataReply")
_field(_m, "error", 1, "string")
_field(_m, "error_code", 2, "string")
_field(_m, "id", 3, "string")
_field(_m, "documents", 4, _st, repeated=True)

FILES = {f.name: f for f in (_nats, _rec, _data)}
for _f in FILES.values():
    _pool.AddSerializedFile(_f.SerializeToString())


def _class(full_name: str):
    desc = _pool.FindMessageTypeByName(full_name)
    get = getattr(message_factory, "GetMessageClass", None)
    if get is not None:  # protobuf >= 4.21
        return get(desc)
    return message_factory.MessageFactory(_pool).GetPrototype(desc)  # protobuf 3.20


KreNatsMessage = _class("kre.nats.KreNatsMessage")
Origin = _class("kre.records.Origin")
LogRecord = _class("kre.records.LogRecord")
NodeMetric = _class("kre.records.NodeMetric")
Prediction = _class("kre.records.Prediction")
Measurement = _class("kre.records.Measurement")
SaveRequest = _class("kre.data.SaveRequest")
FindRequest = _class("kre.data.FindRequest")
DataReply = _class("kre.data.DataReply")


def enum_value(full_enum: str, name: str) -> int:
    return _pool.FindEnumTypeByName(full_enum).values_by_name[name].number


def enum_name(full_enum: str, number: int) -> str:
    return _pool.FindEnumTypeByName(full_enum).values_by_number[number].name
