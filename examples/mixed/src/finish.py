# finish (Python, kre-py v3 style): the typed mixed.Discounted from the JavaScript node in, a
# dict out (a google.protobuf.Struct), which the JavaScript exitpoint reads as a plain object.
from public_input_pb2 import Discounted


async def default_handler(ctx, data):
    d = Discounted()
    if not data.Unpack(d):
        raise ValueError(f"expected a mixed.Discounted from discount, got {data.type_url}")
    await ctx.send_output(
        {
            "customer": d.customer,
            "items": d.items,
            "subtotalCents": d.subtotal_cents,
            "discountCents": d.discount_cents,
            "totalCents": d.total_cents,
            "total": f"{d.total_cents // 100}.{d.total_cents % 100:02d} EUR",
            "path": [*d.path, f"finish (python, {data.type_url.split('/')[-1]})"],
        }
    )
