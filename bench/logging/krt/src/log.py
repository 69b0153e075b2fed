# bench/logging.mjs's node, Python (kre-py v3 style): a 50 ms handler that logs nothing ("quiet")
# or `lines` ctx.logger lines first ("loud"); "percall" times each of `lines` log calls.
import asyncio
import time

from google.protobuf import json_format, struct_pb2

LINE = "scored the request: label=cat, confidence=0.93"


def percentiles(samples):
    s = sorted(samples)
    at = lambda q: s[min(len(s) - 1, int(q * len(s)))] / 1000  # noqa: E731  ns → µs
    return {"p50Us": at(0.5), "p99Us": at(0.99), "meanUs": sum(s) / len(s) / 1000}


async def default_handler(ctx, data):
    s = struct_pb2.Struct()
    data.Unpack(s)
    d = json_format.MessageToDict(s)
    lines = int(d.get("lines", 1000))
    logger = ctx.logger
    if d.get("mode") == "loud":
        for _ in range(lines):
            logger.info(LINE)
    if d.get("mode") == "percall":
        calls, empty = [], []
        clock = time.perf_counter_ns
        for _ in range(lines):
            start = clock()
            logger.info(LINE)
            calls.append(clock() - start)
        for _ in range(lines):
            start = clock()
            empty.append(clock() - start)
        await ctx.send_output({**percentiles(calls), "timerUs": percentiles(empty)["p50Us"]})
        return
    await asyncio.sleep(0.05)
    await ctx.send_output({"mode": d.get("mode")})
