"""scikit-learn's breast-cancer data as a newcomer brings it: a CSV with string labels
(``benign`` / ``malignant`` in a ``diagnosis`` column), split into train and test, and what
scikit-learn's LogisticRegression scores on the same split (standardized on the train rows)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

LABEL = "diagnosis"


def write_split(folder: Path, seed: int = 0) -> dict:
    """train.csv and test.csv in ``folder``; the test rows and scikit-learn's accuracy."""
    from sklearn.datasets import load_breast_cancer
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import train_test_split
    from sklearn.preprocessing import StandardScaler

    data = load_breast_cancer()
    labels = np.asarray(data.target_names)[data.target]
    X_train, X_test, y_train, y_test = train_test_split(
        data.data, labels, test_size=0.25, random_state=seed, stratify=labels)
    names = [name.replace(" ", "_") for name in data.feature_names]
    folder.mkdir(parents=True, exist_ok=True)
    for name, X, y in (("train", X_train, y_train), ("test", X_test, y_test)):
        lines = [",".join([*names, LABEL])]
        lines += [",".join(f"{v:.6g}" for v in row) + f",{label}" for row, label in zip(
            X, y, strict=True)]
        (folder / f"{name}.csv").write_text("\n".join(lines) + "\n")
    # the CSV's rounding, as the job reads it
    X_train, X_test = (np.array([[float(f"{v:.6g}") for v in row] for row in X])
                       for X in (X_train, X_test))
    scaler = StandardScaler().fit(X_train)
    model = LogisticRegression(max_iter=5000).fit(scaler.transform(X_train), y_train)
    return {"train": folder / "train.csv", "test": folder / "test.csv", "X_test": X_test,
            "y_test": y_test,
            "sklearn_accuracy": float(np.mean(model.predict(scaler.transform(X_test))
                                              == y_test))}
