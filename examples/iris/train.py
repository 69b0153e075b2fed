"""Trains the iris example's model and writes it into the KRT (model/iris.joblib).

    python3 -m venv /tmp/iris && /tmp/iris/bin/pip install -r requirements.txt
    /tmp/iris/bin/python train.py

A LogisticRegression on scikit-learn's bundled iris data set (no download), trained on 75 % of
it; the held-out accuracy is stored with the model and printed. The file is a joblib pickle of
{"model", "labels", "features", "accuracy", "sklearn"}: load it with the same scikit-learn.
"""

import pathlib

import joblib
import sklearn
from sklearn.datasets import load_iris
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split

OUT = pathlib.Path(__file__).parent / "model" / "iris.joblib"


def main() -> None:
    iris = load_iris()
    x_train, x_test, y_train, y_test = train_test_split(
        iris.data, iris.target, test_size=0.25, random_state=42, stratify=iris.target
    )
    model = LogisticRegression(max_iter=1000).fit(x_train, y_train)
    accuracy = float(model.score(x_test, y_test))
    OUT.parent.mkdir(exist_ok=True)
    joblib.dump(
        {
            "model": model,
            "labels": [str(name) for name in iris.target_names],
            "features": list(iris.feature_names),
            "accuracy": accuracy,
            "sklearn": sklearn.__version__,
        },
        OUT,
        compress=3,
    )
    print(f"wrote {OUT} ({OUT.stat().st_size} bytes): held-out accuracy {accuracy:.3f}")


if __name__ == "__main__":
    main()
