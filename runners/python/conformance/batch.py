# The conformance suite's batch handler (e2e/conformance/README.md, "Batching"), shared by both
# Python fixtures: batching is one API whatever era the rest of the module is written in.
from google.protobuf import json_format, struct_pb2

from conformance_pb2 import Req


def _fields(data):
    req = Req()
    if data.Unpack(req):
        return {"mode": req.mode, "text": req.text, "ms": req.ms, "n": str(req.n)}
    s = struct_pb2.Struct()
    if data.Unpack(s):
        return json_format.MessageToDict(s)
    return {}


async def handler_batch(ctx, items):
    batch = [(item.ctx, _fields(item.data)) for item in items]
    modes = {d.get("mode") for _, d in batch}
    if "raise" in modes:
        raise Exception(f"conformance batch failure of {len(items)}")
    results = []
    for item_ctx, d in batch:
        mode = d.get("mode")
        if mode == "throw":
            results.append(Exception(f"conformance failure {d.get('text')}"))
        elif mode == "send":
            await item_ctx.send_output({"step": "sent", "text": d.get("text"), "requestId": item_ctx.get_request_id()})
            results.append(None)
        else:
            results.append({"text": d.get("text"), "size": len(items), "requestId": item_ctx.get_request_id()})
    return results[1:] if "short" in modes else results
