"""`ctx.configuration`, `ctx.object_store` and `ctx.db` (apps/runner/src/context.services.ts)."""

from __future__ import annotations

import re
from typing import Any, Optional

from . import codec, protos

SCOPES = ("node", "workflow", "project")
KV_KEY = re.compile(r"^[-/_=.a-zA-Z0-9]+$")


class ConfigurationKeyNotFound(Exception):
    """`configuration.get` found no value (kre-py v3 raised "No value found" too)."""


_MISSING = object()


class Configuration:
    """The version's KV buckets, scoped node -> workflow -> project (KRT_NATS_KEY_VALUE_STORE_*)."""

    def __init__(self, js, buckets: dict[str, Optional[str]]):
        self._js = js
        self._buckets = buckets
        self._kvs: dict[str, Any] = {}

    async def _bucket(self, scope: str):
        if scope not in SCOPES:
            raise ValueError(f"scope must be one of {', '.join(SCOPES)} (got {scope!r})")
        name = self._buckets.get(scope)
        if not name:
            raise RuntimeError(
                f"this node has no {scope} configuration bucket (KRT_NATS_KEY_VALUE_STORE_{scope.upper()} is not set)"
            )
        kv = self._kvs.get(scope)
        if kv is None:
            kv = self._kvs[scope] = await self._js.key_value(name)
        return kv

    @staticmethod
    def _key(key) -> str:
        if not isinstance(key, str) or not KV_KEY.match(key) or key.startswith(".") or key.endswith("."):
            raise ValueError(
                f"configuration key {key!r} is not valid: use letters, digits and - / _ = . (not at the ends)"
            )
        return key

    async def get(self, key: str, scope: Optional[str] = None, default: Any = _MISSING) -> Any:
        """The value of `key` in `scope`, or in the first of node, workflow, project that has it.
        @raises ConfigurationKeyNotFound when there is none and no `default` is given."""
        from nats.js.errors import KeyNotFoundError

        self._key(key)
        for s in [scope] if scope else SCOPES:
            if not scope and not self._buckets.get(s):
                continue
            kv = await self._bucket(s)
            try:
                entry = await kv.get(key)
            except KeyNotFoundError:
                continue
            if entry is not None and entry.value is not None and entry.operation in (None, "PUT"):
                return entry.value.decode("utf-8")
        if default is not _MISSING:
            return default
        where = scope or " -> ".join(s for s in SCOPES if self._buckets.get(s))
        raise ConfigurationKeyNotFound(f"No value found for configuration key {key!r} (scope {where})")

    async def set(self, key: str, value: str, scope: str = "node") -> None:
        if not isinstance(value, str):
            raise TypeError(f"configuration values are strings (got {type(value).__name__} for {key!r})")
        kv = await self._bucket(scope)
        await kv.put(self._key(key), value.encode("utf-8"))

    async def delete(self, key: str, scope: str = "node") -> None:
        kv = await self._bucket(scope)
        await kv.delete(self._key(key))


class ObjectStore:
    """The node's object store (KRT_NATS_OBJECT_STORE), when the manifest declares one."""

    def __init__(self, js, name: Optional[str]):
        self._js = js
        self._name = name
        self._store = None

    async def _open(self):
        if not self._name:
            raise RuntimeError(
                "this node declares no object store (objectStore in the KRT manifest; KRT_NATS_OBJECT_STORE)"
            )
        if self._store is None:
            self._store = await self._js.object_store(self._name)
        return self._store

    @staticmethod
    def _key(key) -> str:
        if not isinstance(key, str) or not key:
            raise ValueError("object names are non-empty strings")
        return key

    async def save(self, key: str, payload: bytes | str) -> None:
        data = payload.encode("utf-8") if isinstance(payload, str) else payload
        if not isinstance(data, (bytes, bytearray, memoryview)):
            raise TypeError("object data must be bytes or str")
        if len(data) == 0:
            raise ValueError("the object store cannot save an empty payload")  # as kre-py
        store = await self._open()
        await store.put(self._key(key), bytes(data))

    async def get(self, key: str) -> Optional[bytes]:
        """The object's bytes, or None when there is none."""
        from nats.js.errors import NotFoundError

        store = await self._open()
        try:
            result = await store.get(self._key(key))
        except NotFoundError:
            return None
        if result.info is not None and getattr(result.info, "deleted", False):
            return None
        return bytes(result.data or b"")

    async def delete(self, key: str) -> None:
        store = await self._open()
        await store.delete(self._key(key))

    async def list(self, filter: Optional[str] = None) -> list[str]:
        from nats.js.errors import NotFoundError

        store = await self._open()
        try:
            infos = await store.list()
        except NotFoundError:
            return []
        pattern = re.compile(filter) if filter else None
        return sorted(i.name for i in infos if not getattr(i, "deleted", False) and (not pattern or pattern.search(i.name)))


# -- ctx.db: the checks of libs/messaging/src/data-plane/data-requests.ts, then mongo-writer

SAFE_QUERY_OPERATORS = frozenset(
    "$eq $ne $gt $gte $lt $lte $in $nin $exists $type $size $all $elemMatch $not $and $or $nor $regex $options $mod".split()
)
COLLECTION = re.compile(r"^[A-Za-z][A-Za-z0-9_-]{0,63}$")
FIND_DEFAULT_LIMIT = 100
FIND_MAX_LIMIT = 1000
DATA_TIMEOUT = 10.0


class DataRequestError(ValueError):
    pass


