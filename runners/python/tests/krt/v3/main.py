# A kre-py v3 node: one behaviour per request mode (e2e/conformance/README.md), plus the
# context services the tests check.
import asyncio
import os
import sys

from google.protobuf import json_format, struct_pb2

from conformance_pb2 import Req


def fields(data):
    req = Req()
    if data.Unpack(req):
        return {"mode": req.mode, "text": req.text, "ms": req.ms, "n": str(req.n)}
    s = struct_pb2.Struct()
    if data.Unpack(s):
        return json_format.MessageToDict(s)
    return {}


RUNNING = 0
MOST = 0


async def init(ctx):
    ctx.set("started", "yes")
    print("init printed this")


async def default_handler(ctx, data):
    f = fields(data)
    mode = f.get("mode")
    if mode == "echo":
        await ctx.send_output({**f, "by": "default", "node": ctx.node_id, "started": ctx.get("started")})
    elif mode == "typed":
        await ctx.send_output(Req(mode="typed", text=f["text"] + "!", n=int(f.get("n") or 0) + 1))
    elif mode == "send-and-return":
        await ctx.send_output({"step": "sent"})
        await ctx.send_output({"step": "channel"}, "side")
        return {"step": "returned"}  # v3 ignores return values
    elif mode == "nothing":
        return None
    elif mode == "early-reply":
        await ctx.send_early_reply({"step": "early"})
        await ctx.send_output({"step": "output"})
    elif mode == "early-exit":
        await ctx.send_early_exit({"step": "exit"})
        await ctx.send_output({"step": "after-exit"})
    elif mode == "throw":
        raise Exception(f"conformance failure {f.get('text')}")
    elif mode == "leak-raise":
        # A config value in an exception's text: it reaches the caller and the entrypoint's logs.
        raise ValueError(f"the service refused {os.environ.get('API_TOKEN', '')}")
    elif mode == "sleep":
        await asyncio.sleep(int(f.get("ms") or 0) / 1000)
        await ctx.send_output({"step": "slept", "text": f.get("text")})
    elif mode == "block":
        import time
        time.sleep(int(f.get("ms") or 0) / 1000)  # blocks the event loop, as CPU-bound code does
        await ctx.send_output({"step": "blocked"})
    elif mode == "ctx":
        await ctx.send_output({"requestId": ctx.get_request_id(), "fromNode": ctx.from_node, "ok": ctx.is_message_ok()})
    elif mode == "any":
        await ctx.send_any(data)
    elif mode == "big":
        await ctx.send_output({"blob": f.get("text", "x") * int(f.get("ms") or 0)})
    elif mode == "random":
        import base64
        await ctx.send_output({"blob": base64.b64encode(os.urandom(int(f.get("ms") or 0))).decode()})
    elif mode == "concurrent":
        global RUNNING, MOST
        RUNNING += 1
        MOST = max(MOST, RUNNING)
        await asyncio.sleep(int(f.get("ms") or 0) / 1000)
        RUNNING -= 1
        await ctx.send_output({"most": MOST})
    elif mode == "print":
        print("printed line")
        print("to stderr", file=sys.stderr)
        ctx.logger.info("logged %s", "line", extra={"fields": {"k": 1}})
        ctx.logger.warning("careful")
        await ctx.send_output({"step": "printed"})
    elif mode == "leak":
        # A config value printed and logged by mistake (VIEWERs read logs, not config).
        token = os.environ.get("API_TOKEN", "")
        print(f"calling with {token}")
        ctx.logger.info("token", extra={"fields": {"token": token}})
        await ctx.send_output({"step": "leaked"})
    elif mode == "predict":
        await ctx.prediction.save(predicted_value="cat", true_value="dog", extra={"score": 0.5})
        await ctx.prediction.save(error=ctx.prediction.ERR_MISSING_VALUES)
        problems = []
        for kwargs in ({"predicted_value": "x"}, {"error": "bad"}, {"true_value": "y", "predicted_value": ""}):
            try:
                await ctx.prediction.save(**kwargs)
            except Exception as error:
                problems.append(str(error))
        await ctx.send_output({"problems": problems})
    elif mode == "measure":
        ctx.measurement.save("latency", {"ms": 1.5, "ok": True, "who": "me"}, {"host": "h1"})  # kre-py: not awaited
        await ctx.measurement.save("count", {"n": 3})
        await ctx.send_output({"step": "measured"})
    elif mode == "db":
        doc_id = await ctx.db.save("people", {"name": f.get("text"), "age": 42})
        found = await ctx.db.find("people", {"name": f.get("text")}, limit=5, sort={"age": -1})
        problems = []
        for bad in ({"$where": "1"}, "not a dict"):
            try:
                await ctx.db.find("people", bad)
            except Exception as error:
                problems.append(str(error))
        await ctx.send_output({"id": doc_id, "found": found, "problems": problems})
    elif mode == "db-down":
        await ctx.db.save("people", {"x": 1})
    elif mode == "config":
        await ctx.configuration.set("only-node", "n1")
        await ctx.configuration.set("shared", "from-node")
        await ctx.configuration.set("shared", "from-project", "project")
        await ctx.configuration.set("wf-key", "w1", "workflow")
        out = {
            "only-node": await ctx.configuration.get("only-node"),
            "shared": await ctx.configuration.get("shared"),
            "shared-project": await ctx.configuration.get("shared", "project"),
            "wf-key": await ctx.configuration.get("wf-key"),
            "preset": await ctx.configuration.get("preset"),
            "default": await ctx.configuration.get("nope", default="fallback"),
        }
        await ctx.configuration.delete("only-node")
        try:
            await ctx.configuration.get("only-node")
            out["deleted"] = "still there"
        except Exception as error:
            out["deleted"] = type(error).__name__
        await ctx.send_output(out)
    elif mode == "objects":
        await ctx.object_store.save("model.bin", b"\x00\x01weights")
        got = await ctx.object_store.get("model.bin")
        listed = await ctx.object_store.list()
        await ctx.object_store.delete("model.bin")
        gone = await ctx.object_store.get("model.bin")
        await ctx.send_output({"got": got.decode("latin-1"), "listed": listed, "gone": gone})
    elif mode == "env":
        with open(ctx.path("data/note.txt")) as fh:
            note = fh.read().strip()
        try:
            ctx.path("../outside")
            outside = "allowed"
        except ValueError:
            outside = "refused"
        await ctx.send_output({
            "GREETING": os.environ.get("GREETING"),
            "config": dict(ctx.config),
            "note": note,
            "outside": outside,
        })
    else:
        raise Exception(f"unknown mode {mode}")


async def special(ctx, data):
    await ctx.send_output({"by": "special", "fromNode": ctx.from_node, "data": fields(data)})


custom_handlers = {"special": special}


async def forgetful(ctx, data):
    ctx.send_output({"step": "sent without await"})  # kre-py would drop it; sends happen at the call


custom_handlers["other"] = forgetful
