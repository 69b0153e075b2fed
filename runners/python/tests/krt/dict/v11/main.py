# A kre-py 1.1 node (Feb 2020, price-estimator style): a synchronous handler, dicts in and out,
# ctx.set_value / get_value / get_path.
import os
import time


def init(ctx):
    ctx.set_value("currency", os.getenv("OUTPUT_PRICE_CURRENCY", "EUR"))


def handler(ctx, data):
    if data.get("sleep"):
        time.sleep(data["sleep"])
    print("pricing", data.get("sqm"))
    return {"price": data["sqm"] * 1000, "currency": ctx.get_value("currency"),
            "model": os.path.basename(ctx.get_path("dict/model.txt"))}
