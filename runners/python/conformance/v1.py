# The conformance handler (e2e/conformance/README.md) in kre-py's v1 style (1.23 - 2.x): the
# return value is the output; no sends (send-and-return only returns), one `handler` for every
# sender (messages from "special" are told apart by ctx.from_node).
import asyncio

from google.protobuf import json_format, struct_pb2

from conformance_pb2 import Req
from batch import handler_batch  # noqa: F401  (the batched node's handler)


def as_dict(data):
    req = Req()
    if data.Unpack(req):
        return {"mode": req.mode, "text": req.text, "ms": req.ms, "n": str(req.n)}
    s = struct_pb2.Struct()
    if data.Unpack(s):
        return json_format.MessageToDict(s)
    return {}


async def handler(ctx, data):
    d = as_dict(data)
    if ctx.from_node == "special":
        return {"by": "special", "fromNode": ctx.from_node, "data": d}
    mode = d.get("mode")
    if mode == "echo":
        return {**d, "by": "default", "node": ctx.node_id}
    if mode == "send-and-return":
        return {"step": "returned"}
    if mode == "nothing":
        return None
    if mode == "early-reply":
        await ctx.early_reply({"step": "early"})
        return {"step": "output"}
    if mode == "early-exit":
        ctx.early_exit()
        return {"step": "exit"}
    if mode == "throw":
        raise Exception(f"conformance failure {d.get('text')}")
    if mode == "sleep":
        await asyncio.sleep(int(d.get("ms") or 0) / 1000)
        return {"step": "slept", "text": d.get("text")}
    if mode == "ctx":
        return {"requestId": ctx.get_request_id(), "fromNode": ctx.from_node, "ok": ctx.is_message_ok()}
    raise Exception(f"unknown mode {mode}")