def validate_collection(name) -> str:
    if not isinstance(name, str) or not COLLECTION.match(name) or name.startswith("system"):
        raise DataRequestError(
            f"collection {name!r} is not allowed: use 1-64 letters, digits, \"_\" or \"-\", starting with a letter (not \"system…\")"
        )
    return name


def validate_query(query) -> dict:
    if not isinstance(query, dict):
        raise DataRequestError("the query must be a dict")
    keys = 0

    def walk(value, path: str, depth: int, parent: str):
        nonlocal keys
        if depth > 16:
            raise DataRequestError(f"the query is nested deeper than 16 levels at {path}")
        if isinstance(value, (list, tuple)):
            for i, item in enumerate(value):
                walk(item, f"{path}[{i}]", depth + 1, parent)
            return
        if not isinstance(value, dict):
            if parent == "$regex" and (not isinstance(value, str) or len(value) > 1000):
                raise DataRequestError(f"{path}: $regex must be a string of at most 1000 characters")
            if parent == "$options" and (not isinstance(value, str) or not re.fullmatch(r"[imsx]*", value)):
                raise DataRequestError(f"{path}: $options may only hold the flags i, m, s, x")
            return
        for key, item in value.items():
            keys += 1
            if keys > 1000:
                raise DataRequestError("the query has more than 1000 keys")
            at = f"{path}.{key}" if path else str(key)
            if not isinstance(key, str):
                raise DataRequestError(f"field name {key!r} is not a string (at {at})")
            if key.startswith("$"):
                if key not in SAFE_QUERY_OPERATORS:
                    raise DataRequestError(
                        f"operator {key} is not allowed in db.find (at {at}); allowed: {' '.join(sorted(SAFE_QUERY_OPERATORS))}"
                    )
            elif "$" in key or "\0" in key or key == "":
                raise DataRequestError(f"field name {key!r} is not allowed (at {at})")
            walk(item, at, depth + 1, key)

    walk(query, "", 0, "")
    return query


def validate_document(doc) -> dict:
    if not isinstance(doc, dict):
        raise DataRequestError("the document must be a dict")

    def walk(value, path: str, depth: int):
        if depth > 64:
            raise DataRequestError(f"the document is nested deeper than 64 levels at {path}")
        if isinstance(value, (list, tuple)):
            for i, item in enumerate(value):
                walk(item, f"{path}[{i}]", depth + 1)
        elif isinstance(value, dict):
            for key, item in value.items():
                at = f"{path}.{key}" if path else str(key)
                if isinstance(key, str) and (key.startswith("$") or "\0" in key or "." in key):
                    raise DataRequestError(
                        f"field name {key!r} is not allowed in a document (at {at}): no leading \"$\", no \".\""
                    )
                walk(item, at, depth + 1)

    walk(doc, "", 0)
    return doc


def validate_sort(sort) -> dict:
    if sort is None:
        return {}
    if not isinstance(sort, dict):
        raise DataRequestError("sort must be a dict")
    for key, value in sort.items():
        if not isinstance(key, str) or key.startswith("$") or key == "":
            raise DataRequestError(f"sort field {key!r} is not allowed")
        if value not in (1, -1) or isinstance(value, bool):
            raise DataRequestError(f"sort.{key} must be 1 or -1")
    return sort


def validate_limit(limit) -> int:
    if limit is None or limit == 0:
        return FIND_DEFAULT_LIMIT
    if not isinstance(limit, int) or isinstance(limit, bool) or not 0 < limit <= FIND_MAX_LIMIT:
        raise DataRequestError(f"limit must be an integer from 1 to {FIND_MAX_LIMIT}")
    return limit


class DataClient:
    """The runtime's data database, through mongo-writer over NATS request/reply on
    `<KRT_NATS_DATA_PREFIX>.save|find` (protobuf kre.data.*: proto/kre/data.proto)."""

    def __init__(self, nc, prefix: str):
        self._nc = nc
        self._prefix = prefix

    async def _request(self, op: str, body: bytes):
        from nats.errors import NoRespondersError, TimeoutError as NatsTimeout

        subject = f"{self._prefix}.{op}"
        payload = codec.compress_to_fit(body, codec.payload_limit(self._nc.max_payload), f"db.{op}")
        try:
            reply = await self._nc.request(subject, payload, timeout=DATA_TIMEOUT)
        except NoRespondersError as error:
            raise RuntimeError(f"db.{op}: no mongo-writer answers on {subject}; is it running?") from error
        except NatsTimeout as error:
            raise RuntimeError(f"db.{op}: no answer from mongo-writer on {subject} within {DATA_TIMEOUT:g} s") from error
        decoded = protos.DataReply()
        decoded.ParseFromString(reply.data)
        if decoded.error:
            raise RuntimeError(f"db.{op}: {decoded.error}")
        return decoded

    async def save(self, coll: str, data: dict) -> str:
        """Inserts `data` into collection `coll`; returns its `_id` as a string."""
        request = protos.SaveRequest(collection=validate_collection(coll))
        codec.fill_struct(request.document, validate_document(data))
        reply = await self._request("save", request.SerializeToString())
        return reply.id

    async def find(self, coll: str, query: Optional[dict] = None, limit: int = 0, sort: Optional[dict] = None) -> list[dict]:
        """Documents of `coll` matching `query` (safe operators only)."""
        request = protos.FindRequest(
            collection=validate_collection(coll),
            limit=validate_limit(limit),
        )
        codec.fill_struct(request.query, validate_query({} if query is None else query))
        s = validate_sort(sort)
        codec.fill_struct(request.sort, s)
        reply = await self._request("find", request.SerializeToString())
        return [codec.struct_to_dict(d) for d in reply.documents]
