"""Model specifications: which kinds exist, how their flat float32 parameter vector is laid out.

Every model's parameters travel as one flat float32 vector (docs/contracts.md, "Worker").
The layout is row-major blocks, in this order:

- ``logreg``  (binary logistic regression, labels 0/1): w (d), b (1)               -> d + 1
- ``softmax`` (multinomial logistic regression):        W (d, C), b (C)            -> dC + C
- ``mlp``     (one ReLU hidden layer, softmax output):  W1 (d, H), b1 (H), W2 (H, C), b2 (C)

Kernels (functions/kernels.py) and their numpy references read exactly this layout.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from functions.errors import EventError, ParameterError, SchemaMismatchError

KINDS = ("logreg", "softmax", "mlp")


@dataclass(frozen=True)
class ModelSpec:
    """One model: kind, input width d (``n_features``), classes C, hidden width H (mlp only)."""

    kind: str
    n_features: int
    n_classes: int
    hidden: int = 0

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise EventError("model.kind", f"got {self.kind!r}, allowed {list(KINDS)}")
        _positive("model.n_features", self.n_features)
        _positive("model.n_classes", self.n_classes)
        if self.kind == "logreg" and self.n_classes != 2:
            raise EventError("model.n_classes", f"logreg is binary (2), got {self.n_classes}")
        if self.n_classes < 2:
            raise EventError("model.n_classes", f"must be >= 2, got {self.n_classes}")
        if self.kind == "mlp":
            _positive("model.hidden", self.hidden)
        elif self.hidden:
            raise EventError("model.hidden", f"only mlp has a hidden layer, got {self.hidden}")

    @classmethod
    def from_dict(cls, model: Any) -> ModelSpec:
        """Parse the event's ``model`` object, naming the field at fault."""
        if not isinstance(model, dict):
            raise EventError("model", f"must be an object, got {type(model).__name__}")
        allowed = {"kind", "n_features", "n_classes", "hidden"}
        extra = sorted(set(model) - allowed)
        if extra:
            raise EventError(f"model.{extra[0]}", f"unknown key, allowed {sorted(allowed)}")
        for key in ("kind", "n_features", "n_classes"):
            if key not in model:
                raise EventError(f"model.{key}", "missing")
        return cls(model["kind"], model["n_features"], model["n_classes"], model.get("hidden", 0))

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"kind": self.kind, "n_features": self.n_features,
                               "n_classes": self.n_classes}
        if self.kind == "mlp":
            out["hidden"] = self.hidden
        return out

    @property
    def shapes(self) -> list[tuple[str, tuple[int, ...]]]:
        """Named blocks of the flat vector, in order."""
        d, c, h = self.n_features, self.n_classes, self.hidden
        if self.kind == "logreg":
            return [("w", (d,)), ("b", (1,))]
        if self.kind == "softmax":
            return [("W", (d, c)), ("b", (c,))]
        return [("W1", (d, h)), ("b1", (h,)), ("W2", (h, c)), ("b2", (c,))]

    @property
    def n_params(self) -> int:
        return sum(int(np.prod(shape)) for _, shape in self.shapes)

    def unpack(self, params: np.ndarray) -> dict[str, np.ndarray]:
        """Views of the flat vector as the named blocks (no copy)."""
        blocks, offset = {}, 0
        for name, shape in self.shapes:
            size = int(np.prod(shape))
            blocks[name] = params[offset:offset + size].reshape(shape)
            offset += size
        return blocks

    def init(self, seed: int = 0) -> np.ndarray:
        """Seeded float32 initial parameters: zeros for linear models, He-scaled weights for mlp."""
        if self.kind != "mlp":
            return np.zeros(self.n_params, dtype=np.float32)
        rng = np.random.default_rng(seed)
        parts = []
        for name, shape in self.shapes:
            if name.startswith("W"):
                parts.append(rng.normal(0.0, np.sqrt(2.0 / shape[0]), size=shape).ravel())
            else:
                parts.append(np.zeros(shape).ravel())
        return np.concatenate(parts).astype(np.float32)

    def check_params(self, params: Any, key: str) -> np.ndarray:
        """The vector as contiguous float32, or ParameterError naming ``key``."""
        if not isinstance(params, np.ndarray) or params.ndim != 1:
            shape = getattr(params, "shape", type(params).__name__)
            raise ParameterError(key, f"must be a flat vector, got shape {shape}")
        if not np.issubdtype(params.dtype, np.floating):
            raise ParameterError(key, f"must be float32, got dtype {params.dtype}")
        if params.size != self.n_params:
            raise ParameterError(key, f"length {params.size}, {self.kind} with "
                                      f"{self.to_dict()} needs {self.n_params}")
        if not np.isfinite(params).all():
            bad = int(np.flatnonzero(~np.isfinite(params))[0])
            raise ParameterError(key, f"not finite (first at index {bad}: {params[bad]})")
        return np.ascontiguousarray(params, dtype=np.float32)

    def check_labels(self, labels: np.ndarray, where: str) -> None:
        """Labels must be class indices 0..C-1; ``where`` names the partition."""
        if labels.size and (labels.min() < 0 or labels.max() >= self.n_classes):
            raise SchemaMismatchError(
                f"{where} column 'label'",
                f"values in [{labels.min()}, {labels.max()}], {self.kind} with "
                f"n_classes={self.n_classes} needs 0..{self.n_classes - 1}")


def _positive(field: str, value: Any) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise EventError(field, f"must be a positive integer, got {value!r}")
