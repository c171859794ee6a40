"""Numpy references of the gradient kernels: the oracle the Numba kernels are tested against.

Each returns (loss_sum, grad_sum) over all rows of X (float32, shape rows x d) with integer labels
y, for the flat parameter layout of coordinator/contract/models.py. Sums, not means: partial
gradients of partitions add up to the full-batch sum. ``dtype`` is the working precision
(float64 for the oracle; float32 is the fastest honest numpy baseline, used by
`sgc bench kernels`).

The cnn reference is written for clarity, not speed (im2col by ``sliding_window_view``, one
product per layer over all rows). Max-pooling sends a window's gradient to its first maximum in
row-major order (top-left, top-right, bottom-left, bottom-right), as the kernels do; a window
whose two largest values lie within float32 rounding of each other may pick another one there
(the ReLU kink's twin, see functions/kernels_cnn.py).
"""

from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from coordinator.contract.models import ModelSpec


def loss_grad(spec: ModelSpec, X: np.ndarray, y: np.ndarray, params: np.ndarray,
              dtype: type = np.float64) -> tuple[float, np.ndarray]:
    """Dispatch on ``spec.kind``; the gradient is float64 of length ``spec.n_params``."""
    function = {"logreg": logreg, "softmax": softmax, "mlp": mlp, "cnn": cnn}[spec.kind]
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
    loss, grads, _ = _dense_head(spec, spec.unpack(params), X, y, input_grad=False)
    return loss, np.concatenate(grads)


def cnn(spec: ModelSpec, X: np.ndarray, y: np.ndarray, params: np.ndarray):
    """Conv blocks (same convolution, ReLU, max-pooling), then the dense head; by hand."""
    blocks = spec.unpack(params)
    A, saved = X.reshape(X.shape[0], *spec.input), []
    for i, layer in enumerate(spec.conv_layers, start=1):
        cols = _im2col(A, layer.kernel)
        Z = _conv(cols, blocks[f"conv{i}.W"], blocks[f"conv{i}.b"])
        A, arg = _pool(np.maximum(Z, 0), spec.pool)
        saved.append((cols, Z, arg))
    loss, head, G = _dense_head(spec, blocks, A.reshape(A.shape[0], -1), y, input_grad=True)
    grads = []
    for i in range(len(spec.conv_layers), 0, -1):
        layer, (cols, Z, arg) = spec.conv_layers[i - 1], saved[i - 1]
        dZ = _unpool(G.reshape(arg.shape), arg, Z.shape, spec.pool) * (Z > 0)
        flat = dZ.transpose(0, 2, 3, 1).reshape(-1, layer.c_out)  # (n H W, c_out)
        grads = [(flat.T @ cols.reshape(flat.shape[0], -1)).ravel(), flat.sum(axis=0)] + grads
        if i > 1:
            W = blocks[f"conv{i}.W"].reshape(layer.c_out, -1)
            G = _col2im((flat @ W).reshape(*cols.shape), layer)
    return loss, np.concatenate(grads + head)


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
    if spec.kind == "cnn":
        X = X.reshape(X.shape[0], *spec.input)
        for i, layer in enumerate(spec.conv_layers, start=1):
            Z = _conv(_im2col(X, layer.kernel), blocks[f"conv{i}.W"], blocks[f"conv{i}.b"])
            X = _pool(np.maximum(Z, 0), spec.pool)[0]
        X = X.reshape(X.shape[0], -1)
    weights, biases = _head_blocks(spec, blocks)
    for W, b in zip(weights[:-1], biases[:-1], strict=True):
        X = activate(X @ W + b, spec.activation)
    return X @ weights[-1] + biases[-1]


def _head_blocks(spec: ModelSpec, blocks: dict) -> tuple[list, list]:
    """The dense layers' weights and biases, in order (an mlp's all; a cnn's head)."""
    names = [name for name, shape in spec.shapes if not name.startswith("conv")]
    return [blocks[n] for n in names[0::2]], [blocks[n] for n in names[1::2]]


