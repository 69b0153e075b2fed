""".proto files read without protoc: enough of the language (proto3 and proto2 messages, enums,
nested types, maps, oneofs, imports) to decode the version's typed payloads for kre-py's dict-era
handlers (before 1.23: KRE's entrypoint handed them dicts, and their KRTs ship no generated code).
Services, options and extensions are skipped."""

from __future__ import annotations

import importlib
import os
import re
from typing import Optional

from google.protobuf import descriptor_pb2, descriptor_pool, message_factory

F = descriptor_pb2.FieldDescriptorProto
SCALARS = {
    "double": F.TYPE_DOUBLE, "float": F.TYPE_FLOAT, "int64": F.TYPE_INT64, "uint64": F.TYPE_UINT64,
    "int32": F.TYPE_INT32, "fixed64": F.TYPE_FIXED64, "fixed32": F.TYPE_FIXED32, "bool": F.TYPE_BOOL,
    "string": F.TYPE_STRING, "bytes": F.TYPE_BYTES, "uint32": F.TYPE_UINT32, "sfixed32": F.TYPE_SFIXED32,
    "sfixed64": F.TYPE_SFIXED64, "sint32": F.TYPE_SINT32, "sint64": F.TYPE_SINT64,
}
_TOKEN = re.compile(
    r"""(?P<ws>\s+)|(?P<comment>//[^\n]*|/\*.*?\*/)|(?P<str>"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*')"""
    r"""|(?P<num>[-+]?(?:0[xX][0-9a-fA-F]+|\d+\.?\d*(?:[eE][-+]?\d+)?|\.\d+(?:[eE][-+]?\d+)?|inf|nan))"""
    r"""|(?P<ident>\.?[A-Za-z_][\w]*(?:\.[A-Za-z_][\w]*)*)|(?P<sym>[{}\[\]()<>=;,:\-+/])""",
    re.S,
)


class ProtoParseError(ValueError):
    pass


def _tokens(text: str, path: str) -> list[str]:
    out, pos = [], 0
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if not m:
            line = text.count("\n", 0, pos) + 1
            raise ProtoParseError(f"{path}:{line}: unexpected {text[pos:pos + 10]!r}")
        pos = m.end()
        if m.lastgroup not in ("ws", "comment"):
            out.append(m.group())
    return out


class _Parser:
    def __init__(self, tokens: list[str], path: str):
        self.t = tokens
        self.i = 0
        self.path = path

    def peek(self) -> Optional[str]:
        return self.t[self.i] if self.i < len(self.t) else None

    def next(self) -> str:
        if self.i >= len(self.t):
            raise ProtoParseError(f"{self.path}: unexpected end of file")
        self.i += 1
        return self.t[self.i - 1]

    def expect(self, token: str) -> None:
        got = self.next()
        if got != token:
            raise ProtoParseError(f"{self.path}: expected {token!r}, got {got!r}")

    def skip_statement(self) -> None:
        """To the `;` that ends this statement (or a balanced `{...}` block)."""
        depth = 0
        while True:
            tok = self.next()
            if tok == "{":
                depth += 1
            elif tok == "}":
                depth -= 1
                if depth == 0:
                    if self.peek() == ";":
                        self.next()
                    return
            elif tok == ";" and depth == 0:
                return

    def skip_brackets(self) -> None:
        if self.peek() != "[":
            return
        depth = 0
        while True:
            tok = self.next()
            if tok == "[":
                depth += 1
            elif tok == "]":
                depth -= 1
                if depth == 0:
                    return


def _camel(name: str) -> str:
    return "".join(p[:1].upper() + p[1:] for p in name.split("_"))


