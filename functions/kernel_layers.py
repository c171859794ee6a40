"""Dense-layer blocks shared by the MLP and CNN kernels (Numba, fused, and BLAS): register-tiled
products, the activations and their derivatives, the sub-block softmax, and the small fused loops
the BLAS paths run between their sgemm calls (bias + activation, softmax rows, bias sums, the
float32 -> float64 accumulation).

The kernel modules stack one way: ``numba_setup`` (configuration) <- ``kernel_blocks`` (row
blocks, exp, flushes) <- this module (dense layers) and ``kernel_conv`` (conv blocks: im2col,
pooling) <- ``kernels_mlp``, ``kernels_deep``, ``kernels_blas``, ``kernels_cnn``,
``kernels_cnn_fused`` (one model path each) <- ``kernels`` (the dispatcher) <- ``kernel_cache``
(the shipped-cache build). Nothing imports upward.
"""

from __future__ import annotations

from functions import numba_setup

numba_setup.configure()  # before Numba is imported and binds any cache below (idempotent)

import numpy as np  # noqa: E402
from numba import njit  # noqa: E402

from functions.kernel_blocks import _JIT, _exp_nonpositive  # noqa: E402

RELU, TANH = 0, 1


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
def activate(A, activation):
    """In place: ReLU or tanh (float32). 2-D loops, never ``ravel`` (a copy, not a view, when
    Numba types the array as non-contiguous)."""
    if activation == RELU:
        for k in range(A.shape[0]):
            for j in range(A.shape[1]):
                A[k, j] = max(A[k, j], np.float32(0.0))
        return
    e = np.empty(A.shape[1], dtype=np.float32)
    bits = np.empty(A.shape[1], dtype=np.int32)
    for k in range(A.shape[0]):
        _tanh_row(A[k], e, bits)


@njit(**_JIT)
def _tanh_row(v, e, bits):
    """v = tanh(v), vectorizable (libm's tanhf costs ~20 ns per call, 20x numpy's SIMD tanh):
    an odd Taylor series to x^9 below |x| = 1/4 (error < 4e-9), else (1 - t) / (1 + t) with
    t = exp(-2|x|) from the float32 polynomial exp; branch-free selects."""
    n = v.shape[0]
    for j in range(n):
        e[j] = np.float32(-2.0) * abs(v[j])
    _exp_nonpositive(e, bits, n)
    for j in range(n):
        x = v[j]
        q = x * x
        small = x * (np.float32(1.0) + q * (np.float32(-1 / 3) + q * (np.float32(2 / 15) + q * (
            np.float32(-17 / 315) + q * np.float32(62 / 2835)))))
        big = (np.float32(1.0) - e[j]) / (np.float32(1.0) + e[j])
        big = big if x >= np.float32(0.0) else -big
        v[j] = small if abs(x) < np.float32(0.25) else big


@njit(**_JIT)
def gate(D, H, activation):
    """D *= f'(pre-activation), from the activation's output H: 1[H > 0] (ReLU), 1 - H^2 (tanh).
    Row views with the value loaded before the select: indexed 2-D, the ReLU select stayed a
    branch in the generic x86-64 build (measured 50x slower on random signs)."""
    for k in range(D.shape[0]):
        d, h = D[k], H[k]
        if activation == RELU:
            for j in range(d.shape[0]):
                x = d[j]
                d[j] = x if h[j] > np.float32(0.0) else np.float32(0.0)
        else:
            for j in range(d.shape[0]):
                d[j] *= np.float32(1.0) - h[j] * h[j]


@njit(**_JIT)
def bias_activate(A, b, activation):
    """A = f(A + b) in place: for ReLU one pass per row (the bias add fused into the max), for
    tanh the bias add, then ``activate``."""
    if activation == RELU:
        for k in range(A.shape[0]):
            a = A[k]
            for j in range(a.shape[0]):
                a[j] = max(a[j] + b[j], np.float32(0.0))
        return
    for k in range(A.shape[0]):
        a = A[k]
        for j in range(a.shape[0]):
            a[j] += b[j]
    activate(A, TANH)


@njit(**_JIT)
def softmax_rows(Z, b, labels):
    """Z + b -> softmax(Z + b) - onehot in place, row by row; returns the summed cross-entropy
    (float64). Same float32 polynomial exp as the Numba kernels."""
    rows, classes = Z.shape
    bits = np.empty(classes, dtype=np.int32)
    row = np.empty(classes, dtype=np.float32)
    loss = 0.0
    for k in range(rows):
        top = Z[k, 0] + b[0]
        for c in range(classes):
            row[c] = Z[k, c] + b[c]
            top = max(top, row[c])
        for c in range(classes):
            row[c] -= top
        loss -= row[labels[k]]
        _exp_nonpositive(row, bits, classes)
        norm = np.float32(0.0)
        for c in range(classes):
            norm += row[c]
        loss += np.log(np.float64(norm))
        inverse = np.float32(1.0) / norm
        for c in range(classes):
            Z[k, c] = row[c] * inverse
        Z[k, labels[k]] -= np.float32(1.0)
    return loss


@njit(**_JIT)
def add_column_sums(G, total, first):
    """total (float64) = (0 if ``first`` else total) + sum over rows of G, row by row
    (vectorized across the columns)."""
    if first:
        total[:] = 0.0
    for k in range(G.shape[0]):
        g = G[k]
        for j in range(g.shape[0]):
            total[j] += g[j]


@njit(**_JIT)
def accumulate(total, part, first):
    """total (float64) = part (float32) if ``first`` else total + part, elementwise (both
    C-contiguous, the same shape). Writing the first block instead of adding it to zeros saves
    zeroing the output and one read of it (measured 0.57 -> 0.21 ms for 1.1M values)."""
    t, p = total.reshape(-1), part.reshape(-1)
    if first:
        for i in range(p.shape[0]):
            t[i] = p[i]
    else:
        for i in range(p.shape[0]):
            t[i] += p[i]
