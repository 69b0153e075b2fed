# etl (kre-py v3 style: outputs are sent, the return value is ignored): checks the measurements
# and puts them in the order the model was trained on.
from public_input_pb2 import Features, Flower

FIELDS = ("sepal_length", "sepal_width", "petal_length", "petal_width")


async def default_handler(ctx, data):
    flower = Flower()
    if not data.Unpack(flower):
        raise ValueError(f"expected an iris.Flower, got {data.type_url}")
    values = [getattr(flower, name) for name in FIELDS]
    wrong = [name for name, value in zip(FIELDS, values) if not 0 < value < 100]
    if wrong:
        raise ValueError(f"measurements must be in centimetres, between 0 and 100: {', '.join(wrong)}")
    await ctx.send_output(Features(values=values, true_species=flower.true_species))
