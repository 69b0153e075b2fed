# A pass-through node for the Python runner (kre-py v3 style): the benchmark measures the
# framework, not the handler. send_any forwards the payload as it came (the Any is not unpacked),
# as pass.mjs returns its input unchanged.


async def default_handler(ctx, data):
    await ctx.send_any(data)
