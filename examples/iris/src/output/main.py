# output (kre-py v3 style), the exitpoint: answers Classify and records every prediction
# (ctx.prediction.save), with the client's true label when it sent one.
from public_input_pb2 import Classification, Scores


async def default_handler(ctx, data):
    scores = Scores()
    data.Unpack(scores)
    probabilities = {label: round(p, 4) for label, p in scores.probabilities.items()}
    species = max(probabilities, key=probabilities.get)
    if scores.true_species:
        await ctx.prediction.save(predicted_value=species, true_value=scores.true_species)
    else:
        await ctx.prediction.save(predicted_value=species, error=ctx.prediction.ERR_MISSING_VALUES)
    await ctx.send_output(
        Classification(species=species, probability=probabilities[species], probabilities=probabilities)
    )
