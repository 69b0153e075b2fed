"""Observability records on `<KRT_NATS_OBS_PREFIX>.<kind>` (apps/runner/src/obs.publisher.ts):
logs and metrics as core NATS messages (fire and forget), predictions and measurements through
JetStream (their `save` returns once the stream has them). Schemas: proto/kre/records.proto."""

from __future__ import annotations

import asyncio
import itertools
import logging
import secrets
import time
from datetime import datetime, timezone
from typing import Optional

from . import codec, protos

METRIC_BUCKETS_MS = (1, 2, 5, 10, 20, 50, 100, 200, 500, 1_000, 2_000, 5_000, 10_000, 30_000)
MAX_LOG_MESSAGE = 16 * 1024
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

    def next(self) -> str:
        counter = next(self._counter)
        self._last_ms = max(self._last_ms, self._now_ms())  # never backwards within the process
        return format_record_id(self._last_ms, self._random, counter)


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
    ) -> None:
        """A log record; never raises (a broken log must not break a handler)."""
        if self.nc.is_closed or not message or not message.strip():
            return
        if self.masker is not None:
            message = self.masker.mask(message)
            fields = self.masker.mask_json(fields) if fields else fields
        text = message if len(message) <= MAX_LOG_MESSAGE else f"{message[:MAX_LOG_MESSAGE]}… (truncated)"
        try:
            r = protos.LogRecord(message=text)
            set_time(r.time, None)
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
                self.log(level, text[:1024], source, request_id)
                return
            self._publish_soon(self.subject("logs"), data)
        except Exception as error:
            log.warning("log record dropped: %s", error)

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
        """Last metrics out, the timer stopped, pending records written."""
        self._timer.cancel()
        self.flush_metrics()
        if self._tasks:
            await asyncio.wait(list(self._tasks), timeout=2)
