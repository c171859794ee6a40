"""A trained model as it leaves a job: named arrays, a card, and what predicting needs.

On disk (`sgc result RUN --download DIR`, ``sgcflow.Run.download``), model i is two files:

- ``model-<i>.npz``: the parameters as named float32 arrays (``ModelSpec.named_arrays``: ``W``,
  ``b`` for logreg and softmax; ``W1``, ``b1``, ``W2``, ``b2``, ... for an mlp);
- ``model-<i>.json``: the card: ``kind``, ``hidden``, ``activation``, ``n_features``,
  ``n_classes``, ``classes`` (the labels predictions are given in), ``labels`` (the label
  mapping, or null when the labels were class indices), ``standardize`` (the statistics applied
  to new rows, or null), ``feature_columns``, ``label_column`` (the training data's),
  ``iterations_done``, ``final_loss``,
  ``params_sha256`` (the digest the job recorded for these parameters), ``run_id``, ``index``.

``load`` checks the arrays against the card's ``params_sha256`` (the .npy bytes the job wrote
hash to it), so a model file changed after download is refused as a changed download is.
"""

from __future__ import annotations

import hashlib
import io
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from coordinator.contract import gradients
from coordinator.contract.models import ModelSpec
from coordinator.contract.preprocessing import Preprocessing

CARD_FIELDS = ("index", "run_id", "kind", "hidden", "activation", "n_features", "n_classes",
               "classes", "labels", "standardize", "feature_columns", "label_column",
               "iterations_done", "final_loss", "status", "params_sha256")
_FILE = re.compile(r"^model-(\d+)\.json$")


class ModelFileError(ValueError):
    """A model file that cannot be used: the message names the file and what is wrong."""


@dataclass
class TrainedModel:
    """One trained model: ``params`` (named arrays), ``predict`` in the original label space."""

    spec: ModelSpec
    params: dict[str, np.ndarray]
    preprocessing: Preprocessing = field(default_factory=Preprocessing)
    card: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_flat(cls, spec: ModelSpec, flat: np.ndarray, preprocessing: Preprocessing,
                  card: dict[str, Any]) -> TrainedModel:
        classes = list(preprocessing.labels) if preprocessing.labels is not None else list(
            range(spec.n_classes))
        described = spec.to_dict()
        full = {**card, **described, "hidden": described.get("hidden"),
                "activation": described.get("activation"), "classes": classes,
                **_preprocessing_card(preprocessing)}
        return cls(spec, spec.named_arrays(flat), preprocessing,
                   {k: full.get(k) for k in CARD_FIELDS})

    @property
    def kind(self) -> str:
        return self.spec.kind

    @property
    def classes(self) -> list[Any]:
        return list(self.card.get("classes") or range(self.spec.n_classes))

    def flat(self) -> np.ndarray:
        return self.spec.from_named_arrays(self.params)

    def predict_proba(self, X: Any) -> np.ndarray:
        """Probability of each class (columns in ``classes`` order) for each row of X, given
        as in the source data (the standardization is applied here)."""
        return gradients.predict_proba(self.spec, self._rows(X), self.flat())

    def predict(self, X: Any) -> np.ndarray:
        """The most probable class of each row, in the source's labels."""
        return self.preprocessing.decode(self.predict_proba(X).argmax(axis=1))

    def evaluate(self, X: Any, labels: Any) -> dict[str, float]:
        """Accuracy and mean cross-entropy on rows X with ``labels`` in the source's labels."""
        y = self.preprocessing.encode(labels)
        if y.size and y.max() >= self.spec.n_classes:
            raise ValueError(f"labels: class index {int(y.max())} but the model has "
                             f"{self.spec.n_classes} classes")
        proba = self.predict_proba(X)
        chosen = proba[np.arange(len(y)), y]
        return {"accuracy": float(np.mean(proba.argmax(axis=1) == y)) if len(y) else 0.0,
                "loss": float(np.mean(-np.log(np.maximum(chosen, 1e-300)))) if len(y) else 0.0}

    def save(self, folder: Path, index: int) -> tuple[Path, Path]:
        folder.mkdir(parents=True, exist_ok=True)
        arrays, card = folder / f"model-{index}.npz", folder / f"model-{index}.json"
        np.savez(arrays, **self.params)
        card.write_text(json.dumps({**self.card, "index": index}, indent=1) + "\n")
        return arrays, card

    def _rows(self, X: Any) -> np.ndarray:
        columns = self.card.get("feature_columns")
        if columns and hasattr(X, "columns"):  # a table with named columns (pandas, pyarrow)
            X = np.column_stack([np.asarray(X[c]) for c in columns])
        X = np.asarray(X, dtype=np.float64)
        if X.ndim == 1:
            X = X[None, :]
        if X.ndim != 2 or X.shape[1] != self.spec.n_features:
            raise ValueError(f"X: expected rows of {self.spec.n_features} features, got shape "
                             f"{X.shape}")
        return self.preprocessing.transform(X)


def load(card_path: Path) -> TrainedModel:
    """Model i from ``model-<i>.json`` and the ``model-<i>.npz`` beside it, checked."""
    try:
        card = json.loads(card_path.read_text())
        spec = ModelSpec.from_dict({k: card[k] for k in ("kind", "n_features", "n_classes",
                                                         "hidden", "activation")
                                    if card.get(k) is not None})
        with np.load(card_path.with_suffix(".npz"), allow_pickle=False) as stored:
            params = {name: stored[name] for name in stored.files}
        flat = spec.from_named_arrays(params)
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise ModelFileError(f"{card_path}: {error}") from None
    expected = card.get("params_sha256")
    if expected is not None and npy_digest(flat) != expected:
        raise ModelFileError(f"{card_path.with_suffix('.npz')}: the parameters do not hash to "
                             f"the job's record ({expected[:16]}...): changed since download")
    scaling = card.get("standardize") or {}
    preprocessing = Preprocessing(
        None if card.get("labels") is None else tuple(card["labels"]),
        None if not scaling else tuple(scaling["mean"]),
        None if not scaling else tuple(scaling["std"]))
    return TrainedModel(spec, spec.named_arrays(flat), preprocessing, card)


def load_models(folder: str | Path) -> list[TrainedModel]:
    """Every ``model-<i>.json`` (with its .npz) in ``folder``, in index order."""
    folder = Path(folder)
    if not folder.is_dir():
        raise ModelFileError(f"{folder}: no such folder (`sgc result RUN --download {folder}` "
                             "writes one)")
    cards = sorted((int(m.group(1)), p) for p in folder.iterdir()
                   if (m := _FILE.match(p.name)))
    if not cards:
        raise ModelFileError(f"{folder}: no model-<i>.json in it")
    return [load(path) for _, path in cards]


def npy_digest(flat: np.ndarray) -> str:
    """sha256 of the .npy bytes a job writes for these float32 parameters."""
    buffer = io.BytesIO()
    np.save(buffer, np.ascontiguousarray(flat, dtype=np.float32), allow_pickle=False)
    return hashlib.sha256(buffer.getvalue()).hexdigest()


def _preprocessing_card(preprocessing: Preprocessing) -> dict[str, Any]:
    fields = preprocessing.manifest_fields()
    return {"labels": fields.get("labels"), "standardize": fields.get("standardize")}
