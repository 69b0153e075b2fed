# ETL (kre-py v1 style: `handler(ctx, data)` returns the node's output). Checks the request and
# scales its four features with the means and deviations the model was trained with.
import json
import os

from public_input_pb2 import ModelInput, PredictionRequest


def init(ctx):
    # The external service this ETL would enrich requests from needs the key (a config variable,
    # an environment variable as in KRE): without one the node does not start.
    if not os.environ.get("API_KEY"):
        raise RuntimeError("the API_KEY config variable is empty")
    with open(ctx.path("src/etl/scaler.json")) as f:
        ctx.set("scaler", json.load(f))


async def handler(ctx, data):
    req = PredictionRequest()
    data.Unpack(req)
    scaler = ctx.get("scaler")
    if not req.client_id:
        raise ValueError("client_id is required")
    if len(req.features) != len(scaler["features"]):
        raise ValueError(f"expected {len(scaler['features'])} features ({', '.join(scaler['features'])}), got {len(req.features)}")
    scaled = [(x - m) / s for x, m, s in zip(req.features, scaler["mean"], scaler["std"])]
    ctx.logger.info(f"scaled the features of client {req.client_id}")
    return ModelInput(client_id=req.client_id, scaled=scaled)
