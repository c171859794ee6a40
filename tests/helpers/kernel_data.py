"""Seeded inputs for the kernel tests: features, labels and parameters for a model spec."""

from __future__ import annotations

import numpy as np

from coordinator.contract.models import ModelSpec


def kernel_data(spec: ModelSpec, rows: int, seed: int = 0, scale: float = 3.0):
    """(X float32 rows x features at ``scale``, y int32 labels, params float32 at 0.5)."""
    rng = np.random.default_rng(seed)
    X = (rng.standard_normal((rows, spec.n_features)) * scale).astype(np.float32)
    y = rng.integers(0, spec.n_classes, rows).astype(np.int32)
    params = (rng.standard_normal(spec.n_params) * 0.5).astype(np.float32)
    return X, y, params
