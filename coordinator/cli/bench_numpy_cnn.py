"""The baselines `sgc bench kernels` times the CNN kernels against: a well-written float32 numpy
CNN gradient (im2col + sgemm), and the model's products alone.

The numpy baseline is what a careful numpy user writes: every image of the partition in one pass
(one sgemm per layer and direction, the largest and most efficient calls), im2col as one strided
window view copied once into the (channels x k x k, images x positions) matrix, the activations
laid out (channels, images, height, width) so each product's output is the next layer's input
without a transpose, bias and ReLU in place, 2x2 max-pooling by a reshape and its backward pass by
comparing each window with its maximum (a tie shares the gradient; after ReLU only zeros tie, and
they get none), col2im as k x k strided in-place adds, the dense head as
``bench_numpy_mlp.numpy_mlp``'s, and each weight gradient written by sgemm straight into its slice
of one flat float32 vector. It sums in float32 only: a strict baseline.
"""

from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view


def im2col(A: np.ndarray, kernel: int) -> np.ndarray:
    """(C, n, H, W) -> (C k k, n H W), zero padded ("same")."""
    pad = kernel // 2
    padded = np.pad(A, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    windows = sliding_window_view(padded, (kernel, kernel), axis=(2, 3))  # C, n, H, W, k, k
    C, n, H, W = A.shape
    return np.ascontiguousarray(windows.transpose(0, 4, 5, 1, 2, 3)).reshape(
        C * kernel * kernel, n * H * W)


def col2im(dcols: np.ndarray, shape: tuple[int, ...], kernel: int) -> np.ndarray:
    """The adjoint of ``im2col``: (C k k, n H W) -> (C, n, H, W)."""
    C, n, H, W = shape
    pad = kernel // 2
    windows = dcols.reshape(C, kernel, kernel, n, H, W)
    padded = np.zeros((C, n, H + 2 * pad, W + 2 * pad), dtype=np.float32)
    for dy in range(kernel):
        for dx in range(kernel):
            padded[:, :, dy:dy + H, dx:dx + W] += windows[:, dy, dx]
    return padded[:, :, pad:pad + H, pad:pad + W]


def numpy_cnn(spec, X: np.ndarray, y: np.ndarray, params: np.ndarray) -> np.ndarray:
    """[loss_sum, *grad_sum] (float64) of a cnn ``spec`` over all rows of X, in float32 numpy."""
    blocks = spec.unpack(params)
    grad = np.empty(spec.n_params, dtype=np.float32)
    grads = spec.unpack(grad)
    n = X.shape[0]
    A = X.reshape(n, *spec.input).transpose(1, 0, 2, 3)  # C, n, H, W
    saved = []
    for i, layer in enumerate(spec.conv_layers, start=1):
        cols = im2col(A, layer.kernel)
        Z = blocks[f"conv{i}.W"].reshape(layer.c_out, -1) @ cols
        Z = Z.reshape(layer.c_out, n, layer.height, layer.width)
        h, w, p = layer.pooled_height, layer.pooled_width, spec.pool
        windows = Z[:, :, :h * p, :w * p].reshape(layer.c_out, n, h, p, w, p)
        top = windows.max(axis=(3, 5))
        pooled = top + blocks[f"conv{i}.b"][:, None, None, None]
        np.maximum(pooled, 0, out=pooled)
        saved.append((cols, windows, top, pooled))
        A = pooled
    rows = np.ascontiguousarray(A.transpose(1, 0, 2, 3)).reshape(n, -1)
    loss, dF = _head(spec, blocks, grads, rows, y)
    G = dF.reshape(n, *A.shape[:1], *A.shape[2:]).transpose(1, 0, 2, 3)
    for i in range(len(spec.conv_layers), 0, -1):
        layer, (cols, windows, top, pooled) = spec.conv_layers[i - 1], saved[i - 1]
        G = G * (pooled > 0)
        h, w, p = layer.pooled_height, layer.pooled_width, spec.pool
        mask = windows == top[:, :, :, None, :, None]
        dZ = np.zeros((layer.c_out, n, layer.height, layer.width), dtype=np.float32)
        dZ[:, :, :h * p, :w * p] = (mask * G[:, :, :, None, :, None]).reshape(
            layer.c_out, n, h * p, w * p)
        dZ = dZ.reshape(layer.c_out, -1)
        np.matmul(dZ, cols.T, out=grads[f"conv{i}.W"].reshape(layer.c_out, -1))
        np.sum(dZ, axis=1, out=grads[f"conv{i}.b"])
        if i > 1:
            dcols = blocks[f"conv{i}.W"].reshape(layer.c_out, -1).T @ dZ
            G = col2im(dcols, (layer.c_in, n, layer.height, layer.width), layer.kernel)
    out = np.empty(spec.n_params + 1)
    out[0] = loss
    out[1:] = grad
    return out


def _head(spec, blocks: dict, grads: dict, rows: np.ndarray, y: np.ndarray):
    """The dense ReLU head and softmax, as numpy_mlp: (loss, d loss / d rows)."""
    names = [name for name, _ in spec.shapes if not name.startswith("conv")]
    weights, biases = [blocks[n] for n in names[0::2]], [blocks[n] for n in names[1::2]]
    grad_w, grad_b = [grads[n] for n in names[0::2]], [grads[n] for n in names[1::2]]
    H = [rows]
    for W, b in zip(weights[:-1], biases[:-1], strict=True):
        A = H[-1] @ W
        A += b
        np.maximum(A, 0, out=A)
        H.append(A)
    G = H[-1] @ weights[-1]
    G += biases[-1]
    G -= G.max(axis=1, keepdims=True)
    index = np.arange(rows.shape[0])
    loss = -float(G[index, y].sum(dtype=np.float64))
    np.exp(G, out=G)
    norm = G.sum(axis=1)
    loss += float(np.log(norm).sum(dtype=np.float64))
    G /= norm[:, None]
    G[index, y] -= 1
    for layer in range(len(weights) - 1, -1, -1):
        np.matmul(H[layer].T, G, out=grad_w[layer])
        np.sum(G, axis=0, out=grad_b[layer])
        D = G @ weights[layer].T
        if layer:
            np.multiply(D, H[layer] > 0, out=D)
        G = D
    return loss, G


def products_only(spec, X: np.ndarray, params: np.ndarray, cols: list, upstream: list) -> None:
    """The products of one gradient alone on prepared im2col matrices ``cols`` and arbitrary
    upstream gradients (forward, weight and input gradients of every conv and dense layer, all
    rows at once): no im2col/sgemm implementation on this BLAS can take less time."""
    blocks = spec.unpack(params)
    for i, layer in enumerate(spec.conv_layers, start=1):
        W = blocks[f"conv{i}.W"].reshape(layer.c_out, -1)
        W @ cols[i - 1]
        upstream[i - 1] @ cols[i - 1].T
        if i > 1:
            W.T @ upstream[i - 1]
    names = [name for name, _ in spec.shapes if not name.startswith("conv")]
    H = [upstream[-1]]
    for name in names[0::2]:
        H.append(H[-1] @ blocks[name])
    for layer, name in enumerate(names[0::2]):
        G = H[layer + 1]
        H[layer].T @ G
        G @ blocks[name].T


def products_inputs(spec, X: np.ndarray, seed: int = 1) -> tuple[list, list]:
    """im2col matrices of X's images and random upstream gradients for ``products_only``."""
    rng = np.random.default_rng(seed)
    n = X.shape[0]
    cols, upstream = [], []
    for layer in spec.conv_layers:
        shape = (layer.c_in, n, layer.height, layer.width)
        cols.append(im2col(rng.standard_normal(shape, dtype=np.float32), layer.kernel))
        upstream.append(rng.standard_normal((layer.c_out, n * layer.positions),
                                            dtype=np.float32))
    upstream.append(rng.standard_normal((n, spec.widths[0]), dtype=np.float32))
    return cols, upstream