def parse_file(text: str, path: str, name: str) -> tuple[descriptor_pb2.FileDescriptorProto, list[str]]:
    """The file as a FileDescriptorProto with type names as written (resolved later), and its imports."""
    p = _Parser(_tokens(text, path), path)
    f = descriptor_pb2.FileDescriptorProto(name=name)
    syntax = "proto2"
    imports: list[str] = []
    while p.peek() is not None:
        tok = p.next()
        if tok == "syntax":
            p.expect("=")
            syntax = p.next().strip("\"'")
            p.expect(";")
        elif tok == "edition":
            raise ProtoParseError(f"{path}: protobuf editions are not supported here")
        elif tok == "package":
            f.package = p.next()
            p.expect(";")
        elif tok == "import":
            if p.peek() in ("public", "weak"):
                p.next()
            imports.append(p.next().strip("\"'"))
            p.expect(";")
        elif tok == "message":
            _message(p, f.message_type.add(), syntax)
        elif tok == "enum":
            _enum(p, f.enum_type.add())
        elif tok in ("option", "service", "extend"):
            p.skip_statement()
        elif tok == ";":
            continue
        else:
            raise ProtoParseError(f"{path}: unexpected {tok!r}")
    f.syntax = syntax if syntax == "proto3" else "proto2"
    f.dependency.extend(imports)
    return f, imports


def _enum(p: _Parser, e) -> None:
    e.name = p.next()
    p.expect("{")
    while p.peek() != "}":
        tok = p.next()
        if tok in ("option", "reserved"):
            p.skip_statement()
        elif tok == ";":
            continue
        else:
            p.expect("=")
            number = p.next()
            if number == "-":
                number = "-" + p.next()
            e.value.add(name=tok, number=int(number, 0))
            p.skip_brackets()
            p.expect(";")
    p.next()


def _message(p: _Parser, m, syntax: str) -> None:
    m.name = p.next()
    p.expect("{")
    _body(p, m, syntax, None)


def _body(p: _Parser, m, syntax: str, oneof: Optional[int]) -> None:
    while p.peek() != "}":
        tok = p.next()
        if tok == "message":
            _message(p, m.nested_type.add(), syntax)
        elif tok == "enum":
            _enum(p, m.enum_type.add())
        elif tok == "oneof":
            index = len(m.oneof_decl)
            m.oneof_decl.add(name=p.next())
            p.expect("{")
            _body(p, m, syntax, index)
        elif tok in ("option", "reserved", "extensions", "extend"):
            p.skip_statement()
        elif tok == ";":
            continue
        elif tok == "map":
            p.expect("<")
            key = p.next()
            p.expect(",")
            value = p.next()
            p.expect(">")
            name = p.next()
            p.expect("=")
            number = int(p.next(), 0)
            p.skip_brackets()
            p.expect(";")
            entry = m.nested_type.add(name=_camel(name) + "Entry")
            entry.options.map_entry = True
            _field(entry, "key", 1, key, F.LABEL_OPTIONAL)
            _field(entry, "value", 2, value, F.LABEL_OPTIONAL)
            f = _field(m, name, number, entry.name, F.LABEL_REPEATED)
        elif tok == "group":
            raise ProtoParseError(f"{p.path}: proto2 groups are not supported here")
        else:
            label = F.LABEL_OPTIONAL
            if tok in ("repeated", "optional", "required"):
                label = {"repeated": F.LABEL_REPEATED, "optional": F.LABEL_OPTIONAL, "required": F.LABEL_REQUIRED}[tok]
                tok = p.next()
            name = p.next()
            p.expect("=")
            number = int(p.next(), 0)
            p.skip_brackets()
            p.expect(";")
            f = _field(m, name, number, tok, label)
            if oneof is not None:
                f.oneof_index = oneof
    p.next()


def _field(m, name: str, number: int, kind: str, label: int):
    f = m.field.add(name=name, number=number, label=label)
    if kind in SCALARS:
        f.type = SCALARS[kind]
    else:
        f.type_name = kind  # resolved by _resolve
    return f


def _symbols(files) -> dict[str, int]:
    out: dict[str, int] = {}

    def walk(prefix: str, messages, enums):
        for e in enums:
            out[f"{prefix}.{e.name}"] = F.TYPE_ENUM
        for msg in messages:
            full = f"{prefix}.{msg.name}"
            out[full] = F.TYPE_MESSAGE
            walk(full, msg.nested_type, msg.enum_type)

    for f in files:
        walk("." + f.package if f.package else "", f.message_type, f.enum_type)
    return out


