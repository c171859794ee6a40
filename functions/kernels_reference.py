"""Numpy references of the gradient kernels: the oracle the Numba kernels are tested against.

Each returns (loss_sum, grad_sum) over all rows of X (float32, shape rows x d) with integer labels
y, for the flat parameter layout of functions/models.py. Sums, not means: partial gradients of
partitions add up to the full-batch sum. ``dtype`` is the working precision (float64 for the
oracle; float32 is the fastest honest numpy baseline, used by `sgc bench kernels`).
"""

from __future__ import annotations

import numpy as np

from functions.models import ModelSpec


def loss_grad(spec: ModelSpec, X: np.ndarray, y: np.ndarray, params: np.ndarray,
              dtype: type = np.float64) -> tuple[float, np.ndarray]:
    """Dispatch on ``spec.kind``; the gradient is float64 of length ``spec.n_params``."""
    function = {"logreg": logreg, "softmax": softmax, "mlp": mlp}[spec.kind]
    loss, grad = function(spec, X.astype(dtype, copy=False), y,
                          params.astype(dtype, copy=False))
    return float(loss), grad.astype(np.float64)


def logreg(spec: ModelSpec, X: np.ndarray, y: np.ndarray, params: np.ndarray):
    """Binary cross-entropy with logit z = X w + b, labels 0/1."""
    blocks = spec.unpack(params)
    z = X @ blocks["w"] + blocks["b"][0]
    yf = y.astype(X.dtype)
    loss = np.sum(np.logaddexp(0, z) - yf * z)
    residual = _sigmoid(z) - yf
    return loss, np.concatenate([X.T @ residual, [residual.sum()]])


def softmax(spec: ModelSpec, X: np.ndarray, y: np.ndarray, params: np.ndarray):
    """Multinomial cross-entropy with logits Z = X W + b."""
    blocks = spec.unpack(params)
    Z = X @ blocks["W"] + blocks["b"]
    loss, R = _cross_entropy(Z, y)
    return loss, np.concatenate([(X.T @ R).ravel(), R.sum(axis=0)])


def mlp(spec: ModelSpec, X: np.ndarray, y: np.ndarray, params: np.ndarray):
    """Cross-entropy of softmax(relu(X W1 + b1) W2 + b2); backpropagation by hand."""
    blocks = spec.unpack(params)
    A = X @ blocks["W1"] + blocks["b1"]
    H = np.maximum(A, 0)
    loss, R = _cross_entropy(H @ blocks["W2"] + blocks["b2"], y)
    dA = (R @ blocks["W2"].T) * (A > 0)
    return loss, np.concatenate([(X.T @ dA).ravel(), dA.sum(axis=0),
                                 (H.T @ R).ravel(), R.sum(axis=0)])


def _sigmoid(z: np.ndarray) -> np.ndarray:
    return np.exp(-np.logaddexp(0, -z))


def _cross_entropy(Z: np.ndarray, y: np.ndarray) -> tuple[float, np.ndarray]:
    """Summed loss and the residual softmax(Z) - onehot(y)."""
    rows = np.arange(len(y))
    shifted = Z - Z.max(axis=1, keepdims=True)
    log_norm = np.log(np.exp(shifted).sum(axis=1))
    loss = np.sum(log_norm - shifted[rows, y])
    R = np.exp(shifted - log_norm[:, None])
    R[rows, y] -= 1
    return loss, R
