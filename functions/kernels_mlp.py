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
    _exp_nonpositive,
    _flush,
    _partials,
    _sum_blocks,
)


@njit(**_JIT)
def _dense(H, WT, b, A):
    """A[k] = H[k] W + b (W stored transposed, WT[j] contiguous): tiles of two rows by four
    units, so every loaded value feeds several multiply-adds and eight independent vector
    accumulators hide the add latency (the one-layer kernel's hidden layer and every deep layer)."""
    count, width = A.shape
    d = WT.shape[1]
    quads = width - width % 4
    for k in range(0, count, 2):
        k1 = min(k + 1, count - 1)  # an odd last row is computed twice, stored once
        for j in range(0, quads, 4):
            s0 = t0 = b[j]
            s1 = t1 = b[j + 1]
            s2 = t2 = b[j + 2]
            s3 = t3 = b[j + 3]
            for f in range(d):
                x = H[k, f]
                u = H[k1, f]
                w0, w1, w2, w3 = WT[j, f], WT[j + 1, f], WT[j + 2, f], WT[j + 3, f]
                s0 += x * w0
                s1 += x * w1
                s2 += x * w2
                s3 += x * w3
                t0 += u * w0
                t1 += u * w1
                t2 += u * w2
                t3 += u * w3
            A[k, j], A[k, j + 1], A[k, j + 2], A[k, j + 3] = s0, s1, s2, s3
            if k + 1 < count:
                A[k + 1, j], A[k + 1, j + 1], A[k + 1, j + 2], A[k + 1, j + 3] = t0, t1, t2, t3
    for k in range(count):
        for j in range(quads, width):
            acc = b[j]
            for f in range(d):
                acc += H[k, f] * WT[j, f]
            A[k, j] = acc


@njit(**_JIT)
def _mlp_hidden(X, sub, W1T, b1, A):
    """A[k] = relu(X[sub + k] W1 + b1) for the rows of a sub-block."""
    count, hidden = A.shape
    _dense(X[sub:sub + count], W1T, b1, A)
    for k in range(count):
        for j in range(hidden):
            A[k, j] = max(A[k, j], np.float32(0.0))


@njit(**_JIT)
def _add_products(coef, M, out):
    """out[r] += sum_c coef[r, c] M[c] (a small matrix product into float32 accumulators).

    Tiles of two output rows by four terms: each loaded M value feeds two multiply-adds and each
    output row is loaded and stored once per four terms; the inner loop runs over the contiguous
    rows of M and out. Fixed summation order: deterministic.
    """
    rows, terms = coef.shape
    width = M.shape[1]
    pairs = rows - rows % 2
    quads = terms - terms % 4
    for r in range(0, pairs, 2):
        for c in range(0, quads, 4):
            p0, p1, p2, p3 = coef[r, c], coef[r, c + 1], coef[r, c + 2], coef[r, c + 3]
            q0, q1 = coef[r + 1, c], coef[r + 1, c + 1]
            q2, q3 = coef[r + 1, c + 2], coef[r + 1, c + 3]
            for f in range(width):
                m0, m1, m2, m3 = M[c, f], M[c + 1, f], M[c + 2, f], M[c + 3, f]
                out[r, f] += (p0 * m0 + p1 * m1) + (p2 * m2 + p3 * m3)
                out[r + 1, f] += (q0 * m0 + q1 * m1) + (q2 * m2 + q3 * m3)
        for c in range(quads, terms):
            for f in range(width):
                out[r, f] += coef[r, c] * M[c, f]
                out[r + 1, f] += coef[r + 1, c] * M[c, f]
    for r in range(pairs, rows):
        for c in range(terms):
            for f in range(width):
                out[r, f] += coef[r, c] * M[c, f]


@njit(**_JIT)
def _softmax_residuals(ZT, labels, norm, bits):
    """``_softmax_residual`` for a sub-block of rows at once, logits stored transposed
    (classes x rows): every step is a vector operation across the rows. Returns the summed
    cross-entropy; ZT becomes the residuals. One log per sub-block: the log of the product of
    the row normalizers (each in [1, C]: no float64 overflow below 2^32 classes)."""
    classes, count = ZT.shape
    top = norm  # scratch: the row maxima first, then the normalizers
    top[:] = ZT[0]
    for c in range(1, classes):
        for k in range(count):
            top[k] = max(top[k], ZT[c, k])
    loss = 0.0
    for k in range(count):
        loss -= ZT[labels[k], k] - top[k]
    for c in range(classes):
        for k in range(count):
            ZT[c, k] -= top[k]
        _exp_nonpositive(ZT[c], bits, count)
    norm[:] = ZT[0]
    for c in range(1, classes):
        for k in range(count):
            norm[k] += ZT[c, k]
    product = 1.0
    for k in range(count):
        product *= norm[k]
        norm[k] = np.float32(1.0) / norm[k]
    for c in range(classes):
        for k in range(count):
            ZT[c, k] *= norm[k]
    for k in range(count):
        ZT[labels[k], k] -= np.float32(1.0)
    return loss + np.log(product)


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
