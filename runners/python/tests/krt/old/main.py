# A kre-py 1.23-era node (krt-template greeter style) whose generated code is protoc 3.13's.
from greeter_pb2 import Request, Response


async def init(ctx):
    ctx.set("greeting", "Hello")


async def handler(ctx, data):
    req = Request()
    data.Unpack(req)
    res = Response()
    res.greeting = f"{ctx.get('greeting')} {req.name}!"
    return res
