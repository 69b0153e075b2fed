"""kre_runner.tracing: W3C trace context in and out, and a real OTLP/HTTP JSON export."""

import asyncio
import json
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest

from kre_runner import tracing

PARENT = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"


class Receiver:
    def __init__(self):
        self.bodies: list[dict] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["content-length"]))
                assert self.path == "/v1/traces"
                assert self.headers["content-type"] == "application/json"
                outer.bodies.append(json.loads(body))
                self.send_response(200)
                self.end_headers()
                self.wfile.write(b"{}")

            def log_message(self, *args):
                pass

        self.server = HTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"

    def spans(self):
        out = []
        for body in self.bodies:
            for rs in body["resourceSpans"]:
                service = {a["key"]: a["value"] for a in rs["resource"]["attributes"]}["service.name"]["stringValue"]
                for ss in rs["scopeSpans"]:
                    out += [dict(s, service=service) for s in ss["spans"]]
        return out


def test_no_endpoint_no_tracer():
    assert tracing.from_env({}, {}) is None
    assert tracing.from_env({}, {"OTEL_EXPORTER_OTLP_ENDPOINT": ""}) is None


def test_wrong_env_names_the_variable():
    with pytest.raises(tracing.InvalidTracingEnvError, match="OTEL_EXPORTER_OTLP_ENDPOINT: must be a URL"):
        tracing.from_env({}, {"OTEL_EXPORTER_OTLP_ENDPOINT": "otel:4318"})
    with pytest.raises(tracing.InvalidTracingEnvError, match="OTEL_BSP_SCHEDULE_DELAY"):
        tracing.from_env({}, {"OTEL_EXPORTER_OTLP_ENDPOINT": "http://otel:4318", "OTEL_BSP_SCHEDULE_DELAY": "soon"})
    assert tracing.traces_url({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://otel:4318/"}) == "http://otel:4318/v1/traces"


def test_spans_continue_the_senders_trace_and_are_exported():
    receiver = Receiver()
    try:
        tracer = tracing.from_env({"kre.node": "n1"}, {"OTEL_EXPORTER_OTLP_ENDPOINT": receiver.url, "OTEL_BSP_SCHEDULE_DELAY": "20"})
        assert tracer is not None

        async def work():
            span = tracer.start("node n1", {"traceparent": PARENT, "tracestate": "k=v"}, "consumer", {"kre.attempt": 1})
            headers = span.headers()
            span.fail("broken")
            span.end()
            fresh = tracer.start("node n2", {"traceparent": "garbage"})
            fresh.end()
            unsampled = tracer.start("node n3", {"traceparent": PARENT[:-2] + "00"})
            unsampled.end()
            await tracer.close()
            return span, headers, fresh, unsampled

        span, headers, fresh, unsampled = asyncio.run(work())
        assert headers == {"traceparent": f"00-0af7651916cd43dd8448eb211c80319c-{span.span_id}-01", "tracestate": "k=v"}
        assert unsampled.headers()["traceparent"].endswith("-00")  # passed on, not recorded
        spans = {s["name"]: s for s in receiver.spans()}
        assert set(spans) == {"node n1", "node n2"}
        one = spans["node n1"]
        assert one["service"] == "runner"
        assert one["traceId"] == "0af7651916cd43dd8448eb211c80319c"
        assert one["parentSpanId"] == "b7ad6b7169203331"
        assert one["spanId"] == span.span_id
        assert one["kind"] == 5
        assert one["status"] == {"code": 2, "message": "broken"}
        assert {"key": "kre.attempt", "value": {"intValue": "1"}} in one["attributes"]
        assert int(one["endTimeUnixNano"]) >= int(one["startTimeUnixNano"]) > 0
        two = spans["node n2"]
        assert two["traceId"] == fresh.trace_id != "0af7651916cd43dd8448eb211c80319c"
        assert "parentSpanId" not in two
        assert tracer.exported == 2 and tracer.dropped == 0
    finally:
        receiver.server.shutdown()
