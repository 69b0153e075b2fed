# The conformance handler (e2e/conformance/README.md) in kre-py v3 style: outputs are sent, the
# return value is ignored (so "returned" is sent explicitly where the table returns it).
import asyncio

from google.protobuf import json_format, struct_pb2

from conformance_pb2 import Req
from batch import handler_batch  # noqa: F401  (the batched node's handler)


def as_dict(data):
    req = Req()
    if data.Unpack(req):
        # proto3 JSON of conf.Req with defaults (int64 as a string), as the JS runner sees it
        return {"mode": req.mode, "text": req.text, "ms": req.ms, "n": str(req.n)}
    s = struct_pb2.Struct()
    if data.Unpack(s):
        return json_format.MessageToDict(s)
    return {}


async def default_handler(ctx, data):
    d = as_dict(data)
    mode = d.get("mode")
    if mode == "echo":
        await ctx.send_output({**d, "by": "default", "node": ctx.node_id})
    elif mode == "send-and-return":
        await ctx.send_output({"step": "sent"})
        await ctx.send_output({"step": "channel"}, "side")
        await ctx.send_output({"step": "returned"})
    elif mode == "nothing":
        return
    elif mode == "early-reply":
        await ctx.send_early_reply({"step": "early"})
        await ctx.send_output({"step": "output"})
    elif mode == "early-exit":
        await ctx.send_early_exit({"step": "exit"})
        await ctx.send_output({"step": "after-exit"})
        await ctx.send_output({"step": "returned"})
    elif mode == "throw":
        raise Exception(f"conformance failure {d.get('text')}")
    elif mode == "sleep":
        await asyncio.sleep(int(d.get("ms") or 0) / 1000)
        await ctx.send_output({"step": "slept", "text": d.get("text")})
    elif mode == "ctx":
        await ctx.send_output({"requestId": ctx.get_request_id(), "fromNode": ctx.from_node, "ok": ctx.is_message_ok()})
    else:
        raise Exception(f"unknown mode {mode}")


async def special(ctx, data):
    await ctx.send_output({"by": "special", "fromNode": ctx.from_node, "data": as_dict(data)})


custom_handlers = {"special": special}