def _dense_head(spec: ModelSpec, blocks: dict, X: np.ndarray, y: np.ndarray,
                input_grad: bool) -> tuple[float, list, np.ndarray | None]:
    """Loss, the dense layers' gradients (flat, in layout order) and, with ``input_grad``,
    d loss / d X."""
    weights, biases = _head_blocks(spec, blocks)
    H = [X]  # H[l] = input of layer l + 1
    for W, b in zip(weights[:-1], biases[:-1], strict=True):
        H.append(activate(H[-1] @ W + b, spec.activation))
    loss, G = _cross_entropy(H[-1] @ weights[-1] + biases[-1], y)
    grads = []
    for layer in range(len(weights), 0, -1):  # G = d loss / d (pre-activation of layer)
        grads = [(H[layer - 1].T @ G).ravel(), G.sum(axis=0)] + grads
        if layer > 1 or input_grad:
            G = G @ weights[layer - 1].T
            if layer > 1:
                G = G * derivative(H[layer - 1], spec.activation)
    return loss, grads, G if input_grad else None


def _im2col(A: np.ndarray, kernel: int) -> np.ndarray:
    """(n, C, H, W) -> (n, H, W, C * k * k): each output position's zero-padded window, in the
    conv weight's (C, k, k) order."""
    pad = kernel // 2
    padded = np.pad(A, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    windows = sliding_window_view(padded, (kernel, kernel), axis=(2, 3))  # n, C, H, W, k, k
    n, C, H, W = A.shape
    return windows.transpose(0, 2, 3, 1, 4, 5).reshape(n, H, W, C * kernel * kernel)


def _conv(cols: np.ndarray, W: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(n, c_out, H, W): the convolution's pre-activations (one product over every position)."""
    Z = cols.reshape(-1, cols.shape[-1]) @ W.reshape(W.shape[0], -1).T + b
    return Z.reshape(*cols.shape[:-1], W.shape[0]).transpose(0, 3, 1, 2)


def _col2im(dcols: np.ndarray, layer) -> np.ndarray:
    """The adjoint of ``_im2col``: (n, H, W, C k k) -> (n, C, H, W), overlapping windows summed."""
    k, pad = layer.kernel, layer.kernel // 2
    n = dcols.shape[0]
    windows = dcols.reshape(n, layer.height, layer.width, layer.c_in, k, k)
    padded = np.zeros((n, layer.c_in, layer.height + 2 * pad, layer.width + 2 * pad),
                      dtype=dcols.dtype)
    for dy in range(k):
        for dx in range(k):
            padded[:, :, dy:dy + layer.height, dx:dx + layer.width] += \
                windows[..., dy, dx].transpose(0, 3, 1, 2)
    return padded[:, :, pad:pad + layer.height, pad:pad + layer.width]


def _pool(R: np.ndarray, pool: int) -> tuple[np.ndarray, np.ndarray]:
    """Max-pooling of (n, C, H, W) in pool x pool windows (an odd side's last row or column
    dropped); the pooled values and each window's first argmax (row-major in the window)."""
    n, C, H, W = R.shape
    h, w = H // pool, W // pool
    windows = R[:, :, :h * pool, :w * pool].reshape(n, C, h, pool, w, pool)
    windows = windows.transpose(0, 1, 2, 4, 3, 5).reshape(n, C, h, w, pool * pool)
    arg = windows.argmax(axis=-1)
    return np.take_along_axis(windows, arg[..., None], axis=-1)[..., 0], arg


def _unpool(G: np.ndarray, arg: np.ndarray, shape: tuple, pool: int) -> np.ndarray:
    """The adjoint of ``_pool``: each pooled gradient back to its window's argmax ``arg``, in an
    array of the pooled input's ``shape``."""
    n, C, h, w = G.shape
    windows = np.zeros((n, C, h, w, pool * pool), dtype=G.dtype)
    np.put_along_axis(windows, arg[..., None], G[..., None], axis=-1)
    out = np.zeros(shape, dtype=G.dtype)
    out[:, :, :h * pool, :w * pool] = windows.reshape(n, C, h, w, pool, pool).transpose(
        0, 1, 2, 4, 3, 5).reshape(n, C, h * pool, w * pool)
    return out


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
