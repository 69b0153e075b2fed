# model (kre-py v3 style): the scikit-learn LogisticRegression that train.py wrote into the KRT
# (model/iris.joblib), loaded once by init; scikit-learn comes from the KRT's requirements.txt.
import os

# One small model, one request at a time: no worker processes. joblib probes multiprocessing at
# import and, where it cannot create a semaphore (the local driver's sandbox gives workloads no
# writable /dev/shm), warns on stderr that it "will operate in serial mode"; say so up front.
os.environ.setdefault("JOBLIB_MULTIPROCESSING", "0")

import joblib  # noqa: E402

from public_input_pb2 import Features, Scores  # noqa: E402


def init(ctx):
    bundle = joblib.load(ctx.path("model/iris.joblib"))
    ctx.logger.info(
        f"loaded the iris model (scikit-learn {bundle['sklearn']}, held-out accuracy {bundle['accuracy']:.3f})"
    )
    ctx.set("bundle", bundle)


async def default_handler(ctx, data):
    features = Features()
    data.Unpack(features)
    bundle = ctx.get("bundle")
    [probabilities] = bundle["model"].predict_proba([list(features.values)])
    await ctx.send_output(
        Scores(
            probabilities={label: float(p) for label, p in zip(bundle["labels"], probabilities)},
            true_species=features.true_species,
        )
    )
