"""Train, download and use models from Python with the sgcflow package (docs/python.md).

Runs examples/breast-cancer.yaml on an emulator inside this process (or on the `sgc local up`
server if one runs), downloads the trained models, loads them back and predicts the held-out
rows of examples/data/breast-cancer-test.csv. No AWS account needed:

    .venv/bin/python examples/train_from_python.py
"""

from __future__ import annotations

import csv
import os
import sys
import tempfile
from pathlib import Path

import numpy as np

import sgcflow

REPO = Path(__file__).resolve().parent.parent
TEST_CSV = REPO / "examples" / "data" / "breast-cancer-test.csv"


def read_csv(path: Path, label_column: str) -> tuple[np.ndarray, np.ndarray]:
    """The feature columns as a float array and the labels as strings."""
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    features = [name for name in rows[0] if name != label_column]
    X = np.array([[float(row[name]) for name in features] for row in rows])
    return X, np.array([row[label_column] for row in rows])


def main() -> int:
    os.chdir(REPO)  # the spec's dataset path is relative to the repository root
    spec = sgcflow.JobSpec.load("examples/breast-cancer.yaml")
    run = sgcflow.submit(spec, local=True)
    print(f"submitted {run.run_id}", file=sys.stderr)
    final = run.wait(progress=sys.stderr.isatty())
    print(f"{run.run_id}: {final['status']}", file=sys.stderr)

    X_test, y_test = read_csv(TEST_CSV, "diagnosis")
    with tempfile.TemporaryDirectory() as folder:
        run.download(folder)
        models = sgcflow.load_models(folder)
    for index, model in enumerate(models):
        predicted = model.predict(X_test)  # "benign" / "malignant", as in the CSV
        accuracy = float(np.mean(predicted == y_test))
        print(f"model {index} ({model.kind}): test accuracy {accuracy:.4f} "
              f"on {len(y_test)} rows")
    return 0


if __name__ == "__main__":
    sys.exit(main())
