# price (Python, kre-py v3 style): a Struct from the JavaScript node in (a dict once converted),
# a typed mixed.Priced out, which the next JavaScript node reads as a plain object.
from google.protobuf import json_format, struct_pb2

from public_input_pb2 import Priced


async def default_handler(ctx, data):
    struct = struct_pb2.Struct()
    if not data.Unpack(struct):
        raise ValueError(f"expected a Struct from normalize, got {data.type_url}")
    order = json_format.MessageToDict(struct)  # numbers come back as floats: a Struct holds doubles
    lines = order.get("lines", [])
    subtotal = sum(int(line["quantity"]) * int(line["unitCents"]) for line in lines)
    items = sum(int(line["quantity"]) for line in lines)
    await ctx.send_output(
        Priced(
            customer=order["customer"],
            subtotal_cents=subtotal,
            items=items,
            coupon=order.get("coupon", ""),
            path=[*order.get("path", []), f"price (python, {data.type_url.split('/')[-1]})"],
        )
    )
