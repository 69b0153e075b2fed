# Execute DL Model (kre-py v1 style): a small dense network (4 -> 3 ReLU -> 3 softmax) whose
# weights ship in the KRT (model.json), loaded once by init.
import json
import math

from public_input_pb2 import ModelInput, ModelOutput


def init(ctx):
    with open(ctx.path("src/execute_model/model.json")) as f:
        ctx.set("model", json.load(f))


def dense(layer, x):
    return [sum(w * v for w, v in zip(row, x)) + b for row, b in zip(layer["weights"], layer["bias"])]


def predict(model, x):
    hidden = [max(0.0, v) for v in dense(model["hidden"], x)]
    logits = dense(model["output"], hidden)
    top = max(logits)
    exps = [math.exp(v - top) for v in logits]
    probabilities = [e / sum(exps) for e in exps]
    best = max(range(len(probabilities)), key=probabilities.__getitem__)
    return model["labels"][best], probabilities[best]


async def handler(ctx, data):
    req = ModelInput()
    data.Unpack(req)
    label, probability = predict(ctx.get("model"), list(req.scaled))
    ctx.measurement.save("seed_model", {"probability": probability}, {"label": label})
    return ModelOutput(client_id=req.client_id, label=label, probability=probability)
