"""Numpy references of the gradient kernels: the oracle the Numba kernels are tested against.

Each returns (loss_sum, grad_sum) over all rows of X (float32, shape rows x d) with integer labels
y, for the flat parameter layout of coordinator/contract/models.py. Sums, not means: partial
gradients of partitions add up to the full-batch sum. ``dtype`` is the working precision
(float64 for the oracle; float32 is the fastest honest numpy baseline, used by
`sgc bench kernels`).
"""

from __future__ import annotations

import numpy as np

from coordinator.contract.models import ModelSpec


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
    z = X @ blocks["W"] + blocks["b"][0]
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
    """Cross-entropy of softmax over L hidden layers (ReLU or tanh); backpropagation by hand."""
    blocks = spec.unpack(params)
    layers = len(spec.widths) - 1
    H = [X]  # H[l] = input of layer l + 1
    for layer in range(1, layers):
        H.append(activate(H[-1] @ blocks[f"W{layer}"] + blocks[f"b{layer}"], spec.activation))
    loss, G = _cross_entropy(H[-1] @ blocks[f"W{layers}"] + blocks[f"b{layers}"], y)
    grads = []
    for layer in range(layers, 0, -1):  # G = d loss / d (pre-activation of layer)
        grads = [(H[layer - 1].T @ G).ravel(), G.sum(axis=0)] + grads
        if layer > 1:
            G = (G @ blocks[f"W{layer}"].T) * derivative(H[layer - 1], spec.activation)
    return loss, np.concatenate(grads)


def predict_proba(spec: ModelSpec, X: np.ndarray, params: np.ndarray) -> np.ndarray:
    """Class probabilities per row (rows x C, float64; logreg: [P(0), P(1)])."""
    logits = _logits(spec, X, params)
    if spec.kind == "logreg":
        p = _sigmoid(logits)
        return np.stack([1 - p, p], axis=1)
    shifted = np.exp(logits - logits.max(axis=1, keepdims=True))
    return shifted / shifted.sum(axis=1, keepdims=True)


def predict(spec: ModelSpec, X: np.ndarray, params: np.ndarray) -> np.ndarray:
    """Predicted class per row (float64 forward pass)."""
    logits = _logits(spec, X, params)
    if spec.kind == "logreg":
        return (logits > 0).astype(int)
    return np.argmax(logits, axis=1)


def _logits(spec: ModelSpec, X: np.ndarray, params: np.ndarray) -> np.ndarray:
    """The forward pass in float64: logits (rows x C), or the logit z per row for logreg."""
    blocks = spec.unpack(params.astype(np.float64))
    X = X.astype(np.float64)
    if spec.kind == "logreg":
        return X @ blocks["W"] + blocks["b"][0]
    if spec.kind == "softmax":
        return X @ blocks["W"] + blocks["b"]
    layers = len(spec.widths) - 1
    for layer in range(1, layers):
        X = activate(X @ blocks[f"W{layer}"] + blocks[f"b{layer}"], spec.activation)
    return X @ blocks[f"W{layers}"] + blocks[f"b{layers}"]


def activate(A: np.ndarray, activation: str) -> np.ndarray:
    return np.maximum(A, 0) if activation == "relu" else np.tanh(A)


def derivative(H: np.ndarray, activation: str) -> np.ndarray:
    """The activation's derivative from its output H: 1[H > 0] for ReLU, 1 - H^2 for tanh."""
    return (H > 0).astype(H.dtype) if activation == "relu" else 1 - H * H


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
