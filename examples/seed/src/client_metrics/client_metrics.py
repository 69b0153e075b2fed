# Client Metrics (kre-py v1 style): records what a client says the right label was, as a
# prediction record (predicted vs true) and a document of the runtime's data database, and
# answers how many the client has saved so far.
from public_input_pb2 import ClientMetricRequest, ClientMetricResponse


async def handler(ctx, data):
    req = ClientMetricRequest()
    data.Unpack(req)
    if not req.client_id:
        raise ValueError("client_id is required")
    await ctx.prediction.save(
        predicted_value=req.predicted_label,
        true_value=req.true_label,
        extra={"client_id": req.client_id},
    )
    await ctx.db.save("client_metrics", {
        "client_id": req.client_id,
        "predicted": req.predicted_label,
        "true": req.true_label,
    })
    saved = await ctx.db.find("client_metrics", {"client_id": req.client_id})
    return ClientMetricResponse(saved=True, total=len(saved))

