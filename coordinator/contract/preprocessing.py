"""What preparing a dataset did to its source, kept in the manifest and applied again to predict.

Two optional manifest fields (docs/contracts.md, "Datasets"):

- ``labels``: the original label of each class index, when the source's labels were not class
  indices (strings such as ``benign`` / ``malignant``): index i stands for ``labels[i]``, the
  values sorted. Predictions are mapped back through it; an evaluation file's labels through
  its inverse (a label the training data never had is an error naming it).
- ``standardize``: ``{"mean": [...], "std": [...]}`` per feature column, computed on the whole
  prepared dataset; features were replaced by ``(x - mean) / std`` (a constant column keeps
  std 1). Prediction applies the same to new rows, so a model always sees what it trained on.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

LABELS = "labels"
STANDARDIZE = "standardize"


@dataclass(frozen=True)
class Preprocessing:
    """``labels``: original label per class index (None: the labels are the indices);
    ``mean``/``std``: the standardization (None: features as given)."""

    labels: tuple[Any, ...] | None = None
    mean: tuple[float, ...] | None = None
    std: tuple[float, ...] | None = None

    @classmethod
    def from_manifest(cls, manifest: dict[str, Any]) -> Preprocessing:
        labels = manifest.get(LABELS)
        scaling = manifest.get(STANDARDIZE) or {}
        mean, std = scaling.get("mean"), scaling.get("std")
        return cls(None if labels is None else tuple(labels),
                   None if mean is None else tuple(float(v) for v in mean),
                   None if std is None else tuple(float(v) for v in std))

    def manifest_fields(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if self.labels is not None:
            out[LABELS] = list(self.labels)
        if self.mean is not None:
            out[STANDARDIZE] = {"mean": list(self.mean), "std": list(self.std or ())}
        return out

    def transform(self, X: np.ndarray) -> np.ndarray:
        """Rows as the model saw them in training (float64)."""
        X = np.asarray(X, dtype=np.float64)
        if self.mean is None:
            return X
        if X.ndim != 2 or X.shape[1] != len(self.mean):
            raise ValueError(f"X: expected rows of {len(self.mean)} features, got shape "
                             f"{X.shape}")
        return (X - np.asarray(self.mean)) / np.asarray(self.std)

    def decode(self, indices: np.ndarray) -> np.ndarray:
        """Class indices -> labels in the source's label space."""
        indices = np.asarray(indices)
        return indices if self.labels is None else np.asarray(self.labels)[indices]

    def encode(self, values: Any, where: str = "labels") -> np.ndarray:
        """Labels in the source's space -> class indices; ValueError naming an unknown label."""
        values = np.asarray(values)
        if self.labels is None:
            return class_indices(values, where)
        index = {str(label): i for i, label in enumerate(self.labels)}
        out = np.empty(len(values), dtype=np.int64)
        for row, value in enumerate(values):
            found = index.get(_text(value))
            if found is None:
                known = ", ".join(map(repr, self.labels[:10]))
                raise ValueError(f"{where}: label {str(value)[:40]!r} (row {row}) was not in "
                                 f"the training data (labels: {known})")
            out[row] = found
        return out


def encode_labels(values: np.ndarray) -> tuple[np.ndarray, list[str]]:
    """Labels that are not class indices (strings) -> (indices, sorted distinct labels)."""
    texts = np.asarray([_text(v) for v in values], dtype=object)
    labels = sorted(set(texts.tolist()))
    lookup = {label: i for i, label in enumerate(labels)}
    return np.asarray([lookup[t] for t in texts], dtype=np.int64), labels


def is_text(values: np.ndarray) -> bool:
    """Whether labels are strings (or bytes), to be encoded rather than read as indices."""
    values = np.asarray(values)
    return values.dtype.kind in "USO"


def standardization(X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(mean, std) per column in float64; a constant column gets std 1."""
    X = np.asarray(X, dtype=np.float64)
    mean = X.mean(axis=0)
    std = X.std(axis=0)
    return mean, np.where(std > 0, std, 1.0)


def class_indices(values: np.ndarray, where: str) -> np.ndarray:
    """Numeric labels as class indices 0, 1, ..., or ValueError naming ``where``."""
    try:
        numbers = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError):
        raise ValueError(f"{where}: labels must be class indices 0, 1, ... or strings") from None
    if not np.isfinite(numbers).all() or (numbers < 0).any() or \
            (numbers != np.round(numbers)).any():
        raise ValueError(f"{where}: labels must be class indices 0, 1, ... (finite, whole, "
                         ">= 0)")
    return numbers.astype(np.int64)


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)
