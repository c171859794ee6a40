"""The baselines `sgc bench kernels` times the deep-MLP kernels against: a well-written float32
numpy MLP gradient, and the bare matrix products of the same model (the BLAS roofline).

The numpy baseline is what a careful numpy user would write, not the float64 oracle run in float32:
all rows in one pass (the largest, most efficient sgemm calls), the bias, activation, softmax and
gating in place (``out=``, no temporary per operation), each weight gradient written by sgemm
straight into its slice of one flat float32 vector (no concatenation), then one cast into the
float64 [loss, *grad] vector a worker must deliver (the kernels' output format). It sums rows in
float32 only, so it does less work than sgcflow's kernels (float64 totals block by block): a
strict baseline.
"""

from __future__ import annotations

import numpy as np


def _views(spec, flat: np.ndarray) -> tuple[list, list]:
    """Weight matrices and bias vectors of a flat vector, in layer order (``ModelSpec.unpack``'s
    no-copy views: a product written ``out=`` one lands in ``flat``)."""
    blocks = spec.unpack(flat)
    layers = range(1, len(spec.widths))
    return [blocks[f"W{k}"] for k in layers], [blocks[f"b{k}"] for k in layers]


def numpy_mlp(spec, X: np.ndarray, y: np.ndarray, params: np.ndarray) -> np.ndarray:
    """[loss_sum, *grad_sum] (float64) of an mlp ``spec`` over all rows of X, in float32 numpy."""
    weights, biases = _views(spec, params)
    grad = np.empty(spec.n_params, dtype=np.float32)
    grad_w, grad_b = _views(spec, grad)
    H = [X]
    for W, b in zip(weights[:-1], biases[:-1], strict=False):
        A = H[-1] @ W
        A += b
        if spec.activation == "relu":
            np.maximum(A, 0, out=A)
        else:
            np.tanh(A, out=A)
        H.append(A)
    G = H[-1] @ weights[-1]
    G += biases[-1]
    G -= G.max(axis=1, keepdims=True)
    rows = np.arange(X.shape[0])
    loss = -float(G[rows, y].sum(dtype=np.float64))
    np.exp(G, out=G)
    norm = G.sum(axis=1)
    loss += float(np.log(norm).sum(dtype=np.float64))
    G /= norm[:, None]
    G[rows, y] -= 1
    for layer in range(len(weights) - 1, -1, -1):
        np.matmul(H[layer].T, G, out=grad_w[layer])
        np.sum(G, axis=0, out=grad_b[layer])
        if layer:
            D = G @ weights[layer].T
            if spec.activation == "relu":
                np.multiply(D, H[layer] > 0, out=D)
            else:  # H[layer] is no longer needed: 1 - H^2 in its place
                np.multiply(H[layer], H[layer], out=H[layer])
                np.subtract(1, H[layer], out=H[layer])
                D *= H[layer]
            G = D
    out = np.empty(spec.n_params + 1)
    out[0] = loss
    out[1:] = grad
    return out


def products_only(spec, X: np.ndarray, params: np.ndarray, G: np.ndarray) -> None:
    """The matrix products of one gradient alone (forward, weight and input gradients), all rows
    at once, on arbitrary values: no implementation built on this BLAS can take less time.
    ``G`` is any (rows x widest layer) float32 array."""
    weights, _ = _views(spec, params)
    H = [X]
    for W in weights[:-1]:
        H.append(H[-1] @ W)
    H[-1] @ weights[-1]
    rows = X.shape[0]
    for layer in range(len(weights) - 1, -1, -1):
        width = weights[layer].shape[1]
        upstream = G[:rows, :width]
        H[layer].T @ upstream
        if layer:
            upstream @ weights[layer].T


def sgemm_gflops(size: int = 1024, repeats: int = 9) -> float:
    """Median GFLOP/s of one square float32 matrix product (numpy's BLAS, in this process's thread
    setting): the best rate any product-bound kernel can reach here."""
    import time

    rng = np.random.default_rng(0)
    A = rng.standard_normal((size, size), dtype=np.float32)
    B = rng.standard_normal((size, size), dtype=np.float32)
    C = np.empty((size, size), dtype=np.float32)
    np.matmul(A, B, out=C)
    times = []
    for _ in range(repeats):  # CPU time of this thread, as bench_deep.race
        start = time.thread_time()
        np.matmul(A, B, out=C)
        times.append(time.thread_time() - start)
    return 2 * size**3 / float(np.median(times)) / 1e9
