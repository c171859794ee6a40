"""The two-layer ReLU MLP kernel: loss sum and gradient sum over one partition.

Its rows cost two small matrix products, so it works a sub-block of ``SUB_ROWS`` rows at a time:
register-tiled products (each load feeds several multiply-adds, as in a BLAS gemm) and the
softmax vectorized across the sub-block's rows. Same block layout, float64 flushes and polynomial
exp as the linear kernels (kernel_blocks; Numba's cache does not see a change there, so edit this
file too when the exp changes). Once the products are large enough, numpy's sgemm wins instead
(``coordinator.contract.kernel_paths``, ``kernels_blas``).
Invariant (tested): equal to coordinator/contract/gradients.py within relative error 1e-5.
"""

from __future__ import annotations

from functions import numba_setup

numba_setup.configure()  # before Numba is imported and binds any cache below (idempotent)

import numpy as np  # noqa: E402
from numba import njit, prange  # noqa: E402

from functions.kernel_blocks import (  # noqa: E402
    _JIT,
    SUB_ROWS,
    _bounds,
    _flush,
    _partials,
    _sum_blocks,
)
from functions.kernel_layers import _add_products, _dense, _softmax_residuals  # noqa: E402


@njit(**_JIT)
def _mlp_hidden(X, sub, W1T, b1, A):
    """A[k] = relu(X[sub + k] W1 + b1) for the rows of a sub-block."""
    count, hidden = A.shape
    _dense(X[sub:sub + count], W1T, b1, A)
    for k in range(count):
        for j in range(hidden):
            A[k, j] = max(A[k, j], np.float32(0.0))


@njit(**_JIT)
def _mlp_block(X, y, W1T, b1, W2T, b2, start, stop, out):
    """Rows [start, stop) into ``out``, one sub-block at a time: hidden layer H, transposed logits
    -> residuals R^T, then dH = R W2^T gated by H > 0, and the float32 gradient accumulators
    W2 += H^T R, W1 += X^T dH, flushed into float64 after every sub-block."""
    hidden, d = W1T.shape
    classes = W2T.shape[0]
    g_W1T = np.zeros((hidden, d))
    g_W1T_32 = np.zeros((hidden, d), dtype=np.float32)
    g_W2T = np.zeros((classes, hidden))
    g_W2T_32 = np.zeros((classes, hidden), dtype=np.float32)
    g_b1 = np.zeros(hidden)
    g_b2 = np.zeros(classes)
    A = np.empty((SUB_ROWS, hidden), dtype=np.float32)
    dA = np.empty((SUB_ROWS, hidden), dtype=np.float32)
    ZT = np.empty((classes, SUB_ROWS), dtype=np.float32)
    norm = np.empty(SUB_ROWS, dtype=np.float32)
    bits = np.empty(SUB_ROWS, dtype=np.int32)
    loss = 0.0
    for sub in range(start, stop, SUB_ROWS):
        count = min(stop - sub, SUB_ROWS)
        H = A[:count]
        RT = ZT[:, :count]
        dH = dA[:count]
        _mlp_hidden(X, sub, W1T, b1, H)
        for k in range(count):  # logits, transposed
            for c in range(classes):
                acc = b2[c]
                for j in range(hidden):
                    acc += H[k, j] * W2T[c, j]
                RT[c, k] = acc
        loss += _softmax_residuals(RT, y[sub:sub + count], norm[:count], bits)
        dH[:] = 0.0
        _add_products(RT.T, W2T, dH)  # backward through the output layer
        _add_products(RT, H, g_W2T_32)
        for c in range(classes):
            for k in range(count):
                g_b2[c] += RT[c, k]
        for k in range(count):
            for j in range(hidden):  # ReLU gate, branch-free: inactive units pass no gradient
                dH[k, j] = dH[k, j] if H[k, j] > np.float32(0.0) else np.float32(0.0)
                g_b1[j] += dH[k, j]
        _add_products(dH.T, X[sub:sub + count], g_W1T_32)
        _flush(g_W1T_32.ravel(), g_W1T.ravel())
        _flush(g_W2T_32.ravel(), g_W2T.ravel())
    out[0] = loss
    offset = 1
    for block in (g_W1T.T.copy().ravel(), g_b1, g_W2T.T.copy().ravel(), g_b2):
        out[offset:offset + block.size] = block
        offset += block.size


@njit(**_JIT)
def _mlp_weights(params, d, hidden, classes):
    W1T = params[:d * hidden].reshape((d, hidden)).T.copy()
    b1 = params[d * hidden:d * hidden + hidden].copy()
    o2 = d * hidden + hidden
    W2T = params[o2:o2 + hidden * classes].reshape((hidden, classes)).T.copy()
    return W1T, b1, W2T, params[o2 + hidden * classes:].copy()


@njit(parallel=True, **_JIT)
def mlp_parallel(X, y, params, hidden, classes):
    """One ReLU hidden layer; params = [W1 (d x H), b1 (H), W2 (H x C), b2 (C)]."""
    W1T, b1, W2T, b2 = _mlp_weights(params, X.shape[1], hidden, classes)
    partial = _partials(X.shape[0], params.size + 1)
    for block in prange(partial.shape[0]):
        start, stop = _bounds(block, X.shape[0])
        _mlp_block(X, y, W1T, b1, W2T, b2, start, stop, partial[block])
    return _sum_blocks(partial)


@njit(**_JIT)
def mlp_serial(X, y, params, hidden, classes):
    W1T, b1, W2T, b2 = _mlp_weights(params, X.shape[1], hidden, classes)
    partial = _partials(X.shape[0], params.size + 1)
    for block in range(partial.shape[0]):
        start, stop = _bounds(block, X.shape[0])
        _mlp_block(X, y, W1T, b1, W2T, b2, start, stop, partial[block])
    return _sum_blocks(partial)
