# The batching benchmark's node (bench/dataplane-batching.mjs) for the Python runner: a model
# behind a device that takes one call at a time, each costing 5 ms plus 0.1 ms per item.
# `default_handler` calls it once per message; `handler_batch` once per batch (the KRT `batch`).
import asyncio

FIXED_S = 0.005
PER_ITEM_S = 0.0001
_device = None


async def _call(items):
    global _device
    if _device is None:
        _device = asyncio.Lock()
    async with _device:
        await asyncio.sleep(FIXED_S + PER_ITEM_S * items)


async def default_handler(ctx, data):
    await _call(1)
    await ctx.send_output({"size": 1})


async def handler_batch(ctx, items):
    await _call(len(items))
    return [{"size": len(items)} for _ in items]
