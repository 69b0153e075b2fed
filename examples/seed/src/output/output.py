# Create Output (kre-py v1 style): the answer of MakePrediction. Config reaches the code as KRE
# passed it, as environment variables: API_SECRET signs the answer, and HTTPS_CERT (a config
# file, so its value is the file's content) is identified by its hash.
import hashlib
import hmac
import os

from public_input_pb2 import ModelOutput, PredictionResponse


def init(ctx):
    ctx.set("secret", os.environ["API_SECRET"].encode())
    ctx.set("certificate", hashlib.sha256(os.environ["HTTPS_CERT"].encode()).hexdigest()[:16])


async def handler(ctx, data):
    out = ModelOutput()
    data.Unpack(out)
    signature = hmac.new(ctx.get("secret"), f"{out.client_id}:{out.label}".encode(), hashlib.sha256)
    return PredictionResponse(
        client_id=out.client_id,
        label=out.label,
        probability=round(out.probability, 4),
        signature=signature.hexdigest()[:16],
        certificate=ctx.get("certificate"),
    )
