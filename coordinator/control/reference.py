"""The same training without workers or coding: full-batch numpy gradient descent per model.

What every decoded gradient must equal (tests) and the demo's reference column.
"""

from __future__ import annotations

import numpy as np

from coordinator.contract import gradients as kernels_reference
from coordinator.contract.models import ModelSpec
from coordinator.control.update import sgd_step


def full_batch(model: dict, X: np.ndarray, y: np.ndarray, params: np.ndarray
               ) -> tuple[float, np.ndarray]:
    """(loss_sum, grad_sum) over the whole dataset at ``params`` (float64)."""
    return kernels_reference.loss_grad(ModelSpec.from_dict(model), X, y, params)


def train(model: dict, lr: float, seed: int, iterations: int, X: np.ndarray, y: np.ndarray
          ) -> tuple[np.ndarray, list[float]]:
    """Final parameters and the loss (mean over rows) at each iteration's starting point."""
    params = ModelSpec.from_dict(model).init(seed=seed)
    losses = []
    for _ in range(iterations):
        loss_sum, grad_sum = full_batch(model, X, y, params)
        losses.append(loss_sum / len(y))
        params = sgd_step(params, grad_sum, len(y), lr)
    return params, losses


def accuracy(model: dict, X: np.ndarray, y: np.ndarray, params: np.ndarray) -> float:
    """Fraction of rows whose predicted class is the label."""
    predicted = kernels_reference.predict(ModelSpec.from_dict(model), X, params)
    return float(np.mean(predicted == y))
