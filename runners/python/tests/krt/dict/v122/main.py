# A kre-py 1.2x node (Jul - Nov 2020): `async def handler(ctx, data)` gets a dict and returns one.
async def init(ctx):
    ctx.set("greeting", "Hello")


async def handler(ctx, data):
    if data.get("name") == "boom":
        raise KeyError("missing")
    return {
        "greeting": f"{ctx.get('greeting')} {data['name']}!",
        "seen": data,
        "model": open(ctx.path("dict/model.txt")).read().strip(),
    }
