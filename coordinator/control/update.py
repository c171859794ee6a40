"""The model update: one full-batch gradient-descent step per decoded job.

Gradients arrive as sums over rows (so partial sums add up); the step divides by the row count:
params' = params - lr * grad_sum / rows, in float32 like the parameters the workers read.
"""

from __future__ import annotations

import numpy as np


def sgd_step(params: np.ndarray, grad_sum: np.ndarray, rows: int, lr: float) -> np.ndarray:
    """The next parameters (float32) after one step at learning rate ``lr``."""
    if grad_sum.shape != params.shape:
        raise ValueError(f"gradient length {grad_sum.size} != parameter length {params.size}")
    step = params.astype(np.float64) - lr * grad_sum / rows
    return step.astype(np.float32)