def _resolve(files, symbols: dict[str, int]) -> None:
    def lookup(name: str, scope: str) -> str:
        if name.startswith("."):
            if name in symbols:
                return name
            raise ProtoParseError(f"unknown type {name}")
        parts = scope.split(".") if scope else []
        first = name.split(".")[0]
        while True:
            base = ".".join(parts)
            candidate_first = f"{base}.{first}" if base else f".{first}"
            if candidate_first in symbols or any(s.startswith(candidate_first + ".") for s in symbols):
                full = f"{base}.{name}" if base else f".{name}"
                if full in symbols:
                    return full
            if not parts:
                break
            parts.pop()
        raise ProtoParseError(f"unknown type {name} (in {scope.lstrip('.') or 'the root'})")

    def walk(scope: str, messages):
        for msg in messages:
            full = f"{scope}.{msg.name}"
            for field in msg.field:
                if field.type_name:
                    field.type_name = lookup(field.type_name, full)
                    field.type = symbols[field.type_name]
            walk(full, msg.nested_type)

    for f in files:
        walk("." + f.package if f.package else "", f.message_type)


def _wkt_file(name: str) -> Optional[descriptor_pb2.FileDescriptorProto]:
    if not name.startswith("google/protobuf/"):
        return None
    module = "google.protobuf." + os.path.basename(name)[: -len(".proto")] + "_pb2"
    try:
        mod = importlib.import_module(module)
    except ImportError:
        return None
    proto = descriptor_pb2.FileDescriptorProto()
    mod.DESCRIPTOR.CopyToProto(proto)
    return proto


class ProtoTypes:
    """The message types of a .proto file and its imports, in a private descriptor pool."""

    def __init__(self, entry: str, include: list[str]):
        self.pool = descriptor_pool.DescriptorPool()
        parsed: dict[str, descriptor_pb2.FileDescriptorProto] = {}
        wkt: dict[str, descriptor_pb2.FileDescriptorProto] = {}
        order: list[str] = []

        def load(name: str, path: str, stack: tuple[str, ...]):
            if name in parsed or name in wkt:
                return
            if name in stack:
                raise ProtoParseError(f"import cycle: {' -> '.join(stack + (name,))}")
            with open(path, encoding="utf-8") as fh:
                proto, imports = parse_file(fh.read(), path, name)
            for imp in imports:
                known = _wkt_file(imp)
                if known is not None:
                    wkt[imp] = known
                    continue
                for d in [os.path.dirname(path)] + include:
                    candidate = os.path.join(d, imp)
                    if os.path.isfile(candidate):
                        load(imp, candidate, stack + (name,))
                        break
                else:
                    raise ProtoParseError(f"{path}: import {imp!r} not found (looked in {', '.join([os.path.dirname(path)] + include)})")
            parsed[name] = proto
            order.append(name)

        load(os.path.basename(entry), entry, ())
        files = list(parsed.values())
        _resolve(files, {**_symbols(files), **_symbols(wkt.values())})
        added: set[str] = set()

        def add(proto):
            if proto.name in added:
                return
            for dep in proto.dependency:
                if dep in wkt:
                    add(wkt[dep])
            added.add(proto.name)
            self.pool.AddSerializedFile(proto.SerializeToString())

        for name in order:
            add(parsed[name])

    def message_class(self, full_name: str):
        try:
            desc = self.pool.FindMessageTypeByName(full_name)
        except KeyError:
            return None
        get = getattr(message_factory, "GetMessageClass", None)
        return get(desc) if get else message_factory.MessageFactory(self.pool).GetPrototype(desc)


def message_to_dict(msg) -> dict:
    """A message as a dict the way kre-py's `protobuf_to_dict` gave it (set fields only, proto
    field names, enums as numbers, bytes as bytes)."""
    out = {}
    for field, value in msg.ListFields():
        out[field.name] = _value(field, value)
    return out


def _value(field, value):
    if field.message_type is not None and field.message_type.GetOptions().map_entry:
        vf = field.message_type.fields_by_name["value"]
        return {k: (message_to_dict(v) if vf.message_type is not None else v) for k, v in value.items()}
    if _repeated(field):
        return [message_to_dict(v) if field.message_type is not None else v for v in value]
    if field.message_type is not None:
        return message_to_dict(value)
    return value


def _repeated(field) -> bool:
    flag = getattr(field, "is_repeated", None)  # protobuf >= 6.31 (label is deprecated)
    return bool(flag) if flag is not None else field.label == F.LABEL_REPEATED
