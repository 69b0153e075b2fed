# A kre-py v1-era node (1.23 - 2.x): `handler(ctx, data)` returns the output.
from conformance_pb2 import Req


async def init(ctx):
    ctx.set("greeting", "Hello")


async def handler(ctx, data):
    req = Req()
    data.Unpack(req)
    if req.mode == "echo":
        return Req(mode="echo", text=f"{ctx.get('greeting')} {req.text}!")
    if req.mode == "early-reply":
        await ctx.early_reply(Req(text="early"))
        return Req(text="output")
    if req.mode == "reply-twice":
        await ctx.reply(Req(text="first"))
        await ctx.early_reply(Req(text="second"))  # raises: replied previously
        return Req(text="unreachable")
    if req.mode == "early-exit":
        ctx.early_exit()
        return Req(text="exit")
    if req.mode == "dict":
        return {"plain": True, "n": 2}
    if req.mode == "none":
        return None
    if req.mode == "unset":
        return Req(text=ctx.get("never-set"))
    raise ValueError(f"v1 failure {req.text}")
