"""OpenTelemetry spans of the Python runner (libs/observability/src/tracing in the Node apps):
one span per message, a child of the sender's `traceparent`, exported as OTLP/HTTP JSON to
`OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` or `OTEL_EXPORTER_OTLP_ENDPOINT/v1/traces`, or, as the
deployer starts workloads, relayed: the same JSON bodies published on the runtime's traces subject
`KRT_NATS_TRACES_SUBJECT` over the runner's NATS connection, for mongo-writer to forward (a
workload cannot reach the OTLP endpoint). Without either `from_env` returns None and the runner
does no tracing work at all.

Why not opentelemetry-sdk with opentelemetry-exporter-otlp-proto-http: the exporter needs
opentelemetry-proto, which needs protobuf >= 5, and the runner runs KRE-era KRTs that pin
protobuf 3.20 in the same venv; it would also add requests, urllib3, certifi and about ten more
packages to every version's venv the deployer builds. What the runner needs (W3C trace context in
and out, spans with attributes and a status, a batched JSON export off the event loop) is this file.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import re
import time
import urllib.request
from typing import Any, Mapping, Optional

log = logging.getLogger("kre_runner")

TRACEPARENT = re.compile(r"^00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$")
ZERO_TRACE = "0" * 32
ZERO_SPAN = "0" * 16
#: OTLP's SpanKind numbers.
KINDS = {"internal": 1, "server": 2, "client": 3, "producer": 4, "consumer": 5}
MAX_QUEUE = 2048
MAX_BATCH = 512
SUBJECT = re.compile(r"^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$")


class InvalidTracingEnvError(ValueError):
    pass


def traces_url(src: Mapping[str, str]) -> Optional[str]:
    """The traces URL the env names, if any. @raises InvalidTracingEnvError for a non-HTTP URL."""
    url = src.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") or None
    key = "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"
    if url is None:
        base = src.get("OTEL_EXPORTER_OTLP_ENDPOINT") or None
        key = "OTEL_EXPORTER_OTLP_ENDPOINT"
        if base is None:
            return None
        url = base.rstrip("/") + "/v1/traces"
    if not re.match(r"^https?://[^/\s]+", url):
        raise InvalidTracingEnvError(f"{key}: must be a URL with scheme http:// or https://")
    return url


def _value(v: Any) -> dict:
    if isinstance(v, bool):
        return {"boolValue": v}
    if isinstance(v, int):
        return {"intValue": str(v)}
    if isinstance(v, float):
        return {"doubleValue": v}
    return {"stringValue": str(v)}


def _attributes(attrs: Mapping[str, Any]) -> list[dict]:
    return [{"key": k, "value": _value(v)} for k, v in attrs.items()]


class Span:
    """One span; `headers()` is its context for what the node sends on."""

    __slots__ = ("tracer", "trace_id", "span_id", "parent_id", "flags", "tracestate", "name", "kind", "attributes", "start", "end_ns", "status")

    def __init__(self, tracer, trace_id, span_id, parent_id, flags, tracestate, name, kind, attributes):
        self.tracer = tracer
        self.trace_id = trace_id
        self.span_id = span_id
        self.parent_id = parent_id
        self.flags = flags
        self.tracestate = tracestate
        self.name = name
        self.kind = kind
        self.attributes = attributes
        self.start = time.time_ns()
        self.end_ns = 0
        self.status: Optional[dict] = None

    @property
    def recording(self) -> bool:
        return int(self.flags, 16) & 1 == 1

    def headers(self) -> dict[str, str]:
        out = {"traceparent": f"00-{self.trace_id}-{self.span_id}-{self.flags}"}
        if self.tracestate:
            out["tracestate"] = self.tracestate
        return out

    def fail(self, text: str) -> None:
        self.status = {"code": 2, "message": text}

    def end(self) -> None:
        if self.end_ns:
            return
        self.end_ns = time.time_ns()
        if self.recording:
            self.tracer._finished(self)

    def to_otlp(self) -> dict:
        out = {
            "traceId": self.trace_id,
            "spanId": self.span_id,
            "name": self.name,
            "kind": self.kind,
            "startTimeUnixNano": str(self.start),
            "endTimeUnixNano": str(self.end_ns),
            "attributes": _attributes(self.attributes),
        }
        if self.parent_id:
            out["parentSpanId"] = self.parent_id
        if self.tracestate:
            out["traceState"] = self.tracestate
        if self.status:
            out["status"] = self.status
        return out


class Tracer:
    """Spans, batched and exported every `delay` seconds (and at `close`): posted to `url` from a
    thread, so the event loop never waits on the receiver, or, with `subject` instead, published
    on the NATS connection `attach` gives (until then an export drops its spans). Past MAX_QUEUE
    unexported spans, new ones are dropped (counted in `dropped`), as the SDK's batch processor
    does."""

    def __init__(self, url: Optional[str], resource: Mapping[str, Any], delay: float = 5.0, subject: Optional[str] = None):
        self.url = url
        self.subject = subject
        self._nc = None
        self._max_bytes = 1024 * 1024
        self.resource = _attributes(resource)
        self.delay = delay
        self.queue: list[Span] = []
        self.dropped = 0
        self.exported = 0
        self._task: Optional[asyncio.Task] = None
        self._warned = False

    def start(self, name: str, parent: Mapping[str, str], kind: str = "internal", attributes: Optional[dict] = None) -> Span:
        """A span continuing the trace in `parent` (traceparent/tracestate headers), or a new one."""
        match = TRACEPARENT.match(parent.get("traceparent") or "")
        if match and match.group(1) != ZERO_TRACE and match.group(2) != ZERO_SPAN:
            trace_id, parent_id, flags = match.groups()
            tracestate = parent.get("tracestate") or None
        else:
            trace_id, parent_id, flags, tracestate = os.urandom(16).hex(), None, "01", None
        return Span(self, trace_id, os.urandom(8).hex(), parent_id, flags, tracestate, name, KINDS[kind], attributes or {})

    def _finished(self, span: Span) -> None:
        if len(self.queue) >= MAX_QUEUE:
            self.dropped += 1
            return
        self.queue.append(span)
        if self._task is None:
            try:
                self._task = asyncio.get_running_loop().create_task(self._every())
            except RuntimeError:
                pass  # no loop (a synchronous caller): exported at close

    async def _every(self) -> None:
        while True:
            await asyncio.sleep(self.delay)
            await self.flush()

    def attach(self, nc, max_bytes: int) -> None:
        """Relayed: exports from now on are published on `subject` over `nc`, each body at most
        `max_bytes` (the server's max_payload, less room for headers)."""
        self._nc = nc
        self._max_bytes = max_bytes

    def _body(self, batch: list[Span]) -> bytes:
        return json.dumps(
            {
                "resourceSpans": [
                    {
                        "resource": {"attributes": self.resource},
                        "scopeSpans": [{"scope": {"name": "kre_runner"}, "spans": [s.to_otlp() for s in batch]}],
                    }
                ]
            },
            separators=(",", ":"),
        ).encode()

    async def flush(self) -> None:
        while self.queue:
            batch, self.queue = self.queue[:MAX_BATCH], self.queue[MAX_BATCH:]
            try:
                if self.url is not None:
                    await asyncio.to_thread(self._post, self._body(batch))
                    self.exported += len(batch)
                else:
                    await self._publish(batch)
            except Exception as error:
                self.dropped += len(batch)
                if not self._warned:
                    log.warning("cannot export spans to %s: %s", self.url or self.subject, error)
                    self._warned = True

    async def _publish(self, batch: list[Span]) -> None:
        """Relays `batch`, split in halves until each body fits; one span too large alone is dropped."""
        if self._nc is None:
            raise RuntimeError("no NATS connection attached yet")
        body = self._body(batch)
        if len(body) <= self._max_bytes:
            await self._nc.publish(self.subject, body)
            self.exported += len(batch)
        elif len(batch) == 1:
            self.dropped += 1
        else:
            half = (len(batch) + 1) // 2
            await self._publish(batch[:half])
            await self._publish(batch[half:])

    def _post(self, body: bytes) -> None:
        request = urllib.request.Request(self.url, data=body, method="POST", headers={"content-type": "application/json"})
        with urllib.request.urlopen(request, timeout=10) as answer:
            answer.read()

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            self._task = None
        await self.flush()


def from_env(resource: Mapping[str, Any], source: Optional[Mapping[str, str]] = None) -> Optional[Tracer]:
    """The runner's tracer, or None without an OTLP endpoint or a relay subject (an endpoint wins).
    @raises InvalidTracingEnvError naming the variable that is wrong."""
    src = os.environ if source is None else source
    url = traces_url(src)
    subject = None if url else (src.get("KRT_NATS_TRACES_SUBJECT") or None)
    if subject is not None and not SUBJECT.match(subject):
        raise InvalidTracingEnvError("KRT_NATS_TRACES_SUBJECT: must be a NATS subject (tokens of letters, digits, _ and -)")
    if url is None and subject is None:
        return None
    raw = src.get("OTEL_BSP_SCHEDULE_DELAY") or "5000"
    try:
        delay_ms = int(raw)
        if not 1 <= delay_ms <= 600_000:
            raise ValueError
    except ValueError:
        raise InvalidTracingEnvError("OTEL_BSP_SCHEDULE_DELAY: must be an integer number of milliseconds from 1 to 600000") from None
    service = src.get("OTEL_SERVICE_NAME") or "runner"
    return Tracer(url, {"service.name": service, "service.namespace": "kre", **resource}, delay_ms / 1000, subject)
