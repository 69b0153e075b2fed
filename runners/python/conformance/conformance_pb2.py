# -*- coding: utf-8 -*-
# Generated-code style of protoc >= 3.20 (descriptor_pool.AddSerializedFile + builder), written
# for the tests from conformance.proto: loads on every protobuf from 3.20 to 7.x.
# source: conformance.proto
from google.protobuf import descriptor_pool as _descriptor_pool
from google.protobuf import symbol_database as _symbol_database
from google.protobuf.internal import builder as _builder

_sym_db = _symbol_database.Default()

DESCRIPTOR = _descriptor_pool.Default().AddSerializedFile(b'\n\x11conformance.proto\x12\x04conf"K\n\x03Req\x12\x12\n\x04mode\x18\x01 \x01(\tR\x04mode\x12\x12\n\x04text\x18\x02 \x01(\tR\x04text\x12\x0e\n\x02ms\x18\x03 \x01(\x05R\x02ms\x12\x0c\n\x01n\x18\x04 \x01(\x03R\x01nb\x06proto3')

_builder.BuildMessageAndEnumDescriptors(DESCRIPTOR, globals())
_builder.BuildTopDescriptorsAndMessages(DESCRIPTOR, 'conformance_pb2', globals())
