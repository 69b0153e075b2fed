"""Observability records on `<KRT_NATS_OBS_PREFIX>.<kind>` (apps/runner/src/obs.publisher.ts):
logs and metrics as core NATS messages (fire and forget), predictions and measurements through
JetStream (their `save` returns once the stream has them). Schemas: proto/kre/records.proto."""

from __future__ import annotations

import asyncio
import collections
import itertools
import json
import logging
import secrets
import time
from datetime import datetime, timezone
from typing import Optional

from . import codec, protos, stdio

METRIC_BUCKETS_MS = (1, 2, 5, 10, 20, 50, 100, 200, 500, 1_000, 2_000, 5_000, 10_000, 30_000)
MAX_LOG_MESSAGE = 16 * 1024
#: Log calls held for the next flush at most; past it, lines are counted and dropped.
MAX_PENDING_LOGS = 100_000
#: Log records published per turn of the event loop: a long flush lets timers and I/O in between.
FLUSH_CHUNK = 256
LEVELS = ("DEBUG", "INFO", "WARN", "ERROR")
SOURCES = ("LOGGER", "STDOUT", "STDERR", "RUNNER")

log = logging.getLogger("kre_runner")

_CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
_FORTY_BITS = 1 << 40


def _base32(value: int, chars: int) -> str:
    out = []
    for _ in range(chars):
        value, digit = divmod(value, 32)
        out.append(_CROCKFORD[digit])
    return "".join(reversed(out))


#: Two base32 characters for each 10-bit value: a counter's 8 characters in four lookups.
_BASE32_PAIRS = [_CROCKFORD[i >> 5] + _CROCKFORD[i & 31] for i in range(1024)]


def format_record_id(ms: int, process_random: int, counter: int) -> str:
    """The record id of (milliseconds, process random, counter); libs/messaging formatRecordId."""
    return _base32(ms, 10) + _base32(process_random % _FORTY_BITS, 8) + _base32(counter % _FORTY_BITS, 8)


