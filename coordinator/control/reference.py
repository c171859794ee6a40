"""The same training without workers or coding: full-batch numpy gradient descent per model.

What every decoded gradient must equal (tests), the demo's reference column, and the accuracy a
job's models must reach (``train_spec``: every model of a job spec on its dataset; for a cnn the
float64 reference of coordinator/contract/gradients.py).
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


def train_spec(raw: dict) -> list[dict]:
    """The full-batch numpy reference of every model of a validated job spec (``JobSpec.raw``),
    on its dataset, as a job would train it: for each model its worker model dict, final
    parameters, losses and training accuracy."""
    from coordinator.control.run_dataset import shuffled_table
    from coordinator.spec.cnn_fields import to_model_spec

    X, y = shuffled_table(raw["dataset"])
    out = []
    for model in raw["models"]:
        spec = to_model_spec(model, X.shape[1], int(y.max()) + 1).to_dict()
        params, losses = train(spec, model["lr"], model["seed"], raw["iterations"], X, y)
        out.append({"model": spec, "params": params, "losses": losses,
                    "accuracy": accuracy(spec, X, y, params)})
    return out