class RecordIds:
    """Record ids for one process (`id` in proto/kre/records.proto), as the Node runner makes them:
    unique because the counter never repeats within the process and the random part tells processes
    apart (a restarted replica keeps its name); sorted by time, then emission order. Thread safe:
    `next(itertools.count)` is atomic, and a stale `_last_ms` only costs order, never uniqueness."""

    def __init__(self, process_random: Optional[int] = None, now_ms=None):
        self._random = secrets.randbelow(_FORTY_BITS) if process_random is None else process_random
        self._now_ms = now_ms or (lambda: time.time_ns() // 1_000_000)
        self._counter = itertools.count()
        self._last_ms = 0
        # The first 18 characters change once per millisecond at most: made once per millisecond.
        self._prefix = (-1, "")

    def next(self) -> str:
        counter = next(self._counter)
        self._last_ms = ms = max(self._last_ms, self._now_ms())  # never backwards within the process
        prefix_ms, prefix = self._prefix
        if prefix_ms != ms:
            prefix = _base32(ms, 10) + _base32(self._random % _FORTY_BITS, 8)
            self._prefix = (ms, prefix)
        c = counter % _FORTY_BITS
        pairs = _BASE32_PAIRS
        return prefix + pairs[c >> 30] + pairs[(c >> 20) & 1023] + pairs[(c >> 10) & 1023] + pairs[c & 1023]


_SMALL_VARINTS = [bytes((i,)) for i in range(128)]


def _varint(n: int) -> bytes:
    if n < 128:
        return _SMALL_VARINTS[n]
    out = bytearray()
    while n > 0x7F:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


def _delimited(tag: int, data: bytes) -> bytes:
    return bytes((tag,)) + _varint(len(data)) + data


#: proto/kre/records.proto's enum numbers.
_LEVELS = {"DEBUG": b"\x18\x01", "INFO": b"\x18\x02", "WARN": b"\x18\x03", "ERROR": b"\x18\x04"}
_SOURCES = {"LOGGER": b"\x30\x01", "STDOUT": b"\x30\x02", "STDERR": b"\x30\x03", "RUNNER": b"\x30\x04"}


class LogRecordEncoder:
    """`kre.records.LogRecord` without `fields`, written byte by byte: the bytes protobuf's
    SerializeToString writes for the same record (tests/test_obs_encoding.py), several times
    cheaper than building the message (the origin is encoded once)."""

    def __init__(self, origin: dict):
        o = b"".join(
            _delimited(tag, origin[key].encode())
            for tag, key in ((0x0A, "runtime_id"), (0x12, "version"), (0x1A, "workflow"), (0x22, "node"), (0x2A, "replica"))
            if origin.get(key)
        )
        self.origin = _delimited(0x12, o)

    def encode(self, record_id: str, ns: int, level: str, message: str, source: str, request_id: Optional[str]) -> bytes:
        seconds, nanos = divmod(ns, 1_000_000_000)
        ts = (b"\x08" + _varint(seconds) if seconds else b"") + (b"\x10" + _varint(nanos) if nanos else b"")
        return b"".join(
            (
                _delimited(0x0A, ts),
                self.origin,
                _LEVELS[level],
                _delimited(0x22, message.encode()),
                _delimited(0x2A, request_id.encode()) if request_id else b"",
                _SOURCES[source],
                _delimited(0x42, record_id.encode()),
            )
        )


def set_time(ts, when: datetime | int | None) -> None:
    """Sets a Timestamp from a datetime (naive = UTC) or epoch nanoseconds (None = now)."""
    if when is None:
        ns = time.time_ns()
    elif isinstance(when, datetime):
        if when.tzinfo is None:
            when = when.replace(tzinfo=timezone.utc)
        delta = when - datetime(1970, 1, 1, tzinfo=timezone.utc)
        ns = (delta.days * 86_400 + delta.seconds) * 1_000_000_000 + delta.microseconds * 1_000
    else:
        ns = int(when)
    ts.seconds, ts.nanos = divmod(ns, 1_000_000_000)


class _Window:
    __slots__ = ("count", "errors", "sum", "max", "buckets")

    def __init__(self):
        self.count = 0
        self.errors = 0
        self.sum = 0.0
        self.max = 0.0
        self.buckets = [0] * (len(METRIC_BUCKETS_MS) + 1)


class ObsPublisher:
    def __init__(self, nc, js, prefix: str, origin: dict, metrics_interval: float = 5.0):
        self.nc = nc
        self.js = js
        self.prefix = prefix
        self.origin = origin
        self.interval = metrics_interval
        # Masks the version's config values in log records (masking.ConfigMasker); none by default.
        self.masker = None
        self.ids = RecordIds()
        self.loop = asyncio.get_running_loop()
        self._windows: dict[str, _Window] = {}
        self._window_start = time.time_ns()
        self._tasks: set[asyncio.Task] = set()
        self._timer = self.loop.create_task(self._tick())
        # Log calls waiting for the flush (a deque: handlers of the dict era log from threads).
        self._pending: collections.deque = collections.deque()
        self._encoder = LogRecordEncoder(origin)
        self._echo_nodes: dict[str, str] = {}
        self._flush_scheduled = False
        self._dropped_logs = 0

    def subject(self, kind: str) -> str:
        return f"{self.prefix}.{kind}"

    def _stamp(self, msg) -> None:
        """A fresh record id and this replica's origin on a record about to be published."""
        msg.id = self.ids.next()
        o = self.origin
        msg.origin.runtime_id = o["runtime_id"]
        msg.origin.version = o["version"]
        msg.origin.workflow = o["workflow"]
        msg.origin.node = o["node"]
        msg.origin.replica = o["replica"]

    def _publish_soon(self, subject: str, data: bytes) -> None:
        async def send():
            try:
                await self.nc.publish(subject, data)
            except Exception as error:  # a log must never break a handler
                log.debug("record dropped: %s", error)

        def schedule():
            task = self.loop.create_task(send())
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is self.loop:
            schedule()
        elif not self.loop.is_closed():
            self.loop.call_soon_threadsafe(schedule)

    def log(
        self,
        level: str,
        message: str,
        source: str,
        request_id: Optional[str] = None,
        fields: Optional[dict] = None,
        echo_node: Optional[str] = None,
    ) -> None:
        """A log record, queued for the next flush (its time taken now); never raises (a broken
        log must not break a handler). With `echo_node`, also a JSON line on the real stdout
        naming that node (`ctx.logger`'s echo). The records are masked, encoded and published,
        and the echoes written in one write, by one flush per turn of the event loop, so a
        handler that logs in a loop pays for none of that in the loop (bench:logging)."""
        if self.nc.is_closed or not message:
            return
        if len(self._pending) >= MAX_PENDING_LOGS:
            self._dropped_logs += 1
            return
        self._pending.append((level, message, source, request_id, fields, echo_node, time.time_ns()))
        if not self._flush_scheduled:
            self._flush_scheduled = True
            try:
                running = asyncio.get_running_loop()
            except RuntimeError:
                running = None
            if running is self.loop:
                self.loop.call_soon(self.flush_logs)
            elif not self.loop.is_closed():
                self.loop.call_soon_threadsafe(self.flush_logs)

    def flush_logs(self, everything: bool = False) -> None:
        """Publishes the queued log records (one task per batch) and writes their echoes,
        FLUSH_CHUNK records per turn of the event loop (`everything`: all now, at close)."""
        self._flush_scheduled = False
        pending = self._pending
        datas: list[bytes] = []
        echoes: list[str] = []
        n = 0
        while pending and (everything or n < FLUSH_CHUNK):
            n += 1
            level, message, source, request_id, fields, echo_node, ns = pending.popleft()
            data = self._log_record(level, message, source, request_id, fields, ns)
            if data is not None:
                datas.append(data)
            if echo_node is not None:
                echoes.append(self._echo_line(level, echo_node, request_id, message, fields))
        if self._dropped_logs:
            dropped, self._dropped_logs = self._dropped_logs, 0
            text = f"{dropped} log line(s) dropped: more than {MAX_PENDING_LOGS} were logged within one turn of the event loop"
            data = self._log_record("WARN", text, "RUNNER", None, None, time.time_ns())
            if data is not None:
                datas.append(data)
        if echoes:
            try:
                out = stdio.raw_stdout()
                out.write("\n".join(echoes) + "\n")
                out.flush()
            except Exception as error:
                log.debug("stdout echo dropped: %s", error)
        if datas:
            self._publish_all(self.subject("logs"), datas)
        if pending and not self._flush_scheduled:
            self._flush_scheduled = True
            self.loop.call_soon(self.flush_logs)

    def _echo_line(self, level: str, node: str, request_id, message: str, fields) -> str:
        """`{"level", "node", "requestId"?, "message", "fields"?}` as json.dumps writes it."""
        head = self._echo_nodes.get(node)
        if head is None:
            head = self._echo_nodes[node] = ', "node": ' + json.dumps(node)
        return "".join(
            (
                '{"level": "',
                level.lower(),
                '"',
                head,
                ', "requestId": ' + json.dumps(request_id) if request_id else "",
                ', "message": ',
                json.dumps(message),
                ', "fields": ' + json.dumps(fields, default=str) if fields else "",
                "}",
            )
        )

    def _publish_all(self, subject: str, datas: list[bytes]) -> None:
        async def send():
            try:
                for data in datas:
                    await self.nc.publish(subject, data)
            except Exception as error:  # a log must never break a handler
                log.debug("records dropped: %s", error)

        task = self.loop.create_task(send())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _log_record(self, level, message, source, request_id, fields, ns) -> Optional[bytes]:
        """One log record's bytes, or None (blank, or it cannot be encoded)."""
        if self.nc.is_closed or not message.strip():
            return None
        if self.masker is not None:
            message = self.masker.mask(message)
            fields = self.masker.mask_json(fields) if fields else fields
        text = message if len(message) <= MAX_LOG_MESSAGE else f"{message[:MAX_LOG_MESSAGE]}… (truncated)"
        try:
            if not fields and level in _LEVELS and source in _SOURCES:
                data = self._encoder.encode(self.ids.next(), ns, level, text, source, request_id)
                if len(data) > codec.payload_limit(self.nc.max_payload):
                    return self._log_record(level, text[:1024], source, request_id, None, ns)
                return data
            r = protos.LogRecord(message=text)
            set_time(r.time, ns)
            self._stamp(r)
            r.level = protos.enum_value("kre.records.LogLevel", f"LOG_LEVEL_{level}")
            r.source = protos.enum_value("kre.records.LogSource", f"LOG_SOURCE_{source}")
            if request_id:
                r.request_id = request_id
            if fields:
                try:
                    codec.fill_struct(r.fields, fields)
                except codec.PayloadError as error:
                    r.ClearField("fields")
                    codec.fill_struct(r.fields, {"fieldsError": str(error)})
            data = r.SerializeToString()
            if len(data) > codec.payload_limit(self.nc.max_payload):
                return self._log_record(level, text[:1024], source, request_id, None, ns)
            return data
        except Exception as error:
            log.warning("log record dropped: %s", error)
            return None

    async def prediction(self, record) -> None:
        self._stamp(record)
        await self._store("predictions", record.SerializeToString())

    async def measurement(self, record) -> None:
        self._stamp(record)
        await self._store("measurements", record.SerializeToString())

    async def _store(self, kind: str, data: bytes) -> None:
        subject = self.subject(kind)
        try:
            await self.js.publish(subject, data, timeout=5)
        except Exception as error:
            raise RuntimeError(
                f"cannot store the {kind[:-1]} on {subject} (the runtime's observability stream): {error or type(error).__name__}"
            ) from error

    def metric(self, from_node: str, elapsed_ms: float, failed: bool) -> None:
        w = self._windows.get(from_node)
        if w is None:
            w = self._windows[from_node] = _Window()
        w.count += 1
        if failed:
            w.errors += 1
        w.sum += elapsed_ms
        w.max = max(w.max, elapsed_ms)
        for i, bound in enumerate(METRIC_BUCKETS_MS):
            if elapsed_ms <= bound:
                w.buckets[i] += 1
                break
        else:
            w.buckets[-1] += 1

    async def _tick(self) -> None:
        while True:
            await asyncio.sleep(self.interval)
            self.flush_metrics()

    def flush_metrics(self) -> None:
        start, end = self._window_start, time.time_ns()
        windows, self._windows = self._windows, {}
        self._window_start = end
        if self.nc.is_closed:
            return
        for from_node, w in windows.items():
            try:
                m = protos.NodeMetric(
                    from_node=from_node,
                    count=w.count,
                    errors=w.errors,
                    elapsed_ms_sum=w.sum,
                    elapsed_ms_max=w.max,
                )
                set_time(m.start, start)
                set_time(m.end, end)
                self._stamp(m)
                m.bucket_bounds_ms.extend(float(b) for b in METRIC_BUCKETS_MS)
                m.bucket_counts.extend(w.buckets)
                self._publish_soon(self.subject("metrics"), m.SerializeToString())
            except Exception as error:
                log.warning("metric dropped: %s", error)

    async def close(self) -> None:
        """Last logs and metrics out, the timer stopped, pending records written."""
        self._timer.cancel()
        self.flush_logs(everything=True)
        self.flush_metrics()
        if self._tasks:
            await asyncio.wait(list(self._tasks), timeout=2)
